package lab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"monami/internal/testenv"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// upLab builds a topology from YAML and registers teardown plus a check
// that nothing is left behind.
func upLab(t *testing.T, yml string) *Lab {
	t.Helper()
	testenv.RequireRoot(t)
	topo, err := Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(topo.Name, "mlt") {
		t.Fatalf("test lab names must start with mlt, got %q", topo.Name)
	}
	// A previous crashed run may have left this lab; clear it.
	if _, err := ReadState(topo.Name); err == nil {
		_ = Teardown(topo.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Up(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Down(); err != nil {
			t.Errorf("down: %v", err)
		}
		assertClean(t, topo)
	})
	return l
}

// assertClean lists what a lab could leave behind and fails on any of it.
func assertClean(t *testing.T, topo *Topology) {
	t.Helper()
	name := topo.Name
	if ents, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), name+"-") {
				t.Errorf("namespace %s left behind", e.Name())
			}
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range links {
		if strings.HasPrefix(ln.Attrs().Name, name+"-") {
			t.Errorf("host interface %s left behind", ln.Attrs().Name)
		}
	}
	if c, err := nftables.New(); err == nil {
		ts, _ := c.ListTables()
		for _, tb := range ts {
			if tb.Name == nftTableName(name) {
				t.Errorf("nftables table %s left behind in root namespace", tb.Name)
			}
		}
	}
	if _, err := os.Stat(StateDir(name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir %s left behind (%v)", StateDir(name), err)
	}
	// Routes and rules in the root namespace touching the lab's prefixes.
	var pfx []netip.Prefix
	for _, l := range topo.Links {
		for _, e := range []End{l.A, l.B} {
			for _, a := range e.Addrs {
				if p, err := netip.ParsePrefix(a); err == nil {
					pfx = append(pfx, p.Masked())
				}
			}
		}
	}
	inLab := func(ip net.IP) bool {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return false
		}
		for _, p := range pfx {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if (r.Dst != nil && inLab(r.Dst.IP)) || inLab(r.Gw) || inLab(r.Src) {
			t.Errorf("route left behind in root namespace: %v", r)
		}
	}
	rules, err := netlink.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if (r.Src != nil && inLab(r.Src.IP)) || (r.Dst != nil && inLab(r.Dst.IP)) {
			t.Errorf("rule left behind in root namespace: %v", r)
		}
	}
	// Processes marked as this lab's.
	marker := []byte(labEnvKey + "=" + name + "\x00")
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), string(marker)) {
			pid := strings.Split(p, "/")[2]
			if st := pidStateStr(pid); st != "Z" {
				t.Errorf("process %s (state %s) of lab %s left running", pid, st, name)
			}
		}
	}
}

func pidStateStr(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "gone"
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return "?"
	}
	return s[i+2 : i+3]
}

// udpEcho runs a UDP echo server in node n on port; it stops at cleanup.
func udpEcho(t *testing.T, n *NodeNS, port int) {
	t.Helper()
	var conn *net.UDPConn
	if err := n.Do(func() error {
		var err error
		conn, err = net.ListenUDP("udp", &net.UDPAddr{Port: port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			conn.WriteToUDP(buf[:k], from)
		}
	}()
}

// probeRTT sends count probes from node n to dst (addr:port) every
// interval and returns the round-trip times of those answered within wait.
func probeRTT(t *testing.T, n *NodeNS, dst string, count int, interval, wait time.Duration) []time.Duration {
	t.Helper()
	var conn *net.UDPConn
	if err := n.Do(func() error {
		ra, err := net.ResolveUDPAddr("udp", dst)
		if err != nil {
			return err
		}
		conn, err = net.DialUDP("udp", nil, ra)
		return err
	}); err != nil {
		t.Logf("probe %s from %s: %v", dst, n.Name(), err) // e.g. no route: nothing answered
		return nil
	}
	defer conn.Close()
	sent := make([]time.Time, count)
	var mu sync.Mutex
	rtts := map[uint32]time.Duration{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			if k < 4 {
				continue
			}
			now := time.Now()
			seq := binary.BigEndian.Uint32(buf)
			mu.Lock()
			if int(seq) < count && rtts[seq] == 0 {
				rtts[seq] = now.Sub(sent[seq])
			}
			mu.Unlock()
		}
	}()
	msg := make([]byte, 64)
	for i := range count {
		binary.BigEndian.PutUint32(msg, uint32(i))
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		conn.Write(msg) // errors (link down) count as lost
		time.Sleep(interval)
	}
	time.Sleep(wait)
	conn.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	var out []time.Duration
	for _, d := range rtts {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// pingRTT sends count ICMPv6 echo requests from node n to dst every
// interval; the kernel of the target answers them (no userspace there) and
// replies are timed with kernel receive timestamps (SO_TIMESTAMPNS), so a
// descheduled test process does not inflate the figures much.
func pingRTT(t *testing.T, n *NodeNS, dst string, count int, interval, wait time.Duration) []time.Duration {
	t.Helper()
	var conn *net.IPConn
	if err := n.Do(func() error {
		c, err := net.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return err
		}
		conn = c.(*net.IPConn)
		return EnableRxTimestamps(conn)
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id := uint16(os.Getpid()) ^ uint16(time.Now().UnixNano())
	to := &net.IPAddr{IP: net.ParseIP(dst)}
	sent := make([]time.Time, count)
	var mu sync.Mutex
	rtts := map[uint16]time.Duration{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf, oob := make([]byte, 1500), make([]byte, 256)
		for {
			k, oobn, _, _, err := conn.ReadMsgIP(buf, oob)
			if err != nil {
				return
			}
			rx, ok := RxTimestamp(oob[:oobn])
			if !ok {
				rx = time.Now()
			}
			if k < 8 || buf[0] != 129 || binary.BigEndian.Uint16(buf[4:]) != id {
				continue
			}
			seq := binary.BigEndian.Uint16(buf[6:])
			mu.Lock()
			if int(seq) < count && rtts[seq] == 0 {
				rtts[seq] = rx.Sub(sent[seq])
			}
			mu.Unlock()
		}
	}()
	msg := make([]byte, 64)
	msg[0] = 128 // echo request; the kernel fills the ICMPv6 checksum
	binary.BigEndian.PutUint16(msg[4:], id)
	for i := range count {
		binary.BigEndian.PutUint16(msg[6:], uint16(i))
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		conn.WriteTo(msg, to)
		time.Sleep(interval)
	}
	time.Sleep(wait)
	conn.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	var out []time.Duration
	for _, d := range rtts {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// oneWay measures one-way delays from node from to node to (same clock:
// both are namespaces of this machine): UDP datagrams carry their send time,
// the receiver takes the kernel receive timestamp.
func oneWay(t *testing.T, from, to *NodeNS, dst string, port, count int, interval time.Duration) []time.Duration {
	t.Helper()
	var rx *net.UDPConn
	if err := to.Do(func() error {
		var err error
		rx, err = net.ListenUDP("udp6", &net.UDPAddr{Port: port})
		if err != nil {
			return err
		}
		return EnableRxTimestamps(rx)
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	var tx *net.UDPConn
	if err := from.Do(func() error {
		var err error
		tx, err = net.DialUDP("udp6", nil, &net.UDPAddr{IP: net.ParseIP(dst), Port: port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	res := make(chan []time.Duration)
	go func() {
		var out []time.Duration
		buf, oob := make([]byte, 64), make([]byte, 128)
		for len(out) < count {
			rx.SetReadDeadline(time.Now().Add(3 * time.Second))
			k, oobn, _, _, err := rx.ReadMsgUDP(buf, oob)
			if err != nil {
				break
			}
			if at, ok := RxTimestamp(oob[:oobn]); ok && k >= 8 {
				out = append(out, at.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(buf)))))
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		res <- out
	}()
	msg := make([]byte, 64)
	for range count {
		binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		tx.Write(msg)
		time.Sleep(interval)
	}
	return <-res
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)/2]
}

func mean(ds []time.Duration) (m, sd time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	var s float64
	for _, d := range ds {
		s += float64(d)
	}
	mu := s / float64(len(ds))
	var v float64
	for _, d := range ds {
		v += (float64(d) - mu) * (float64(d) - mu)
	}
	v /= float64(len(ds))
	return time.Duration(mu), time.Duration(sqrt(v))
}

func sqrt(x float64) float64 {
	if x <= 0 {
		return 0
	}
	z := x
	for range 60 {
		z = (z + x/z) / 2
	}
	return z
}

func within(got, want, rel float64) bool {
	return got >= want*(1-rel) && got <= want*(1+rel)
}

func fmtRate(bps float64) string { return fmt.Sprintf("%.2f Mbit/s", bps/1e6) }
