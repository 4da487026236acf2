package demo

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"monami/internal/config"
)

// Each scenario's policy: section is a valid mn.yaml for the demo's
// interfaces, and has the rule the scenario relies on.
func TestScenarioPolicyParses(t *testing.T) {
	for _, name := range Scenarios {
		pol, err := scenarioPolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		s := &scenario{opt: Options{Lifetime: time.Minute, Backend: "auto", Transport: "native"}, dir: t.TempDir(), mnExtra: pol}
		if err := s.writeConfigs(); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.LoadMobileNode(s.path("mn.yaml"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name == "degraded" {
			// The default policy (issue 14's acceptance): no section.
			if pol != "" || len(cfg.Policy.Rules) != 0 {
				t.Errorf("degraded: a policy: section %q", pol)
			}
			continue
		}
		rules, _ := cfg.Policy.Forwarding()
		want := map[string]int{"share": 0, "bicast": 1, "policy": 2}[name]
		if len(cfg.Policy.Rules) != want || (name != "share" && len(rules) == 0) {
			t.Errorf("%s: %d rules, want %d", name, len(cfg.Policy.Rules), want)
		}
	}
	if _, err := scenarioPolicy("nope"); err == nil {
		t.Error("unknown scenario accepted")
	}
}

func TestLinkTimeline(t *testing.T) {
	t0 := time.Unix(100, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	reads := map[string][]counterRead{"wlan0": {
		{at(0), 0, 0}, {at(50), 500, 10}, {at(100), 1000, 20}, {at(150), 1000, 20}, {at(200), 4000, 20},
	}}
	tl := linkTimeline(reads, t0, at(200), 100*time.Millisecond)
	if len(tl) != 2 {
		t.Fatalf("%d slots", len(tl))
	}
	if g := tl[0].Link["wlan0"]; g != (Directed{Down: 1000, Up: 20}) {
		t.Errorf("slot 0: %+v", g)
	}
	if g := tl[1].Link["wlan0"]; g != (Directed{Down: 3000, Up: 0}) {
		t.Errorf("slot 1: %+v", g)
	}
}

func TestLinkChange(t *testing.T) {
	e := time.Unix(100, 0)
	at := func(ms float64) time.Time { return e.Add(time.Duration(ms * float64(time.Millisecond))) }
	var pkts []tapPacket
	for i := -10; i < 100; i++ {
		link := "lte0"
		if i >= 30 {
			link = "wlan0"
		}
		pkts = append(pkts, tapPacket{at: at(float64(i)), flow: "f", link: link, up: true})
		pkts = append(pkts, tapPacket{at: at(float64(i)), flow: "other", link: "lte0", up: true})
	}
	// A packet that was queued on the old link leaves it after the change:
	// it shows when the old link drained, not when the flow changed.
	pkts = append(pkts, tapPacket{at: at(45), flow: "f", link: "lte0", up: true})
	c := linkChange(pkts, "f", true, "lte0", "wlan0", e, time.Second)
	if c.FirstOnNewMs == nil || *c.FirstOnNewMs != 30 || c.LastOnOldMs == nil || *c.LastOnOldMs != 45 || *c.ChangeMs != 30 {
		t.Errorf("change %s / %s / %s", msOrNone(c.FirstOnNewMs), msOrNone(c.LastOnOldMs), msOrNone(c.ChangeMs))
	}
	if c.OnOldBefore != 10 || !c.moved(30) || c.moved(29) {
		t.Errorf("on old before %d, moved(30) %v", c.OnOldBefore, c.moved(30))
	}
	// Already on wlan0 before the event: no change to time.
	onWlan := []tapPacket{{at: at(-5), flow: "f", link: "wlan0", up: true}, {at: at(1), flow: "f", link: "wlan0", up: true}}
	if c := linkChange(onWlan, "f", true, "lte0", "wlan0", e, time.Second); c.ChangeMs == nil || c.moved(1e9) {
		t.Errorf("a flow not on the old link moved: %+v", c)
	}
	if c := linkChange(pkts, "f", false, "lte0", "wlan0", e, time.Second); c.ChangeMs != nil {
		t.Errorf("down: %s, want never", msOrNone(c.ChangeMs))
	}
	// Downlink with an entry tap: the change is when the home agent sent
	// the flow toward the new link; arrival comes after its queue.
	var down []tapPacket
	for i := -10; i < 100; i++ {
		link, entry := "lte0", "lte0"
		if i >= 80 {
			link = "wlan0"
		}
		if i >= 20 {
			entry = "wlan0"
		}
		down = append(down, tapPacket{at: at(float64(i)), flow: "f", link: link},
			tapPacket{at: at(float64(i)), flow: "f", link: entry, entry: true})
	}
	c = linkChange(down, "f", false, "lte0", "wlan0", e, time.Second)
	if c.EnteredNewMs == nil || *c.EnteredNewMs != 20 || *c.FirstOnNewMs != 80 || *c.ChangeMs != 20 || c.OnOldBefore != 10 {
		t.Errorf("downlink change %s, entered %s, arrived %s, on old before %d", msOrNone(c.ChangeMs), msOrNone(c.EnteredNewMs), msOrNone(c.FirstOnNewMs), c.OnOldBefore)
	}
	if n := packetsPerLink(down, "f", at(0), at(100)); n["lte0"].Down != 80 || n["wlan0"].Down != 20 {
		t.Errorf("entry packets counted per link: %v", n)
	}
	n := packetsPerLink(pkts, "f", at(0), at(30))
	if n["lte0"].Up != 30 || n["wlan0"].Up != 0 {
		t.Errorf("per link %v", n)
	}
}

func TestSeqCount(t *testing.T) {
	var c seqCount
	for _, s := range []uint64{0, 1, 1, 3, 4, 4, 4} {
		c.add(s)
	}
	if r := c.result(6); r != (SeqResult{Sent: 6, Delivered: 4, Lost: 2, Duplicates: 3}) {
		t.Errorf("%+v", r)
	}
}

func TestInnerPacketByPort(t *testing.T) {
	inner := make([]byte, 60)
	inner[0], inner[6] = 0x60, 6
	binary.BigEndian.PutUint16(inner[40:], 40000)
	binary.BigEndian.PutUint16(inner[42:], pinnedPort)
	outer := make([]byte, 40)
	outer[0], outer[6] = 0x60, 41
	classify := byPort(6, map[uint16]string{pinnedPort: "pinned"})
	if f := classify(innerPacket(append(outer, inner...))); f != "pinned" {
		t.Errorf("IPv6-in-IPv6: %q", f)
	}
	udp := make([]byte, 48)
	udp[0], udp[6] = 0x60, 17
	binary.BigEndian.PutUint16(udp[42:], 4191)
	if f := classify(innerPacket(append(udp, inner...))); f != "pinned" {
		t.Errorf("RFC 5555: %q", f)
	}
	if innerPacket(inner) != nil {
		t.Error("a plain packet taken as tunnelled")
	}
	inner[6] = 17
	if f := classify(inner); f != "" {
		t.Errorf("UDP taken as the TCP flow: %q", f)
	}
}

func TestScenarioReportVerdict(t *testing.T) {
	r := &ScenarioReport{Scenario: "x"}
	if r.Passed() {
		t.Error("no checks passed")
	}
	r.check("a", "w", true, "ok")
	if !r.Passed() {
		t.Error("one passing check failed")
	}
	r.check("b", "w", false, "bad")
	var b strings.Builder
	r.WriteReport(&b)
	if r.Passed() || !strings.Contains(b.String(), "FAIL  b: bad") {
		t.Errorf("failed check: %v\n%s", r.Passed(), b.String())
	}
	r = &ScenarioReport{Error: "stopped"}
	r.check("a", "w", true, "ok")
	if r.Passed() {
		t.Error("a stopped scenario passed")
	}
}
