package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"monami/internal/testenv"
)

// pmtuTopology is the demo network with a router, br, between the access
// router and the home agent and correspondent, and a 1400-octet link
// between ar and br: every care-of path (both ways) crosses a link smaller
// than the tunnel ends' own 1500-octet links, so the tunnel entry points
// learn it only from br's or ar's Packet Too Big.
const pmtuTopology = `
name: pt
nodes:
  - name: mn
    routes:
      - {dst: default, via: "2001:db8:a::1", dev: wlan0}
      - {dst: default, via: "2001:db8:b::1", dev: lte0, metric: 200}
  - name: ar
    kind: router
    routes:
      - {dst: default, via: "2001:db8:d::2"}
  - name: br
    kind: router
    routes:
      - {dst: "2001:db8:1::/64", via: "2001:db8:f::2"}
      - {dst: "2001:db8:a::/64", via: "2001:db8:d::1"}
      - {dst: "2001:db8:b::/64", via: "2001:db8:d::1"}
  - name: ha
    kind: router
    routes:
      - {dst: default, via: "2001:db8:f::1"}
  - name: cn
    routes:
      - {dst: default, via: "2001:db8:c::1"}
links:
  - name: wlan
    a: {node: mn, if: wlan0, addrs: ["2001:db8:a::10/64"]}
    b: {node: ar, if: wlan0, addrs: ["2001:db8:a::1/64"]}
  - name: lte
    a: {node: mn, if: lte0, addrs: ["2001:db8:b::10/64"]}
    b: {node: ar, if: lte0, addrs: ["2001:db8:b::1/64"]}
  - name: mid
    a: {node: ar, if: br0, addrs: ["2001:db8:d::1/64"]}
    b: {node: br, if: ar0, addrs: ["2001:db8:d::2/64"]}
    mtu: 1400
  - name: home
    a: {node: br, if: ha0, addrs: ["2001:db8:f::1/64"]}
    b: {node: ha, if: eth0, addrs: ["2001:db8:f::2/64"]}
  - name: core
    a: {node: br, if: cn0, addrs: ["2001:db8:c::1/64"]}
    b: {node: cn, if: eth0, addrs: ["2001:db8:c::10/64"]}
`

// The narrow link's MTU; a tunnel entry point that learned it announces
// that less the tunnel headers (RFC 2473 sections 6.7 and 7.1).
const pmtuNarrow = 1400

// TestTunnelPathMTU: a correspondent on a 1500-octet link sends TCP with
// full-size segments to the home address of a mobile node whose care-of
// path holds a 1400-octet link, and the mobile node sends back the same
// way. The home agent (downlink) and the mobile node (uplink) learn the
// care-of path's MTU from the Packet Too Big that br or ar sends for a
// tunnel packet, and the home agent then answers an oversize inner packet
// with a Packet Too Big of 1360 (1400 minus the 40-octet tunnel header,
// 1352 with UDP 4191); without that, the transfer stalls (a black hole).
// Both data planes (the kernel one with and without BPF), and the
// userspace one with UDP encapsulation.
func TestTunnelPathMTU(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "tcpdump")
	testenv.RequireTool(t, "tshark")
	for _, c := range []struct {
		name, lab string
		opt       Options
		inner     int // the inner MTU behind the narrow link
	}{
		{"kernel", "ptk", Options{Backend: "kernel"}, pmtuNarrow - 40},
		// Without BPF: seg6 routes behind the detour veth (the flow-style
		// YAML of writeConfigs takes the extra key).
		{"kernel-nobpf", "ptn", Options{Backend: "kernel, bpf: false"}, pmtuNarrow - 40},
		{"userspace", "ptu", Options{Backend: "userspace"}, pmtuNarrow - 40},
		// RFC 5555 UDP 4191: 48 octets of tunnel headers.
		{"userspace-udp", "ptd", Options{Backend: "userspace", Transport: "udp"}, pmtuNarrow - 48},
	} {
		backend, pmtuInner := c.name, c.inner
		t.Run(c.name, func(t *testing.T) {
			s, closeLab := openScenarioOn(t, c.lab, c.opt, []byte(pmtuTopology))
			defer closeLab()
			if err := s.writeConfigs(); err != nil {
				t.Fatal(err)
			}
			s.start(t, "ha", "mn")
			s.waitCoAs(t, "ha", "2001:db8:a::10", "2001:db8:b::10")
			pcap := s.path("cn-icmpv6.pcap")
			stop := s.captureICMPv6(t, "cn", "eth0", pcap)
			const size = 4 << 20
			down := s.transfer(t, "cn", "mn", "", homeAddress, size)
			// cn now knows the path MTU to the home address, and would
			// advertise an MSS that fits it: forget it, so that the mobile
			// node sends full-size segments too and must learn by itself.
			if out, err := s.lab.MustNode("cn").Exec(context.Background(), "ip", "-6", "route", "flush", "cache"); err != nil {
				t.Fatalf("ip -6 route flush cache: %v: %s", err, out)
			}
			up := s.transfer(t, "mn", "cn", homeAddress, "2001:db8:c::10", size)
			time.Sleep(200 * time.Millisecond)
			stop()
			t.Logf("PMTU %s: cn -> [%s] %d bytes in %v; mn -> cn %d bytes in %v", backend, homeAddress, size, down.Round(time.Millisecond), size, up.Round(time.Millisecond))
			mtus := packetTooBigMTUs(t, pcap)
			t.Logf("Packet Too Big at cn, MTU fields: %v", mtus)
			if !containsInt(mtus, pmtuInner) {
				t.Errorf("cn got Packet Too Big MTUs %v, want one of %d (RFC 2473 section 7.1: tunnel MTU %d minus 40)", mtus, pmtuInner, pmtuNarrow)
			}
			for _, m := range mtus {
				if m < pmtuInner {
					t.Errorf("Packet Too Big MTU %d below the care-of path's %d", m, pmtuInner)
				}
			}
			for _, role := range []string{"ha", "mn"} {
				want := fmt.Sprintf(`msg="tunnel path MTU lowered" role=%s`, role)
				b, _ := os.ReadFile(s.path(role + ".log"))
				if l := string(b); !strings.Contains(l, want) || !strings.Contains(l, fmt.Sprintf("path_mtu=%d", pmtuNarrow)) {
					t.Errorf("%s did not log %s ... path_mtu=%d", role, want, pmtuNarrow)
				}
				if strings.Contains(c.opt.Backend, "bpf: false") && !strings.Contains(string(b), "bpf_encapsulation=false") {
					t.Errorf("%s: the data plane did not run without BPF", role)
				}
				// The kernel's path MTU must not fail the tunnel sockets' sends.
				if strings.Contains(string(b), "UDP GSO unavailable") || strings.Contains(string(b), "panic:") {
					t.Errorf("%s lost UDP GSO or panicked:\n%s", role, s.logTail(role))
				}
			}
		})
	}
}

// transfer sends size bytes over TCP from node from (bound to fromAddr
// when not empty) to toAddr in node to, with full-size writes, and fails
// t unless every byte arrives in order within 30 s.
func (s *scenario) transfer(t *testing.T, from, to, fromAddr, toAddr string, size int) time.Duration {
	t.Helper()
	const port = 5201
	var ln net.Listener
	if err := s.lab.MustNode(to).Do(func() (err error) {
		ln, err = net.Listen("tcp6", net.JoinHostPort(toAddr, fmt.Sprint(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	payload := bytes.Repeat([]byte("monami path mtu "), size/16)
	var got []byte
	var rerr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			rerr = err
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got, rerr = io.ReadAll(c)
	}()
	var c net.Conn
	if err := s.lab.MustNode(from).Do(func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		if fromAddr != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(fromAddr)}
		}
		c, err = d.Dial("tcp6", net.JoinHostPort(toAddr, fmt.Sprint(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	c.SetWriteDeadline(t0.Add(30 * time.Second))
	_, werr := c.Write(payload)
	c.Close()
	wg.Wait()
	d := time.Since(t0)
	if werr != nil || rerr != nil || !bytes.Equal(got, payload) {
		t.Fatalf("TCP %s -> %s [%s]: wrote err %v, read %d of %d bytes, err %v (a Path MTU black hole?)", from, to, toAddr, werr, len(got), len(payload), rerr)
	}
	return d
}

// captureICMPv6 runs tcpdump for ICMPv6 (not Neighbor Discovery) on a
// node's interface into path until stop.
func (s *scenario) captureICMPv6(t *testing.T, node, ifname, path string) (stop func()) {
	t.Helper()
	cmd := s.lab.MustNode(node).Command(context.Background(), "tcpdump", "-i", ifname, "--immediate-mode", "-U", "-w", path,
		"icmp6 and ip6[40] < 128")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // tcpdump attaches its filter
	var once sync.Once
	return func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
		})
	}
}

// packetTooBigMTUs reads the MTU field of every Packet Too Big in pcap
// with tshark, and fails t if tshark reports anything malformed or an
// expert warning.
func packetTooBigMTUs(t *testing.T, pcap string) []int {
	t.Helper()
	out, err := exec.Command("tshark", "-r", pcap, "-Y", "icmpv6.type == 2", "-T", "fields", "-e", "icmpv6.mtu").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var mtus []int
	for _, f := range strings.Fields(string(out)) {
		var m int
		fmt.Sscan(f, &m)
		mtus = append(mtus, m)
	}
	warn, err := exec.Command("tshark", "-r", pcap, "-Y", "_ws.malformed or _ws.expert.severity >= warning").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if w := strings.TrimSpace(string(warn)); w != "" {
		t.Errorf("tshark warns about the ICMPv6 at cn:\n%s", w)
	}
	return mtus
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
