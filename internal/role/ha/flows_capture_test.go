package ha

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"monami/internal/lab"
	"monami/internal/testenv"
	"monami/internal/transport"
	"monami/wire"
)

const flowTopo = `
name: mhflow
nodes:
  - name: mn
  - name: ha
links:
  - name: acc
    a: {node: mn, if: eth0, addrs: ["2001:db8:1::10/64", "2001:db8:a::10/64"]}
    b: {node: ha, if: eth0, addrs: ["2001:db8:1::1/64", "2001:db8:a::1/64"]}
`

// RFC 6089 signalling on the wire: a mobile node's real native Mobility
// Header transport sends Binding Updates with Flow Identification options
// (BID Reference and IPv6 and IPv4 Traffic Selector sub-options) and a Flow
// Summary to the home agent's real transport in another namespace; the
// answers carry a status per flow. tcpdump captures the exchange on the
// home agent's link, and tshark must find every packet well formed, with
// no expert warning (tshark 4.0 shows options 44 and 45 as unknown).
func TestFlowSignallingCapture(t *testing.T) {
	testenv.RequireTool(t, "tcpdump")
	testenv.RequireTool(t, "tshark")
	l, h := upAgentLab(t, flowTopo)
	mn := l.MustNode("mn")
	var tp *transport.Native
	if err := mn.Do(func() (err error) {
		tp, err = transport.OpenNative(transport.NativeConfig{NFTTable: "monami_flowtest"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	time.Sleep(2 * time.Second) // duplicate address detection on the veth

	file := filepath.Join(t.TempDir(), "flows.pcap")
	stop := startTcpdump(t, l.MustNode("ha"), "eth0", file)

	v4 := wire.IPv4TrafficSelector{Flags: wire.IPv4TSStartDestinationAddress | wire.IPv4TSStartProtocol,
		StartDestinationAddress: netip.MustParseAddr("198.51.100.7"), StartProtocol: 17}
	steps := []struct {
		name  string
		flows []wire.Option
		want  string
	}{
		{"add", []wire.Option{fid(1, 10, []uint16{1}, voiceTS), fid(2, 20, []uint16{1, 2}, bulkTS)}, "1:0 2:0"},
		{"add IPv4 selector, refuse unknown BID", []wire.Option{fid(3, 30, []uint16{2}, v4), fid(4, 40, []uint16{9}, bulkTS),
			wire.FlowSummary{FIDs: []uint16{1, 2}}}, "3:0 4:131"},
		{"modify and refresh", []wire.Option{fid(1, 10, []uint16{2}, nil), wire.FlowSummary{FIDs: []uint16{2, 3, 8}}}, "1:0 8:132"},
	}
	var sent [][]byte
	for i, s := range steps {
		bu := flowBU(uint16(200+i), 15, s.flows...)
		mh, err := wire.NewAuthenticator(key).AppendMessage(nil, bu, 300, coa1, hoa, hoa, haAddr)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, mh)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = tp.Send(ctx, transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		ba := recvBA(ctx, t, tp)
		cancel()
		if got := flowStatuses(ba); ba.Status != wire.StatusAccepted || got != s.want {
			t.Fatalf("%s: BA %v, flows %q, want %q", s.name, ba.Status, got, s.want)
		}
		t.Logf("%s: BA %v, per-flow statuses %s", s.name, ba.Status, flowStatuses(ba))
	}
	if n := len(h.flows.Lookup(hoa)); n != 3 {
		t.Fatalf("home agent holds %d flows, want 3", n)
	}
	stop()

	types := tsharkCheck(t, file, true)
	if want := "5 6 5 6 5 6"; types != want {
		t.Fatalf("tshark saw MH types %q, want %q (three BU/BA exchanges)", types, want)
	}
	t.Logf("tshark: %s well formed, no expert warning", file)

	// The check itself: the same capture with one Flow Identification
	// option's length overrunning its message must be reported.
	bad := corruptFlowOption(t, file, sent[0])
	tsharkCheck(t, bad, false)
}

// recvBA waits for the Binding Acknowledgement on the mobile node's
// transport.
func recvBA(ctx context.Context, t *testing.T, tp *transport.Native) wire.BindingAcknowledgement {
	t.Helper()
	for {
		sig, err := tp.Recv(ctx)
		if err != nil {
			t.Fatalf("no Binding Acknowledgement: %v", err)
		}
		src, dst := sig.ChecksumAddrs()
		m, err := wire.Parser{ChecksumVerified: true}.Parse(sig.MH, src, dst)
		if err != nil {
			t.Fatalf("answer: %v", err)
		}
		if ba, ok := m.(wire.BindingAcknowledgement); ok {
			return ba
		}
	}
}

// startTcpdump captures on ifname of node into file; the returned func
// stops it after the last packet is written.
func startTcpdump(t *testing.T, node *lab.NodeNS, ifname, file string) func() {
	t.Helper()
	cmd := node.Command(context.Background(), "tcpdump", "--immediate-mode", "-i", ifname, "-U", "-n", "-w", file, "ip6 and not icmp6")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("tcpdump did not start")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		time.Sleep(300 * time.Millisecond) // -U flushes per packet; let the last one land
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	return stop
}

// tsharkCheck dissects file and returns the Mobility Header types it saw,
// space separated. With clean it fails the test on any malformed mark or
// expert entry of severity warning or above; without, it fails when there
// is none.
func tsharkCheck(t *testing.T, file string, clean bool) string {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", file, "-T", "fields", "-E", "separator=|",
		"-e", "frame.number", "-e", "mip6.mhtype", "-e", "_ws.malformed", "-e", "_ws.expert.severity",
		"-e", "_ws.expert.message").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var types, problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 5 {
			t.Fatalf("tshark line %q", line)
		}
		if f[1] != "" {
			types = append(types, f[1])
		}
		if f[2] != "" || severityAtLeastWarn(f[3]) {
			problems = append(problems, fmt.Sprintf("frame %s: malformed %q, expert %q %q", f[0], f[2], f[3], f[4]))
		}
	}
	if clean && len(problems) > 0 {
		t.Fatalf("tshark on %s:\n%s", file, strings.Join(problems, "\n"))
	}
	if !clean && len(problems) == 0 {
		t.Fatalf("tshark found nothing wrong in %s, which has a broken option", file)
	}
	if !clean {
		t.Logf("tshark on the broken copy: %s", strings.Join(problems, "; "))
	}
	return strings.Join(types, " ")
}

// severityAtLeastWarn: tshark prints expert severities as numbers
// (epan/proto.h: PI_WARN is 0x00600000), several comma separated.
func severityAtLeastWarn(s string) bool {
	for _, v := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(v), &n); err == nil && n >= 0x00600000 {
			return true
		}
	}
	return false
}

// corruptFlowOption writes a copy of the pcap at file in which the first
// frame carrying mh has its first Flow Identification option's Length set
// past the end of the message.
func corruptFlowOption(t *testing.T, file string, mh []byte) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Skip the 6 fixed octets of the Binding Update after the 6 of the
	// header: checksum octets differ, so search from the sequence number.
	at := bytes.Index(b, mh[6:])
	if at < 0 {
		t.Fatal("sent Binding Update not found in the capture")
	}
	it := wire.NewOptionIterator(mh[12:], 12)
	for it.Next() {
		if o := it.Option(); o.Type == wire.OptFlowIdentification {
			b[at-6+o.Offset+1] = 250
			bad := file + ".broken.pcap"
			if err := os.WriteFile(bad, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return bad
		}
	}
	t.Fatal("no Flow Identification option in the Binding Update")
	return ""
}
