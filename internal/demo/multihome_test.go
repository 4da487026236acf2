package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/role/ha"
	"monami/internal/testenv"
)

// Several home addresses and home agents (issue 14 item 3; draft 000
// sections 5.2-5.5, 6.3.1). twoHomesTopology is the demo network with a
// second home agent, ha2, owning a second home prefix behind the same
// access router.
const twoHomesTopology = `
name: mh
nodes:
  - name: mn
    routes:
      - {dst: default, via: "2001:db8:a::1", dev: wlan0}
      - {dst: default, via: "2001:db8:b::1", dev: lte0, metric: 200}
  - name: ar
    kind: router
    routes:
      - {dst: "2001:db8:1::/64", via: "2001:db8:f::2"}
      - {dst: "2001:db8:2::/64", via: "2001:db8:e::2"}
  - name: ha
    kind: router
    routes:
      - {dst: default, via: "2001:db8:f::1"}
  - name: ha2
    kind: router
    routes:
      - {dst: default, via: "2001:db8:e::1"}
  - name: cn
    routes:
      - {dst: default, via: "2001:db8:c::1"}
links:
  - name: wlan
    a: {node: mn, if: wlan0, addrs: ["2001:db8:a::10/64"]}
    b: {node: ar, if: wlan0, addrs: ["2001:db8:a::1/64"]}
    impair: {rate: 40mbit, delay: 10ms}
  - name: lte
    a: {node: mn, if: lte0, addrs: ["2001:db8:b::10/64"]}
    b: {node: ar, if: lte0, addrs: ["2001:db8:b::1/64"]}
    impair: {rate: 20mbit, delay: 40ms}
  - name: home
    a: {node: ar, if: ha0, addrs: ["2001:db8:f::1/64"]}
    b: {node: ha, if: eth0, addrs: ["2001:db8:f::2/64"]}
  - name: home2
    a: {node: ar, if: ha20, addrs: ["2001:db8:e::1/64"]}
    b: {node: ha2, if: eth0, addrs: ["2001:db8:e::2/64"]}
  - name: core
    a: {node: ar, if: cn0, addrs: ["2001:db8:c::1/64"]}
    b: {node: cn, if: eth0, addrs: ["2001:db8:c::10/64"]}
`

// The second home: its agent, prefix and home address.
const (
	homeAgent2   = "2001:db8:e::2"
	homePrefix2  = "2001:db8:2::/64"
	homeAddress2 = "2001:db8:2::10"
	spi2         = 4097
)

// writeTwoHomes writes ha.yaml, ha2.yaml and mn.yaml: home address 1 on
// ha, home address 2 on ha2, each with its own key; care1 and care2 are
// each home address's care_of rule (flow-style YAML, "" for none).
// mnBackend is the mobile node's data plane.
func (s *scenario) writeTwoHomes(mnBackend, care1, care2 string) error {
	key := func() string {
		k := make([]byte, 20)
		rand.Read(k)
		return "hex:" + hex.EncodeToString(k)
	}
	k1, k2 := key(), key()
	haYAML := func(name, addr, prefix, hoa string, spi int, k string) string {
		return fmt.Sprintf(`log: {level: info}
control_socket: %s
address: %s
home_prefixes: [%s]
dataplane: {backend: %s}
binding: {max_lifetime: 600s}
store: {backend: memory}
mobile_nodes:
  - id: %s
    home_addresses: [%s]
    spi: %d
    key: %s
`, s.path(name+".sock"), addr, prefix, s.opt.Backend, nai, hoa, spi, k)
	}
	rule := func(r string) string {
		if r == "" {
			return ""
		}
		return ", care_of: " + r
	}
	mnYAML := fmt.Sprintf(`log: {level: info}
control_socket: %s
id: %s
lifetime: %s
home_addresses:
  - {address: "%s", home_agent: "%s", spi: %d, key: %s%s}
  - {address: "%s", home_agent: "%s", spi: %d, key: %s%s}
interfaces:
  - {name: %s, bid: 1, priority: 10}
  - {name: %s, bid: 2, priority: 20}
dataplane: {backend: %s}
`, s.path("mn.sock"), nai, s.opt.Lifetime, homeAddress, homeAgent, spi, k1, rule(care1), homeAddress2, homeAgent2, spi2, k2, rule(care2),
		activeIf, backupIf, mnBackend)
	for name, y := range map[string]string{
		"ha.yaml":  haYAML("ha", homeAgent, homePrefix, homeAddress, spi, k1),
		"ha2.yaml": haYAML("ha2", homeAgent2, homePrefix2, homeAddress2, spi2, k2),
		"mn.yaml":  mnYAML,
	} {
		if err := os.WriteFile(s.path(name), []byte(y), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// startAs starts `monami ROLE -c NAME.yaml` in node and waits for its
// control API.
func (s *scenario) startAs(t *testing.T, node, role, name string) {
	t.Helper()
	if err := s.startDaemonAs(context.Background(), node, role, name); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "monami "+name+" control API", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _, err := ctlapi.NewClient(s.path(name+".sock")).Get(ctx, "topics")
		return err
	}, func() string { return s.logTail(name) })
}

// bindingsAt reads the binding cache of the home agent whose control
// socket is NAME.sock.
func (s *scenario) bindingsAt(name string) ([]ha.BindingView, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var b []ha.BindingView
	_, data, err := ctlapi.NewClient(s.path(name+".sock")).Get(ctx, "bindings")
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	return b, err
}

func eventually(t *testing.T, limit time.Duration, what string, f func() error, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v\n%s", what, err, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCoAs waits until home agent NAME holds exactly the care-of
// addresses want (in any order).
func (s *scenario) waitCoAs(t *testing.T, name string, want ...string) {
	t.Helper()
	eventually(t, 20*time.Second, name+" bindings "+strings.Join(want, ", "), func() error {
		b, err := s.bindingsAt(name)
		if err != nil {
			return err
		}
		got := map[string]bool{}
		for _, x := range b {
			got[x.CareOfAddress] = true
		}
		for _, w := range want {
			if !got[w] {
				return fmt.Errorf("holds %s", describe(b))
			}
		}
		if len(b) != len(want) {
			return fmt.Errorf("holds %s", describe(b))
		}
		return nil
	}, func() string {
		return "-- " + name + ".log --\n" + s.logTail(name) + "\n-- mn.log --\n" + s.logTail("mn")
	})
}

// homeFlow is one home address's TCP stream and 1 kHz probe from cn.
type homeFlow struct {
	hoa  string
	rx   *receiver
	prx  *probeReceiver
	tx   *sender
	ptx  *probeSender
	gap  time.Duration
	tcp  TCPResult
	sent uint64
	got  int
}

// streamsThroughFailover runs a TCP stream and a probe from cn to each
// home address at once, takes wlan0 down at +2 s and up at +5 s, stops at
// +7 s, and returns each home address's probe gap after the failure and
// what its TCP stream delivered.
func (s *scenario) streamsThroughFailover(t *testing.T, hoas ...string) []*homeFlow {
	t.Helper()
	mn, cn := s.lab.MustNode("mn"), s.lab.MustNode("cn")
	var flows []*homeFlow
	for _, h := range hoas {
		f := &homeFlow{hoa: h}
		if err := mn.Do(func() (err error) {
			if f.rx, err = listen(net.JoinHostPort(h, fmt.Sprint(streamPort))); err != nil {
				return err
			}
			f.prx, err = listenProbe(net.JoinHostPort(h, fmt.Sprint(probePort)))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := cn.Do(func() (err error) {
			if f.ptx, err = dialProbe(net.JoinHostPort(h, fmt.Sprint(probePort))); err != nil {
				return err
			}
			f.tx, err = dial(net.JoinHostPort(h, fmt.Sprint(streamPort)), "")
			return err
		}); err != nil {
			t.Fatalf("cn cannot connect to %s: %v\n-- mn.log --\n%s", h, err, s.logTail("mn"))
		}
		flows = append(flows, f)
	}
	stop := make(chan struct{})
	for _, f := range flows {
		go f.tx.run(stop)
		go f.ptx.run(stop)
	}
	time.Sleep(2 * time.Second)
	failAt := time.Now()
	if err := s.lab.SetLink("mn", activeIf, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := s.lab.SetLink("mn", activeIf, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	for _, f := range flows {
		<-f.tx.done
		<-f.ptx.done
	}
	time.Sleep(100 * time.Millisecond)
	for _, f := range flows {
		probes, got, err := f.prx.stop()
		if err != nil {
			t.Fatal(err)
		}
		f.sent, f.got = f.ptx.sent, got
		f.gap = longestGap(probes, failAt, failAt.Add(3*time.Second))
		select {
		case <-f.rx.done:
		case <-time.After(15 * time.Second):
		}
		_, total := f.rx.snapshot()
		f.tcp = TCPResult{Sent: f.tx.total, Received: total, Intact: f.tx.err == nil && f.rx.err == nil && f.tx.total == total}
		if f.tx.err != nil {
			f.tcp.Error = f.tx.err.Error()
		} else if f.rx.err != nil {
			f.tcp.Error = f.rx.err.Error()
		}
	}
	return flows
}

// TestTwoHomeAgentsFailover (draft 000 section 5.4, (n,n)): one mobile
// node, a home address on each of two home agents, each registered through
// both wlan0 and lte0. A TCP stream from cn to each home address runs at
// once; wlan0 goes down and both streams survive on lte0. The gap of each
// home address's 1 kHz probe is logged.
func TestTwoHomeAgentsFailover(t *testing.T) {
	testenv.RequireRoot(t)
	for _, backend := range []string{"kernel", "userspace"} {
		t.Run(backend, func(t *testing.T) {
			s, closeLab := openScenarioOn(t, "mh2"+backend[:1], Options{Backend: backend}, []byte(twoHomesTopology))
			defer closeLab()
			if err := s.writeTwoHomes(backend, "", ""); err != nil {
				t.Fatal(err)
			}
			s.startAs(t, "ha", "ha", "ha")
			s.startAs(t, "ha2", "ha", "ha2")
			s.startAs(t, "mn", "mn", "mn")
			s.waitCoAs(t, "ha", "2001:db8:a::10", "2001:db8:b::10")
			s.waitCoAs(t, "ha2", "2001:db8:a::10", "2001:db8:b::10")
			waitQuiet(t)
			flows := s.streamsThroughFailover(t, homeAddress, homeAddress2)
			for _, f := range flows {
				t.Logf("TWO HOMES %s: home address %s: wlan0-down gap %.1f ms (probes %d/%d), TCP %d of %d bytes, intact %v %s",
					backend, f.hoa, ms(f.gap), f.got, f.sent, f.tcp.Received, f.tcp.Sent, f.tcp.Intact, f.tcp.Error)
				if !f.tcp.Intact || f.tcp.Received == 0 {
					t.Errorf("%s: TCP stream did not survive: %+v", f.hoa, f.tcp)
				}
				if f.gap >= 3*time.Second {
					t.Errorf("%s: nothing arrived for the whole outage", f.hoa)
				}
			}
			if t.Failed() {
				t.Logf("-- ha2.log --\n%s", s.logTail("ha2"))
			}
		})
	}
}

// TestCareOfRuleTwoHomeAgents (draft 000 section 6.3.2): mn.yaml's care_of
// rules bind each new care-of address to the right home address: home
// address 1 takes wlan0's only (by interface), home address 2 lte0's only
// (by prefix). Each home agent holds exactly that binding, and each home
// address's reverse tunnel uses it although wlan0 is the preferred
// interface.
func TestCareOfRuleTwoHomeAgents(t *testing.T) {
	testenv.RequireRoot(t)
	s, closeLab := openScenarioOn(t, "mhr", Options{}, []byte(twoHomesTopology))
	defer closeLab()
	if err := s.writeTwoHomes("auto", "{interfaces: [wlan0]}", `{prefixes: ["2001:db8:b::/64"]}`); err != nil {
		t.Fatal(err)
	}
	s.startAs(t, "ha", "ha", "ha")
	s.startAs(t, "ha2", "ha", "ha2")
	s.startAs(t, "mn", "mn", "mn")
	s.waitCoAs(t, "ha", "2001:db8:a::10")
	s.waitCoAs(t, "ha2", "2001:db8:b::10")
	var st struct {
		Homes []struct {
			HomeAddress string `json:"home_address"`
			TunnelIf    string `json:"reverse_tunnel_interface"`
		} `json:"home_addresses"`
	}
	eventually(t, 5*time.Second, "reverse tunnels", func() error {
		s.ctl(t, "mn", "status", &st)
		got := map[string]string{}
		for _, h := range st.Homes {
			got[h.HomeAddress] = h.TunnelIf
		}
		if got[homeAddress] != activeIf || got[homeAddress2] != backupIf {
			return fmt.Errorf("reverse tunnels %v, want %s on %s and %s on %s", got, homeAddress, activeIf, homeAddress2, backupIf)
		}
		return nil
	}, func() string { return s.logTail("mn") })
	t.Logf("care_of rules: ha holds %s only, ha2 %s only; reverse tunnels %+v", "2001:db8:a::10", "2001:db8:b::10", st.Homes)
}

// TestNestedHomeAddress (draft 000 section 6.3.1): home address 2 (on
// ha2) has home address 1 (on ha) as its care-of address. ha2 holds one
// binding, to home address 1; a TCP stream from cn to home address 2 goes
// cn -> ha2 -> (tunnel to home address 1) -> ha -> (tunnel to a care-of
// address) -> mn and back, and survives wlan0 going down (the outer home
// address's failover carries the inner tunnel along). The mobile node's
// data plane is auto, which takes userspace for nesting (the kernel
// backend cannot nest yet). Every link is 1500 octets: ha2's tunnel
// learns from ha's Packet Too Big that the nested path carries 40 octets
// less, and ha2 tells cn (RFC 2473 section 7.1, dataplane/pmtu.go).
func TestNestedHomeAddress(t *testing.T) {
	testenv.RequireRoot(t)
	s, closeLab := openScenarioOn(t, "mhn", Options{}, []byte(twoHomesTopology))
	defer closeLab()
	if err := s.writeTwoHomes("auto", "", `{via_home_address: "`+homeAddress+`"}`); err != nil {
		t.Fatal(err)
	}
	s.startAs(t, "ha", "ha", "ha")
	s.startAs(t, "ha2", "ha", "ha2")
	pcap, stopCapture := s.captureAt(t, "ha2")
	s.startAs(t, "mn", "mn", "mn")
	s.waitCoAs(t, "ha", "2001:db8:a::10", "2001:db8:b::10")
	s.waitCoAs(t, "ha2", homeAddress)
	time.Sleep(200 * time.Millisecond) // the acknowledgement on its way past the capture
	stopCapture()
	checkNestedSignalling(t, pcap)
	var st struct {
		Backend string `json:"backend"`
	}
	s.ctl(t, "mn", "status", &st)
	if st.Backend != "userspace" {
		t.Errorf("mobile node data plane %q with a nested home address, want userspace (auto)", st.Backend)
	}
	waitQuiet(t)
	flows := s.streamsThroughFailover(t, homeAddress2, homeAddress)
	for _, f := range flows {
		t.Logf("NESTED: home address %s: wlan0-down gap %.1f ms (probes %d/%d), TCP %d of %d bytes, intact %v %s",
			f.hoa, ms(f.gap), f.got, f.sent, f.tcp.Received, f.tcp.Sent, f.tcp.Intact, f.tcp.Error)
		if !f.tcp.Intact || f.tcp.Received == 0 {
			t.Errorf("%s: TCP stream did not survive: %+v", f.hoa, f.tcp)
		}
	}
	checkNestedPathMTU(t, s)
	if t.Failed() {
		t.Logf("-- ha2.log --\n%s", s.logTail("ha2"))
	}
}

// checkNestedPathMTU: TCP from cn fits the nested tunnel (the mobile node
// advertises an MSS for the nested path), so UDP datagrams sized for a
// 1500-octet path (1460 octets, 40 over what the nested tunnel carries)
// test ha2's tunnel: ha2 sends the first into the tunnel to home address 1,
// ha answers with a Packet Too Big of 1460, ha2 learns it (RFC 2473
// section 7.1) and answers the next with a Packet Too Big of 1420, and cn
// fragments the later ones to fit.
func checkNestedPathMTU(t *testing.T, s *scenario) {
	t.Helper()
	const port, n, payload = 5202, 10, 1460 - 48
	var rx net.PacketConn
	if err := s.lab.MustNode("mn").Do(func() (err error) {
		rx, err = net.ListenPacket("udp6", net.JoinHostPort(homeAddress2, fmt.Sprint(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	var tx net.Conn
	if err := s.lab.MustNode("cn").Do(func() (err error) {
		tx, err = net.Dial("udp6", net.JoinHostPort(homeAddress2, fmt.Sprint(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	got := make(chan int, 1)
	go func() {
		buf, k := make([]byte, 2048), 0
		for {
			rx.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, _, err := rx.ReadFrom(buf)
			if err != nil {
				got <- k
				return
			}
			if m == payload {
				k++
			}
		}
	}()
	for range n {
		tx.Write(make([]byte, payload)) // an error is the Packet Too Big reported back: send on
		time.Sleep(200 * time.Millisecond)
	}
	k := <-got
	t.Logf("cn -> [%s]: %d of %d datagrams of %d octets (IPv6 packet 1460) arrived", homeAddress2, k, n, payload)
	if k == 0 {
		t.Errorf("no 1460-octet packet crossed the nested tunnel")
	}
	b, _ := os.ReadFile(s.path("ha2.log"))
	if !strings.Contains(string(b), `msg="tunnel path MTU lowered"`) || !strings.Contains(string(b), "path_mtu=1460") {
		t.Errorf("ha2 did not learn its tunnel's path MTU (1460) from ha's Packet Too Big")
	}
	rt, _ := s.lab.MustNode("cn").Exec(context.Background(), "ip", "-6", "route", "get", homeAddress2)
	t.Logf("cn: %s", strings.TrimSpace(string(rt)))
	if !strings.Contains(string(rt), "mtu 1420") {
		t.Errorf("cn's path MTU to %s: %s, want 1420", homeAddress2, rt)
	}
}

// The circular example of draft 002 section 6.2.2 in an mn.yaml: `monami
// mn --check` refuses it, naming the key and the addresses of the loop.
func TestCircularNestingRefusedByCommand(t *testing.T) {
	bin := monamiBin
	if bin == "" {
		bin = t.TempDir() + "/monami"
		if out, err := exec.Command("go", "build", "-o", bin, "monami/cmd/monami").CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	y := "id: mn@example.org\nhome_addresses:\n"
	for i, via := range []int{2, 3, 1} {
		y += fmt.Sprintf(" - {address: \"2001:db8:%d::10\", home_agent: \"2001:db8:%d::1\", spi: %d, key: \"text:0123456789abcdef\", care_of: {via_home_address: \"2001:db8:%d::10\"}}\n",
			i+1, i+1, 300+i, via)
	}
	y += "interfaces: [{name: wlan0}, {name: lte0}]\n"
	f := t.TempDir() + "/mn.yaml"
	if err := os.WriteFile(f, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "mn", "--check", "-c", f).CombinedOutput()
	if err == nil {
		t.Fatalf("monami mn --check accepted a circular nesting:\n%s", out)
	}
	want := "home_addresses[0].care_of.via_home_address: circular reference 2001:db8:1::10 -> 2001:db8:2::10 -> 2001:db8:3::10 -> 2001:db8:1::10"
	if !strings.Contains(string(out), want) {
		t.Fatalf("monami mn --check:\n%s\nwant %q", out, want)
	}
	t.Logf("monami mn --check -c mn.yaml: %s", strings.TrimSpace(string(out)))
}

// captureAt runs tcpdump on node's eth0 for the signalling (no tunnelled
// packets, no TCP).
func (s *scenario) captureAt(t *testing.T, node string) (path string, stop func()) {
	t.Helper()
	testenv.RequireTool(t, "tcpdump")
	path = s.path(node + "-signalling.pcap")
	// --immediate-mode: packets still in the capture ring when tcpdump is
	// stopped a moment after them are otherwise lost.
	cmd := s.lab.MustNode(node).Command(context.Background(), "tcpdump", "-i", "eth0", "--immediate-mode", "-U", "-s", "512", "-w", path,
		"ip6 and not ip6 proto 41 and not tcp")
	errOut := &strings.Builder{}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // tcpdump attaches its filter
	return path, func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		t.Logf("tcpdump at %s: %s", node, strings.Join(strings.Fields(errOut.String()), " "))
	}
}

// checkNestedSignalling: at ha2, the nested home address's Binding Update
// arrives from the outer home address (its care-of address) with the
// nested one in the Home Address option, and is acknowledged; tshark
// decodes both without a warning.
func checkNestedSignalling(t *testing.T, pcap string) {
	t.Helper()
	testenv.RequireTool(t, "tshark")
	fields := func(filter string) []string {
		out, err := exec.Command("tshark", "-r", pcap, "-Y", filter, "-T", "fields", "-e", "mip6.mhtype").Output()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v", filter, err)
		}
		return strings.Fields(string(out))
	}
	bu := fields("mipv6 and ipv6.src == " + homeAddress + " and ipv6.opt.mipv6.home_address == " + homeAddress2 + " and mip6.mhtype == 5")
	ba := fields("mipv6 and ipv6.routing.mipv6.home_address == " + homeAddress2 + " and mip6.mhtype == 6")
	if len(bu) == 0 || len(ba) == 0 {
		out, _ := exec.Command("tshark", "-r", pcap).Output()
		t.Fatalf("at ha2: %d Binding Updates from %s for %s, %d Acknowledgements back; capture:\n%s", len(bu), homeAddress, homeAddress2, len(ba), out)
	}
	if bad := fields("mipv6 and (_ws.malformed or _ws.expert.severity >= 0x00600000)"); len(bad) > 0 {
		out, _ := exec.Command("tshark", "-r", pcap, "-V", "-Y", "mipv6").Output()
		t.Fatalf("tshark flags %d nested signalling frames:\n%s", len(bad), out)
	}
	t.Logf("tshark at ha2: %d Binding Update(s) from %s (Home Address option %s), %d Acknowledgement(s), no warnings", len(bu), homeAddress, homeAddress2, len(ba))
}
