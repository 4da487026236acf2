package demo

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"monami/internal/testenv"
)

// Issue 14, acceptance "NAT": TCP to the home address survives a failover
// from the IPv6 wlan link to the IPv4-only lte link behind the access
// router's NAT44, and back (RFC 5555). Captures show that lte carries the
// data as IPv6 in UDP in IPv4, that the home agent sees only the NAT's
// outside address, and that tshark decodes the signalling (IPv4 Care-of
// Address and NAT Detection options included) without warnings. Then the
// NAT keepalives hold the mapping over an idle period twice the NAT's UDP
// timeout, and dropping them breaks it (nat.go).
func TestNATFailover(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "tcpdump")
	testenv.RequireTool(t, "tshark")
	s, closeLab := openScenarioOn(t, "ntnat", Options{NAT: true, Congestion: CUBIC, FailAt: 3 * time.Second,
		RestoreAt: 10 * time.Second, Duration: 13 * time.Second}, natTopologyYAML)
	t.Cleanup(closeLab)
	ltePcap, stopLte := s.tcpdump(t, "mn", backupIf, "lte.pcap", "")
	haPcap, stopHA := s.tcpdump(t, "ha", "eth0", "ha.pcap", "udp port 4191")
	rep, err := s.run(context.Background())
	stopLte()
	stopHA()
	if rep != nil {
		var b strings.Builder
		rep.WriteReport(&b)
		t.Log(b.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	sum := rep.Runs[0]
	if !sum.TCP.Intact {
		t.Fatalf("TCP did not survive: %+v", sum.TCP)
	}
	// Within the 3 s window each gap is measured in: the probe came back
	// over the other link (the figures themselves are logged, the machine
	// is shared).
	if sum.FailoverGapMs >= 3000 || sum.RestoreGapMs >= 3000 {
		t.Errorf("failover gap %.1f ms, restore gap %.1f ms: the probe did not come back", sum.FailoverGapMs, sum.RestoreGapMs)
	}
	if sum.BytesPerLink[backupIf] < 1<<20 {
		t.Errorf("%d tunnelled bytes on %s: the stream did not move there", sum.BytesPerLink[backupIf], backupIf)
	}
	if rep.NAT == nil || !rep.NAT.KeptMapping() {
		t.Errorf("NAT keepalives: %+v", rep.NAT)
	}

	// lte0 is IPv4-only: no IPv6 frame at all, the data downlink in UDP
	// from the home agent's 4191 to the private care-of address.
	if n := tsharkCount(t, ltePcap, "ipv6 && !udp"); n != 0 {
		out, _ := exec.Command("tshark", "-r", ltePcap, "-V", "-Y", "ipv6 && !udp").Output()
		t.Errorf("%d IPv6 frames on the IPv4-only %s:\n%s", n, backupIf, out)
	}
	down := fmt.Sprintf("ip.src==%s && ip.dst==%s && udp.srcport==4191 && tcp", homeAgentIPv4, lteIPv4CoA)
	if n := tsharkCount(t, ltePcap, down); n < 1000 {
		t.Errorf("%d TCP segments in IPv4/UDP from the home agent on %s, want the stream's", n, backupIf)
	}
	// The home agent sees the NAT's outside address, never the care-of
	// address behind it.
	if n := tsharkCount(t, haPcap, "ip.addr=="+lteIPv4CoA); n != 0 {
		t.Errorf("%d frames at the home agent name the private care-of address %s", n, lteIPv4CoA)
	}
	if n := tsharkCount(t, haPcap, fmt.Sprintf("ip.src==%s && udp.dstport==4191 && tcp", natOutside)); n < 100 {
		t.Errorf("%d uplink TCP segments in IPv4/UDP from the NAT %s at the home agent", n, natOutside)
	}
	for _, f := range []string{"mip6.ipv4coa.addr", "mip6.natd.f_flag"} {
		if n := tsharkCount(t, haPcap, f); n == 0 {
			t.Errorf("tshark finds no %s in the signalling", f)
		}
	}
	if _, err := tsharkCheck(haPcap, signallingWant{minBU: 3}); err != nil {
		t.Error(err)
	}
}

// tcpdump captures on a node's interface into the lab's state directory.
func (s *scenario) tcpdump(t *testing.T, node, ifname, file, filter string) (string, func()) {
	t.Helper()
	path := s.path(file)
	args := []string{"-i", ifname, "-U", "-s", "200", "-w", path}
	if filter != "" {
		args = append(args, filter)
	}
	cmd := s.lab.MustNode(node).Command(context.Background(), "tcpdump", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // tcpdump attaches its filter
	return path, func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
}

// tsharkCount counts the frames of pcap that filter selects, UDP 4191
// decoded as the IPv6 packet it carries.
func tsharkCount(t *testing.T, pcap, filter string) int {
	t.Helper()
	out, err := exec.Command("tshark", "-r", pcap, "-d", "udp.port==4191,ipv6", "-Y", filter, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark -Y %q: %v", filter, err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if _, err := strconv.Atoi(strings.TrimSpace(l)); err == nil {
			n++
		}
	}
	return n
}
