package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"monami/internal/lab"
)

// Addresses of the demo network without monami (topology.yaml): the mobile
// node's care-of addresses, their access router, and the correspondent.
const (
	flowPort = 5004 // the baseline's TCP flows (5003 is the uplink probe)
)

// accessLink is one of the mobile node's access links.
type accessLink struct {
	ifname, addr, gateway string
	table                 int // the mobile node's routing table for its source address
}

var accessLinks = []accessLink{
	{activeIf, "2001:db8:a::10", "2001:db8:a::1", 101},
	{backupIf, "2001:db8:b::10", "2001:db8:b::1", 102},
}

func linkByName(ifname string) (accessLink, error) {
	for _, a := range accessLinks {
		if a.ifname == ifname {
			return a, nil
		}
	}
	return accessLink{}, fmt.Errorf("no access link %q (want %s or %s)", ifname, activeIf, backupIf)
}

// sourceRouting makes the mobile node send from each care-of address over
// that address's own link (a rule per source address, as any multihomed
// host needs): without it a flow from the lte address would leave by the
// main table's default route, over wlan. undo removes it.
func sourceRouting(ctx context.Context, l *lab.Lab) (undo func(), err error) {
	mn := l.MustNode("mn")
	var cmds [][]string
	undo = func() {
		for i := len(cmds) - 1; i >= 0; i-- {
			c := append([]string{"-6"}, cmds[i]...)
			c[2] = "del"
			_, _ = mn.Exec(context.WithoutCancel(ctx), "ip", c...)
		}
	}
	for _, a := range accessLinks {
		t := strconv.Itoa(a.table)
		for _, c := range [][]string{
			{"route", "add", "default", "via", a.gateway, "dev", a.ifname, "table", t},
			{"rule", "add", "from", a.addr, "lookup", t, "pref", t},
		} {
			if _, err := mn.Exec(ctx, "ip", append([]string{"-6"}, c...)...); err != nil {
				undo()
				return nil, err
			}
			cmds = append(cmds, c)
		}
	}
	return undo, nil
}

// FlowResult is one measured bulk transfer.
type FlowResult struct {
	// Mbps is the goodput: what the receiving application read after the
	// warm-up, per second.
	Mbps float64 `json:"goodput_mbit_s"`
	// Congestion is the sender's congestion control, read from its socket.
	Congestion string `json:"congestion_control"`
	// Subflows counts an MPTCP connection's subflows at the end: the
	// initial one plus MPTCP_INFO's mptcpi_subflows (the additional ones).
	Subflows int `json:"subflows,omitempty"`
	// BytesPerLink is what crossed each mobile node interface in the data's
	// direction (interface counters, all traffic).
	BytesPerLink map[string]uint64 `json:"bytes_per_link"`
}

// flowSpec is a bulk transfer between the mobile node and the
// correspondent with no monami in the path. The mobile node connects (as a
// mobile host does) from local; down means the correspondent sends.
type flowSpec struct {
	local      string // the mobile node's source address
	port       int    // the correspondent's port (0: flowPort)
	down       bool
	mptcp      bool
	congestion string // "" for the namespace's default
	duration   time.Duration
	warmup     time.Duration // excluded from the goodput: slow start
}

// measureFlow runs one transfer and measures it.
func measureFlow(ctx context.Context, l *lab.Lab, f flowSpec) (FlowResult, error) {
	mn, cn := l.MustNode("mn"), l.MustNode("cn")
	port := strconv.Itoa(cmp.Or(f.port, flowPort))
	var ln net.Listener
	lc := net.ListenConfig{}
	lc.SetMultipathTCP(f.mptcp)
	if err := cn.Do(func() (err error) {
		ln, err = lc.Listen(ctx, "tcp6", net.JoinHostPort(correspondent, port))
		return err
	}); err != nil {
		return FlowResult{}, fmt.Errorf("correspondent listen: %w", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()

	var mc net.Conn
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(f.local)}}
	d.SetMultipathTCP(f.mptcp)
	if err := mn.Do(func() (err error) {
		mc, err = d.DialContext(ctx, "tcp6", net.JoinHostPort(correspondent, port))
		return err
	}); err != nil {
		return FlowResult{}, fmt.Errorf("mobile node connect from %s: %w", f.local, err)
	}
	defer mc.Close()
	var cc net.Conn
	select {
	case c, ok := <-accepted:
		if !ok {
			return FlowResult{}, errors.New("correspondent accept failed")
		}
		cc = c
	case <-time.After(5 * time.Second):
		return FlowResult{}, errors.New("correspondent accepted nothing in 5 s")
	}
	defer cc.Close()
	if f.mptcp {
		if ok, err := mc.(*net.TCPConn).MultipathTCP(); !ok {
			return FlowResult{}, fmt.Errorf("the mobile node's connection fell back to plain TCP (is net.mptcp.enabled 1?): %v", err)
		}
	}

	tx, rx := cc, mc
	if !f.down {
		tx, rx = mc, cc
	}
	res := FlowResult{BytesPerLink: map[string]uint64{}}
	if f.congestion != "" {
		if err := setCongestionConn(tx.(*net.TCPConn), f.congestion); err != nil {
			return res, err
		}
	}
	var err error
	if res.Congestion, err = congestionOf(tx.(*net.TCPConn)); err != nil {
		return res, err
	}
	if f.congestion != "" && res.Congestion != f.congestion {
		return res, fmt.Errorf("asked for congestion control %s, the socket uses %s", f.congestion, res.Congestion)
	}

	before, err := linkBytes(l, f.down)
	if err != nil {
		return res, err
	}
	s := &sender{c: tx.(*net.TCPConn), done: make(chan struct{})}
	stop := make(chan struct{})
	t0 := time.Now()
	go s.run(stop)
	// The goodput counts what the transport delivered in order between
	// two samples, each taken right after a read: the bytes read so far
	// plus those still queued (SIOCINQ). A reader the busy machine delays
	// thus moves the samples, not the count.
	var d0, d1 delivery
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 256<<10)
		var total int64
		for {
			n, err := rx.Read(buf)
			total += int64(n)
			if now := time.Since(t0); d1.at == 0 && (d0.at == 0 && now >= f.warmup || now >= f.duration) {
				q, qerr := unreadBytes(rx.(*net.TCPConn))
				if qerr != nil {
					readErr <- qerr
					return
				}
				if d0.at == 0 {
					d0 = delivery{now, total + q}
				} else {
					d1 = delivery{now, total + q}
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				readErr <- err
				return
			}
		}
	}()
	select {
	case <-time.After(f.duration):
	case <-ctx.Done():
	}
	if f.mptcp {
		res.Subflows = mptcpSubflows(mc.(*net.TCPConn))
	}
	close(stop)
	<-s.done
	select {
	case err = <-readErr:
	case <-time.After(10 * time.Second):
		err = errors.New("the receiver did not see the end of the stream in 10 s")
	}
	if err == nil {
		err = s.err
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return res, err
	}
	after, err := linkBytes(l, f.down)
	if err != nil {
		return res, err
	}
	for k, v := range after {
		res.BytesPerLink[k] = v - before[k]
	}
	if d0.at == 0 || d1.at <= d0.at {
		return res, fmt.Errorf("no read after the warm-up (%s) and after the end (%s)", f.warmup, f.duration)
	}
	res.Mbps = float64(d1.bytes-d0.bytes) * 8 / (d1.at - d0.at).Seconds() / 1e6
	return res, nil
}

// delivery is how many bytes the transport had delivered in order at a
// time since the start of a transfer.
type delivery struct {
	at    time.Duration
	bytes int64
}

// unreadBytes is the socket's receive queue not read yet (SIOCINQ; MPTCP
// sockets answer it too).
func unreadBytes(c *net.TCPConn) (int64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var q int
	var qerr error
	if err := rc.Control(func(fd uintptr) { q, qerr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		return 0, err
	}
	if qerr != nil {
		return 0, fmt.Errorf("SIOCINQ: %w", qerr)
	}
	return int64(q), nil
}

// setCongestionConn sets TCP_CONGESTION on a connected socket.
func setCongestionConn(c *net.TCPConn, name string) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	return setCongestion(name)("", "", rc)
}

// mptcpSubflows is 1 + mptcpi_subflows, the first byte of struct
// mptcp_info (getsockopt SOL_MPTCP, MPTCP_INFO; include/uapi/linux/mptcp.h),
// which counts the subflows added to the initial one; 0 when it cannot be
// read.
func mptcpSubflows(c *net.TCPConn) int {
	const solMPTCP, mptcpInfo = 284, 1
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Control(func(fd uintptr) {
		buf := make([]byte, 256)
		if l, err := getsockoptBytes(int(fd), solMPTCP, mptcpInfo, buf); err == nil && l > 0 {
			n = 1 + int(buf[0])
		}
	})
	return n
}

// getsockoptBytes is getsockopt(2) into buf; it returns the length the
// kernel wrote.
func getsockoptBytes(fd, level, opt int, buf []byte) (int, error) {
	l := uint32(len(buf))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return int(l), nil
}

// linkBytes reads the mobile node's access interface counters: received
// bytes for downlink, sent for uplink.
func linkBytes(l *lab.Lab, down bool) (map[string]uint64, error) {
	h, err := l.MustNode("mn").Netlink()
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, a := range accessLinks {
		ln, err := h.LinkByName(a.ifname)
		if err != nil {
			return nil, fmt.Errorf("mobile node %s: %w", a.ifname, err)
		}
		st := ln.Attrs().Statistics
		if st == nil {
			return nil, fmt.Errorf("mobile node %s: no counters", a.ifname)
		}
		if down {
			out[a.ifname] = st.RxBytes
		} else {
			out[a.ifname] = st.TxBytes
		}
	}
	return out, nil
}
