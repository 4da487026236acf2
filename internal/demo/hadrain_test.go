package demo

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"monami/internal/capture"
	"monami/internal/ctlapi"
	"monami/internal/role/ha"
	"monami/internal/testenv"
)

// drainTopology: two home agents (ha1, ha2) serving the home prefix on one
// home link (a switch) with the access router, which has the prefix
// on-link: a home address goes where Neighbor Discovery says, i.e. to the
// home agent that defends it (proxy ND, RFC 6275 section 10.4.1). The
// mobile node has the demo's wlan link (10 ms one way).
//
// ha2's address ends in six zero octets on purpose: Wireshark dissects a
// Home Agent Switch's options six octets early, from the end of the last
// listed address (wire/golden_test.go, homeAgentSwitchGolden); with these
// zeros it reads six Pad1 there and then the real options, so the captured
// message can be checked by tshark in full, authentication option included.
const drainTopology = `
name: drain
nodes:
  - name: mn
    routes:
      - {dst: default, via: "2001:db8:a::1", dev: wlan0}
  - {name: ar, kind: router}
  - {name: ha1, kind: router, routes: [{dst: default, via: "2001:db8:1::1"}]}
  - {name: ha2, kind: router, routes: [{dst: default, via: "2001:db8:1::1"}]}
  - name: cn
    routes:
      - {dst: default, via: "2001:db8:c::1"}
links:
  - name: wlan
    a: {node: mn, if: wlan0, addrs: ["2001:db8:a::10/64"]}
    b: {node: ar, if: wlan0, addrs: ["2001:db8:a::1/64"]}
    impair: {rate: 40mbit, delay: 10ms}
  - name: core
    a: {node: ar, if: cn0, addrs: ["2001:db8:c::1/64"]}
    b: {node: cn, if: eth0, addrs: ["2001:db8:c::10/64"]}
switches:
  - name: home
    ports:
      - {node: ar, if: home0, addrs: ["2001:db8:1::1/64"]}
      - {node: ha1, if: eth0, addrs: ["2001:db8:1::11/64"]}
      - {node: ha2, if: eth0, addrs: ["2001:db8:1:0:12::/64"]}
`

const (
	drainHA1 = "2001:db8:1::11"
	drainHA2 = "2001:db8:1:0:12::"
	// drainSwitchLimit bounds the time from the drain command until the
	// mobile node is registered at ha2 and gone from ha1: a Home Agent
	// Switch, a registration and a deregistration, each one 20 ms round
	// trip on wlan, plus the daemons' scheduling on a busy machine.
	drainSwitchLimit = 3 * time.Second
	drainTCPPort     = 5003
)

// TestDrainSwitchesHomeAgent is issue 13 item 1's drain in real namespaces:
// the mobile node registers at ha1; `monami ctl --role ha drain` on ha1
// sends it an authenticated Home Agent Switch naming ha2 (RFC 5142); it
// registers at ha2, then deregisters at ha1, within drainSwitchLimit,
// while a 1 kHz probe and a TCP stream from the correspondent to its home
// address run on. The probe's gap is reported; the TCP stream must keep
// every byte. The Home Agent Switch captured on the mobile node's link is
// checked by tshark.
func TestDrainSwitchesHomeAgent(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "tshark")
	s, closeLab := openScenarioOn(t, "drain", Options{}, []byte(drainTopology))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("-- ha1.log --\n%s\n-- ha2.log --\n%s", s.logTail("ha1"), s.logTail("ha2"))
		}
		closeLab()
	})
	if err := s.writeDrainConfigs(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range []string{"ha1", "ha2", "mn"} {
		if err := s.startProc(ctx, n, n, map[bool]string{true: "mn", false: "ha"}[n == "mn"], "-c", s.path(n+".yaml")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.waitNodeBindings(ctx, "ha1", 1, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	mn, cn := s.lab.MustNode("mn"), s.lab.MustNode("cn")

	// The Home Agent Switch as the mobile node's wlan0 receives it.
	var sn *baSniffer
	if err := mn.Do(func() (err error) { sn, err = openBASniffer("wlan0"); return err }); err != nil {
		t.Fatal(err)
	}
	var captured [][]byte
	var capturedAt []time.Time
	snStop := make(chan struct{})
	go func() {
		defer close(sn.done)
		readStamped(sn.fd, 2048, snStop, func(pkt []byte, ll *unix.SockaddrLinklayer, at time.Time) {
			if ll.Pkttype != unix.PACKET_OUTGOING && mhType(pkt) == 12 {
				sn.mu.Lock()
				captured, capturedAt = append(captured, append([]byte(nil), pkt...)), append(capturedAt, at)
				sn.mu.Unlock()
			}
		})
	}()

	// The probe and a TCP stream to the home address.
	paddr := net.JoinHostPort(homeAddress, strconv.Itoa(probePort))
	var prx *probeReceiver
	if err := mn.Do(func() (err error) { prx, err = listenProbe(paddr); return err }); err != nil {
		t.Fatal(err)
	}
	var ptx *probeSender
	if err := cn.Do(func() (err error) { ptx, err = dialProbe(paddr); return err }); err != nil {
		t.Fatal(err)
	}
	taddr := net.JoinHostPort(homeAddress, strconv.Itoa(drainTCPPort))
	var rx *receiver
	if err := mn.Do(func() (err error) { rx, err = listen(taddr); return err }); err != nil {
		t.Fatal(err)
	}
	var tx *sender
	if err := cn.Do(func() (err error) { tx, err = dial(taddr, ""); return err }); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	stop := make(chan struct{})
	go ptx.run(stop)
	go tx.run(stop)
	time.Sleep(1500 * time.Millisecond)

	// Drain ha1 (alternate_home_agents of ha1.yaml: ha2).
	drainAt := time.Now()
	data, err := exec.Command(s.opt.Binary, "ctl", "--socket", s.path("ha1.sock"), "drain").CombinedOutput()
	if err != nil {
		t.Fatalf("monami ctl drain: %v\n%s", err, data)
	}
	t.Logf("monami ctl --socket ha1.sock drain:\n%s", data)
	var atHA2, goneHA1 time.Time
	for time.Since(drainAt) < drainSwitchLimit+2*time.Second && (atHA2.IsZero() || goneHA1.IsZero()) {
		if b, err := s.nodeBindings(ctx, "ha2"); err == nil && len(b) == 1 && atHA2.IsZero() {
			atHA2 = time.Now()
		}
		if b, err := s.nodeBindings(ctx, "ha1"); err == nil && len(b) == 0 && goneHA1.IsZero() {
			goneHA1 = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	<-ptx.done
	<-tx.done
	end := time.Now()
	time.Sleep(300 * time.Millisecond) // the last probes and segments in flight
	probes, got, err := prx.stop()
	if err != nil {
		t.Fatal(err)
	}
	<-rx.done
	_, rxTotal := rx.snapshot()
	close(snStop)
	<-sn.done
	unix.Close(sn.fd)

	gap := longestGap(probes, drainAt, end)
	// The same measure before the drain: the noise of a loaded machine and
	// of the TCP stream's queue on wlan, with no switch in it.
	quiet := longestGap(probes, started.Add(300*time.Millisecond), drainAt)
	stall := senderStall(ptx.times, drainAt, end)
	la, _ := os.ReadFile("/proc/loadavg")
	t.Logf("drain: registered at ha2 after %s, gone from ha1 after %s; probe gap %.1f ms (sender stall %.1f ms), probes %d/%d; TCP %d of %d bytes (sender err %v, receiver err %v); load %s",
		since(drainAt, atHA2), since(drainAt, goneHA1), ms(gap), ms(stall), got, ptx.sent, rxTotal, tx.total, tx.err, rx.err,
		strings.TrimSpace(string(la)))
	if atHA2.IsZero() || atHA2.Sub(drainAt) > drainSwitchLimit {
		t.Errorf("the mobile node was not registered at ha2 within %s of the drain", drainSwitchLimit)
	}
	if goneHA1.IsZero() || goneHA1.Sub(drainAt) > drainSwitchLimit {
		t.Errorf("the mobile node did not leave ha1 within %s of the drain", drainSwitchLimit)
	}
	if tx.err != nil || rx.err != nil || rxTotal != tx.total || tx.total == 0 {
		t.Errorf("TCP stream to the home address broke: sent %d, received %d (sender %v, receiver %v)", tx.total, rxTotal, tx.err, rx.err)
	}
	// After ha1 holds no binding its home prefix is unreachable (no
	// loop): what still arrives came through ha2.
	viaHA2 := 0
	for _, a := range probes {
		if !goneHA1.IsZero() && a.at.After(goneHA1.Add(100*time.Millisecond)) {
			viaHA2++
		}
	}
	t.Logf("probe gap before the drain (no switch, same load and stream): %.1f ms", ms(quiet))
	t.Logf("probes lost %d; received after ha1 let go of the home address (so through ha2): %d", ptx.sent-uint64(got), viaHA2)
	if viaHA2 == 0 {
		t.Errorf("no probe arrived after the mobile node left ha1")
	}
	if gap > time.Second {
		t.Errorf("probe gap %.1f ms across the switch", ms(gap))
	}

	// ha1: told, acknowledged (the deregistration), counted.
	if out, err := exec.Command(s.opt.Binary, "ctl", "--socket", s.path("ha1.sock"), "drain", "--status").CombinedOutput(); err != nil {
		t.Errorf("monami ctl drain --status: %v\n%s", err, out)
	} else {
		t.Logf("monami ctl --socket ha1.sock drain --status:\n%s", out)
	}
	var st ha.DrainStatus
	s.ctlInto(t, "ha1", "drain", &st)
	if !st.Draining || len(st.Pending) != 0 || st.Bindings != 0 {
		t.Errorf("ha1 drain status %+v: want draining, nothing pending, no binding", st)
	}
	var cs struct{ Signalling ha.Counters }
	s.ctlInto(t, "ha1", "counters", &cs)
	if cs.Signalling.SwitchesSent == 0 {
		t.Errorf("ha1 counts no Home Agent Switch sent")
	}

	// tshark on the captured message.
	if len(captured) == 0 {
		t.Fatal("no Home Agent Switch seen on the mobile node's wlan0")
	}
	t.Logf("%d Home Agent Switch message(s) on wlan0, the first %s after the drain command (which starts a monami ctl process); from it: registered at ha2 after %s, gone from ha1 after %s",
		len(captured), since(drainAt, capturedAt[0]), since(capturedAt[0], atHA2), since(capturedAt[0], goneHA1))
	checkCapturedSwitch(t, s.path("has.pcap"), captured[0])
}

func since(from, to time.Time) string {
	if to.IsZero() {
		return "never"
	}
	return to.Sub(from).Round(time.Millisecond).String()
}

// ctlInto reads a topic of a named daemon's socket into v.
func (s *scenario) ctlInto(t *testing.T, name, topic string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, data, err := ctlapi.NewClient(s.path(name+".sock")).Get(ctx, topic)
	if err != nil {
		t.Fatalf("%s %s: %v", name, topic, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s %s: %v: %s", name, topic, err, data)
	}
}

// checkCapturedSwitch writes pkt (an IPv6 packet) to a pcap and has tshark
// dissect it: no malformed frame or expert warning, and the fields of an
// authenticated Home Agent Switch to the home address naming ha2.
func checkCapturedSwitch(t *testing.T, file string, pkt []byte) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w, err := capture.NewPcapWriter(f, binary.LittleEndian, false, capture.LinkTypeRaw, 65535)
	if err == nil {
		err = w.WritePacket(time.Now(), pkt)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-n", "-r", file, "-Y", `_ws.malformed || _ws.expert.severity >= "Warning"`,
		"-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if strings.TrimSpace(string(out)) != "" {
		v, _ := exec.Command("tshark", "-n", "-r", file, "-V").Output()
		t.Fatalf("tshark flags the captured Home Agent Switch:\n%s", v)
	}
	fields := []string{"mip6.mhtype", "mip6.has.num_addrs", "mip6.has.address", "ipv6.routing.mipv6.home_address",
		"mip6.auth.subtype", "mip6.auth.mobility_spi"}
	args := []string{"-n", "-r", file, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err = exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	got := strings.TrimSpace(string(out))
	want := fmt.Sprintf("12|1|%s|%s|1|%d", drainHA2, homeAddress, spi)
	if got != want {
		v, _ := exec.Command("tshark", "-n", "-r", file, "-V").Output()
		t.Fatalf("tshark fields %s = %q, want %q\n%s", strings.Join(fields, ","), got, want, v)
	}
	t.Logf("tshark: the captured Home Agent Switch dissects without warnings: %s", got)
}

// writeDrainConfigs writes ha1.yaml and ha2.yaml (the same mobile node and
// key: the switch needs the security association at both) and mn.yaml
// (registered at ha1, lifetime 20 s).
func (s *scenario) writeDrainConfigs() error {
	key := "hex:00112233445566778899aabbccddeeff01234567"
	for _, n := range []struct{ name, addr, alt string }{{"ha1", drainHA1, drainHA2}, {"ha2", drainHA2, drainHA1}} {
		y := fmt.Sprintf(`log: {level: info}
control_socket: %s
address: "%s"
home_prefixes: [%s]
home_link: eth0
alternate_home_agents: ["%s"]
dataplane: {backend: %s}
binding: {max_lifetime: 600s}
store: {backend: memory}
mobile_nodes:
  - id: %s
    home_addresses: [%s]
    spi: %d
    key: %s
`, s.path(n.name+".sock"), n.addr, homePrefix, n.alt, s.opt.Backend, nai, homeAddress, spi, key)
		if err := os.WriteFile(s.path(n.name+".yaml"), []byte(y), 0o600); err != nil {
			return err
		}
	}
	mn := fmt.Sprintf(`log: {level: info}
control_socket: %s
id: %s
home_interface: monami0
lifetime: 20s
home_addresses:
  - {address: %s, prefix_len: 64, home_agent: "%s", spi: %d, key: %s}
interfaces:
  - {name: wlan0, bid: 1, priority: 10, transport: native}
dataplane: {backend: %s}
`, s.path("mn.sock"), nai, homeAddress, drainHA1, spi, key, s.opt.Backend)
	return os.WriteFile(s.path("mn.yaml"), []byte(mn), 0o600)
}
