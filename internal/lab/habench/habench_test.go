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

// TestRefreshBulkWithFlows: the issue 11 load shape, small: every update
// registers 4 bindings and 8 flows, then every mobile node refreshes them
// twice; all accepted, and the sampled tunnels (the preferred binding's)
// carry traffic both ways.
func TestRefreshBulkWithFlows(t *testing.T) {
	testenv.RequireRoot(t)
	rep, err := Run(context.Background(), Options{LabName: "habtest", Binary: monamiBin, MobileNodes: 300, Window: 64, Sample: 10,
		BIDs: 4, FIDs: 8, Refreshes: 2, Store: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Refresh
	if f == nil || f.Updates != 600 || f.Accepted != 600 || len(f.Rejected) != 0 || rep.Accepted != 300 {
		t.Fatalf("registrations %d accepted, refresh %+v", rep.Accepted, f)
	}
	t.Logf("refreshes: %.0f/s, p99 %.1f ms", f.PerSecond, f.LatencyMS.P99)
}

// TestEtcdStore: the bench with its etcd cluster (3 members in
// namespaces): the home agent leads its one-node cluster, commits every
// registration and refresh to etcd before it answers, and the sampled
// tunnels carry traffic both ways.
func TestEtcdStore(t *testing.T) {
	testenv.RequireRoot(t)
	rep, err := Run(context.Background(), Options{LabName: "habetcd", Binary: monamiBin, MobileNodes: 200, Window: 64, Sample: 10,
		Refreshes: 1, Store: "etcd"})
	if err != nil {
		t.Fatal(err)
	}
	if f := rep.Refresh; f == nil || f.Accepted != 200 || rep.Accepted != 200 || rep.Downlink != 10 || rep.Uplink != 10 {
		t.Fatalf("registrations %d accepted, refresh %+v, sample %d down %d up", rep.Accepted, rep.Refresh, rep.Downlink, rep.Uplink)
	}
	t.Logf("etcd: %.0f registrations/s, refreshes %.0f/s, p99 %.1f ms", rep.PerSecond, rep.Refresh.PerSecond, rep.Refresh.LatencyMS.P99)
	if _, err := os.Stat("/run/netns/habetcd-etcd1"); err == nil {
		t.Error("the lab was left behind")
	}
}

func TestOptionBounds(t *testing.T) {
	for _, o := range []Options{{BIDs: 9}, {FIDs: 17}, {FIDs: -1}, {Refreshes: -1}, {Store: "zookeeper"}} {
		if err := o.defaults(); err == nil {
			t.Errorf("%+v accepted", o)
		}
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
