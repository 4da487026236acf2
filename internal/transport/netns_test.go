package transport

// Network namespace plumbing for the root tests: two namespaces "mtr…mn"
// and "mtr…ha" joined by a veth pair.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"monami/internal/testenv"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

type testNS struct {
	name string
	h    netns.NsHandle
}

// do runs fn with the calling goroutine's OS thread in the namespace.
func (n *testNS) do(t testing.TB, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("netns get: %v", err)
	}
	if err := netns.Set(n.h); err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatalf("netns set %s: %v", n.name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: the runtime discards it.
			panic(fmt.Sprintf("cannot return to original namespace: %v", err))
		}
		orig.Close()
		runtime.UnlockOSThread()
	}()
	fn()
}

// exec runs a command in the namespace and returns its stdout.
func (n *testNS) exec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.name}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s: %v: %v %s", n.name, args, err, stderr)
	}
	return string(out)
}

func newNS(t testing.TB, name string) *testNS {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name) // switches this thread into it
	if serr := netns.Set(orig); serr != nil {
		panic(serr)
	}
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	n := &testNS{name: name, h: h}
	t.Cleanup(func() {
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	return n
}

// pair is an MN and an HA namespace joined by a veth.
type pair struct {
	mn, ha           *testNS
	mnIf, haIf       string
	mnIndex, haIndex int
	coa, ha6, hoa    netip.Addr
	mnV4, haV4       netip.Addr
}

func newPair(t testing.TB) *pair { t.Helper(); return newPairTagged(t, newTag()) }

// newPairTagged is newPair with namespaces and links named after tag.
func newPairTagged(t testing.TB, tag string) *pair {
	t.Helper()
	testenv.RequireRoot(t)
	p := &pair{
		mn: newNS(t, tag+"mn"), ha: newNS(t, tag+"ha"),
		mnIf: tag + "m", haIf: tag + "h",
		coa:  netip.MustParseAddr("2001:db8:c0a::2"),
		ha6:  netip.MustParseAddr("2001:db8:c0a::1"),
		hoa:  netip.MustParseAddr("2001:db8:40e::100"),
		mnV4: netip.MustParseAddr("192.0.2.2"),
		haV4: netip.MustParseAddr("192.0.2.1"),
	}
	p.mnIndex, p.haIndex = veth(t, p.mn, p.ha, p.mnIf, p.haIf,
		[]netip.Prefix{netip.PrefixFrom(p.coa, 64), netip.PrefixFrom(p.mnV4, 24)},
		[]netip.Prefix{netip.PrefixFrom(p.ha6, 64), netip.PrefixFrom(p.haV4, 24)})
	return p
}

// veth joins namespaces a and b with a veth pair, gives the ends their
// addresses (IPv6 without DAD), brings them and lo up and waits for the
// link-local addresses. It returns the interface indexes.
func veth(t testing.TB, a, b *testNS, nameA, nameB string, addrA, addrB []netip.Prefix) (int, int) {
	t.Helper()
	ha, err := netlink.NewHandleAt(a.h)
	if err != nil {
		t.Fatal(err)
	}
	defer ha.Close()
	hb, err := netlink.NewHandleAt(b.h)
	if err != nil {
		t.Fatal(err)
	}
	defer hb.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: nameA}, PeerName: nameB,
		PeerNamespace: netlink.NsFd(b.h)}
	if err := ha.LinkAdd(v); err != nil {
		t.Fatalf("veth %s-%s: %v", nameA, nameB, err)
	}
	setup := func(h *netlink.Handle, ifname string, prefixes []netip.Prefix) int {
		l, err := h.LinkByName(ifname)
		if err != nil {
			t.Fatal(err)
		}
		lo, err := h.LinkByName("lo")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range prefixes {
			addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
			if p.Addr().Is6() {
				addr.Flags = unix.IFA_F_NODAD
			}
			if err := h.AddrAdd(l, addr); err != nil {
				t.Fatalf("addr %v on %s: %v", p, ifname, err)
			}
		}
		for _, x := range []netlink.Link{lo, l} {
			if err := h.LinkSetUp(x); err != nil {
				t.Fatal(err)
			}
		}
		return l.Attrs().Index
	}
	ia, ib := setup(ha, nameA, addrA), setup(hb, nameB, addrB)
	waitLinkLocal(t, ha, nameA)
	waitLinkLocal(t, hb, nameB)
	return ia, ib
}

func newTag() string {
	id := make([]byte, 2)
	rand.Read(id)
	return "mtr" + hex.EncodeToString(id)
}

func waitLinkLocal(t testing.TB, h *netlink.Handle, ifname string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		l, err := h.LinkByName(ifname)
		if err != nil {
			t.Fatal(err)
		}
		addrs, _ := h.AddrList(l, netlink.FAMILY_V6)
		for _, a := range addrs {
			if a.IP.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no usable link-local address", ifname)
}

// snmp6 returns one counter of /proc/net/snmp6 in the namespace.
func (n *testNS) snmp6(t testing.TB, key string) uint64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(n.exec(t, "cat", "/proc/net/snmp6")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == key {
			v, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("%s: no %s in /proc/net/snmp6", n.name, key)
	return 0
}

// countLines counts the socket entries (lines after the header) in a
// /proc/net file of the namespace.
func (n *testNS) countSockets(t testing.TB, file string) int {
	t.Helper()
	out := strings.TrimSpace(n.exec(t, "cat", "/proc/net/"+file))
	return strings.Count(out, "\n") // header line not counted
}

// capture runs tcpdump on an interface of the namespace until cleanup or
// stop; stop returns the pcap file name.
type tcpdump struct {
	cmd    *exec.Cmd
	file   string
	done   bool
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) WriteString(x string) {
	s.mu.Lock()
	s.b.WriteString(x)
	s.mu.Unlock()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (n *testNS) tcpdump(t testing.TB, ifname string) *tcpdump {
	t.Helper()
	file := t.TempDir() + "/capture.pcap"
	cmd := exec.Command("ip", "netns", "exec", n.name, "tcpdump", "-i", ifname, "-n", "-U", "--immediate-mode", "-w", file)
	stderr := &syncBuffer{}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	pw.Close()
	d := &tcpdump{cmd: cmd, file: file, stderr: stderr}
	t.Cleanup(func() { d.stop(t) })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		closed := false
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if !closed && strings.Contains(sc.Text(), "listening on") {
				close(ready)
				closed = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("tcpdump did not start: %s", stderr.String())
	}
	return d
}

func (d *tcpdump) stop(t testing.TB) string {
	if d.done {
		return d.file
	}
	d.done = true
	// Only the process we started, by its id.
	_ = d.cmd.Process.Signal(unix.SIGINT)
	ch := make(chan error, 1)
	go func() { ch <- d.cmd.Wait() }()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		_ = d.cmd.Process.Kill()
		<-ch
		t.Logf("tcpdump did not stop on SIGINT: %s", d.stderr.String())
	}
	if st, err := os.Stat(d.file); err != nil || st.Size() <= 24 {
		t.Logf("tcpdump wrote nothing (%v): %s", err, d.stderr.String())
	}
	return d.file
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
