package config

import (
	"strings"
	"testing"
)

const haFlowBase = "address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsecurity: {insecure: true}\nmobile_nodes:\n - id: a\n   home_addresses: [2001:db8::5]\n"

// Each bad flow_bindings key is named in its error.
func TestHomeAgentFlowBindingErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"flow_bindings: {max_per_home_address: -1}", "flow_bindings.max_per_home_address: -1 is outside 1..65535"},
		{"flow_bindings: {accept: maybe}", "flow_bindings.accept"},
		{"flow_bindings: {rules: [{match: {next_header: udp}, mode: bicast}]}", "flow_bindings.rules[0].name: required"},
		{"flow_bindings: {rules: [{name: a, mode: bicast}]}", "flow_bindings.rules[0].match: required"},
		{"flow_bindings: {rules: [{name: a, match: {traffic_class: \"300\"}, mode: bicast}]}", "flow_bindings.rules[0].match.traffic_class"},
		{"flow_bindings: {rules: [{name: a, match: {dst_port: 90-80}, mode: bicast}]}", "flow_bindings.rules[0].match.dst_port: \"90-80\" starts above its end"},
		{"flow_bindings: {rules: [{name: a, match: {next_header: udp}, mode: broadcast}]}", "flow_bindings.rules[0].mode: \"broadcast\" is not bicast, share or failover"},
		{"flow_bindings: {rules: [{name: a, match: {next_header: udp}, mode: bicast}, {name: a, match: {next_header: tcp}, mode: share}]}", "flow_bindings.rules[1].name: \"a\" appears twice"},
		{"flow_bindings: {rules: [{name: a, match: {next_header: udp}, mode: bicast, bicast: true}]}", "field bicast not found"},
	} {
		_, err := ParseHomeAgent("ha.yaml", []byte(haFlowBase+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestHomeAgentFlowBindingsExample(t *testing.T) {
	ha, err := LoadHomeAgent("../../examples/ha.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fb := ha.FlowBindings
	if fb.Disabled() || fb.MaxPerHomeAddress != 64 || len(fb.Rules) != 1 || fb.Rules[0].Mode != "bicast" ||
		!fb.Rules[0].Selector().TrafficClass.Set || fb.Rules[0].Selector().TrafficClass.Lo != 184 || !fb.Rules[0].RefuseMobileNodeFlows {
		t.Errorf("flow_bindings %+v", fb)
	}
	c, err := ParseHomeAgent("ha.yaml", []byte(haFlowBase))
	if err != nil || c.FlowBindings.Disabled() || c.FlowBindings.MaxPerHomeAddress != 64 {
		t.Errorf("defaults: %+v %v", c.FlowBindings, err)
	}
}
