package demo

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"monami/internal/testenv"
)

// TestIdlePathCost: with no traffic, what crosses the access router from
// and to each access link is the path probes: at most one packet per second
// each way (issue 14, "Idle cost"), counted by nftables in the router's
// forward hook over 10 s.
func TestIdlePathCost(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "nft")
	s := newScenario(t, "mdi", Options{Backend: "kernel"})
	if err := s.writeConfigs(); err != nil {
		t.Fatal(err)
	}
	s.start(t, "ha", "mn")
	if err := s.waitBindings(context.Background(), 2, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // registration and its first probes done
	ar := s.lab.MustNode("ar")
	ctx := context.Background()
	rules := "add table ip6 idlecost; add chain ip6 idlecost cnt { type filter hook forward priority 0; };"
	for _, ifn := range []string{activeIf, backupIf} {
		rules += fmt.Sprintf(" add rule ip6 idlecost cnt iifname %s counter comment \"up %s\";", ifn, ifn)
		rules += fmt.Sprintf(" add rule ip6 idlecost cnt oifname %s counter comment \"down %s\";", ifn, ifn)
	}
	if out, err := ar.Exec(ctx, "nft", rules); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	const window = 10 * time.Second
	time.Sleep(window)
	out, err := ar.Exec(ctx, "nft", "list", "table", "ip6", "idlecost")
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	re := regexp.MustCompile(`counter packets (\d+) bytes \d+ comment "(\w+ \w+)"`)
	got := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		got[m[2]] = n
	}
	if len(got) != 4 {
		t.Fatalf("counters %v from:\n%s", got, out)
	}
	limit := int(window/time.Second) + 1
	for k, n := range got {
		t.Logf("IDLE COST: %s: %d packets in %v (%.1f/s)", k, n, window, float64(n)/window.Seconds())
		if n > limit {
			t.Errorf("%s: %d packets in %v, want at most one per second", k, n, window)
		}
		if n == 0 {
			t.Errorf("%s: no probe at all in %v: the idle path is not watched", k, window)
		}
	}
}
