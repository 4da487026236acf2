package ha

import (
	"context"
	"errors"
	"time"

	"monami/internal/binding"
	"monami/internal/ctlapi"
)

var errStopped = errors.New("home agent stopping")

type snapshotReq struct {
	topic string
	reply chan snapshotResp
}

type snapshotResp struct {
	data any
	err  error
}

// Role implements ctlapi.Provider.
func (h *HomeAgent) Role() string { return "ha" }

// Topics implements ctlapi.Provider.
func (h *HomeAgent) Topics() []string {
	return []string{"bindings", "counters", "drain", "flows", "paths", "status"}
}

// Snapshot implements ctlapi.Provider: the request is answered by the event
// loop, which owns the state.
func (h *HomeAgent) Snapshot(ctx context.Context, topic string) (any, error) {
	q := snapshotReq{topic: topic, reply: make(chan snapshotResp, 1)}
	select {
	case h.snaps <- q:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.done:
		return nil, errStopped
	}
	select {
	case r := <-q.reply:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// BindingView is one binding cache entry for the control API.
type BindingView struct {
	HomeAddress   string    `json:"home_address"`
	BindingID     uint16    `json:"bid"`
	CareOfAddress string    `json:"care_of_address"`
	Priority      uint8     `json:"priority"`
	Primary       bool      `json:"primary"`
	Encap         string    `json:"encap"`
	Registered    time.Time `json:"registered"`
	Expires       time.Time `json:"expires"`
	LifetimeLeft  string    `json:"lifetime_left"`
	// UDPPeer: for an IPv4 care-of address, where its tunnel goes, the
	// source address and port of its Binding Update (a NAT's mapping when
	// NAT is true; RFC 5555 section 4.3).
	UDPPeer string `json:"udp_peer,omitempty"`
	NAT     bool   `json:"nat,omitempty"`
}

func (h *HomeAgent) snapshot(topic string) snapshotResp {
	now := h.now()
	switch topic {
	case "bindings":
		return snapshotResp{data: h.Bindings(now)}
	case "flows":
		return snapshotResp{data: h.Flows()}
	case "drain":
		return snapshotResp{data: h.drainStatus()}
	case "paths":
		return snapshotResp{data: h.pathViews()}
	case "counters":
		v := struct {
			Signalling Counters `json:"signalling"`
			Dataplane  any      `json:"dataplane"`
		}{Signalling: h.cnt.view()}
		if c, err := h.dp.Counters(); err == nil {
			v.Dataplane = c
		}
		return snapshotResp{data: v}
	case "status":
		st := map[string]any{
			"address": h.addr.String(), "home_prefixes": h.cfg.HomePrefixes, "backend": h.dp.Backend(),
			"bindings": h.cache.Len(), "flow_bindings": h.flows.Len(), "mobile_nodes_registered": h.cache.NodeCount(),
		}
		if h.cluster != nil {
			st["cluster"] = h.cluster.status(h.cfg.Cluster.Election)
		}
		return snapshotResp{data: st}
	}
	return snapshotResp{err: ctlapi.ErrUnknownTopic}
}

// Bindings lists the binding cache, preferred binding of each home address
// first. Only for the event loop (or tests that own the agent).
func (h *HomeAgent) Bindings(now time.Time) []BindingView {
	var out []BindingView
	h.cache.All(func(b binding.Binding) bool {
		best, _ := h.cache.Best(b.HoA)
		v := BindingView{
			HomeAddress: b.HoA.String(), BindingID: b.BID, CareOfAddress: b.CoA.String(), Priority: b.Priority,
			Primary: best.BID == b.BID, Encap: h.encap[bindingKey{b.HoA, b.BID}].String(),
			Registered: b.Registered, Expires: b.Expires, LifetimeLeft: b.Expires.Sub(now).Round(time.Second).String(),
		}
		if u, ok := h.udpPaths[bindingKey{b.HoA, b.BID}]; ok {
			v.UDPPeer, v.NAT = u.peer.String(), u.peer.Addr() != b.CoA
		}
		out = append(out, v)
		return true
	})
	return out
}
