package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw next-header-41 path without golang.org/x/net's batch wrappers:
// they pack a fresh mmsghdr array and parse (and allocate) a net.Addr per
// message on every call. Here the headers, iovecs and socket addresses are
// built once per socket and only their lengths are reset.
//
// Sending uses its own IPPROTO_RAW socket (IPV6_HDRINCL is implied, Linux
// inet6_create): the forwarder writes the outer IPv6 header (RFC 2473
// section 3.1) into the headroom in front of the inner packet, and the kernel
// takes the packet as it is (rawv6_send_hdrinc: one copy, no checksumming
// copy, no ip6_append_data). An IPPROTO_RAW socket receives nothing, so it
// adds no clone per received packet either.

// mmsghdr is struct mmsghdr (x/sys/unix has no type for it).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// sendOffset is where the TUN device writes packets in the send loop's
// buffers: the TUN headroom plus room for the outer IPv6 header.
const sendOffset = tunOffset + ipv6HeaderLen

// outerHopLimit is the outer header's hop limit (the kernel's default
// for the raw socket this replaces).
const outerHopLimit = 64

// rawSender sends whole outer packets on an IPPROTO_RAW socket bound to
// the tunnel's local address (so source-address policy rules pick the
// egress, as for the bound receive socket).
type rawSender struct {
	local [16]byte
	f     *os.File
	rc    syscall.RawConn
	msgs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	pend  [][]byte // outer packets waiting for flush, send loop only
}

func openRawSender(local netip.Addr) (*rawSender, error) {
	if local.Zone() != "" || !local.Is6() || local.Is4In6() {
		return nil, fmt.Errorf("raw sender: unsupported local address %v", local)
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("raw sender socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet6{Addr: local.As16()}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("raw sender bind %v: %w", local, err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBufBytes)
	// A blocking descriptor: os.File then keeps it out of the netpoller, and
	// Close defers the close(2) until a running sendmmsg returns.
	f := os.NewFile(uintptr(fd), "nh41-send")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawSender{local: local.As16(), f: f, rc: rc}, nil
}

func (r *rawSender) close() { r.f.Close() }

// queue writes the outer header in front of the inner packet in buf
// (buf[:ipv6HeaderLen] is headroom) and queues it.
func (r *rawSender) queue(buf []byte, remote netip.Addr) {
	h := buf[:ipv6HeaderLen]
	inner := buf[ipv6HeaderLen:]
	// RFC 2473 section 6.5 leaves the tunnel's traffic class to the entry
	// point (0, as before); the flow label is the inner packet's, so the
	// outer packets of one flow keep one label (RFC 6437 section 3).
	fl := binary.BigEndian.Uint32(inner[0:4]) & 0xfffff
	binary.BigEndian.PutUint32(h[0:4], 6<<28|fl)
	binary.BigEndian.PutUint16(h[4:6], uint16(len(inner)))
	h[6] = protoIPv6
	h[7] = outerHopLimit
	copy(h[8:24], r.local[:])
	rem := remote.As16()
	copy(h[24:40], rem[:])
	r.pend = append(r.pend, buf)
}

// flush sends the queued packets with as few sendmmsg calls as possible.
// It returns the packets and inner bytes sent and the number dropped.
func (r *rawSender) flush() (pkts, bytes, dropped int, closed bool) {
	ms := r.pend
	n := len(ms)
	if cap(r.msgs) < n {
		r.msgs = make([]mmsghdr, n)
		r.iovs = make([]unix.Iovec, n)
		r.names = make([]unix.RawSockaddrInet6, n)
	}
	msgs, iovs, names := r.msgs[:n], r.iovs[:n], r.names[:n]
	for i, b := range ms {
		names[i] = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: [16]byte(b[24:40])}
		iovs[i].Base = &b[0]
		iovs[i].SetLen(len(b))
		msgs[i] = mmsghdr{hdr: unix.Msghdr{
			Name:    (*byte)(unsafe.Pointer(&names[i])),
			Namelen: unix.SizeofSockaddrInet6,
			Iov:     &iovs[i],
			Iovlen:  1,
		}}
	}
	for len(msgs) > 0 {
		var sent int
		var errno syscall.Errno
		err := r.rc.Write(func(fd uintptr) bool {
			s, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
			sent, errno = int(s), e
			return true
		})
		if err != nil { // closed
			dropped += len(msgs)
			closed = true
			break
		}
		if errno != 0 {
			sent = 0
		}
		for k := 0; k < sent; k++ {
			pkts++
			bytes += int(msgs[k].len) - ipv6HeaderLen
		}
		msgs = msgs[sent:]
		if errno == 0 || errno == unix.EINTR || errno == unix.EAGAIN || errno == unix.ENOBUFS {
			continue
		}
		// The first unsent message failed; skip it, keep the rest.
		if len(msgs) > 0 {
			dropped++
			msgs = msgs[1:]
		}
	}
	clear(r.pend)
	r.pend = r.pend[:0]
	return pkts, bytes, dropped, closed
}

// rawReceiver reads batches from the (non-blocking, netpolled) receive
// socket with recvmmsg into fixed buffers.
type rawReceiver struct {
	rc    syscall.RawConn
	msgs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
}

func newRawReceiver(rc syscall.RawConn, bufs [][]byte, off int) *rawReceiver {
	r := &rawReceiver{rc: rc, msgs: make([]mmsghdr, len(bufs)), iovs: make([]unix.Iovec, len(bufs)),
		names: make([]unix.RawSockaddrInet6, len(bufs))}
	for i, b := range bufs {
		r.iovs[i].Base = &b[off]
		r.iovs[i].SetLen(len(b) - off)
		r.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		r.msgs[i].hdr.Iov = &r.iovs[i]
		r.msgs[i].hdr.Iovlen = 1
	}
	return r
}

// recv waits for and returns a batch: the number of messages, whose
// lengths and sources are r.size(i) and r.peer(i).
func (r *rawReceiver) recv() (int, error) {
	for i := range r.msgs {
		r.msgs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		r.msgs[i].hdr.Flags = 0
	}
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		s, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(len(r.msgs)), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, errno = int(s), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return n, nil
}

func (r *rawReceiver) size(i int) int { return int(r.msgs[i].len) }

func (r *rawReceiver) peer(i int) netip.Addr { return netip.AddrFrom16(r.names[i].Addr) }

// receiveLoopRaw is receiveLoop for a raw next-header-41 socket.
func (u *userDP) receiveLoopRaw(s *tunnelSock, rc syscall.RawConn) {
	const batch = 128
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, tunOffset+65535)
	}
	rr := newRawReceiver(rc, bufs, tunOffset)
	out := make([][]byte, 0, batch)
	for {
		n, err := rr.recv()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			u.log.Debug("tunnel socket read", "local", s.key.local, "err", err)
			u.ctr.drop(DropIO)
			time.Sleep(time.Millisecond)
			continue
		}
		acc := *u.accept.Load()
		out = out[:0]
		for i := 0; i < n; i++ {
			data := bufs[i][tunOffset : tunOffset+rr.size(i)]
			ep := acc[endpointKey{s.key.local, rr.peer(i), s.key.encap}]
			if u.admit(ep, data) {
				out = append(out, bufs[i][:tunOffset+len(data)])
			}
		}
		if !u.writeTUN(out) {
			return
		}
	}
}

// flushRaw sends what the send loop queued on s.tx.
func (u *userDP) flushRaw(s *tunnelSock) {
	pkts, bytes, dropped, _ := s.tx.flush()
	u.ctr.packetsOut.Add(uint64(pkts))
	u.ctr.bytesOut.Add(uint64(bytes))
	for range dropped {
		u.ctr.drop(DropIO)
	}
}
