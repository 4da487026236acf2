package dataplane

import (
	"context"
	"testing"

	"monami/internal/lab"
	"monami/internal/testenv"
)

// TestProbeAndAuto: this kernel has seg6, so auto picks the kernel
// backend, and the probe leaves nothing in the table.
func TestProbeAndAuto(t *testing.T) {
	testenv.RequireRoot(t)
	name := "mdppr"
	_ = lab.Teardown(name)
	l, err := lab.Up(context.Background(), &lab.Topology{Name: name, Nodes: []lab.Node{{Name: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Error(err)
		}
	})
	node := l.MustNode("a")
	ns := nsHandle(t, node)
	if err := ProbeKernel(Config{Table: testTable, NetNS: ns}); err != nil {
		t.Fatalf("probe: %v", err)
	}
	dp, err := New(Config{Table: testTable, RulePriority: testPref, NetNS: ns, NFTable: testNFT, TunName: testTun})
	if err != nil {
		t.Fatal(err)
	}
	if dp.Backend() != BackendKernel {
		t.Errorf("auto picked %s", dp.Backend())
	}
	if err := dp.Close(); err != nil {
		t.Fatal(err)
	}
	assertClean(t, node)
}
