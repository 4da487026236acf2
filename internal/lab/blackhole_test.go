package lab

import (
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

const blackholeYAML = `
name: mltbh
nodes:
  - name: a
    routes: [{dst: default, via: "2001:db8:a::1"}]
  - name: r
    kind: router
  - name: b
    routes: [{dst: default, via: "2001:db8:b::1"}]
links:
  - a: {node: a, if: eth0, addrs: ["2001:db8:a::2/64"]}
    b: {node: r, if: eth0, addrs: ["2001:db8:a::1/64"]}
  - a: {node: r, if: eth1, addrs: ["2001:db8:b::1/64"]}
    b: {node: b, if: eth0, addrs: ["2001:db8:b::2/64"]}
`

// A blackholed access interface drops what the router forwards in both
// directions; the link stays up and the router itself still answers.
func TestBlackhole(t *testing.T) {
	l := upLab(t, blackholeYAML)
	a, b := l.MustNode("a"), l.MustNode("b")
	udpEcho(t, b, 7200)
	udpEcho(t, l.MustNode("r"), 7201)
	udpEcho(t, a, 7202)
	answered := func(from *NodeNS, dst string) int {
		return len(probeRTT(t, from, dst, 5, 20*time.Millisecond, 300*time.Millisecond))
	}
	if n := answered(a, "[2001:db8:b::2]:7200"); n == 0 {
		t.Fatal("no echo through the router before the blackhole")
	}
	if err := l.SetBlackhole("r", "eth0", true); err != nil {
		t.Fatal(err)
	}
	if n := answered(a, "[2001:db8:b::2]:7200"); n != 0 {
		t.Errorf("a -> b: %d answers through a blackholed interface", n)
	}
	if n := answered(b, "[2001:db8:a::2]:7202"); n != 0 {
		t.Errorf("b -> a: %d answers through a blackholed interface", n)
	}
	if n := answered(a, "[2001:db8:a::1]:7201"); n == 0 {
		t.Error("the router itself stopped answering: not a silent failure")
	}
	h, err := a.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if ln, err := h.LinkByName("eth0"); err != nil || ln.Attrs().OperState != netlink.OperUp {
		t.Errorf("a's link is not up under the blackhole: %v", err)
	}
	if err := l.SetBlackhole("r", "eth0", false); err != nil {
		t.Fatal(err)
	}
	if n := answered(a, "[2001:db8:b::2]:7200"); n == 0 {
		t.Error("no echo after the blackhole is lifted")
	}
}
