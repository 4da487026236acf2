package lab

import (
	"context"
	"monami/internal/testenv"
	"os"
	"os/exec"
	"testing"
	"time"
)

const netnsMountYAML = `
name: mltnm
nodes: [{name: a}, {name: b}]
links:
  - a: {node: a, if: eth0, addrs: ["2001:db8:76::2/64"]}
    b: {node: b, if: eth0, addrs: ["2001:db8:76::1/64"]}
`

// TestDownAfterNetnsMountChild runs inside a private mount namespace (see
// TestDownAfterNetnsMount): lab up, then `ip netns add`, which turns
// /run/netns into a mount point over the lab's namespace files, then down.
func TestDownAfterNetnsMountChild(t *testing.T) {
	if os.Getenv("MLT_NETNS_MOUNT_CHILD") == "" {
		return // only meaningful as the helper process of TestDownAfterNetnsMount
	}
	topo, err := Parse([]byte(netnsMountYAML))
	if err != nil {
		t.Fatal(err)
	}
	_ = Teardown(topo.Name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Up(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "add", "ipnetns-mltnm").CombinedOutput(); err != nil {
		l.Down()
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	defer exec.Command("ip", "netns", "del", "ipnetns-mltnm").Run()
	if out, _ := exec.Command("findmnt", "-n", "-o", "TARGET", netnsDir).Output(); len(out) == 0 {
		t.Fatalf("%s is not a mount point after ip netns add: the test reproduces nothing", netnsDir)
	}
	if err := l.Down(); err != nil {
		t.Fatalf("lab down after /run/netns became a mount point: %v", err)
	}
	assertClean(t, topo)
}

// TestDownAfterNetnsMount: `lab down` must remove the namespaces when
// /run/netns has become a mount point after `lab up`. The mount is made in
// a private mount namespace so the host's /run/netns stays as it is.
func TestDownAfterNetnsMount(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "unshare")
	testenv.RequireTool(t, "ip")
	c := exec.Command("unshare", "-m", "--propagation", "private", os.Args[0],
		"-test.run=^TestDownAfterNetnsMountChild$", "-test.count=1", "-test.v")
	c.Env = append(os.Environ(), "MLT_NETNS_MOUNT_CHILD=1")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, n := range []string{"mltnm-a", "mltnm-b"} {
		if _, err := os.Lstat(nsPath(n)); err == nil {
			t.Errorf("%s left behind on the host", nsPath(n))
		}
	}
	t.Logf("child:\n%s", out)
}
