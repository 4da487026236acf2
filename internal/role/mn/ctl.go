package mn

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"monami/internal/binding"
	"monami/internal/ctlapi"
)

// counters are owned by the event loop.
type counters struct {
	bindingUpdates, retransmissions, sendErrors uint64
	acks                                        map[string]uint64 // by status
	unauthenticated, malformed, bindingErrors   uint64
	// switches: authenticated Home Agent Switch messages received;
	// switched: switches completed (RFC 5142).
	switches, switched          uint64
	registered, failed, expired uint64
	linkEvents, tunnelMoves     uint64
	pathChanges                 uint64
	natKeepalives               uint64
}

func (c *counters) ba(s binding.Status) {
	if c.acks == nil {
		c.acks = map[string]uint64{}
	}
	c.acks[fmt.Sprintf("%d %s", uint8(s), s)]++
}

type snapshotReq struct {
	topic string
	reply chan snapshotResp
}

type snapshotResp struct {
	data any
	err  error
}

var topics = []string{"status", "bul", "paths", "interfaces", "counters", "flow_bindings", "flows"}

// Role implements ctlapi.Provider.
func (m *MobileNode) Role() string { return "mn" }

// Topics implements ctlapi.Provider.
func (m *MobileNode) Topics() []string { return topics }

// Snapshot implements ctlapi.Provider: the event loop takes the snapshot.
func (m *MobileNode) Snapshot(ctx context.Context, topic string) (any, error) {
	req := snapshotReq{topic: topic, reply: make(chan snapshotResp, 1)}
	select {
	case m.snaps <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.data, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// BULEntry is one Binding Update List entry as the control API shows it.
type BULEntry struct {
	HomeAddress   netip.Addr `json:"home_address"`
	HomeAgent     netip.Addr `json:"home_agent"`
	BindingID     uint16     `json:"bid"`
	Priority      uint8      `json:"priority"`
	CareOfAddress netip.Addr `json:"care_of_address"`
	State         string     `json:"state"`
	Status        string     `json:"status,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	Expires       string     `json:"expires_in,omitempty"`
	Refresh       string     `json:"refresh_in,omitempty"`
}

// Path is one access interface as the control API shows it.
type Path struct {
	Interface     string       `json:"interface"`
	IfIndex       int          `json:"ifindex"`
	BindingID     uint16       `json:"bid"`
	Priority      uint8        `json:"priority"`
	Transport     string       `json:"transport"`
	CareOfAddress netip.Addr   `json:"care_of_address,omitzero"`
	Spares        []netip.Addr `json:"spare_addresses,omitempty"`
	Gateway       netip.Addr   `json:"gateway,omitzero"`
	Usable        bool         `json:"usable"`
	Registered    []netip.Addr `json:"registered_for,omitempty"`
	Active        []netip.Addr `json:"active_for,omitempty"`
	// AtHomeFor is the home address whose home link the interface is on
	// (its binding registers the home address, H flag; homelink.go).
	AtHomeFor netip.Addr `json:"at_home_for,omitzero"`
	Since     time.Time  `json:"since,omitzero"`
	// Liveness is the path to each home agent as internal/paths judges it.
	Liveness []PathLiveness `json:"liveness,omitempty"`
	// NATRefresh is the keepalive interval the home agent's NAT Detection
	// option asked for on an IPv4 care-of address (RFC 5555 section 4.2.2).
	NATRefresh string `json:"nat_refresh,omitempty"`
}

// Status is the "status" topic.
type Status struct {
	ID            string       `json:"id"`
	HomeInterface string       `json:"home_interface"`
	Backend       string       `json:"backend"`
	Table         int          `json:"table"`
	Homes         []HomeStatus `json:"home_addresses"`
	Paths         int          `json:"usable_paths"`
}

// HomeStatus is one home address in the "status" topic.
type HomeStatus struct {
	HomeAddress  netip.Addr `json:"home_address"`
	HomeAgent    netip.Addr `json:"home_agent"`
	TunnelCoA    netip.Addr `json:"reverse_tunnel_coa,omitzero"`
	TunnelIf     string     `json:"reverse_tunnel_interface,omitempty"`
	TunnelSince  time.Time  `json:"since,omitzero"`
	Registered   int        `json:"registered_bindings"`
	Authenticate bool       `json:"rfc4285"`
	// SwitchingTo: a Home Agent Switch (RFC 5142) is registering with this
	// home agent; LeftHomeAgent: the one left, until it has the
	// deregistration.
	SwitchingTo   netip.Addr `json:"switching_to,omitzero"`
	LeftHomeAgent netip.Addr `json:"left_home_agent,omitzero"`
}

func (m *MobileNode) snapshot(topic string) snapshotResp {
	now := m.now()
	switch topic {
	case "bul":
		var out []BULEntry
		for _, e := range m.bul.Entries() {
			x := BULEntry{HomeAddress: e.HoA, HomeAgent: e.HA, BindingID: e.BID, Priority: e.Priority,
				CareOfAddress: e.CoA, State: e.State.String(), Reason: e.Reason}
			if e.Status != 0 || e.State == binding.StateRegistered {
				x.Status = e.Status.String()
			}
			if !e.Expires.IsZero() {
				x.Expires = e.Expires.Sub(now).Round(time.Second).String()
			}
			if !e.RefreshAt.IsZero() {
				x.Refresh = e.RefreshAt.Sub(now).Round(time.Second).String()
			}
			out = append(out, x)
		}
		return snapshotResp{data: out}
	case "paths", "interfaces":
		return snapshotResp{data: m.paths()}
	case "flow_bindings":
		return snapshotResp{data: m.flowBindings()}
	case "flows":
		return snapshotResp{data: m.flowViews()}
	case "counters":
		c := map[string]any{
			"binding_updates_sent": m.cnt.bindingUpdates, "retransmissions": m.cnt.retransmissions,
			"send_errors": m.cnt.sendErrors, "binding_acks": m.cnt.acks, "unauthenticated_acks": m.cnt.unauthenticated,
			"malformed": m.cnt.malformed, "binding_errors": m.cnt.bindingErrors, "registered": m.cnt.registered,
			"failed": m.cnt.failed, "expired": m.cnt.expired, "link_events": m.cnt.linkEvents, "tunnel_moves": m.cnt.tunnelMoves,
			"path_state_changes":  m.cnt.pathChanges,
			"home_agent_switches": m.cnt.switches, "home_agents_switched": m.cnt.switched,
			"nat_keepalives": m.cnt.natKeepalives,
		}
		if dc, err := m.dp.Counters(); err == nil {
			c["dataplane"] = dc
		}
		return snapshotResp{data: c}
	case "status":
		s := Status{ID: m.cfg.ID, HomeInterface: m.cfg.HomeInterface, Backend: string(m.dp.Backend()), Table: m.rt.table}
		for _, f := range m.ifs {
			if f.coa.IsValid() {
				s.Paths++
			}
		}
		for _, h := range m.homes {
			hs := HomeStatus{HomeAddress: h.hoa, HomeAgent: h.ha, TunnelCoA: h.activeCoA, TunnelSince: h.since, Authenticate: h.auth != nil,
				SwitchingTo: h.next, LeftHomeAgent: h.prev}
			if h.active != nil {
				hs.TunnelIf = h.active.cfg.Name
			}
			for _, f := range m.ifs {
				if f.registered[h.hoa] {
					hs.Registered++
				}
			}
			s.Homes = append(s.Homes, hs)
		}
		return snapshotResp{data: s}
	}
	return snapshotResp{err: fmt.Errorf("%w %q", ctlapi.ErrUnknownTopic, topic)}
}

func (m *MobileNode) paths() []Path {
	var out []Path
	for _, f := range m.ifs {
		p := Path{Interface: f.cfg.Name, IfIndex: f.index, BindingID: f.cfg.BID, Priority: f.cfg.Priority,
			Transport: string(f.cfg.Transport), CareOfAddress: f.coa, Gateway: f.gw, Usable: f.coa.IsValid(), Since: f.changed}
		for a := range f.usable {
			if a != f.coa {
				p.Spares = append(p.Spares, a)
			}
		}
		sort.Slice(p.Spares, func(i, j int) bool { return p.Spares[i].Less(p.Spares[j]) })
		for _, h := range m.homes {
			if f.registered[h.hoa] {
				p.Registered = append(p.Registered, h.hoa)
			}
			if h.active == f {
				p.Active = append(p.Active, h.hoa)
			}
		}
		if f.home != nil {
			p.AtHomeFor = f.home.hoa
		}
		p.Liveness = m.liveness(f)
		if f.natRefresh > 0 {
			p.NATRefresh = f.natRefresh.String()
		}
		out = append(out, p)
	}
	return out
}
