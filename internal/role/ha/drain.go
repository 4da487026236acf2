package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/ctlapi"
	"monami/internal/transport"
	"monami/wire"
)

// A drain (docs/ha-persistence.md, "Draining"): the home agent tells every
// registered mobile node to register with another home agent, with an
// authenticated Home Agent Switch message (RFC 5142 section 5), repeats it
// until the mobile node deregisters, and refuses new registrations. The
// pure state is binding.Drain; this file sends and wires it.

// signalPath is how a mobile node's Binding Update reached the home agent
// from one care-of address: an unsolicited message to it takes the same
// way (transport, interface, RFC 5555 UDP endpoints, the home agent
// address it used).
type signalPath struct {
	// to is the address the Binding Update came from, where answers go (for
	// an RFC 5555 IPv4 care-of address: the home address inside UDP).
	to           netip.Addr
	tp           transport.Transport
	via          transport.Via
	ha           netip.Addr
	ifIndex      int
	peer, local  netip.AddrPort
	lastAccepted time.Time
}

// notePath remembers the path of an accepted registration, by the care-of
// address it bound (the IPv4 or alternate care-of address when given).
func (h *HomeAgent) notePath(r *received, req *binding.BindingUpdateRequest) {
	sig := &r.sig
	m := h.paths[req.HoA]
	if m == nil {
		m = map[netip.Addr]*signalPath{}
		h.paths[req.HoA] = m
	}
	sp := signalPath{to: sig.Src, tp: r.tp, via: sig.Via, ha: sig.Dst, ifIndex: sig.IfIndex, peer: sig.Peer, local: sig.Local, lastAccepted: r.at}
	// A refresh writes over the path it knows: no map assignment of the
	// whole struct on every accepted update.
	if p := m[req.CareOfAddress()]; p != nil {
		*p = sp
		return
	}
	m[req.CareOfAddress()] = &sp
}

// DrainRequest is the body of the drain command (monami ctl drain).
type DrainRequest struct {
	// To are the home agents to name, preferred first; empty takes
	// alternate_home_agents of ha.yaml.
	To []string `json:"to,omitempty"`
}

// DrainStatus answers the drain command and is the drain topic.
type DrainStatus struct {
	Draining   bool         `json:"draining"`
	Since      time.Time    `json:"since,omitzero"`
	Alternates []netip.Addr `json:"alternate_home_agents"`
	// Pending are the home addresses told to switch that have not
	// deregistered yet.
	Pending []binding.DrainEntry `json:"pending"`
	// Bindings left in the cache.
	Bindings int `json:"bindings"`
}

// Commands implements ctlapi.Commander.
func (h *HomeAgent) Commands() []string { return []string{"drain"} }

// Command implements ctlapi.Commander; the event loop runs the drain.
func (h *HomeAgent) Command(ctx context.Context, name string, body json.RawMessage) (any, error) {
	if name != "drain" {
		return nil, ctlapi.ErrUnknownCommand
	}
	var req DrainRequest
	if err := ctlapi.DecodeBody(body, &req); err != nil {
		return nil, err
	}
	alts := h.cfg.Alternates()
	if len(req.To) > 0 {
		var err error
		if alts, err = config.CheckAlternateHomeAgents("to", req.To, h.addr); err != nil {
			return nil, fmt.Errorf("%w: %w", ctlapi.ErrBadRequest, err)
		}
	}
	reply := make(chan DrainStatus, 1)
	select {
	case h.calls <- func() { reply <- h.startDrain(ctx, alts) }:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-h.done:
		return nil, errStopped
	}
	select {
	case st := <-reply:
		return st, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startDrain begins (or redirects) the drain: every registered home
// address is due a Home Agent Switch now, and new registrations stop.
func (h *HomeAgent) startDrain(ctx context.Context, alts []netip.Addr) DrainStatus {
	now := h.now()
	var hoas []netip.Addr
	seen := map[netip.Addr]bool{}
	h.cache.All(func(b binding.Binding) bool {
		if !seen[b.HoA] {
			seen[b.HoA] = true
			hoas = append(hoas, b.HoA)
		}
		return true
	})
	h.drain = binding.NewDrain(now, alts, hoas)
	h.cache.RefuseNewRegistrations(true)
	if len(alts) == 0 {
		h.log.Warn("draining without alternate home agents: mobile nodes are told to discover one (RFC 5142 section 4), which monami's mobile node does not do")
	}
	h.log.Info("draining: telling mobile nodes to switch home agent (RFC 5142)", "alternates", alts, "home_addresses", len(hoas))
	h.drainDue(ctx)
	return h.drainStatus()
}

func (h *HomeAgent) drainStatus() DrainStatus {
	st := DrainStatus{Bindings: h.cache.Len(), Pending: []binding.DrainEntry{}}
	if h.drain != nil {
		st.Draining, st.Since, st.Alternates, st.Pending = true, h.drain.Since, h.drain.Alternates, h.drain.Pending()
	}
	return st
}

// drainDue sends the Home Agent Switch messages that are due.
func (h *HomeAgent) drainDue(ctx context.Context) {
	if h.drain == nil {
		return
	}
	for _, hoa := range h.drain.Due(h.now()) {
		if !h.cache.Has(hoa) {
			h.drain.Acknowledged(hoa)
			continue
		}
		h.sendSwitch(ctx, hoa)
	}
}

// drainAcknowledged: a mobile node deregistered (RFC 5142 section 6.1: its
// Binding Update answers the switch) or its bindings are gone.
func (h *HomeAgent) drainAcknowledged(hoa netip.Addr, why string) {
	if h.drain != nil && h.drain.Acknowledged(hoa) {
		h.log.Info("home agent switch acknowledged", "hoa", hoa, "by", why)
	}
}

// bindingsLeft drops what is kept per home address once it has no binding.
func (h *HomeAgent) bindingsLeft(hoa netip.Addr) {
	if h.cache.Has(hoa) {
		return
	}
	delete(h.paths, hoa)
	h.drainAcknowledged(hoa, "no binding left")
}

// sendSwitch sends the Home Agent Switch message (RFC 5142 section 5.1) to
// each care-of address of hoa, over the path its registration came on, as
// the Binding Acknowledgement goes: to the care-of address with the home
// address in a type 2 routing header, and with the RFC 4285 MN-HA
// authenticator over care-of address | home address | message.
func (h *HomeAgent) sendSwitch(ctx context.Context, hoa netip.Addr) {
	msg := wire.HomeAgentSwitch{HomeAgentAddresses: h.drain.Alternates}
	sa := h.sec.byHoA[hoa]
	sent := 0
	for _, b := range h.cache.Lookup(hoa) {
		var p signalPath
		known, ok := h.paths[hoa][b.CoA]
		if ok {
			p = *known
		} else {
			// Restored from the store: no path learnt since the start.
			// Native signalling needs none; RFC 5555 UDP needs the NAT's port.
			if p, ok = h.nativePath(b.CoA); !ok {
				h.warn(h.now(), "home agent switch not sent: no signalling path known for this care-of address since the start", "hoa", hoa, "coa", b.CoA)
				continue
			}
		}
		out := transport.Signal{Via: p.via, Src: p.ha, Dst: p.to, Ext: transport.ExtRH2, HomeAddress: hoa,
			IfIndex: p.ifIndex, Peer: p.peer, Local: p.local}
		if hoa == p.to {
			out.Ext, out.HomeAddress = transport.ExtNone, netip0 // at home, or inside UDP over IPv4
		}
		var err error
		if sa != nil && sa.auth != nil {
			h.out, err = sa.auth.AppendMessage(h.out[:0], msg, sa.spi, p.to, hoa, netip0, netip0)
		} else {
			h.out, err = wire.AppendMessage(h.out[:0], msg, netip0, netip0)
		}
		if err == nil {
			out.MH = h.out
			h.ackq.wait(ctx) // after the acknowledgements in flight
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			err = p.tp.Send(sctx, out)
			cancel()
		}
		if err != nil {
			h.cnt.inc(&h.cnt.sendErrors)
			h.log.Error("sending home agent switch", "hoa", hoa, "coa", b.CoA, "err", err)
			continue
		}
		sent++
		h.cnt.inc(&h.cnt.switchesSent)
	}
	h.log.Info("home agent switch sent", "hoa", hoa, "care_of_addresses", sent, "alternates", h.drain.Alternates,
		"authenticated", sa != nil && sa.auth != nil)
}

// nativePath is the native transport to an IPv6 care-of address, from the
// home agent address.
func (h *HomeAgent) nativePath(coa netip.Addr) (signalPath, bool) {
	if !coa.Is6() || coa.Is4In6() {
		return signalPath{}, false
	}
	for _, tp := range h.tps {
		if _, ok := tp.(*transport.Native); ok {
			return signalPath{to: coa, tp: tp, via: transport.ViaMH, ha: h.addr}, true
		}
	}
	return signalPath{}, false
}

// switchFollow keeps the paths and the drain in step with an accepted
// Binding Update: a registration's path is remembered; a deregistration
// answers a Home Agent Switch (RFC 5142 section 6.1).
func (h *HomeAgent) switchFollow(r *received, req *binding.BindingUpdateRequest) {
	if req.Lifetime > 0 {
		h.notePath(r, req)
		return
	}
	h.drainAcknowledged(req.HoA, "deregistration")
	h.bindingsLeft(req.HoA)
}
