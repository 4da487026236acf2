package demo

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"monami/internal/testenv"
)

const atHomeLab = "rhhome"

// RFC 5648 section 5.6.3 end to end, issue 14 item 4 (athome.go): at home
// on one interface, away on the other. (1) Both interfaces away: a host on
// the shared home link reaches the mobile node through the home agent (its
// proxy Neighbor Discovery, RFC 6275 section 10.4.1). (2) wlan0 moves onto
// the home link: the mobile node registers it with the H flag, the home
// agent stops defending the home address, and the host reaches the mobile
// node directly (its neighbour entry holds wlan0's link-layer address; the
// home agent's home0 receives none of the exchange), while a correspondent
// still reaches it through lte0's binding. (3) lte0 down: the home agent
// routes the home address onto the home link. (4) wlan0 back away: through
// the home agent again. tshark decodes the signalling without warnings,
// and the Binding Update with the H flag arrived from the home link. Both
// data plane backends, one after the other (one lab name).
func TestAtHomeOnOneInterface(t *testing.T) {
	testenv.RequireRoot(t)
	for _, backend := range []string{"kernel", "userspace"} {
		t.Run(backend, func(t *testing.T) { atHomeOnOneInterface(t, backend) })
	}
}

func atHomeOnOneInterface(t *testing.T, backend string) {
	s, closeLab := openScenarioOn(t, atHomeLab, Options{Backend: backend}, atHomeTopologyYAML)
	defer closeLab()
	s.haExtra = "home_link: home0\n"
	if err := s.writeConfigs(); err != nil {
		t.Fatal(err)
	}
	stopEth := s.captureSignalling(t, "ha", "eth0", s.path("athome-eth0.pcap"))
	stopHome := s.captureSignalling(t, "ha", "home0", s.path("athome-home0.pcap"))
	s.start(t, "ha", "mn")
	sum := s.homeScenario(context.Background())
	var rep strings.Builder
	sum.WriteReport(&rep)
	t.Log("\n" + rep.String())
	if !sum.Passed() {
		t.Fatalf("home scenario failed: %s", sum.Error)
	}
	stopEth()
	stopHome()
	// The Binding Update from the home link arrives on home0; its answer
	// leaves by eth0, in lte0's tunnel.
	merged := s.path("athome.pcap")
	if out, err := exec.Command("mergecap", "-w", merged, s.path("athome-eth0.pcap"), s.path("athome-home0.pcap")).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v: %s", err, out)
	}
	checkSignalling(t, merged, signallingWant{minBU: 4})
	out, _ := exec.Command("tshark", "-r", s.path("athome-home0.pcap"), "-Y", "mip6.bi.h_flag == 1", "-T", "fields", "-e", "ipv6.src").Output()
	if len(out) == 0 {
		t.Fatal("no Binding Update with the H flag arrived on the home link")
	}
	t.Logf("Binding Updates with the H flag on the home link, from %s", strings.Fields(string(out)))
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
