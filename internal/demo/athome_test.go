package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"monami/internal/lab"
	"monami/internal/testenv"
)

// atHomeTopology is the demo network without impairments, plus a shared
// home link: a switch with the home agent's home0 and a host hh. The mobile
// node's wlan0 can be moved onto it (moveWlan).
const atHomeTopology = `
name: athome
nodes:
  - name: mn
    routes:
      - {dst: default, via: "2001:db8:a::1", dev: wlan0}
      - {dst: default, via: "2001:db8:b::1", dev: lte0, metric: 200}
  - name: ar
    kind: router
    routes:
      - {dst: "2001:db8:1::/64", via: "2001:db8:f::2"}
  - name: ha
    kind: router
    routes:
      - {dst: default, via: "2001:db8:f::1"}
  - name: cn
    routes:
      - {dst: default, via: "2001:db8:c::1"}
  - name: hh
    routes:
      - {dst: default, via: "2001:db8:1::1"}
links:
  - name: wlan
    a: {node: mn, if: wlan0, addrs: ["2001:db8:a::10/64"]}
    b: {node: ar, if: wlan0, addrs: ["2001:db8:a::1/64"]}
  - name: lte
    a: {node: mn, if: lte0, addrs: ["2001:db8:b::10/64"]}
    b: {node: ar, if: lte0, addrs: ["2001:db8:b::1/64"]}
  - name: home
    a: {node: ar, if: ha0, addrs: ["2001:db8:f::1/64"]}
    b: {node: ha, if: eth0, addrs: ["2001:db8:f::2/64"]}
  - name: core
    a: {node: ar, if: cn0, addrs: ["2001:db8:c::1/64"]}
    b: {node: cn, if: eth0, addrs: ["2001:db8:c::10/64"]}
switches:
  - name: homelink
    ports:
      - {node: ha, if: home0, addrs: ["2001:db8:1::1/64"]}
      - {node: hh, if: eth0, addrs: ["2001:db8:1::99/64"]}
`

// The mobile node's wlan0 address on the home link: what a home link's
// Router Advertisement (SLAAC) or DHCPv6 would give it.
const wlanHomeAddr = "2001:db8:1::a"

const echoPort = 7007

const atHomeLab = "rhhome"

// RFC 5648 section 5.6.3 end to end, issue 14 item 4: at home on one
// interface, away on the other. (1) Both interfaces away: a host on the
// shared home link reaches the mobile node through the home agent (its proxy
// Neighbor Discovery, RFC 6275 section 10.4.1). (2) wlan0 moves onto the
// home link: the mobile node registers it with the H flag, the home agent
// stops defending the home address, and the host reaches the mobile node
// directly (its neighbour entry holds wlan0's link-layer address; the home
// agent's home0 receives none of the exchange), while a correspondent still
// reaches it through lte0's binding. (3) wlan0 back away: through the home
// agent again. tshark decodes the signalling without warnings. Both data
// plane backends, one after the other (one lab name).
func TestAtHomeOnOneInterface(t *testing.T) {
	testenv.RequireRoot(t)
	for _, backend := range []string{"kernel", "userspace"} {
		t.Run(backend, func(t *testing.T) { atHomeOnOneInterface(t, backend) })
	}
}

func atHomeOnOneInterface(t *testing.T, backend string) {
	s, closeLab := openScenarioOn(t, atHomeLab, Options{Backend: backend}, []byte(atHomeTopology))
	defer closeLab()
	s.haExtra = "home_link: home0\n"
	if err := s.writeConfigs(); err != nil {
		t.Fatal(err)
	}
	stopEth := s.captureSignalling(t, "ha", "eth0", s.path("athome-eth0.pcap"))
	stopHome := s.captureSignalling(t, "ha", "home0", s.path("athome-home0.pcap"))
	s.start(t, "ha", "mn")
	s.waitCoAs(t, "ha", "2001:db8:a::10", "2001:db8:b::10")
	stopEcho := s.udpEcho(t)
	defer stopEcho()
	haMAC, mnMAC := s.mac(t, "ha", "home0"), s.mac(t, "mn", "wlan0")
	const n = 50

	// (1) Both away.
	s.echoVia(t, "away", n, haMAC, true)

	// (2) wlan0 on the home link.
	s.moveWlan(t, true)
	s.waitCoAs(t, "ha", homeAddress, "2001:db8:b::10")
	s.echoVia(t, "wlan0 at home", n, mnMAC, false)
	if got, err := s.echo("cn", n); err != nil || got < n*9/10 {
		t.Fatalf("wlan0 at home: the correspondent got %d of %d echoes through lte0's binding: %v", got, n, err)
	}
	t.Logf("wlan0 at home: correspondent -> home address through the home agent and lte0: %d of %d echoes", n, n)

	// Only the home link left (lte0 down): the home agent has no tunnel for
	// the home address and routes it onto the home link, where the mobile
	// node answers for it; its answers leave natively.
	if err := s.lab.SetLink("mn", "lte0", false); err != nil {
		t.Fatal(err)
	}
	s.waitCoAs(t, "ha", homeAddress)
	tx := s.linkPackets(t, "ha", "home0", "tx")
	if got, err := s.echo("cn", n); err != nil || got < n*9/10 {
		t.Fatalf("only wlan0, at home: the correspondent got %d of %d echoes: %v\n-- ha.log --\n%s\n-- mn.log --\n%s", got, n, err, s.logTail("ha"), s.logTail("mn"))
	}
	tx = s.linkPackets(t, "ha", "home0", "tx") - tx
	if tx < uint64(n) {
		t.Fatalf("only wlan0, at home: the home agent sent %d packets on home0 for %d echoes", tx, n)
	}
	t.Logf("only wlan0, at home: correspondent -> home address through the home agent onto the home link: %d of %d echoes, home0 sent %d packets", n, n, tx)
	if err := s.lab.SetLink("mn", "lte0", true); err != nil {
		t.Fatal(err)
	}
	s.waitCoAs(t, "ha", homeAddress, "2001:db8:b::10")

	// (3) wlan0 away again.
	s.moveWlan(t, false)
	s.waitCoAs(t, "ha", "2001:db8:a::10", "2001:db8:b::10")
	s.echoVia(t, "back away", n, haMAC, true)

	stopEth()
	stopHome()
	// The Binding Update from the home link arrives on home0; its answer
	// leaves by eth0, in lte0's tunnel.
	merged := s.path("athome.pcap")
	if out, err := exec.Command("mergecap", "-w", merged, s.path("athome-eth0.pcap"), s.path("athome-home0.pcap")).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v: %s", err, out)
	}
	checkSignalling(t, merged, signallingWant{minBU: 4})
	if out, _ := exec.Command("tshark", "-r", s.path("athome-home0.pcap"), "-Y", "mip6.bi.h_flag == 1", "-T", "fields", "-e", "ipv6.src").Output(); len(out) == 0 {
		t.Fatal("no Binding Update with the H flag arrived on the home link")
	} else {
		t.Logf("Binding Updates with the H flag on the home link, from %s", strings.Fields(string(out)))
	}
}

// echoVia checks that the home link host gets n echoes from the home
// address, that its neighbour entry for the home address holds mac, and
// that the home agent's home0 received the exchange (viaHA) or not.
func (s *scenario) echoVia(t *testing.T, phase string, n int, mac string, viaHA bool) {
	t.Helper()
	ctx := context.Background()
	hh := s.lab.MustNode(homeHost)
	eventually(t, 10*time.Second, phase+": home link host's neighbour entry for the home address", func() error {
		// Traffic makes the host resolve (or re-resolve) the address.
		s.echo(homeHost, 1)
		out, _ := hh.Exec(ctx, "ip", "-6", "neigh", "show", homeAddress, "dev", "eth0")
		if !strings.Contains(string(out), mac) {
			return fmt.Errorf("%q, want %s", strings.TrimSpace(string(out)), mac)
		}
		return nil
	}, func() string { return s.logTail("ha") + "\n-- mn.log --\n" + s.logTail("mn") })
	before := s.linkPackets(t, "ha", "home0", "rx")
	got, err := s.echo(homeHost, n)
	rx := s.linkPackets(t, "ha", "home0", "rx") - before
	if err != nil || got < n*9/10 {
		t.Fatalf("%s: home link host got %d of %d echoes: %v\n-- mn.log --\n%s", phase, got, n, err, s.logTail("mn"))
	}
	switch {
	case viaHA && rx < uint64(n):
		t.Fatalf("%s: the home agent's home0 received %d packets for %d echoes: not through the home agent", phase, rx, n)
	case !viaHA && rx >= uint64(n/5):
		t.Fatalf("%s: the home agent's home0 received %d packets for %d echoes: not direct", phase, rx, n)
	}
	neigh, _ := hh.Exec(ctx, "ip", "-6", "neigh", "show", homeAddress, "dev", "eth0")
	t.Logf("%s: home link host -> %s: %d of %d echoes; its neighbour entry %q; home agent home0 received %d packets meanwhile",
		phase, homeAddress, got, n, strings.TrimSpace(string(neigh)), rx)
}

// udpEcho serves UDP echo on the mobile node's home address.
func (s *scenario) udpEcho(t *testing.T) (stop func()) {
	t.Helper()
	var c *net.UDPConn
	if err := s.lab.MustNode("mn").Do(func() (err error) {
		c, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(homeAddress), echoPort)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		b := make([]byte, 1500)
		for {
			k, from, err := c.ReadFromUDPAddrPort(b)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(b[:k], from)
		}
	}()
	return func() { c.Close() }
}

// echo sends n datagrams from node to the home address's echo, one at a
// time, and counts the answers.
func (s *scenario) echo(node string, n int) (int, error) {
	got := 0
	err := s.lab.MustNode(node).Do(func() error {
		c, err := net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(homeAddress), echoPort)))
		if err != nil {
			return err
		}
		defer c.Close()
		b := make([]byte, 64)
		for i := range n {
			msg := fmt.Sprintf("echo %d", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				continue
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if k, err := c.Read(b); err == nil && string(b[:k]) == msg {
				got++
			}
		}
		return nil
	})
	return got, err
}

// mac is the link-layer address of a node's interface.
func (s *scenario) mac(t *testing.T, node, ifname string) string {
	t.Helper()
	var mac string
	if err := s.lab.MustNode(node).Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err == nil {
			mac = ifi.HardwareAddr.String()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// linkPackets is how many packets a node's interface received (dir "rx")
// or sent ("tx") so far.
func (s *scenario) linkPackets(t *testing.T, node, ifname, dir string) uint64 {
	t.Helper()
	out, err := s.lab.MustNode(node).Exec(context.Background(), "ip", "-s", "-j", "link", "show", "dev", ifname)
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		Stats map[string]struct {
			Packets uint64 `json:"packets"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -s -j link show dev %s: %v: %s", ifname, err, out)
	}
	return links[0].Stats[dir].Packets
}

// moveWlan moves the mobile node's wlan0 onto the home link (home) or back
// to the access router: the other end of its veth changes namespace, as a
// laptop's Wi-Fi changes access point; its address and default route
// change as a Router Advertisement there would change them. The new
// address comes before the old one goes: the mobile node moves the Binding
// ID to it.
func (s *scenario) moveWlan(t *testing.T, home bool) {
	t.Helper()
	ctx := context.Background()
	arNS, swNS := lab.NsName(atHomeLab, "ar"), atHomeLab+"-sw-homelink"
	mn := s.lab.MustNode("mn")
	run := func(node *lab.NodeNS, args ...string) {
		t.Helper()
		var out []byte
		var err error
		if node == nil {
			out, err = exec.CommandContext(ctx, "ip", args...).CombinedOutput()
		} else {
			out, err = node.Exec(ctx, "ip", args...)
		}
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	newAddr, oldAddr, gw := wlanHomeAddr+"/64", "2001:db8:a::10/64", "2001:db8:1::1"
	if home {
		run(nil, "-n", arNS, "link", "set", "wlan0", "netns", swNS)
		run(nil, "-n", swNS, "link", "set", "wlan0", "master", "br0", "up")
	} else {
		newAddr, oldAddr, gw = oldAddr, newAddr, "2001:db8:a::1"
		run(nil, "-n", swNS, "link", "set", "wlan0", "nomaster")
		run(nil, "-n", swNS, "link", "set", "wlan0", "netns", arNS)
		run(nil, "-n", arNS, "addr", "add", "2001:db8:a::1/64", "dev", "wlan0", "nodad")
		run(nil, "-n", arNS, "link", "set", "wlan0", "up")
	}
	run(mn, "addr", "add", newAddr, "dev", "wlan0", "nodad")
	run(mn, "route", "replace", "default", "via", gw, "dev", "wlan0")
	run(mn, "addr", "del", oldAddr, "dev", "wlan0")
	t.Logf("wlan0 moved %s", map[bool]string{true: "onto the home link", false: "back to the access router"}[home])
}

// homeLinkSignalling is signallingFilter plus Mobility Header messages in
// IPv6-in-IPv6 (an acknowledgement to the home address, which the home
// agent routes through a remaining binding's tunnel).
const homeLinkSignalling = "(" + signallingFilter + ") or (ip6 proto 41 and ip6[46] == 135)"

// captureSignalling runs tcpdump on a node's interface into path until
// stop, in immediate mode: what arrived just before stop is written too.
func (s *scenario) captureSignalling(t *testing.T, node, ifname, path string) (stop func()) {
	t.Helper()
	testenv.RequireTool(t, "tcpdump")
	cmd := s.lab.MustNode(node).Command(context.Background(), "tcpdump", "--immediate-mode", "-i", ifname, "-U", "-s", "512",
		"-w", path, homeLinkSignalling)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // tcpdump attaches its filter
	return func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
}
