package policy

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// matchKeys are the keys of a rule's match:, for messages.
const matchKeys = "src, dst, next_header, src_port, dst_port, traffic_class, flow_label, spi"

var unknownField = regexp.MustCompile(`field (\S+) not found`)

// ParseMatch reads a selector written in YAML with the keys of a rule's
// match: (e.g. "{next_header: tcp, dst_port: 5201}"), as `monami ctl flow
// move --match` takes it, and validates it. Errors start with where and
// name the key.
func ParseMatch(where, text string) (Match, error) {
	var m Match
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		if k := unknownField.FindStringSubmatch(err.Error()); k != nil {
			return Match{}, fmt.Errorf("%s.%s: unknown key (have %s)", where, k[1], matchKeys)
		}
		return Match{}, fmt.Errorf("%s: %q is not a mapping such as {next_header: tcp, dst_port: 5201}: %w", where, text, err)
	}
	if m.empty() {
		return Match{}, fmt.Errorf("%s: give at least one of %s", where, matchKeys)
	}
	if _, probs := m.Selector(where); len(probs) > 0 {
		return Match{}, errors.New(strings.Join(probs, "; "))
	}
	return m, nil
}

// Override modes: how an override uses the interfaces it names.
const (
	ModeInterfaces = "interfaces"
	ModeShare      = "share"
	ModeBicast     = "bicast"
)

// Override moves traffic at run time (monami ctl flow move): either a
// selector of its own, tried before every rule, or a new action for a
// named rule, which keeps its place.
type Override struct {
	// Rule names the rule whose action changes (its name, or rules[N]
	// for an unnamed one); empty: Match is a rule of its own.
	Rule  string `json:"rule,omitempty"`
	Match Match  `json:"match,omitzero"`
	// To lists interfaces, in preference order for ModeInterfaces.
	To   []string `json:"to"`
	Mode string   `json:"mode"`
}

// Name is how the override shows as a rule.
func (o *Override) Name() string {
	if o.Rule != "" {
		return o.Rule
	}
	sel, _ := o.Match.Selector("match")
	return "moved{" + sel.Key() + "}"
}

func (o *Override) action() Action {
	switch o.Mode {
	case ModeShare:
		items := make([]ShareItem, len(o.To))
		for i, n := range o.To {
			items[i] = ShareItem{Interface: n}
		}
		return Action{Share: Share{Items: items, Line: 1}}
	case ModeBicast:
		return Action{Bicast: slices.Clone(o.To)}
	}
	return Action{Interfaces: slices.Clone(o.To)}
}

// ruleIndex finds a rule by name, or rules[N] for an unnamed one.
func (p *Policy) ruleIndex(name string) int {
	for i := range p.Rules {
		if p.Rules[i].Name == name || (p.Rules[i].Name == "" && name == fmt.Sprintf("rules[%d]", i)) {
			return i
		}
	}
	return -1
}

// RuleNames lists the rules as Forwarding names them.
func (p *Policy) RuleNames() []string {
	out := make([]string, len(p.Rules))
	for i := range p.Rules {
		out[i] = p.Rules[i].Name
		if out[i] == "" {
			out[i] = fmt.Sprintf("rules[%d]", i)
		}
	}
	return out
}

// Check validates an override against the policy and the interfaces;
// each problem names its field (match.<key>, rule, to[i], mode).
func (o *Override) Check(p *Policy, links []Link) error {
	var probs []string
	add := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	switch {
	case o.Rule != "" && !o.Match.empty():
		add("rule, match: give one, not both")
	case o.Rule != "":
		if p.ruleIndex(o.Rule) < 0 {
			add("rule: no rule named %q (have: %s)", o.Rule, strings.Join(p.RuleNames(), ", "))
		}
	case o.Match.empty():
		add("match: give a selector, or rule: a rule's name")
	default:
		_, ps := o.Match.Selector("match")
		probs = append(probs, ps...)
	}
	switch o.Mode {
	case "":
		o.Mode = ModeInterfaces
	case ModeInterfaces, ModeShare, ModeBicast:
	default:
		add("mode: %q is not %s, %s or %s", o.Mode, ModeInterfaces, ModeShare, ModeBicast)
	}
	names := make([]string, len(links))
	for i, l := range links {
		names[i] = l.Name
	}
	switch {
	case len(o.To) == 0:
		add("to: name at least one interface (have: %s)", strings.Join(names, ", "))
	case o.Mode == ModeBicast && len(o.To) < 2:
		add("to: bicast needs at least 2 interfaces")
	}
	for i, n := range o.To {
		switch {
		case !slices.Contains(names, n):
			add("to[%d]: %q is not one of the interfaces: section (have: %s)", i, n, strings.Join(names, ", "))
		case slices.Index(o.To, n) < i:
			add("to[%d]: %s appears twice", i, n)
		}
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	return nil
}

// WithOverrides returns a validated copy of p with the overrides applied:
// a rule's override replaces its action, the others go before every rule
// in the order given. p is not changed.
func (p *Policy) WithOverrides(ovs []Override, links []Link) (*Policy, error) {
	q := *p
	q.Rules = slices.Clone(p.Rules)
	for i := range q.Rules {
		// Unnamed rules keep the name of their place in mn.yaml.
		if q.Rules[i].Name == "" {
			q.Rules[i].Name = fmt.Sprintf("rules[%d]", i)
		}
	}
	var first []Rule
	for i := range ovs {
		o := &ovs[i]
		if err := o.Check(p, links); err != nil {
			return nil, fmt.Errorf("override %s: %w", o.Name(), err)
		}
		if o.Rule != "" {
			r := &q.Rules[p.ruleIndex(o.Rule)]
			r.Action = o.action()
			continue
		}
		first = append(first, Rule{Name: o.Name(), Match: o.Match, Action: o.action()})
	}
	q.Rules = append(first, q.Rules...)
	if probs := q.Validate("policy", links); len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "; "))
	}
	return &q, nil
}
