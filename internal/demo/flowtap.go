package demo

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"monami/internal/lab"

	"golang.org/x/sys/unix"
)

// flowTap captures, on one mobile node access interface, the tunnelled
// packets (both directions) whose inner packet belongs to a watched flow
// (classify names it, "" for other traffic): where each flow travels, with
// kernel timestamps (SO_TIMESTAMPNS).
type flowTap struct {
	ifname   string
	fd       int
	classify func(inner []byte) string
	// linkOf, for an entry tap (openEntryTap), names the access link a
	// downlink packet is headed for by its outer destination.
	linkOf func(outerDst []byte) string
	mu     sync.Mutex
	pkts   []tapPacket
	done   chan struct{}
}

// openFlowTap must run inside the mobile node's namespace.
func openFlowTap(ifname string, classify func(inner []byte) string) (*flowTap, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("flow tap: %w", err)
	}
	// SOCK_RAW: an outgoing packet whose outer header a BPF program
	// pushed may keep a stale network header offset, which SOCK_DGRAM
	// would start from; the Ethernet header is always right. ETH_P_ALL:
	// only such taps see outgoing packets (dev_queue_xmit_nit).
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("flow tap %s: %w", ifname, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index}); err != nil {
		return nil, fmt.Errorf("flow tap %s: %w", ifname, err)
	}
	tv := unix.Timeval{Usec: 100_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return nil, fmt.Errorf("flow tap %s: SO_TIMESTAMPNS: %w", ifname, err)
	}
	ok = true
	return &flowTap{ifname: ifname, fd: fd, classify: classify, done: make(chan struct{})}, nil
}

// openEntryTap is a flow tap on the access router's home-side interface:
// the downlink packets the home agent sends, each named by the access
// link its outer destination (a care-of address) is on. It must run in
// the access router's namespace.
func openEntryTap(ifname string, classify func(inner []byte) string) (*flowTap, error) {
	t, err := openFlowTap(ifname, classify)
	if err != nil {
		return nil, err
	}
	byAddr := map[string]string{} // care-of address (16 octets) -> link
	for _, a := range accessLinks {
		byAddr[string(net.ParseIP(a.addr).To16())] = a.ifname
	}
	t.linkOf = func(dst []byte) string { return byAddr[string(dst)] }
	return t, nil
}

func (t *flowTap) run(stop <-chan struct{}) {
	defer close(t.done)
	readStamped(t.fd, 176, stop, func(frame []byte, ll *unix.SockaddrLinklayer, at time.Time) {
		if len(frame) < 14 || binary.BigEndian.Uint16(frame[12:]) != unix.ETH_P_IPV6 {
			return
		}
		inner := innerPacket(frame[14:])
		if inner == nil {
			return
		}
		flow := t.classify(inner)
		if flow == "" {
			return
		}
		p := tapPacket{at: at, flow: flow, link: t.ifname, up: ll.Pkttype == unix.PACKET_OUTGOING}
		if t.linkOf != nil {
			if ll.Pkttype == unix.PACKET_OUTGOING {
				return
			}
			p.link, p.entry = t.linkOf(frame[14+24:14+40]), true
		}
		t.mu.Lock()
		t.pkts = append(t.pkts, p)
		t.mu.Unlock()
	})
}

// readStamped reads an AF_PACKET socket (with SO_TIMESTAMPNS and a
// receive timeout) until stop closes, handing each packet (its first
// bufLen octets) to handle with its link-layer address and kernel time.
func readStamped(fd, bufLen int, stop <-chan struct{}, handle func(pkt []byte, ll *unix.SockaddrLinklayer, at time.Time)) {
	buf := make([]byte, bufLen)
	oob := make([]byte, 128)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, unix.MSG_TRUNC)
		if err != nil {
			continue // timeout: look at stop again
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if !ok {
			continue
		}
		at, ok := lab.RxTimestamp(oob[:oobn])
		if !ok {
			at = time.Now()
		}
		handle(buf[:min(n, len(buf))], ll, at)
	}
}

func (t *flowTap) close() []tapPacket {
	<-t.done
	unix.Close(t.fd)
	return t.pkts
}

// innerPacket returns the inner IPv6 packet of a tunnelled one: after the
// outer header for next header 41, after the UDP header too for RFC 5555
// encapsulation (port 4191); nil for anything else.
func innerPacket(p []byte) []byte {
	if !tunnelled(p) {
		return nil
	}
	if off, ok := ipv4UDP4191(p); ok {
		return p[off:]
	}
	if p[6] == 41 {
		return p[40:]
	}
	if len(p) < 48 {
		return nil
	}
	return p[48:]
}

// byPort names inner IPv6 packets of protocol proto (6 or 17) by a port
// they use as source or destination (ports maps port to flow name): the
// scenarios' flows use the same port number at both ends.
func byPort(proto byte, ports map[uint16]string) func([]byte) string {
	return func(in []byte) string {
		if len(in) < 44 || in[0]>>4 != 6 || in[6] != proto {
			return ""
		}
		if f, ok := ports[binary.BigEndian.Uint16(in[40:])]; ok {
			return f
		}
		return ports[binary.BigEndian.Uint16(in[42:])]
	}
}

// runTaps starts taps; the returned stop ends them and returns what they
// captured, in tap order.
func runTaps(taps []*flowTap) (stop func() []tapPacket) {
	done := make(chan struct{})
	for _, t := range taps {
		go t.run(done)
	}
	return func() []tapPacket {
		close(done)
		var pkts []tapPacket
		for _, t := range taps {
			pkts = append(pkts, t.close()...)
		}
		return pkts
	}
}
