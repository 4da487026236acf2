package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// rtRoute is an IPv6 route as this package installs it. vishvananda/netlink
// cannot express a source prefix (RTA_SRC, an IPv6 subtree route), which a
// mobile node's reverse tunnel needs, so the messages are built here.
type rtRoute struct {
	table int
	dst   netip.Prefix
	src   netip.Prefix // optional
	oif   int
	gw    netip.Addr    // optional next hop
	encap netlink.Encap // optional lightweight tunnel
	mtu   int           // optional RTAX_MTU
}

func (r rtRoute) String() string {
	s := fmt.Sprintf("%v table %d", r.dst, r.table)
	if r.src.IsValid() {
		s += " from " + r.src.String()
	}
	return s
}

func (r rtRoute) msg(cmd, flags int) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(cmd, flags|unix.NLM_F_ACK)
	m := &nl.RtMsg{RtMsg: unix.RtMsg{
		Family:   unix.AF_INET6,
		Dst_len:  uint8(r.dst.Bits()),
		Protocol: unix.RTPROT_STATIC,
		Scope:    unix.RT_SCOPE_UNIVERSE,
		Type:     unix.RTN_UNICAST,
	}}
	if r.table < 256 {
		m.Table = uint8(r.table)
	} else {
		m.Table = unix.RT_TABLE_UNSPEC
	}
	if cmd == unix.RTM_DELROUTE {
		m.Scope = unix.RT_SCOPE_NOWHERE
	}
	req.AddData(m)
	dst := r.dst.Masked().Addr().As16()
	req.AddData(nl.NewRtAttr(unix.RTA_DST, dst[:]))
	if r.src.IsValid() {
		m.Src_len = uint8(r.src.Bits())
		src := r.src.Masked().Addr().As16()
		req.AddData(nl.NewRtAttr(unix.RTA_SRC, src[:]))
	}
	tb := make([]byte, 4)
	binary.NativeEndian.PutUint32(tb, uint32(r.table))
	req.AddData(nl.NewRtAttr(unix.RTA_TABLE, tb))
	if cmd == unix.RTM_DELROUTE {
		return req
	}
	if r.oif != 0 {
		b := make([]byte, 4)
		binary.NativeEndian.PutUint32(b, uint32(r.oif))
		req.AddData(nl.NewRtAttr(unix.RTA_OIF, b))
	}
	if r.gw.IsValid() {
		gw := r.gw.As16()
		req.AddData(nl.NewRtAttr(unix.RTA_GATEWAY, gw[:]))
	}
	if r.encap != nil {
		b := make([]byte, 2)
		binary.NativeEndian.PutUint16(b, uint16(r.encap.Type()))
		req.AddData(nl.NewRtAttr(unix.RTA_ENCAP_TYPE, b))
		enc, err := r.encap.Encode()
		if err == nil {
			req.AddData(nl.NewRtAttr(unix.RTA_ENCAP|unix.NLA_F_NESTED, enc))
		}
	}
	if r.mtu > 0 {
		// Locked: IPv6 forwarding uses the route MTU only when it is locked
		// (ip6_dst_mtu_maybe_forward), otherwise the device's.
		metrics := nl.NewRtAttr(unix.RTA_METRICS, nil)
		lock := make([]byte, 4)
		binary.NativeEndian.PutUint32(lock, 1<<unix.RTAX_MTU)
		metrics.AddRtAttr(unix.RTAX_LOCK, lock)
		b := make([]byte, 4)
		binary.NativeEndian.PutUint32(b, uint32(r.mtu))
		metrics.AddRtAttr(unix.RTAX_MTU, b)
		req.AddData(metrics)
	}
	return req
}

// replaceRoute installs r (replacing a route with the same dst/src/table)
// through a socket of its own in the calling thread's namespace.
func replaceRoute(r rtRoute) error { return (*routeSock)(nil).replace(r) }

// deleteRoute removes r, likewise.
func deleteRoute(r rtRoute) error { return (*routeSock)(nil).delete(r) }

// routeSock is a route netlink socket opened once in a data plane's
// namespace: a route change through it costs one message and its
// acknowledgement, with no namespace switch and no socket of its own.
type routeSock struct{ sh *nl.SocketHandle }

func openRouteSock(ns netns.NsHandle) (*routeSock, error) {
	var s *nl.NetlinkSocket
	err := inNetNS(ns, func() error {
		var err error
		s, err = nl.Subscribe(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("route socket: %w", err)
	}
	// Bounded waits: a kernel that stops answering fails the change
	// instead of hanging the daemon.
	err = s.SetSendTimeout(&nl.SocketTimeoutTv)
	if err == nil {
		err = s.SetReceiveTimeout(&nl.SocketTimeoutTv)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("route socket timeouts: %w", err)
	}
	return &routeSock{sh: &nl.SocketHandle{Socket: s}}, nil
}

func (s *routeSock) exec(req *nl.NetlinkRequest) error {
	if s != nil {
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: s.sh}
	}
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// replace installs r, replacing a route with the same dst/src/table.
func (s *routeSock) replace(r rtRoute) error {
	if r.encap != nil {
		if _, err := r.encap.Encode(); err != nil {
			return fmt.Errorf("route %v: encode encap: %w", r, err)
		}
	}
	err := s.exec(r.msg(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE))
	// A seg6 route's state comes from the kernel's atomic per-CPU pool,
	// which a burst of additions empties before its worker refills it
	// ("percpu: atomic alloc failed"): ENOMEM then passes in milliseconds.
	for wait := time.Millisecond; errors.Is(err, unix.ENOMEM) && wait <= 64*time.Millisecond; wait *= 2 {
		time.Sleep(wait)
		err = s.exec(r.msg(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE))
	}
	if err != nil {
		return fmt.Errorf("route replace %v: %w", r, err)
	}
	return nil
}

// delete removes r; a route that is already gone is not an error. The
// message names protocol "static", so the kernel (ip6_route_del) never
// takes one of its own routes (protocol "kernel") in the local table for
// ours; replace cannot replace them either (metric 0, ours 1024).
func (s *routeSock) delete(r rtRoute) error {
	if err := s.exec(r.msg(unix.RTM_DELROUTE, 0)); err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("route delete %v: %w", r, err)
	}
	return nil
}

func (s *routeSock) close() {
	if s != nil {
		s.sh.Close()
	}
}

// equal reports whether installing o over r would change nothing.
func (r rtRoute) equal(o rtRoute) bool {
	return r.table == o.table && r.dst == o.dst && r.src == o.src && r.oif == o.oif && r.gw == o.gw &&
		r.mtu == o.mtu && r.encap == o.encap
}

// routeRule is the policy rule "from all lookup table" at priority pref.
func routeRule(table, pref int) *netlink.Rule {
	r := netlink.NewRule()
	r.Family = unix.AF_INET6
	r.Table = table
	r.Priority = pref
	return r
}

// linkByAddr finds the interface holding addr.
func linkByAddr(h *netlink.Handle, addr netip.Addr) (netlink.Link, error) {
	family := unix.AF_INET6
	if addr.Is4() {
		family = unix.AF_INET // an IPv4 care-of address (RFC 5555)
	}
	addrs, err := h.AddrList(nil, family)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
			return h.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("address %v is not assigned to any interface: %w", addr, ErrNotFound)
}

// linkCache remembers linkByAddr's answers for a short while: a home
// agent adds two routes or endpoints per registration, all from the same
// few local addresses, and an address dump each would cost more than the
// change itself. Callers serialise access (the data planes' mutex).
type linkCache struct {
	h   *netlink.Handle
	m   map[netip.Addr]cachedLink
	now func() time.Time
}

type cachedLink struct {
	link netlink.Link
	at   time.Time
}

// linkCacheTTL bounds how long a moved address or changed MTU goes
// unnoticed by new routes.
const linkCacheTTL = time.Second

func newLinkCache(h *netlink.Handle) *linkCache {
	return &linkCache{h: h, m: map[netip.Addr]cachedLink{}, now: time.Now}
}

func (c *linkCache) byAddr(a netip.Addr) (netlink.Link, error) {
	now := c.now()
	if e, ok := c.m[a]; ok && now.Sub(e.at) < linkCacheTTL {
		return e.link, nil
	}
	l, err := linkByAddr(c.h, a)
	if err != nil {
		delete(c.m, a)
		return nil, err
	}
	c.m[a] = cachedLink{l, now}
	return l, nil
}

func netInterfaceByName(name string) (int, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, err
	}
	return l.Attrs().Index, nil
}

// execBatch sends reqs in one sendmsg and returns each one's error (nil
// when acknowledged): the kernel handles the messages in order, and the
// batch costs one system call and one wake-up instead of one each.
func (s *routeSock) execBatch(reqs []*nl.NetlinkRequest) []error {
	errs := make([]error, 0, len(reqs))
	for len(reqs) > 0 {
		n := min(len(reqs), maxBatchMessages)
		errs = append(errs, s.execChunk(reqs[:n])...)
		reqs = reqs[n:]
	}
	return errs
}

// maxBatchMessages keeps a chunk's acknowledgements well within the
// socket's receive buffer.
const maxBatchMessages = 128

func (s *routeSock) execChunk(reqs []*nl.NetlinkRequest) []error {
	errs := make([]error, len(reqs))
	if s == nil {
		for i, r := range reqs {
			_, errs[i] = r.Execute(unix.NETLINK_ROUTE, 0)
		}
		return errs
	}
	sock := s.sh.Socket
	sock.Lock()
	defer sock.Unlock()
	bySeq := make(map[uint32]int, len(reqs))
	var buf []byte
	for i, r := range reqs {
		r.Seq = atomic.AddUint32(&s.sh.Seq, 1)
		bySeq[r.Seq] = i
		buf = append(buf, r.Serialize()...)
	}
	if err := unix.Sendto(sock.GetFd(), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("netlink send: %w", err)
		}
		return errs
	}
	for left := len(reqs); left > 0; {
		msgs, _, err := sock.Receive()
		if err != nil {
			for seq, i := range bySeq {
				errs[i] = fmt.Errorf("netlink receive: %w", err)
				delete(bySeq, seq)
			}
			return errs
		}
		for _, m := range msgs {
			i, ok := bySeq[m.Header.Seq]
			if !ok || m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if errno := int32(binary.NativeEndian.Uint32(m.Data[:4])); errno != 0 {
				errs[i] = syscall.Errno(-errno)
			}
			delete(bySeq, m.Header.Seq)
			left--
		}
	}
	return errs
}
