package habench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"monami/internal/config"
	"monami/internal/testenv"
)

// monamiBin is the monami binary the home agent runs, built once.
var monamiBin string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "monami-habench-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		monamiBin = filepath.Join(dir, "monami")
		if out, err := exec.Command("go", "build", "-o", monamiBin, "monami/cmd/monami").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building monami: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// TestRegisterThroughRealHomeAgent runs the bench small: every mobile
// node registered through the real transport into a real `monami ha`
// with the kernel data plane, and a sample of tunnels, the last one
// installed among them, carrying traffic both ways through the ingress
// check. Run fails unless all of that holds.
func TestRegisterThroughRealHomeAgent(t *testing.T) {
	testenv.RequireRoot(t)
	rep, err := Run(context.Background(), Options{LabName: "habtest", Binary: monamiBin, MobileNodes: 500, Window: 64, Sample: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d accepted in %.2f s (%.0f/s), p99 %.1f ms; sample %d: %d down, %d up",
		rep.Accepted, rep.Seconds, rep.PerSecond, rep.LatencyMS.P99, rep.Sample, rep.Downlink, rep.Uplink)
	if rep.Accepted != 500 || rep.Downlink != 20 || rep.Uplink != 20 || len(rep.Rejected) != 0 {
		t.Errorf("report %+v", rep)
	}
	if _, err := os.Stat("/run/netns/habtest-ha"); err == nil {
		t.Error("the lab was left behind")
	}
}

func TestSampleIncludesTheLast(t *testing.T) {
	s := sampleOf(1000, 7)
	if len(s) != 7 || s[6] != 999 || s[0] < 0 {
		t.Fatalf("sample %v", s)
	}
}

// Both stores give a configuration the home agent takes.
func TestStoreConfigs(t *testing.T) {
	for _, st := range []string{"bolt", "memory"} {
		o := Options{Store: st, MobileNodes: 2}
		if err := o.defaults(); err != nil {
			t.Fatal(err)
		}
		mns, err := mobileNodes(2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := config.ParseHomeAgent("ha.yaml", []byte(haConfig(o, t.TempDir(), mns))); err != nil {
			t.Errorf("store %s: %v", st, err)
		}
	}
}
