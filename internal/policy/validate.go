package policy

import (
	"cmp"
	"fmt"
	"slices"

	"monami/internal/forwarding"
)

// maxWeight bounds a share weight; ratios beyond 1000:1 are not sharing.
const maxWeight = 1000

// Validate checks the policy against the access interfaces it may name
// and prepares it for Forwarding and Classify. Each problem starts with
// the key's full name under prefix, e.g.
// `policy.rules[2].match.dst_port: "70000" is not a port`.
func (p *Policy) Validate(prefix string, links []Link) []string {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	p.links = links
	known := map[string]bool{}
	for _, l := range links {
		known[l.Name] = true
	}
	switch p.Return {
	case "", "return":
		p.ret = forwarding.Return
	case "stay":
		p.ret = forwarding.Stay
	default:
		add("%s.return: %q is not return or stay", prefix, p.Return)
	}
	seen := map[string]bool{}
	for i := range p.Interfaces {
		f := &p.Interfaces[i]
		where := fmt.Sprintf("%s.interfaces[%d]", prefix, i)
		switch {
		case f.Name == "":
			add("%s.name: required", where)
		case !known[f.Name]:
			add("%s.name: %q is not one of the interfaces: section", where, f.Name)
		case seen[f.Name]:
			add("%s.name: %s appears twice", where, f.Name)
		}
		seen[f.Name] = true
		if f.Weight != nil && (*f.Weight < 1 || *f.Weight > maxWeight) {
			add("%s.weight: %d is outside 1..%d", where, *f.Weight, maxWeight)
		}
		if f.Preference != nil && (*f.Preference < 0 || *f.Preference > 65535) {
			add("%s.preference: %d is outside 0..65535", where, *f.Preference)
		}
	}
	p.Default.validate(prefix+".default", p, known, true, add)
	if len(p.Rules) > 65535 {
		add("%s.rules: %d rules, at most 65535", prefix, len(p.Rules))
	}
	names := map[string]int{}
	for i := range p.Rules {
		r := &p.Rules[i]
		where := fmt.Sprintf("%s.rules[%d]", prefix, i)
		if r.Name != "" {
			if j, dup := names[r.Name]; dup {
				add("%s.name: %q is also the name of rules[%d]", where, r.Name, j)
			}
			names[r.Name] = i
		}
		if r.Match.empty() {
			add("%s.match: required (for all traffic, use %s.default)", where, prefix)
		}
		r.sel = r.Match.parse(where+".match", add)
		r.Action.validate(where, p, known, false, add)
	}
	return probs
}

// validate checks one action and builds its forwarding form.
func (a *Action) validate(where string, p *Policy, known map[string]bool, isDefault bool, add func(string, ...any)) {
	given := 0
	for _, g := range []bool{a.Interfaces != nil, a.Share.given(), a.Bicast != nil, a.Drop} {
		if g {
			given++
		}
	}
	switch {
	case given > 1:
		add("%s: give one of interfaces, share, bicast or drop, not %d", where, given)
		return
	case given == 0 && !isDefault:
		add("%s: give one of interfaces, share, bicast or drop", where)
		return
	}
	a.act = forwarding.Action{Mode: forwarding.Single, Return: p.ret}
	switch a.Return {
	case "":
	case "return", "stay":
		if !a.Share.given() {
			add("%s.return: only a share action has one", where)
		}
		a.act.Return = map[string]forwarding.ReturnPolicy{"return": forwarding.Return, "stay": forwarding.Stay}[a.Return]
	default:
		add("%s.return: %q is not return or stay", where, a.Return)
	}
	switch {
	case a.Drop:
		a.act.Mode = forwarding.Drop
	case a.Interfaces != nil:
		a.act.Paths = p.refs(where+".interfaces", a.Interfaces, known, 1, add)
	case a.Bicast != nil:
		a.act.Mode = forwarding.Replicate
		a.act.Paths = p.refs(where+".bicast", a.Bicast, known, 2, add)
	case a.Share.given():
		a.act.Mode = forwarding.Share
		a.act.Paths = p.shareRefs(where+".share", a.Share.Items, known, add)
	default: // the default action left empty: every interface, by preference
		a.act.Paths = p.refs(where, p.byPreference(), known, 0, add)
	}
}

// refs resolves interface names to paths with their weights.
func (p *Policy) refs(where string, names []string, known map[string]bool, atLeast int, add func(string, ...any)) []forwarding.PathRef {
	if len(names) < atLeast {
		add("%s: name at least %d interface(s)", where, atLeast)
	}
	seen := map[string]bool{}
	var out []forwarding.PathRef
	for i, n := range names {
		switch {
		case !known[n]:
			add("%s[%d]: %q is not one of the interfaces: section", where, i, n)
			continue
		case seen[n]:
			add("%s[%d]: %s appears twice", where, i, n)
			continue
		}
		seen[n] = true
		out = append(out, forwarding.PathRef{ID: p.bid(n), Weight: uint32(p.weight(n))})
	}
	return out
}

func (p *Policy) shareRefs(where string, items []ShareItem, known map[string]bool, add func(string, ...any)) []forwarding.PathRef {
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.Interface
	}
	out := p.refs(where, names, known, 1, add)
	for i, it := range items {
		if it.weightRaw == "" {
			continue
		}
		w, ok := parseNum(it.weightRaw, maxWeight, nil)
		if !ok || w < 1 {
			add("%s.%s: %q is not a weight (1..%d)", where, it.Interface, it.weightRaw, maxWeight)
			continue
		}
		items[i].Weight = int(w)
		for j := range out {
			if out[j].ID == p.bid(it.Interface) {
				out[j].Weight = uint32(w)
			}
		}
	}
	return out
}

func (p *Policy) iface(name string) *Interface {
	for i := range p.Interfaces {
		if p.Interfaces[i].Name == name {
			return &p.Interfaces[i]
		}
	}
	return nil
}

func (p *Policy) bid(name string) forwarding.PathID {
	for _, l := range p.links {
		if l.Name == name {
			return forwarding.PathID(l.BID)
		}
	}
	return 0
}

func (p *Policy) weight(name string) int {
	if f := p.iface(name); f != nil && f.Weight != nil && *f.Weight >= 1 {
		return *f.Weight
	}
	return 1
}

func (p *Policy) preference(l Link) int {
	if f := p.iface(l.Name); f != nil && f.Preference != nil {
		return *f.Preference
	}
	return int(l.Priority)
}

// byPreference lists the interfaces, lower preference first, then in
// interfaces: order.
func (p *Policy) byPreference() []string {
	ls := slices.Clone(p.links)
	slices.SortStableFunc(ls, func(a, b Link) int { return cmp.Compare(p.preference(a), p.preference(b)) })
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

// Forwarding returns the forwarding inputs of a validated policy: the
// rules in order (priority = position + 1, so the first match wins) and
// the default action.
func (p *Policy) Forwarding() ([]forwarding.Rule, *forwarding.Action) {
	rules := make([]forwarding.Rule, len(p.Rules))
	for i := range p.Rules {
		r := &p.Rules[i]
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("rules[%d]", i)
		}
		rules[i] = forwarding.Rule{Name: name, Priority: uint16(i + 1), Selector: r.sel, Action: r.act}
	}
	def := p.Default.act
	return rules, &def
}
