package lab

import (
	"bufio"
	"context"
	"fmt"
	"monami/internal/testenv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashYAML has one of everything Teardown must remove: namespaces, a
// host-side interface with a loss table in the root namespace, a relay,
// TBF, and a process.
const crashYAML = `
name: %s
nodes:
  - {name: h, kind: root}
  - {name: a, routes: [{dst: default, via: "2001:db8:71::1"}]}
  - {name: b, kind: router}
links:
  - a: {node: a, if: eth0, addrs: ["2001:db8:71::2/64"]}
    b: {node: b, if: eth0, addrs: ["2001:db8:71::1/64"]}
    impair: {delay: 5ms, rate: 10mbit, loss: 1%%}
  - a: {node: h, if: x0, addrs: ["2001:db8:72::2/64"]}
    b: {node: b, if: eth1, addrs: ["2001:db8:72::1/64"]}
    impair: {loss: 1%%}
processes:
  - {name: sleeper, node: a, command: sleep, args: ["600"]}
`

// TestCrashChild is the victim process of TestTeardownAfterKill: it builds
// a lab and stops dead after the Nth state save (0: after Up returns).
func TestCrashChild(t *testing.T) {
	k := os.Getenv("MLT_CRASH_AT")
	if k == "" {
		return // only meaningful as the helper process of TestTeardownAfterKill
	}
	at, _ := strconv.Atoi(k)
	topo, err := Parse([]byte(fmt.Sprintf(crashYAML, os.Getenv("MLT_CRASH_NAME"))))
	if err != nil {
		t.Fatal(err)
	}
	saves := 0
	testHookSaved = func(*State) {
		saves++
		if saves == at {
			fmt.Println("MLT-STOP", saves)
			select {} // wait for SIGKILL mid-build
		}
	}
	if _, err := Up(context.Background(), topo); err != nil {
		fmt.Println("MLT-ERROR", err)
		select {}
	}
	fmt.Println("MLT-STOP up", saves)
	select {}
}

// TestTeardownAfterKill SIGKILLs a process building a lab at several points
// (and after it is fully up) and checks that Teardown removes everything.
func TestTeardownAfterKill(t *testing.T) {
	testenv.RequireRoot(t)
	for _, at := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0} {
		name := fmt.Sprintf("mltk%d", at)
		t.Run(name, func(t *testing.T) {
			topo, err := Parse([]byte(fmt.Sprintf(crashYAML, name)))
			if err != nil {
				t.Fatal(err)
			}
			_ = Teardown(name) // leftovers of an earlier failed run
			c := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			c.Env = append(os.Environ(), "MLT_CRASH_AT="+strconv.Itoa(at), "MLT_CRASH_NAME="+name)
			out, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			c.Stderr = os.Stderr
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				c.Process.Kill()
				c.Wait()
				_ = Teardown(name)
			})
			sc := bufio.NewScanner(out)
			stopped := ""
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "MLT-") {
					stopped = sc.Text()
					break
				}
			}
			if !strings.HasPrefix(stopped, "MLT-STOP") {
				t.Fatalf("child did not stop: %q", stopped)
			}
			if err := c.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			c.Wait()
			st, err := ReadState(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("killed at %q: state %s, %d namespaces, %d host links, %d relays, %d processes recorded",
				stopped, st.Status, len(st.Namespaces), len(st.HostLinks), len(st.Relays), len(st.Processes))
			if at == 0 {
				// Fully up: everything exists before teardown.
				if len(st.Namespaces) != 3 || len(st.HostLinks) != 1 || len(st.HostNft) != 1 || len(st.Relays) != 1 || st.Processes[0].PID == 0 {
					t.Fatalf("state after up incomplete: %+v", st)
				}
				for _, ns := range st.Namespaces {
					if !netnsExists(ns) {
						t.Errorf("namespace %s missing before teardown", ns)
					}
				}
				if !processAlive(st.Relays[0].PID, labEnvKey+"="+name+"\x00") {
					t.Errorf("relay not running before teardown")
				}
			}
			if err := Teardown(name); err != nil {
				t.Fatal(err)
			}
			assertClean(t, topo)
		})
	}
}

// TestCLI drives the real `monami lab` binary: up, status, exec, link,
// down, and down after `lab up` was SIGKILLed mid-build.
func TestCLI(t *testing.T) {
	testenv.RequireRoot(t)
	bin := filepath.Join(t.TempDir(), "monami")
	build := exec.Command("go", "build", "-o", bin, "monami/cmd/monami")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build monami: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "lab.yaml")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	for _, name := range []string{"mltcli", "mltclik"} {
		_, _ = run("lab", "down", name)
	}
	if err := os.WriteFile(file, []byte(fmt.Sprintf(crashYAML, "mltcli")), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, _ := Load(file)
	t.Cleanup(func() { run("lab", "down", "mltcli") })
	if out, err := run("lab", "up", file); err != nil || !strings.Contains(out, "lab mltcli is up") {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	if out, err := run("lab", "status", "mltcli"); err != nil || !strings.Contains(out, "loss=1%") || !strings.Contains(out, "sleeper") {
		t.Fatalf("lab status: %v\n%s", err, out)
	}
	if out, err := run("lab", "--lab", "mltcli", "exec", "a", "--", "sh", "-c", "readlink /proc/self/ns/net; exit 3"); err == nil || !strings.Contains(out, "net:[") {
		t.Fatalf("lab exec: want exit status 3 and output, got %v\n%s", err, out)
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("lab exec exit code: %v", err)
	}
	if out, err := run("lab", "--lab", "mltcli", "link", "a:eth0", "set", "delay=7ms", "loss=0"); err != nil || !strings.Contains(out, "delay=7ms") {
		t.Fatalf("lab link set: %v\n%s", err, out)
	}
	if out, err := run("lab", "--lab", "mltcli", "link", "b:eth0", "set", "dir=out", "rate=2mbit"); err != nil || !strings.Contains(out, "a->b rate=10mbit delay=7ms; b->a rate=2mbit delay=7ms") {
		t.Fatalf("lab link set dir=out: %v\n%s", err, out)
	}
	if out, err := run("lab", "--lab", "mltcli", "link", "a:eth0", "down"); err != nil {
		t.Fatalf("lab link down: %v\n%s", err, out)
	}
	out, _ := run("lab", "status", "mltcli")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == "a:eth0" && f[2] != "down" {
			t.Errorf("a:eth0 admin %s after link down:\n%s", f[2], out)
		}
		// The far end of a relayed link loses carrier too.
		if len(f) > 3 && f[1] == "b:eth0" && f[3] != "lowerlayerdown" && f[3] != "down" {
			t.Errorf("b:eth0 oper %s after a:eth0 down:\n%s", f[3], out)
		}
	}
	for _, bad := range [][]string{
		{"lab", "--lab", "mltcli", "link", "a:nope", "down"},
		{"lab", "--lab", "mltcli", "link", "a:eth0", "set", "speed=1"},
		{"lab", "--lab", "mltcli", "link", "a", "up"},
		{"lab", "--lab", "mltcli", "exec", "zz", "--", "true"},
		{"lab", "down", "mltnone"},
		{"lab", "--lab", "mltcli", "link", "h:x0", "set", "delay=5ms"}, // built without a relay
		{"lab", "--lab", "mltcli", "link", "a:eth0", "set", "dir=up", "delay=5ms"},
		{"lab", "up", "/nonexistent.yaml"},
	} {
		out, err := run(bad...)
		if err == nil || strings.Contains(out, "panic") || !strings.HasPrefix(out, "monami:") {
			t.Errorf("%v: want a clear error, got %v\n%s", bad, err, out)
		}
	}
	if out, err := run("lab", "down", "mltcli"); err != nil {
		t.Fatalf("lab down: %v\n%s", err, out)
	}
	assertClean(t, topo)

	// SIGKILL `lab up` mid-build, then `lab down`.
	if err := os.WriteFile(file, []byte(fmt.Sprintf(crashYAML, "mltclik")), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, _ = Load(file)
	t.Cleanup(func() { run("lab", "down", "mltclik") })
	c := exec.Command(bin, "lab", "up", file)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill as soon as the build has started creating objects.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := ReadState("mltclik"); err == nil && len(st.Namespaces) >= 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.Process.Signal(syscall.SIGKILL)
	c.Wait()
	st, err := ReadState("mltclik")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("lab up SIGKILLed with state %s: %d namespaces recorded", st.Status, len(st.Namespaces))
	if out, err := run("lab", "down", "mltclik"); err != nil {
		t.Fatalf("lab down after kill: %v\n%s", err, out)
	}
	assertClean(t, topo)
}
