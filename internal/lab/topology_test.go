package lab

import (
	"strings"
	"testing"
	"time"
)

const goodYAML = `
name: t1
nodes:
  - {name: a}
  - {name: r, kind: router}
  - {name: b, routes: [{dst: default, via: "2001:db8:2::1"}]}
links:
  - a: {node: a, if: eth0, addrs: ["2001:db8:1::2/64", 10.1.0.2/24]}
    b: {node: r, if: eth0, addrs: ["2001:db8:1::1/64", 10.1.0.1/24]}
    impair: {rate: 20mbit, delay: 10ms, jitter: 1ms, loss: 1%}
  - a: {node: r, if: eth1, addrs: ["2001:db8:2::1/64"]}
    b: {node: b, if: eth0, addrs: ["2001:db8:2::2/64"]}
`

func TestParseGood(t *testing.T) {
	topo, err := Parse([]byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	l := topo.Links[0]
	if l.Name != "a-r" || topo.Nodes[0].Kind != KindHost || topo.Nodes[1].Kind != KindRouter {
		t.Errorf("defaults: link %q kinds %q %q", l.Name, topo.Nodes[0].Kind, topo.Nodes[1].Kind)
	}
	want := Impairment{Rate: 20_000_000, Delay: Duration(10 * time.Millisecond), Jitter: Duration(time.Millisecond), Loss: 0.01}
	if l.Impair != want {
		t.Errorf("impair = %+v, want %+v", l.Impair, want)
	}
	if !l.needsRelay() || topo.Links[1].needsRelay() {
		t.Error("relay only on the delayed link")
	}
}

func TestParseExample(t *testing.T) {
	if _, err := Load("../../examples/lab/basic.yaml"); err != nil {
		t.Fatal(err)
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name, yml, want string
	}{
		{"unknown node", `name: t
nodes: [{name: a}]
links: [{a: {node: a, if: e0}, b: {node: zz, if: e0}}]`, `links[0].b.node: unknown node "zz"`},
		{"self link", `name: t
nodes: [{name: a}]
links: [{a: {node: a, if: e0}, b: {node: a, if: e1}}]`, `link from node "a" to itself`},
		{"dup node", `name: t
nodes: [{name: a}, {name: a}]`, `nodes[1].name: duplicate node "a"`},
		{"dup if", `name: t
nodes: [{name: a}, {name: b}, {name: c}]
links: [{a: {node: a, if: e0}, b: {node: b, if: e0}}, {a: {node: a, if: e0}, b: {node: c, if: e0}}]`, `duplicate interface "e0" on node "a"`},
		{"malformed prefix", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: e0, addrs: ["2001:db8::1/129"]}, b: {node: b, if: e0}}]`, `links[0].a.addrs[0]: malformed address/prefix`},
		{"no prefix length", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: e0, addrs: ["2001:db8::1"]}, b: {node: b, if: e0}}]`, `has no prefix length`},
		{"peer outside prefix", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: e0, addrs: ["2001:db8:1::1/64"]}, b: {node: b, if: e0, addrs: ["2001:db8:2::1/64"]}}]`, `outside the link's prefix`},
		{"via off-link", `name: t
nodes: [{name: a, routes: [{dst: default, via: "2001:db8:9::1"}]}, {name: b}]
links: [{a: {node: a, if: e0, addrs: ["2001:db8:1::1/64"]}, b: {node: b, if: e0}}]`, `via 2001:db8:9::1 is not on any link of node "a"`},
		{"if too long", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: abcdefghijklmnop}, b: {node: b, if: e0}}]`, `links[0].a.if: "abcdefghijklmnop"`},
		{"root if too long after prefix", `name: longname
nodes: [{name: h, kind: root}, {name: b}]
links: [{a: {node: h, if: abcdefghij}, b: {node: b, if: e0}}]`, `becomes "longname-abcdefghij", longer than 15`},
		{"bad lab name", `name: Bad-Name
nodes: [{name: a}]`, `name: "Bad-Name" must be`},
		{"bad rate", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: e0}, b: {node: b, if: e0}, impair: {rate: fast}}]`, `bad rate "fast"`},
		{"bad queue", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: e0}, b: {node: b, if: e0}, queue: 10us}]`, `links[0].queue: 10µs, want at least 1ms`},
		{"bad qdisc", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: e0}, b: {node: b, if: e0}, qdisc: fq_codel}]`, `links[0].qdisc: "fq_codel", want fifo or fq`},
		{"bad loss", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: e0}, b: {node: b, if: e0}, impair: {loss: 150%}}]`, `bad loss "150%"`},
		{"jitter > delay", `name: t
nodes: [{name: a}, {name: b}]
links: [{a: {node: a, if: e0}, b: {node: b, if: e0}, impair: {delay: 1ms, jitter: 2ms}}]`, `impair.jitter: 2ms larger than delay 1ms`},
		{"unknown field", `name: t
nodes: [{name: a, color: red}]`, `field color not found`},
		{"route dev unknown", `name: t
nodes: [{name: a, routes: [{dst: "2001:db8::/32", dev: nope}]}, {name: b}]
links: [{a: {node: a, if: e0}, b: {node: b, if: e0}}]`, `dev: node has no interface "nope"`},
		{"route host bits", `name: t
nodes: [{name: a, routes: [{dst: "2001:db8::1/32", dev: e0}]}, {name: b}]
links: [{a: {node: a, if: e0}, b: {node: b, if: e0}}]`, `has host bits set`},
		{"process unknown node", `name: t
nodes: [{name: a}]
processes: [{name: p, node: x, command: sleep}]`, `processes[0].node: unknown node "x"`},
		{"duplicate address", `name: t
nodes: [{name: a}, {name: b}, {name: c}]
links: [{a: {node: a, if: e0, addrs: ["2001:db8:1::1/64"]}, b: {node: b, if: e0, addrs: ["2001:db8:1::2/64"]}},
        {a: {node: a, if: e1, addrs: ["2001:db8:3::1/64"]}, b: {node: c, if: e0, addrs: ["2001:db8:1::2/64"]}}]`, `address 2001:db8:1::2 already used`},
		{"sysctl outside net", `name: t
nodes: [{name: a, sysctls: {kernel.panic: "1"}}]`, `only net.* sysctls`},
		{"sysctl unknown interface", `name: t
nodes: [{name: a, sysctls: {net.ipv6.conf.wlan9.accept_ra: "0"}}]`, `names interface "wlan9", which the node does not have`},
		{"not yaml", `name: [`, `yaml`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yml))
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestParseImpairmentSettings(t *testing.T) {
	im, err := ParseImpairment(Impairment{Rate: 1e6}, []string{"delay=10ms", "loss=2.5%", "jitter=1ms"})
	if err != nil {
		t.Fatal(err)
	}
	if im.Rate != 1e6 || im.Delay != Duration(10*time.Millisecond) || im.Loss != 0.025 || im.Jitter != Duration(time.Millisecond) {
		t.Errorf("got %+v", im)
	}
	im, err = ParseImpairment(im, []string{"rate=none", "loss=0"})
	if err != nil || im.Rate != 0 || im.Loss != 0 {
		t.Errorf("clearing: %+v %v", im, err)
	}
	for _, bad := range [][]string{{"delay"}, {"speed=1"}, {"rate=-1mbit"}, {"jitter=20ms"}, {"loss=2"}} {
		if _, err := ParseImpairment(Impairment{Delay: Duration(time.Millisecond)}, bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	for s, want := range map[string]Rate{"5mbit": 5e6, "1.5gbit": 1.5e9, "64000": 64000, "500kbit": 5e5, "10mbps": 1e7} {
		if r, err := ParseRate(s); err != nil || r != want {
			t.Errorf("ParseRate(%q) = %v, %v", s, r, err)
		}
	}
}
