package habench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"monami/internal/ctlapi"
	"monami/internal/lab"
)

// addCareOfAddresses puts every mobile node's care-of address on the
// simulator's loopback (no duplicate address detection: the lab owns the
// prefix).
func addCareOfAddresses(node *lab.NodeNS, mns []mobileNode) error {
	h, err := node.Netlink()
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	for _, m := range mns {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: m.coa.AsSlice(), Mask: net.CIDRMask(128, 128)}, Flags: unix.IFA_F_NODAD}
		if err := h.AddrAdd(lo, a); err != nil {
			return fmt.Errorf("care-of address %v: %w", m.coa, err)
		}
	}
	return nil
}

func addLocal(node *lab.NodeNS, a netip.Addr) error {
	return addCareOfAddresses(node, []mobileNode{{coa: a}})
}

// haProcess is the running `monami ha`.
type haProcess struct {
	cmd *exec.Cmd
	dir string
}

func startHA(ctx context.Context, l *lab.Lab, o Options, mns []mobileNode) (*haProcess, error) {
	dir := l.StateDir()
	cfg := filepath.Join(dir, "ha.yaml")
	if err := os.WriteFile(cfg, []byte(haConfig(o, dir, mns)), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "ha.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	args := []string{"ha", "-c", cfg}
	if o.HACPUProfile != "" {
		args = append(args, "--cpuprofile", o.HACPUProfile)
	}
	cmd := l.MustNode("ha").Command(context.WithoutCancel(ctx), o.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting monami ha: %w", err)
	}
	p := &haProcess{cmd: cmd, dir: dir}
	// Ready once its control API answers (it has then loaded its
	// configuration, data plane and transports).
	c := ctlapi.NewClient(filepath.Join(dir, "ha.sock"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, _, err := c.Get(cctx, "counters")
		cancel()
		if err == nil {
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("monami ha did not come up: %v\n-- ha.log --\n%s", err, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks the home agent for a drain stop (SIGINT: it removes what it
// installed; SIGTERM would leave its data plane forwarding for the next
// start) and kills it after 10 s.
func (p *haProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

func (p *haProcess) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "ha.log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// rssMiB is the home agent's resident set.
func (p *haProcess) rssMiB() float64 { return lab.RSS(p.cmd.Process.Pid) / 1024 }
