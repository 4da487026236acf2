package policy

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to the policy parser: it must never
// panic, every error must name the policy, and a policy it accepts must
// give forwarding rules with valid selectors, in order, naming only known
// interfaces.
func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte(""))
	f.Add([]byte("default: {drop: true}"))
	f.Add([]byte("rules: [{match: {dst_port: 70000}, drop: true}]"))
	f.Add([]byte("rules: [{match: {src: '2001:db8::1-2001:db8::9', flow_label: '0x1-0xfffff', spi: 256}, share: {wlan0: 2, wwan0: 1}, return: stay}]"))
	f.Add([]byte("interfaces: [{name: wlan0, preference: 3, weight: 1000}]\nreturn: stay"))
	f.Add([]byte("rules: [{match: {dst: 10.0.0.0/8, next_header: 0-255}, bicast: [wlan0, wwan0]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz", data, links)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "policy fuzz") {
				t.Fatalf("error does not name the policy: %v", err)
			}
			return
		}
		rules, def := p.Forwarding()
		if def == nil || len(rules) != len(p.Rules) {
			t.Fatalf("%d rules from %d", len(rules), len(p.Rules))
		}
		for i, r := range rules {
			if err := r.Selector.Validate(); err != nil {
				t.Fatalf("rule %d: accepted selector is invalid: %v", i, err)
			}
			if r.Priority != uint16(i+1) || r.Selector.IsZero() {
				t.Fatalf("rule %d: priority %d, selector %s", i, r.Priority, r.Selector)
			}
			for _, pr := range append(r.Action.Paths, def.Paths...) {
				if pr.ID != 1 && pr.ID != 2 || pr.Weight < 1 || pr.Weight > maxWeight {
					t.Fatalf("rule %d: path %+v", i, pr)
				}
			}
		}
	})
}
