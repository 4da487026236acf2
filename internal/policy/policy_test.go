package policy

import (
	"net/netip"
	"strings"
	"testing"

	"monami/internal/forwarding"
)

var links = []Link{{Name: "wlan0", BID: 1, Priority: 10}, {Name: "wwan0", BID: 2, Priority: 20}}

const example = `
return: return
interfaces:
  - name: wlan0
    weight: 3
  - name: wwan0
    preference: 5
    weight: 1
default:
  share: [wlan0, wwan0]
rules:
  - name: voice
    match: {next_header: udp, dst_port: 5060-5061}
    interfaces: [wwan0, wlan0]
  - name: bulk
    match: {next_header: tcp}
    interfaces: [wlan0, wwan0]
  - name: control
    match: {traffic_class: 184, dst: "2001:db8:99::/48"}
    bicast: [wlan0, wwan0]
  - name: backup
    match: {dst: 2001:db8:77::1-2001:db8:77::9, src_port: "1000-2000"}
    share: {wlan0: 1, wwan0: 4}
    return: stay
  - match: {dst_port: 23}
    drop: true
`

func TestParseExample(t *testing.T) {
	p, err := Parse("test", []byte(example), links)
	if err != nil {
		t.Fatal(err)
	}
	rules, def := p.Forwarding()
	if len(rules) != 5 || rules[0].Name != "voice" || rules[4].Name != "rules[4]" {
		t.Fatalf("rules %+v", rules)
	}
	want := []struct {
		mode  forwarding.Mode
		paths []forwarding.PathRef
		ret   forwarding.ReturnPolicy
	}{
		{forwarding.Single, []forwarding.PathRef{{ID: 2, Weight: 1}, {ID: 1, Weight: 3}}, forwarding.Return},
		{forwarding.Single, []forwarding.PathRef{{ID: 1, Weight: 3}, {ID: 2, Weight: 1}}, forwarding.Return},
		{forwarding.Replicate, []forwarding.PathRef{{ID: 1, Weight: 3}, {ID: 2, Weight: 1}}, forwarding.Return},
		{forwarding.Share, []forwarding.PathRef{{ID: 1, Weight: 1}, {ID: 2, Weight: 4}}, forwarding.Stay},
		{forwarding.Drop, nil, forwarding.Return},
	}
	for i, w := range want {
		a := rules[i].Action
		if a.Mode != w.mode || a.Return != w.ret || len(a.Paths) != len(w.paths) || rules[i].Priority != uint16(i+1) {
			t.Errorf("rule %d: %+v, want %+v", i, a, w)
			continue
		}
		for j := range a.Paths {
			if a.Paths[j] != w.paths[j] {
				t.Errorf("rule %d path %d: %+v, want %+v", i, j, a.Paths[j], w.paths[j])
			}
		}
	}
	if def.Mode != forwarding.Share || len(def.Paths) != 2 || def.Paths[0].Weight != 3 {
		t.Errorf("default %+v", def)
	}
	if got := rules[3].Selector.Key(); got != "ip6 dst=2001:db8:77::1-2001:db8:77::9 sport=1000-2000" {
		t.Errorf("backup selector %q", got)
	}
}

func TestClassify(t *testing.T) {
	p, err := Parse("test", []byte(example), links)
	if err != nil {
		t.Fatal(err)
	}
	cn, hoa := netip.MustParseAddr("2001:db8:99::1"), netip.MustParseAddr("2001:db8:1::10")
	k := func(nh uint8, dport uint16, tc uint8) *forwarding.FlowKey {
		return &forwarding.FlowKey{Src: hoa, Dst: cn, NextHeader: nh, SrcPort: 40000, DstPort: dport, HasPorts: true, TrafficClass: tc}
	}
	for _, tc := range []struct {
		k    *forwarding.FlowKey
		want int
	}{
		{k(17, 5060, 0), 0}, {k(17, 5062, 0), -1}, {k(6, 443, 0), 1}, {k(17, 53, 184), 2}, {k(17, 23, 0), 4},
	} {
		if got := p.Classify(tc.k); got != tc.want {
			t.Errorf("Classify(nh %d dport %d tc %d) = %d, want %d", tc.k.NextHeader, tc.k.DstPort, tc.k.TrafficClass, got, tc.want)
		}
	}
}

// TestPolicyDrivesForwarding: the voice flow is pinned to wwan0 (lte)
// while bulk TCP uses wlan0; voice moves to wlan0 when wwan0 is down and
// comes back with it.
func TestPolicyDrivesForwarding(t *testing.T) {
	p, err := Parse("test", []byte(example), links)
	if err != nil {
		t.Fatal(err)
	}
	rules, def := p.Forwarding()
	hoa, cn := netip.MustParseAddr("2001:db8:1::10"), netip.MustParseAddr("2001:db8:99::1")
	bs := []forwarding.Binding{
		{HoA: hoa, ID: 1, CoA: netip.MustParseAddr("2001:db8:a::1"), Priority: 10, Usable: true},
		{HoA: hoa, ID: 2, CoA: netip.MustParseAddr("2001:db8:b::1"), Priority: 20, Usable: true},
	}
	voice := &forwarding.FlowKey{Src: cn, Dst: hoa, NextHeader: 17, SrcPort: 4000, DstPort: 5060, HasPorts: true}
	bulk := &forwarding.FlowKey{Src: cn, Dst: hoa, NextHeader: 6, SrcPort: 4000, DstPort: 80, HasPorts: true}
	route := func(bs []forwarding.Binding, k *forwarding.FlowKey) []forwarding.PathID {
		return forwarding.Compute(t0, forwarding.Input{Bindings: bs, Rules: rules, Default: def}).Route(hoa, k, nil)
	}
	if v, b := route(bs, voice), route(bs, bulk); len(v) != 1 || v[0] != 2 || len(b) != 1 || b[0] != 1 {
		t.Fatalf("voice %v (want [2]), bulk %v (want [1])", v, b)
	}
	bs[1].Usable = false
	if v := route(bs, voice); len(v) != 1 || v[0] != 1 {
		t.Fatalf("voice with wwan0 down: %v", v)
	}
	bs[1].Usable = true
	if v := route(bs, voice); len(v) != 1 || v[0] != 2 {
		t.Fatalf("voice with wwan0 back: %v", v)
	}
}

func TestDefaultByPreference(t *testing.T) {
	p, err := Parse("test", []byte("interfaces: [{name: wwan0, preference: 1}]"), links)
	if err != nil {
		t.Fatal(err)
	}
	_, def := p.Forwarding()
	if def.Mode != forwarding.Single || len(def.Paths) != 2 || def.Paths[0].ID != 2 {
		t.Errorf("default %+v: want wwan0 (preference 1) before wlan0 (priority 10)", def)
	}
	p, err = Parse("test", nil, links)
	if _, def = p.Forwarding(); err != nil || def.Paths[0].ID != 1 {
		t.Errorf("empty policy: %v, default %+v: want wlan0 first by priority", err, def)
	}
}

func TestValidationErrors(t *testing.T) {
	r := func(s string) string { return "rules:\n  - " + strings.ReplaceAll(s, "\n", "\n    ") }
	for _, tc := range []struct{ yaml, want string }{
		{r("match: {dst_port: 70000}\ninterfaces: [wlan0]"), `policy.rules[0].match.dst_port: "70000" is not a port`},
		{"rules:\n  - {match: {dst_port: 1}, drop: true}\n  - {match: {dst_port: 1}, drop: true}\n  - {match: {dst_port: x}, drop: true}", `policy.rules[2].match.dst_port: "x" is not a port`},
		{r("match: {src_port: 9-3}\ndrop: true"), `policy.rules[0].match.src_port: "9-3" starts above its end`},
		{r("match: {next_header: udpp}\ndrop: true"), `policy.rules[0].match.next_header: "udpp" is not a next header`},
		{r("match: {next_header: 256}\ndrop: true"), `policy.rules[0].match.next_header: "256" is not a next header`},
		{r("match: {traffic_class: tcp}\ndrop: true"), `policy.rules[0].match.traffic_class: "tcp" is not a traffic class`},
		{r("match: {flow_label: 0x100000}\ndrop: true"), `policy.rules[0].match.flow_label: "0x100000" is not a flow label`},
		{r("match: {spi: -1}\ndrop: true"), `policy.rules[0].match.spi: "-1" is not an SPI`},
		{r("match: {dst: 2001:db8::1/48}\ndrop: true"), `policy.rules[0].match.dst: 2001:db8::1/48 has host bits set (did you mean 2001:db8::/48?)`},
		{r("match: {dst: nowhere}\ndrop: true"), `policy.rules[0].match.dst: "nowhere" is not an address, prefix or range`},
		{r("match: {src: 2001:db8::9-2001:db8::1}\ndrop: true"), `policy.rules[0].match.src: "2001:db8::9-2001:db8::1" starts above its end`},
		{r("match: {src: 10.0.0.1-2001:db8::1}\ndrop: true"), `policy.rules[0].match.src: "10.0.0.1-2001:db8::1" mixes IPv4 and IPv6`},
		{r("match: {src: 10.0.0.1, dst: 2001:db8::1}\ndrop: true"), `policy.rules[0].match: src and dst are of different IP versions`},
		{r("match: {dst: 10.0.0.0/8, flow_label: 5}\ndrop: true"), `policy.rules[0].match.flow_label: IPv4 has no flow label`},
		{r("match: {}\ndrop: true"), `policy.rules[0].match: required (for all traffic, use policy.default)`},
		{r("match: {dst_port: 1}"), `policy.rules[0]: give one of interfaces, share, bicast or drop`},
		{r("match: {dst_port: 1}\ndrop: true\nbicast: [wlan0, wwan0]"), `policy.rules[0]: give one of interfaces, share, bicast or drop, not 2`},
		{r("match: {dst_port: 1}\ninterfaces: [lte]"), `policy.rules[0].interfaces[0]: "lte" is not one of the interfaces: section`},
		{r("match: {dst_port: 1}\ninterfaces: [wlan0, wlan0]"), `policy.rules[0].interfaces[1]: wlan0 appears twice`},
		{r("match: {dst_port: 1}\ninterfaces: []"), `policy.rules[0].interfaces: name at least 1 interface(s)`},
		{r("match: {dst_port: 1}\nbicast: [wlan0]"), `policy.rules[0].bicast: name at least 2 interface(s)`},
		{r("match: {dst_port: 1}\nshare: {wlan0: 0}"), `policy.rules[0].share.wlan0: "0" is not a weight (1..1000)`},
		{r("match: {dst_port: 1}\nshare: {wlan0: lots}"), `policy.rules[0].share.wlan0: "lots" is not a weight`},
		{r("match: {dst_port: 1}\nshare: []"), `policy.rules[0].share: name at least 1 interface(s)`},
		{r("match: {dst_port: 1}\ninterfaces: [wlan0]\nreturn: stay"), `policy.rules[0].return: only a share action has one`},
		{r("match: {dst_port: 1}\nshare: [wlan0]\nreturn: later"), `policy.rules[0].return: "later" is not return or stay`},
		{"rules:\n  - {name: a, match: {dst_port: 1}, drop: true}\n  - {name: a, match: {dst_port: 2}, drop: true}", `policy.rules[1].name: "a" is also the name of rules[0]`},
		{"return: sometimes", `policy.return: "sometimes" is not return or stay`},
		{"interfaces: [{name: wlan0, weight: 0}]", `policy.interfaces[0].weight: 0 is outside 1..1000`},
		{"interfaces: [{name: wlan0, preference: -1}]", `policy.interfaces[0].preference: -1 is outside 0..65535`},
		{"interfaces: [{name: eth9}]", `policy.interfaces[0].name: "eth9" is not one of the interfaces: section`},
		{"interfaces: [{name: wlan0}, {name: wlan0}]", `policy.interfaces[1].name: wlan0 appears twice`},
		{"interfaces: [{weight: 2}]", `policy.interfaces[0].name: required`},
		{"default: {bicast: [wlan0, lte]}", `policy.default.bicast[1]: "lte" is not one of the interfaces: section`},
		{"rulez: []", "field rulez not found"},
		{r("match: {dport: 1}\ndrop: true"), "field dport not found"},
		{r("match: {dst_port: 1}\nshare: wlan0"), "share: a list of interfaces or a mapping"},
	} {
		_, err := Parse("test", []byte(tc.yaml), links)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.yaml, err, tc.want)
		}
	}
}
