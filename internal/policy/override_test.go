package policy

import (
	"strings"
	"testing"

	"monami/internal/forwarding"
)

// --match text: the keys of a rule's match:, errors naming the key.
func TestParseMatch(t *testing.T) {
	m, err := ParseMatch("match", "{next_header: tcp, dst_port: 5201}")
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := m.Selector("match")
	if sel.NextHeader != forwarding.Exact[uint8](6) || sel.DstPort != forwarding.Exact[uint16](5201) {
		t.Fatalf("selector %v", sel)
	}
	for text, want := range map[string]string{
		"{next_header: tcp, dport: 5201}": "match.dport: unknown key",
		"{dst_port: 70000}":               `match.dst_port: "70000" is not a port`,
		"{}":                              "match: give at least one of",
		"":                                "match: give at least one of",
		"tcp":                             "is not a mapping",
		"{src: 2001:db8::1/64}":           "match.src: 2001:db8::1/64 has host bits set",
	} {
		if _, err := ParseMatch("match", text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMatch(%q) = %v, want %q", text, err, want)
		}
	}
}

// An override with a selector goes before every rule; one naming a rule
// changes its action in place; bad overrides name the field.
func TestWithOverrides(t *testing.T) {
	p, err := Parse("mn.yaml", []byte(example), links)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ParseMatch("match", "{next_header: tcp, dst_port: 5201}")
	q, err := p.WithOverrides([]Override{
		{Match: m, To: []string{"wwan0", "wlan0"}},
		{Rule: "voice", To: []string{"wlan0", "wwan0"}, Mode: ModeBicast},
		{Rule: "rules[4]", To: []string{"wlan0"}},
	}, links)
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := q.Forwarding()
	if len(rules) != 6 || rules[0].Name != "moved{"+rules[0].Selector.Key()+"}" || rules[0].Action.Paths[0].ID != 2 ||
		rules[0].Priority != 1 {
		t.Fatalf("override rule %+v", rules[0])
	}
	if rules[1].Name != "voice" || rules[1].Action.Mode != forwarding.Replicate || len(rules[1].Action.Paths) != 2 {
		t.Errorf("voice after its override %+v", rules[1])
	}
	if rules[5].Name != "rules[4]" || rules[5].Action.Mode != forwarding.Single || rules[5].Action.Paths[0].ID != 1 {
		t.Errorf("unnamed rule after its override %+v", rules[5])
	}
	if pr, _ := p.Forwarding(); len(pr) != 5 || pr[0].Name != "voice" || pr[0].Action.Mode != forwarding.Single {
		t.Errorf("the running policy changed: %+v", pr[0])
	}
	for _, c := range []struct {
		o    Override
		want string
	}{
		{Override{To: []string{"wlan0"}}, "match: give a selector, or rule"},
		{Override{Rule: "nope", To: []string{"wlan0"}}, `rule: no rule named "nope" (have: voice, bulk, control, backup, rules[4])`},
		{Override{Rule: "voice", Match: m, To: []string{"wlan0"}}, "rule, match: give one, not both"},
		{Override{Rule: "voice"}, "to: name at least one interface (have: wlan0, wwan0)"},
		{Override{Rule: "voice", To: []string{"wlan0", "eth9"}}, `to[1]: "eth9" is not one of the interfaces: section`},
		{Override{Rule: "voice", To: []string{"wlan0", "wlan0"}, Mode: ModeShare}, "to[1]: wlan0 appears twice"},
		{Override{Rule: "voice", To: []string{"wlan0"}, Mode: ModeBicast}, "to: bicast needs at least 2"},
		{Override{Rule: "voice", To: []string{"wlan0"}, Mode: "spray"}, `mode: "spray" is not interfaces, share or bicast`},
	} {
		if _, err := p.WithOverrides([]Override{c.o}, links); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}
