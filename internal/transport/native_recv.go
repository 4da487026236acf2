package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// capture is an AF_PACKET SOCK_DGRAM socket (network-layer packets of every
// interface, whatever the link type, e.g. TUN) with captureFilter attached.
type capture struct {
	f  *os.File
	rc syscall.RawConn
}

// readErrorPause keeps a socket that keeps failing from spinning a core.
const readErrorPause = 10 * time.Millisecond

// captureRcvBuf is the capture socket's receive buffer.
const captureRcvBuf = 8 << 20

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openCapture() (*capture, error) {
	// Protocol 0 until bind: the socket receives nothing before the filter
	// is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("transport: AF_PACKET socket: %w", err)
	}
	fail := func(what string, err error) (*capture, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("transport: AF_PACKET %s: %w", what, err)
	}
	raw, err := bpf.Assemble(captureFilter())
	if err != nil {
		return fail("assemble filter", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		return fail("attach filter", err)
	}
	// A home agent takes bursts of Binding Updates from thousands of
	// mobile nodes (each up to a few hundred octets with bulk
	// registration and flow options): the default buffer (~200 KiB of
	// truesize) overflows, and a lost update costs its sender a 1 s
	// retransmission (RFC 6275 section 11.8). Root may force more.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, captureRcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, captureRcvBuf)
	}
	// Our own transmissions are no business of the receiver.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("PACKET_IGNORE_OUTGOING", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IPV6)}); err != nil {
		return fail("bind", err)
	}
	f := os.NewFile(uintptr(fd), "af_packet")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("transport: AF_PACKET: %w", err)
	}
	return &capture{f: f, rc: rc}, nil
}

func (c *capture) Close() error { return c.f.Close() }

// readCapture delivers the HAO/RH2 packets the nftables rule drops.
// It reads them in batches (recvmmsg, captureBatch at most).
func (n *Native) readCapture() {
	defer n.wg.Done()
	br := newBatchReader()
	for {
		ps, err := n.cap.readBatch(br)
		if err != nil {
			if n.closing() || errors.Is(err, os.ErrClosed) {
				return
			}
			n.log.Warn("AF_PACKET read", "err", err)
			time.Sleep(readErrorPause)
			continue
		}
		for i, p := range ps {
			if p.pkttype != unix.PACKET_HOST {
				continue // another host's frame seen in promiscuous mode
			}
			if p.n > captureSlot {
				n.cnt.malformed.Add(1)
				n.log.Debug("dropped oversized captured packet", "len", p.n)
				continue
			}
			s, ok := n.decodeCaptured(br.packet(i), p.ifindex)
			if ok {
				deliver(n.in, n.done, &n.cnt, s)
			}
		}
	}
}

// decodeCaptured turns a captured packet into a Signal, counting and
// logging why not when it cannot.
func (n *Native) decodeCaptured(b []byte, ifindex int) (Signal, bool) {
	p, err := parsePacket(b)
	if err != nil {
		n.cnt.malformed.Add(1)
		n.log.Debug("dropped malformed MH packet", "if", ifindex, "err", err)
		return Signal{}, false
	}
	if !p.DstOpts && p.Ext != ExtRH2 {
		// Plain MH (the filter walks fewer headers than parsePacket):
		// the raw MH socket has it.
		return Signal{}, false
	}
	if !n.local.isLocal(p.Dst) {
		n.cnt.notLocal.Add(1)
		return Signal{}, false
	}
	s := Signal{Via: ViaMH, Src: p.Src, Dst: p.Dst, Ext: p.Ext, HomeAddress: p.HomeAddress,
		IfIndex: ifindex, HopLimit: p.HopLimit}
	csrc, cdst := s.ChecksumAddrs()
	if !verifyMH(csrc, cdst, p.MH) {
		n.cnt.badChecksum.Add(1)
		n.log.Debug("dropped MH with bad checksum", "src", p.Src, "dst", p.Dst, "ext", p.Ext, "hoa", p.HomeAddress)
		return Signal{}, false
	}
	s.MH = append([]byte(nil), p.MH...)
	return s, true
}

// readMH delivers plain MH packets; the kernel verified their checksum.
func (n *Native) readMH() {
	defer n.wg.Done()
	buf := make([]byte, 65536)
	for {
		sz, cm, src, err := n.mh.ReadFrom(buf)
		if err != nil {
			if n.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			n.log.Warn("MH socket read", "err", err)
			time.Sleep(readErrorPause)
			continue
		}
		ip, _ := src.(*net.IPAddr)
		var s Signal
		s.Via = ViaMH
		if ip != nil {
			s.Src, _ = netip.AddrFromSlice(ip.IP)
		}
		if cm != nil {
			s.Dst, _ = netip.AddrFromSlice(cm.Dst)
			s.IfIndex = cm.IfIndex
			s.HopLimit = uint8(cm.HopLimit)
		}
		if err := checkReceivedMH(buf[:sz]); err != nil || !s.Src.Is6() || !s.Dst.Is6() {
			n.cnt.malformed.Add(1)
			n.log.Debug("dropped malformed MH", "src", s.Src, "err", err)
			continue
		}
		// The kernel verified the checksum (IPV6_CHECKSUM); checking again
		// costs little and covers paths that mark it unnecessary.
		if !verifyMH(s.Src, s.Dst, buf[:sz]) {
			n.cnt.badChecksum.Add(1)
			n.log.Debug("dropped MH with bad checksum", "src", s.Src, "dst", s.Dst)
			continue
		}
		s.MH = append([]byte(nil), buf[:sz]...)
		deliver(n.in, n.done, &n.cnt, s)
	}
}

func (n *Native) closing() bool {
	select {
	case <-n.done:
		return true
	default:
		return false
	}
}
