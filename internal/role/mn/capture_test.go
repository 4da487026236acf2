package mn

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"monami/internal/lab"
)

type capture struct {
	cmd    *exec.Cmd
	file   string
	stderr *lockedBuffer
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startCapture runs tcpdump on a node's interface until stop.
func startCapture(t testing.TB, n *lab.NodeNS, ifname string) *capture {
	t.Helper()
	c := &capture{file: filepath.Join(t.TempDir(), "signalling.pcap")}
	c.cmd = n.Command(context.Background(), "tcpdump", "-i", ifname, "--immediate-mode", "-U", "-n", "-w", c.file, "ip6")
	stderr := &lockedBuffer{}
	c.cmd.Stderr, c.stderr = stderr, stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	eventually(t, 5*time.Second, "tcpdump listening", func() error {
		if strings.Contains(stderr.String(), "listening on") {
			return nil
		}
		return errors.New(stderr.String())
	})
	return c
}

func (c *capture) stop(t testing.TB) string {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	c.cmd.Process.Signal(os.Interrupt)
	c.cmd.Wait()
	if st, err := os.Stat(c.file); err != nil || st.Size() <= 24 {
		t.Fatalf("capture %s: %v (%v)", c.file, err, c.stderr.String())
	}
	return c.file
}

// checkSignalling runs tshark on a capture of the registration: no frame
// may be malformed or carry an expert warning or error; there must be a
// Binding Update with BIDs 1 and 2, the MN Identifier (NAI), a replay
// protection timestamp and the MN-HA authentication option with SPI 256,
// and a Binding Acknowledgement with the authentication option.
func checkSignalling(t testing.TB, file string) {
	t.Helper()
	tshark := func(args ...string) string {
		// RFC 5555 signalling: the UDP payload is the IPv6 packet.
		cmd := exec.Command("tshark", append([]string{"-n", "-r", file, "-d", "udp.port==4191,ipv6"}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	if bad := strings.TrimSpace(tshark("-Y", `_ws.malformed || _ws.expert.severity >= "Warning"`)); bad != "" {
		t.Fatalf("tshark flags frames:\n%s\n%s", bad, tshark("-V"))
	}
	var bu, ba bool
	for _, l := range strings.Split(tshark("-Y", "mip6.mhtype", "-T", "fields", "-e", "mip6.mhtype",
		"-e", "mip6.bi.bid", "-e", "mip6.mnid.subtype", "-e", "mip6.mseg_id.timestamp", "-e", "mip6.auth.mobility_spi"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			continue
		}
		switch {
		case f[0] == "5" && f[1] == "1,2" && f[2] == "1" && f[3] != "" && f[4] == "256":
			bu = true
		case f[0] == "6" && f[4] == "256":
			ba = true
		}
	}
	if !bu || !ba {
		t.Errorf("capture: signed bulk BU %v, signed BA %v:\n%s", bu, ba, tshark("-V", "-Y", "mip6.mhtype"))
	}
}
