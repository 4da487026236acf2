package mn

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
