package capture

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"monami/internal/testenv"
	"monami/wire"
)

// TestLiveCaptureFromKernel sends Binding Updates through a real raw
// Mobility Header socket in a fresh network namespace, lets the kernel
// fill in the checksum (IPV6_CHECKSUM), captures them with tcpdump on lo
// (Ethernet link type) and on "any" (Linux cooked), and decodes the files.
func TestLiveCaptureFromKernel(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTool(t, "tcpdump")
	name := fmt.Sprintf("flow-cap-%d", os.Getpid())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name) // also moves this thread into it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close(); _ = netns.DeleteNamed(name) })
	sock, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW, wire.IPProtoMH)
	if err != nil {
		_ = netns.Set(orig)
		t.Fatal(err)
	}
	defer unix.Close(sock)
	if err := netns.Set(orig); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	// The kernel computes the checksum at offset 4 of what we send.
	if err := unix.SetsockoptInt(sock, unix.IPPROTO_IPV6, unix.IPV6_CHECKSUM, wire.ChecksumOffset); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	files := map[string]string{"lo": filepath.Join(dir, "lo.pcap"), "any": filepath.Join(dir, "any.pcap")}
	var procs []*exec.Cmd
	for ifname, file := range files {
		// --immediate-mode: without it packets wait in the capture ring
		// and an interrupted tcpdump writes none of them.
		cmd := exec.Command("ip", "netns", "exec", name, "tcpdump", "--immediate-mode", "-i", ifname, "-U", "-n", "-w", file)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		// Wait until tcpdump says it is listening.
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if strings.Contains(sc.Text(), "listening on") {
					close(ready)
					break
				}
			}
			_, _ = io.Copy(io.Discard, stderr)
		}()
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatalf("tcpdump on %s did not start", ifname)
		}
	}

	lo := netip.IPv6Loopback()
	const n = 3
	for i := range n {
		bu := wire.BindingUpdate{Sequence: uint16(100 + i), Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 10, Options: []wire.Option{
			wire.BindingIdentifier{BindingID: 1, Priority: 1, CareOfAddress: netip.MustParseAddr("2001:db8:a::1")},
			wire.FlowIdentification{FID: 1, Priority: 1, SubOptions: []wire.FlowSubOption{
				wire.BindingReferenceSubOption{BIDs: []uint16{1}},
				wire.TrafficSelectorSubOption{Selector: wire.IPv6TrafficSelector{Flags: wire.IPv6TSStartDestinationPort, StartDestinationPort: 443}},
			}},
		}}
		mh, err := wire.Marshal(bu, netip.Addr{}, netip.Addr{}) // checksum left to the kernel
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Sendto(sock, mh, 0, &unix.SockaddrInet6{Addr: lo.As16()}); err != nil {
			t.Fatalf("sendto: %v", err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let tcpdump write (-U flushes per packet)
	for _, p := range procs {
		_ = p.Process.Signal(syscall.SIGINT)
		_ = p.Wait()
	}

	for ifname, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", ifname, err)
		}
		var got []Record
		var lt LinkType
		for {
			p, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", ifname, err)
			}
			lt = p.LinkType
			got = append(got, Walk(p)...)
		}
		f.Close()
		if len(got) < n {
			t.Fatalf("%s (%v): %d records, want at least %d", ifname, lt, len(got), n)
		}
		for i, rec := range got {
			bu, ok := rec.Message.(wire.BindingUpdate)
			if rec.Err != nil || !ok || rec.Checksum != ChecksumOK || rec.Src != lo {
				t.Fatalf("%s (%v) record %d: %+v", ifname, lt, i, rec)
			}
			if fid, ok := bu.Options[1].(wire.FlowIdentification); !ok || fid.TrafficSelector() == nil {
				t.Fatalf("%s record %d: options %#v", ifname, i, bu.Options)
			}
		}
		t.Logf("%s: link type %v, %d Binding Updates, checksums verified", ifname, lt, len(got))
	}
}
