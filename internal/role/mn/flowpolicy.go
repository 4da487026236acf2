package mn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"monami/internal/config"
	"monami/internal/ctlapi"
	"monami/internal/dataplane"
	"monami/internal/forwarding"
	"monami/internal/policy"
)

// The running flow policy: mn.yaml's policy: section (replaced by a
// reload, SIGHUP) with the overrides of `monami ctl flow move` on top.
// Changing either recomputes the forwarding at once and, when the flow
// bindings it implies changed, re-signals them to the home agent in a
// Binding Update at once, so both directions move together.

// links are the access interfaces as the policy names them.
func (m *MobileNode) links() []policy.Link {
	out := make([]policy.Link, 0, len(m.ifs))
	for _, f := range m.ifs {
		if f.outer == nil { // the policy names access interfaces only
			out = append(out, policy.Link{Name: f.cfg.Name, BID: f.cfg.BID, Priority: priorityOf(f)})
		}
	}
	return out
}

// setPolicy makes p with the overrides ovs the running policy, or
// returns why not (nothing changes then). It reports whether the
// signalled flow bindings changed.
func (m *MobileNode) setPolicy(p *policy.Policy, ovs []policy.Override) (bool, error) {
	eff, err := p.WithOverrides(ovs, m.links())
	if err != nil {
		return false, err
	}
	m.pol, m.overrides = p, ovs
	m.rules, m.def = eff.Forwarding()
	flows, skipped := flowsFromPolicy(m.rules)
	for rule, why := range skipped {
		m.log.Debug("policy rule not signalled as a flow binding", "rule", rule, "reason", why)
	}
	changed := !reflect.DeepEqual(flows, m.flows)
	m.flows = flows
	return changed, nil
}

// applyPolicy recomputes the forwarding and re-signals the flow bindings
// when they changed (RFC 6089 section 5: every registration carries the
// whole list, and the home agent replaces what it held).
func (m *MobileNode) applyPolicy(flowsChanged bool) {
	m.forward()
	if !flowsChanged {
		return
	}
	now := m.now()
	for _, h := range m.homes {
		if m.bul.Resignal(now, h.ha, h.hoa) {
			m.log.Info("flow bindings changed; re-signalling", "hoa", h.hoa, "ha", h.ha, "flows", len(m.flows))
		}
	}
	m.pump(now, false)
}

// FlowMove is the body of the "flow/move" command.
type FlowMove struct {
	// Match is a selector in YAML with a rule's match: keys; or Rule names
	// a policy rule.
	Match string   `json:"match,omitempty"`
	Rule  string   `json:"rule,omitempty"`
	To    []string `json:"to"`
	// Mode: interfaces (default), share or bicast.
	Mode string `json:"mode,omitempty"`
}

// moveFlow adds (or replaces) an override. A later move of the same
// selector or rule replaces the earlier one; a new selector goes before
// the overrides already there.
func (m *MobileNode) moveFlow(req FlowMove) ([]FlowView, error) {
	o := policy.Override{Rule: req.Rule, To: req.To, Mode: req.Mode}
	if req.Match != "" {
		mt, err := policy.ParseMatch("match", req.Match)
		if err != nil {
			return nil, err
		}
		o.Match = mt
	}
	if err := o.Check(m.pol, m.links()); err != nil {
		return nil, err
	}
	ovs := slices.DeleteFunc(slices.Clone(m.overrides), func(x policy.Override) bool { return x.Name() == o.Name() })
	ovs = append([]policy.Override{o}, ovs...)
	changed, err := m.setPolicy(m.pol, ovs)
	if err != nil {
		return nil, err
	}
	m.log.Info("flow moved", "flow", o.Name(), "to", strings.Join(o.To, ","), "mode", o.Mode)
	m.applyPolicy(changed)
	return m.flowViews(), nil
}

// clearFlows drops every override.
func (m *MobileNode) clearFlows() ([]FlowView, error) {
	n := len(m.overrides)
	changed, err := m.setPolicy(m.pol, nil)
	if err != nil {
		return nil, err
	}
	m.log.Info("flow overrides cleared", "overrides", n)
	m.applyPolicy(changed)
	return m.flowViews(), nil
}

// reloadPolicy makes a new policy: section the running one, keeping the
// overrides that still apply. Bindings are left alone.
func (m *MobileNode) reloadPolicy(p *policy.Policy) error {
	var kept []policy.Override
	for _, o := range m.overrides {
		if err := o.Check(p, m.links()); err != nil {
			m.log.Warn("flow override dropped by the reload", "flow", o.Name(), "err", err)
			continue
		}
		kept = append(kept, o)
	}
	changed, err := m.setPolicy(p, kept)
	if err != nil {
		return err
	}
	m.log.Info("policy reloaded", "rules", len(p.Rules), "overrides", len(kept))
	m.applyPolicy(changed)
	return nil
}

// ReloadPolicy replaces the running policy with the policy: section of
// cfg (a freshly loaded mn.yaml; its other sections are not applied),
// validated against the running interfaces first. On error the running
// policy stays.
func (m *MobileNode) ReloadPolicy(ctx context.Context, cfg *config.MobileNode) error {
	p := cfg.Policy
	_, err := m.inLoop(ctx, func() (any, error) { return nil, m.reloadPolicy(&p) })
	return err
}

// Commands implements ctlapi.Commander.
func (m *MobileNode) Commands() []string { return []string{"flow/move", "flow/clear"} }

// Command implements ctlapi.Commander: the event loop runs it.
func (m *MobileNode) Command(ctx context.Context, name string, body json.RawMessage) (any, error) {
	switch name {
	case "flow/move":
		var req FlowMove
		if err := ctlapi.DecodeBody(body, &req); err != nil {
			return nil, err
		}
		return m.inLoop(ctx, func() (any, error) {
			v, err := m.moveFlow(req)
			return v, badRequest(err)
		})
	case "flow/clear":
		return m.inLoop(ctx, func() (any, error) { return m.clearFlows() })
	}
	return nil, fmt.Errorf("%w %q", ctlapi.ErrUnknownCommand, name)
}

func badRequest(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ctlapi.ErrBadRequest, err)
}

// inLoop runs f in the event loop and returns its answer.
func (m *MobileNode) inLoop(ctx context.Context, f func() (any, error)) (any, error) {
	reply := make(chan snapshotResp, 1)
	select {
	case m.calls <- func() { v, err := f(); reply <- snapshotResp{data: v, err: err} }:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-reply:
		return r.data, r.err
	case <-ctx.Done():
		return nil, errors.Join(ctx.Err(), errors.New("the command may still take effect"))
	}
}

// FlowView is one rule or flow of a home address in the "flows" topic:
// what it matches, the interfaces it uses now, and what it carried.
type FlowView struct {
	HomeAddress netip.Addr `json:"home_address"`
	// Rule is the policy rule's name, moved{...} for a flow moved by
	// monami ctl flow move, default for the rest.
	Rule     string `json:"rule"`
	Override bool   `json:"override,omitempty"`
	Selector string `json:"selector"`
	Mode     string `json:"mode"`
	// Interfaces are those it sends on now; empty: it falls through to
	// the next rule that matches (none usable), or it drops.
	Interfaces []string `json:"interfaces"`
	// FID is the flow binding signalled for it (RFC 6089), 0 if none.
	FID      uint16           `json:"fid,omitempty"`
	Packets  uint64           `json:"packets"`
	Bytes    uint64           `json:"bytes"`
	Bindings []FlowBindingUse `json:"bindings,omitempty"`
	// Counters says where packets and bytes come from: "data plane", or
	// why they are unavailable (then they are 0).
	Counters string `json:"counters"`
}

// FlowBindingUse is what one flow sent over one binding.
type FlowBindingUse struct {
	Interface     string     `json:"interface"`
	BindingID     uint16     `json:"bid"`
	CareOfAddress netip.Addr `json:"care_of_address"`
	Packets       uint64     `json:"packets"`
	Bytes         uint64     `json:"bytes"`
}

func (m *MobileNode) isOverride(name string) bool {
	for _, o := range m.overrides {
		if o.Rule == "" && o.Name() == name {
			return true
		}
	}
	return false
}

func (m *MobileNode) fidOf(rule string) uint16 {
	for _, f := range m.flows {
		if f.Rule == rule {
			return f.FID
		}
	}
	return 0
}

// flowViews lists every home address's entries in precedence order.
func (m *MobileNode) flowViews() []FlowView {
	counts, source := m.routeCounters()
	out := []FlowView{}
	for _, h := range m.homes {
		for _, e := range h.entries {
			v := FlowView{HomeAddress: h.hoa, Rule: e.Rule, Selector: e.Selector.String(), Mode: e.Mode.String(),
				Interfaces: []string{}, Counters: source}
			if e.Origin == forwarding.FromDefault {
				v.Rule, v.Selector = "default", "{}"
			}
			v.Override, v.FID = m.isOverride(e.Rule), m.fidOf(e.Rule)
			for _, p := range inUse(e) {
				if f := m.ifaceByBID(uint16(p.ID)); f != nil {
					v.Interfaces = append(v.Interfaces, f.cfg.Name)
				}
			}
			sel := mnMapper{m: m, h: h}.Parent(h.hoa)
			sel.Flow = e.Selector
			for _, pc := range counts[sel].Paths {
				u := FlowBindingUse{CareOfAddress: pc.Tunnel.Local, Packets: pc.Packets, Bytes: pc.Octets}
				if f := m.ifaceByCoA(pc.Tunnel.Local); f != nil {
					u.Interface, u.BindingID = f.cfg.Name, f.cfg.BID
				}
				v.Packets += pc.Packets
				v.Bytes += pc.Octets
				v.Bindings = append(v.Bindings, u)
			}
			out = append(out, v)
		}
	}
	return out
}

// routeCounters reads what each route carried, when the data plane counts
// per route (dataplane.FlowCounterReader); the string says where the
// figures come from or why there are none.
func (m *MobileNode) routeCounters() (map[dataplane.Selector]dataplane.RouteCounter, string) {
	fc, ok := m.dp.(dataplane.FlowCounterReader)
	if !ok {
		return nil, "unavailable: the " + string(m.dp.Backend()) + " data plane does not count per flow"
	}
	cs, err := fc.RouteCounters()
	if err != nil {
		return nil, "unavailable: " + err.Error()
	}
	out := make(map[dataplane.Selector]dataplane.RouteCounter, len(cs))
	for _, c := range cs {
		out[c.Selector] = c
	}
	return out, "data plane"
}
