package config

import (
	"monami/internal/forwarding"
	"monami/internal/policy"
)

// FlowBindings is the flow_bindings: section of ha.yaml: what the home
// agent does with the flow bindings mobile nodes signal (RFC 6089), and
// the operator's own flow rules.
type FlowBindings struct {
	// Accept, default true; false answers every Flow Identification option
	// with status 128, administratively prohibited.
	Accept *bool `yaml:"accept"`
	// MaxPerHomeAddress bounds the flows of one home address; beyond it a
	// new flow gets 129. Default 64.
	MaxPerHomeAddress int `yaml:"max_per_home_address"`
	// Rules are operator flow policy, in order; they take precedence over
	// the mobile nodes' flow bindings.
	Rules []OperatorFlowRule `yaml:"rules"`
}

// OperatorFlowRule is one operator rule: traffic to a home address that
// matches is always forwarded in Mode.
type OperatorFlowRule struct {
	Name  string       `yaml:"name"`
	Match policy.Match `yaml:"match"`
	// Mode: bicast (every binding), share (bindings by weight) or failover
	// (the preferred binding, then the next).
	Mode string `yaml:"mode"`
	// RefuseMobileNodeFlows answers a mobile node's flow binding whose
	// selector overlaps this rule with 128 instead of accepting a binding
	// the rule would override.
	RefuseMobileNodeFlows bool `yaml:"refuse_mobile_node_flows"`

	sel forwarding.Match
}

// Selector is the validated match.
func (r *OperatorFlowRule) Selector() forwarding.Match { return r.sel }

// Disabled reports whether mobile nodes' flow bindings are refused.
func (f *FlowBindings) Disabled() bool { return f.Accept != nil && !*f.Accept }

// operatorModes are the forwarding modes an operator rule may name.
var operatorModes = map[string]bool{"bicast": true, "share": true, "failover": true}

func (f *FlowBindings) validate(e *errs) {
	switch {
	case f.MaxPerHomeAddress == 0:
		f.MaxPerHomeAddress = 64
	case f.MaxPerHomeAddress < 0 || f.MaxPerHomeAddress > 65535:
		// FIDs are 16 bits (RFC 6089 section 4.1).
		e.add("flow_bindings.max_per_home_address: %d is outside 1..65535", f.MaxPerHomeAddress)
	}
	names := map[string]bool{}
	for i := range f.Rules {
		r := &f.Rules[i]
		where := fieldf("flow_bindings.rules[%d]", i)
		if r.Name == "" {
			e.add("%s.name: required", where)
		} else if names[r.Name] {
			e.add("%s.name: %q appears twice", where, r.Name)
		}
		names[r.Name] = true
		if r.Match.Empty() {
			e.add("%s.match: required (an operator rule for all traffic is the default mode, not a rule)", where)
		}
		var probs []string
		r.sel, probs = r.Match.Selector(where + ".match")
		for _, p := range probs {
			e.add("%s", p)
		}
		if !operatorModes[r.Mode] {
			e.add("%s.mode: %q is not bicast, share or failover", where, r.Mode)
		}
	}
}
