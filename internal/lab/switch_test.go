package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

// switchYAML: three hosts and a router on one switch, the router also on a
// point-to-point link to a fourth host.
const switchYAML = `
name: mltsw
nodes:
  - {name: a}
  - {name: b, routes: [{dst: default, via: "2001:db8:5::1"}]}
  - {name: c}
  - {name: r, kind: router}
  - {name: d, routes: [{dst: default, via: "2001:db8:6::1"}]}
switches:
  - name: lan
    ports:
      - {node: r, if: lan0, addrs: ["2001:db8:5::1/64"]}
      - {node: a, if: eth0, addrs: ["2001:db8:5::a/64"]}
      - {node: b, if: eth0, addrs: ["2001:db8:5::b/64"]}
      - {node: c, if: eth0, addrs: ["2001:db8:5::c/64"]}
links:
  - a: {node: r, if: d0, addrs: ["2001:db8:6::1/64"]}
    b: {node: d, if: eth0, addrs: ["2001:db8:6::d/64"]}
`

// TestSwitch: every port reaches every other on the shared segment, a node
// behind the router reaches a port, and SetPartition cuts one port off and
// heals it.
func TestSwitch(t *testing.T) {
	l := upLab(t, switchYAML)
	for _, n := range []string{"a", "b", "c"} {
		udpEcho(t, l.MustNode(n), 7000)
	}
	for _, from := range []string{"a", "c", "r"} {
		for _, to := range []string{"a", "b", "c"} {
			if from == to {
				continue
			}
			if got := probeRTT(t, l.MustNode(from), "[2001:db8:5::"+to+"]:7000", 3, 10*time.Millisecond, 300*time.Millisecond); len(got) != 3 {
				t.Fatalf("%s -> %s over the switch: %d of 3 answered", from, to, len(got))
			}
		}
	}
	d := l.MustNode("d")
	if got := probeRTT(t, d, "[2001:db8:5::b]:7000", 3, 10*time.Millisecond, 300*time.Millisecond); len(got) != 3 {
		t.Fatalf("d -> b through the router: %d of 3 answered", len(got))
	}

	// SetPartition: b hears nothing on eth0, the others still talk.
	if err := l.SetPartition("b", "eth0", true); err != nil {
		t.Fatal(err)
	}
	if got := probeRTT(t, d, "[2001:db8:5::b]:7000", 3, 10*time.Millisecond, 300*time.Millisecond); len(got) != 0 {
		t.Fatalf("b partitioned, yet %d of 3 answered", len(got))
	}
	if got := probeRTT(t, l.MustNode("a"), "[2001:db8:5::c]:7000", 3, 10*time.Millisecond, 300*time.Millisecond); len(got) != 3 {
		t.Fatalf("a -> c while b is partitioned: %d of 3 answered", len(got))
	}
	if err := l.SetPartition("b", "eth0", false); err != nil {
		t.Fatal(err)
	}
	if got := probeRTT(t, d, "[2001:db8:5::b]:7000", 3, 10*time.Millisecond, 300*time.Millisecond); len(got) != 3 {
		t.Fatalf("partition healed: %d of 3 answered", len(got))
	}
	if err := l.SetPartition("b", "nope0", true); err == nil || !strings.Contains(err.Error(), "nope0") {
		t.Errorf("partition of a missing interface: %v", err)
	}

	// The topology keeps its switch in the state file.
	l2, err := Open("mltsw")
	if err != nil {
		t.Fatal(err)
	}
	if sw := l2.Topology().Switches; len(sw) != 1 || len(sw[0].Ports) != 4 {
		t.Errorf("switches after Open: %+v", sw)
	}
	if _, err := l.MustNode("a").Exec(context.Background(), "true"); err != nil {
		t.Fatal(err)
	}
}

func TestSwitchValidate(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"name: x\nnodes: [{name: a}]\nswitches: [{name: s, ports: [{node: a, if: e0}]}]", "at least 2 ports"},
		{"name: x\nnodes: [{name: a}]\nswitches: [{name: s, ports: [{node: a, if: e0}, {node: z, if: e0}]}]", `unknown node "z"`},
		{"name: x\nnodes: [{name: a}, {name: b}]\nswitches: [{name: s, ports: [{node: a, if: e0}, {node: b, if: e0}]}]\nlinks: [{a: {node: a, if: e0}, b: {node: b, if: e1}}]", `duplicate interface "e0"`},
		{"name: x\nnodes: [{name: a}, {name: b}]\nswitches: [{name: s, ports: [{node: a, if: e0, addrs: [\"2001:db8::1/64\"]}, {node: b, if: e0, addrs: [\"2001:db8:1::1/64\"]}]}]", "outside the switch's prefix"},
		{"name: x\nnodes: [{name: a}, {name: b}]\nswitches: [{name: s, ports: [{node: a, if: e0, addrs: [\"2001:db8::1/64\"]}, {node: b, if: e0, addrs: [\"2001:db8::1/64\"]}]}]", "already used"},
		{"name: x\nnodes: [{name: a}, {name: b, kind: root}]\nswitches: [{name: s, ports: [{node: a, if: e0}, {node: b, if: e0}]}]", "root node"},
		{"name: x\nnodes: [{name: a, routes: [{dst: default, via: \"2001:db8:9::1\"}]}, {name: b}]\nswitches: [{name: s, ports: [{node: a, if: e0, addrs: [\"2001:db8:9::2/64\"]}, {node: b, if: e0}]}]", ""},
	} {
		_, err := Parse([]byte(tc.yaml))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
