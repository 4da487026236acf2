package mn

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"monami/internal/ctlapi"
)

// TestMonamiMNCommand runs the real binary, `monami mn -c mn.yaml`, in the
// mobile node's namespace: it registers both care-of addresses, serves the
// control API, carries an unbound TCP connection from the home address,
// and on SIGTERM deregisters and removes everything it installed.
func TestMonamiMNCommand(t *testing.T) {
	x := upNet(t, "mmnc", "kernel")
	bin := filepath.Join(t.TempDir(), "monami")
	if out, err := exec.Command("go", "build", "-o", bin, "monami/cmd/monami").CombinedOutput(); err != nil {
		t.Fatalf("build monami: %v\n%s", err, out)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "mn.sock")
	cfgFile := filepath.Join(dir, "mn.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(mnYAML, sock, "auto", "native")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "mn", "--check", "-c", cfgFile).CombinedOutput(); err != nil {
		t.Fatalf("mn --check: %v %s", err, out)
	}
	out := &lockedBuffer{}
	cmd := x.mnNode.Command(context.Background(), bin, "mn", "-c", cfgFile)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("monami mn output:\n%s", out.String())
		}
	})

	cl := ctlapi.NewClient(sock)
	eventually(t, 15*time.Second, "both bindings registered (control API)", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, raw, err := cl.Get(ctx, "bul")
		if err != nil {
			return err
		}
		var es []BULEntry
		if err := json.Unmarshal(raw, &es); err != nil {
			return err
		}
		if len(es) != 2 || es[0].State != "registered" || es[1].State != "registered" {
			return fmt.Errorf("bul %s", raw)
		}
		if hb := haBindings(t, x.ha); len(hb) != 2 {
			return fmt.Errorf("ha bindings %+v", hb)
		}
		return nil
	})
	peers := tcpEcho(t, x.cnNode)
	if src := dialUnbound(t, x.mnNode); src != hoa {
		t.Errorf("unbound TCP source %v", src)
	}
	if p := <-peers; p != hoa {
		t.Errorf("correspondent saw %v", p)
	}

	ctlFlowsAndReload(t, bin, sock, cfgFile, cmd.Process, out)
	if hb := haBindings(t, x.ha); len(hb) != 2 {
		t.Errorf("home agent bindings after flow moves and reloads: %+v", hb)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("monami mn exit: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("monami mn did not stop on SIGTERM\n%s", out.String())
	}
	if hb := haBindings(t, x.ha); len(hb) != 0 {
		t.Errorf("home agent bindings after SIGTERM: %+v", hb)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("control socket left behind")
	}
	assertClean(t, x.mnNode)
}

// ctlFlowsAndReload moves a flow with monami ctl, then reloads mn.yaml
// with SIGHUP: an invalid policy is logged naming the key and the running
// one stays; a valid one replaces it, the override kept.
func ctlFlowsAndReload(t *testing.T, bin, sock, cfgFile string, p *os.Process, out *lockedBuffer) {
	t.Helper()
	ctl := func(args ...string) string {
		t.Helper()
		b, err := exec.Command(bin, append([]string{"ctl", "--socket", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("monami ctl %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	flows := func() []FlowView {
		var v []FlowView
		if err := json.Unmarshal([]byte(ctl("flows", "--json")), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	rules := func(v []FlowView) string {
		var s []string
		for _, f := range v {
			s = append(s, f.Rule+"="+strings.Join(f.Interfaces, ","))
		}
		return strings.Join(s, " ")
	}
	ctl("flow", "move", "--match", "{next_header: tcp, dst_port: 5201}", "--to", "lte0")
	if got := rules(flows()); got != "moved{nh=6 dport=5201}=lte0 default=wlan0" {
		t.Errorf("flows after the move: %s", got)
	}
	cfg, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	reload := func(policy, logged string) {
		t.Helper()
		if err := os.WriteFile(cfgFile, append(slices.Clone(cfg), policy...), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := p.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "log: "+logged, func() error {
			if !strings.Contains(out.String(), logged) {
				return fmt.Errorf("not logged yet")
			}
			return nil
		})
	}
	reload("policy:\n  rules:\n    - {name: web, match: {dst_port: 443}, interfaces: [eth9]}\n",
		`policy.rules[0].interfaces[0]: \"eth9\" is not one of the interfaces: section`)
	if got := rules(flows()); got != "moved{nh=6 dport=5201}=lte0 default=wlan0" {
		t.Errorf("flows after an invalid reload: %s", got)
	}
	reload("policy:\n  rules:\n    - {name: web, match: {dst_port: 443}, interfaces: [lte0]}\n", "SIGHUP: policy reloaded")
	if got := rules(flows()); got != "moved{nh=6 dport=5201}=lte0 web=lte0 default=wlan0" {
		t.Errorf("flows after the reload: %s", got)
	}
	ctl("flow", "clear")
	if got := rules(flows()); got != "web=lte0 default=wlan0" {
		t.Errorf("flows after clear: %s", got)
	}
}
