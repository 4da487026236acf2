package transport

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"monami/wire"
)

func mustMarshal(t testing.TB, m wire.Message, s Signal) []byte {
	t.Helper()
	src, dst := s.ChecksumAddrs()
	b, err := wire.Marshal(m, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openNative(t testing.TB, n *testNS) *Native {
	t.Helper()
	var tr *Native
	n.do(t, func() {
		var err error
		tr, err = OpenNative(NativeConfig{NFTTable: "mtr_mh"})
		if err != nil {
			t.Fatalf("%s: OpenNative: %v", n.name, err)
		}
	})
	t.Cleanup(func() { tr.Close() })
	return tr
}

// recvMH waits for the next Signal.
func recvSignal(t testing.TB, tr Transport) Signal {
	t.Helper()
	s, err := tr.Recv(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return s
}

// parseSignal decodes the MH of s with the wire package, which verifies
// the checksum against the RFC 6275 section 6.1.1 pseudo-header.
func parseSignal(t testing.TB, s Signal) wire.Message {
	t.Helper()
	src, dst := s.ChecksumAddrs()
	m, err := wire.Parse(s.MH, src, dst)
	if err != nil {
		t.Fatalf("wire.Parse of received %v MH: %v", s.Ext, err)
	}
	return m
}

func waitCounter(t *testing.T, n *testNS, key string, min uint64, wait time.Duration) uint64 {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		v := n.snmp6(t, key)
		if v >= min || time.Now().After(deadline) {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNativeHAOAndRH2 sends a Binding Update with a Home Address option from
// the care-of address and a Binding Acknowledgement with a type 2 routing
// header back, on a kernel without CONFIG_IPV6_MIP6.
func TestNativeHAOAndRH2(t *testing.T) {
	p := newPair(t)
	dump := p.ha.tcpdump(t, p.haIf)
	mn := openNative(t, p.mn)

	bu := Signal{Src: p.coa, Dst: p.ha6, Ext: ExtHAO, HomeAddress: p.hoa}
	buMsg := wire.BindingUpdate{Sequence: 4711, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 60}
	bu.MH = mustMarshal(t, buMsg, bu)

	// The premise: with nothing listening, the HA kernel answers the HAO
	// with Parameter Problem.
	pp0 := p.ha.snmp6(t, "Icmp6OutParmProblems")
	if err := mn.Send(ctxT(t, time.Second), bu); err != nil {
		t.Fatalf("Send BU: %v", err)
	}
	if got := waitCounter(t, p.ha, "Icmp6OutParmProblems", pp0+1, 3*time.Second); got != pp0+1 {
		t.Fatalf("control: Icmp6OutParmProblems %d -> %d, want +1 (kernel has MIP6 support?)", pp0, got)
	}

	haRaw0, haPacket0 := p.ha.countSockets(t, "raw6"), p.ha.countSockets(t, "packet")
	ha := openNative(t, p.ha)
	haPP := p.ha.snmp6(t, "Icmp6OutParmProblems")
	mnPP := p.mn.snmp6(t, "Icmp6OutParmProblems")
	haRawSockets := p.ha.countSockets(t, "raw6")
	haPacketSockets := p.ha.countSockets(t, "packet")

	bu.MH = mustMarshal(t, wire.BindingUpdate{Sequence: 4712, Flags: buMsg.Flags, Lifetime: 60}, bu)
	if err := mn.Send(ctxT(t, time.Second), bu); err != nil {
		t.Fatalf("Send BU: %v", err)
	}
	got := recvSignal(t, ha)
	if got.Via != ViaMH || got.Src != p.coa || got.Dst != p.ha6 || got.Ext != ExtHAO ||
		got.HomeAddress != p.hoa || got.IfIndex != p.haIndex {
		t.Fatalf("HA received %+v, want BU from CoA %v with HAO %v on if %d", got, p.coa, p.hoa, p.haIndex)
	}
	m, ok := parseSignal(t, got).(wire.BindingUpdate)
	if !ok || m.Sequence != 4712 || m.Flags != buMsg.Flags {
		t.Fatalf("HA parsed %#v", m)
	}

	// BA with RH2: Dst is the CoA, the checksum covers the HoA.
	ba := Signal{Src: p.ha6, Dst: got.Src, Ext: ExtRH2, HomeAddress: got.HomeAddress, IfIndex: got.IfIndex}
	baMsg := wire.BindingAcknowledgement{Status: wire.StatusAccepted, Sequence: 4712, Lifetime: 60}
	ba.MH = mustMarshal(t, baMsg, ba)
	if err := ha.Send(ctxT(t, time.Second), ba); err != nil {
		t.Fatalf("Send BA: %v", err)
	}
	got = recvSignal(t, mn)
	if got.Src != p.ha6 || got.Dst != p.coa || got.Ext != ExtRH2 || got.HomeAddress != p.hoa || got.IfIndex != p.mnIndex {
		t.Fatalf("MN received %+v", got)
	}
	if m, ok := parseSignal(t, got).(wire.BindingAcknowledgement); !ok || !reflect.DeepEqual(m, baMsg) {
		t.Fatalf("MN parsed %#v, want %#v", m, baMsg)
	}

	// Plain MH (no HAO/RH2) takes the raw IPPROTO_MH socket; one with a
	// wrong checksum is not delivered.
	plain := Signal{Src: p.ha6, Dst: p.coa}
	plain.MH = mustMarshal(t, baMsg, plain)
	badPlain, err := appendPacket(nil, &plain)
	if err != nil {
		t.Fatal(err)
	}
	badPlain[len(badPlain)-1] ^= 0xff
	if _, err := ha.send.WriteTo(badPlain, nil, udpAddrIP(p.coa)); err != nil {
		t.Fatal(err)
	}
	if err := ha.Send(ctxT(t, time.Second), plain); err != nil {
		t.Fatalf("Send plain BA: %v", err)
	}
	got = recvSignal(t, mn)
	if got.Src != p.ha6 || got.Dst != p.coa || got.Ext != ExtNone || got.IfIndex != p.mnIndex ||
		string(got.MH) != string(plain.MH) {
		t.Fatalf("MN received plain %+v", got)
	}
	parseSignal(t, got)

	// A HAO packet with a wrong checksum is dropped and counted.
	bad := bu
	bad.HomeAddress = p.coa // Send computes the checksum over the wrong HoA…
	pkt, err := appendPacket(nil, &bad)
	if err != nil {
		t.Fatal(err)
	}
	copy(pkt[len(pkt)-len(bu.MH)-24+8:], p.hoa.AsSlice()) // …then the HAO says p.hoa
	if _, err := mn.send.WriteTo(pkt, nil, udpAddrIP(p.ha6)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for ha.Stats().BadChecksum == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := ha.Stats(); st.BadChecksum != 1 {
		t.Fatalf("HA stats %+v, want BadChecksum 1", st)
	}

	if v := waitCounter(t, p.ha, "Icmp6OutParmProblems", haPP+1, time.Second); v != haPP {
		t.Errorf("HA sent %d Parameter Problems with the transport open", v-haPP)
	}
	if v := p.mn.snmp6(t, "Icmp6OutParmProblems"); v != mnPP {
		t.Errorf("MN sent %d Parameter Problems with the transport open", v-mnPP)
	}

	// Close removes the nftables table and the sockets.
	if !strings.Contains(p.ha.exec(t, "nft", "list", "tables"), "mtr_mh") {
		t.Fatal("table ip6 mtr_mh missing while open")
	}
	if err := ha.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := ha.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if out := p.ha.exec(t, "nft", "list", "tables"); strings.Contains(out, "mtr_mh") {
		t.Fatalf("table left after Close: %s", out)
	}
	if haRawSockets != haRaw0+2 || haPacketSockets != haPacket0+1 {
		t.Fatalf("open transport: raw6 %d -> %d, packet %d -> %d sockets; want +2, +1",
			haRaw0, haRawSockets, haPacket0, haPacketSockets)
	}
	if n := p.ha.countSockets(t, "raw6"); n != haRaw0 {
		t.Fatalf("raw6 sockets %d after Close, want %d", n, haRaw0)
	}
	if n := p.ha.countSockets(t, "packet"); n != haPacket0 {
		t.Fatalf("packet sockets %d after Close, want %d", n, haPacket0)
	}
	if _, err := ha.Recv(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Recv after Close: %v", err)
	}
	if err := ha.Send(context.Background(), ba); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}

	checkPcap(t, dump.stop(t), map[string]int{
		"mip6.mhtype == 5 && !icmpv6": 3, "mip6.mhtype == 6": 3, "icmpv6.type == 4": 1,
		"ipv6.opt.type == 201 && !icmpv6": 3, "ipv6.routing.type == 2": 1,
	})
}

func udpAddrIP(a netip.Addr) *net.IPAddr { return &net.IPAddr{IP: a.AsSlice()} }

// checkPcap runs tshark on a capture: no frame may be malformed or carry an
// expert warning or error, and each display filter in want must match that
// many frames.
func checkPcap(t *testing.T, file string, want map[string]int) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatalf("tshark not installed: %v", err)
	}
	tshark := func(filter string) []string {
		cmd := exec.Command("tshark", "-n", "-r", file, "-d", "udp.port==4191,ipv6",
			"-Y", filter, "-T", "fields", "-e", "frame.number")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v\n%s", filter, err, stderr.String())
		}
		return strings.Fields(string(out))
	}
	if bad := tshark(`_ws.malformed || _ws.expert.severity >= "Warning"`); len(bad) > 0 {
		out, _ := exec.Command("tshark", "-n", "-r", file, "-d", "udp.port==4191,ipv6", "-V").Output()
		t.Fatalf("tshark flags frames %v:\n%s", bad, out)
	}
	for f, n := range want {
		if got := tshark(f); len(got) != n {
			out, _ := exec.Command("tshark", "-n", "-r", file, "-d", "udp.port==4191,ipv6").Output()
			t.Errorf("tshark -Y %q: %d frames, want %d\n%s", f, len(got), n, out)
		}
	}
}
