package demo

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"monami/internal/testenv"
)

// homeLinkTopology is the demo network with a shared home link: the home
// agent's home0 and a host hh on the home prefix.
var homeLinkTopology = string(topologyYAML) + `
  - name: homelink
    a: {node: ha, if: home0, addrs: ["2001:db8:1::1/64"]}
    b: {node: hh, if: eth0, addrs: ["2001:db8:1::99/64"]}
`

const homeHost = "hh"

func homeLinkTopo() []byte {
	// hh is a plain host; DAD on its link so the test can probe with it.
	t := strings.Replace(homeLinkTopology, "links:\n", `  - name: hh
    sysctls: {net.ipv6.conf.eth0.accept_dad: "1", net.ipv6.conf.eth0.dad_transmits: "1"}
links:
`, 1)
	return []byte(t)
}

// RFC 6275 section 10.4.1 on a real home link: a host there reaches the
// away mobile node's home address because the home agent answers Neighbor
// Discovery for it with its own link-layer address and tunnels what it
// receives; and the host's Duplicate Address Detection for the home address
// fails, because the home agent defends it.
func TestProxyNDOnSharedHomeLink(t *testing.T) {
	testenv.RequireRoot(t)
	s, closeLab := openScenarioOn(t, "pnd", Options{}, homeLinkTopo())
	t.Cleanup(closeLab)
	s.haExtra = "home_link: home0\n"
	if err := s.writeConfigs(); err != nil {
		t.Fatal(err)
	}
	s.start(t, "ha", "mn")
	if err := s.waitBindings(context.Background(), 2, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	hh, ha := s.lab.MustNode(homeHost), s.lab.MustNode("ha")
	var haMAC string
	if err := ha.Do(func() error {
		ifi, err := net.InterfaceByName("home0")
		if err == nil {
			haMAC = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ln net.Listener
	if err := s.lab.MustNode("mn").Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(homeAddress, "5003"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("mn here\n"))
			c.Close()
		}
	}()
	var got string
	if err := hh.Do(func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(homeAddress, "5003"), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 64)
		n, err := c.Read(b)
		got = string(b[:n])
		return err
	}); err != nil || got != "mn here\n" {
		t.Fatalf("the home link host cannot reach the away mobile node at %s: %v (read %q)\n-- ha.log --\n%s", homeAddress, err, got, s.logTail("ha"))
	}
	neigh, _ := hh.Exec(ctx, "ip", "-6", "neigh", "show", homeAddress)
	if !strings.Contains(string(neigh), haMAC) {
		t.Fatalf("the host's neighbour entry for %s is %q, want the home agent's %s", homeAddress, neigh, haMAC)
	}
	t.Logf("home link host -> %s via the home agent's proxy ND (%s): %s", homeAddress, strings.TrimSpace(string(neigh)), strings.TrimSpace(got))

	// DAD for the home address from the home link: the home agent's answer
	// makes the kernel mark it dadfailed (RFC 4862 section 5.4.5).
	if out, err := hh.Exec(ctx, "ip", "-6", "addr", "add", homeAddress+"/128", "dev", "eth0"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := hh.Exec(ctx, "ip", "-6", "addr", "show", "dev", "eth0", "to", homeAddress+"/128")
		switch {
		case strings.Contains(string(out), "dadfailed"):
			t.Logf("DAD of %s on the home link: %s", homeAddress, strings.TrimSpace(string(out)))
			return
		case !strings.Contains(string(out), "tentative") || time.Now().After(deadline):
			t.Fatalf("DAD for the away mobile node's home address succeeded on the home link:\n%s\n-- ha.log --\n%s", out, s.logTail("ha"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
