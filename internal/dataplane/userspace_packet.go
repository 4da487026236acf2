package dataplane

import (
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The packet-socket fast path for next header 41. A raw IPv6 socket costs
// a policy-route lookup, ip6_append_data's copy, the netfilter hooks and
// the neighbour output for every single packet (there is no GSO on raw
// sockets). The send loop instead writes the outer header (RFC 2473
// section 3.1) into the headroom in front of each inner packet and hands
// a whole batch to one sendmmsg on an AF_PACKET datagram socket, addressed
// to the next hop the kernel's route lookup resolved (userspace_nexthop.go).
// Packets whose tunnel has no usable next hop still take the raw socket.
//
// What the packet socket skips: the netfilter OUTPUT and POSTROUTING hooks
// and IPsec for the outer packet (any xfrm policy turns the fast path off);
// tc and the qdisc still apply.

// sendHeadroom is the send loop's buffer offset: room for the TUN's
// virtio-net header when reading and for the outer IPv6 header.
const sendHeadroom = 64

// mmsghdr is struct mmsghdr from sendmmsg(2); Go pads it like C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// pktSender batches outer packets for one sendmmsg on an AF_PACKET socket.
// Send loop only.
type pktSender struct {
	fd   int
	msgs []mmsghdr
	iovs []unix.Iovec
	hops []*nextHop // per message, for errors
	lens []int      // inner length per message, for the counters

	sent atomic.Uint64 // packets the packet socket took (tests)
}

// openPktSender opens the datagram packet socket in the calling thread's
// network namespace. Protocol 0: it receives nothing.
func openPktSender(batch int) (*pktSender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sockBufBytes)
	return &pktSender{fd: fd, msgs: make([]mmsghdr, 0, batch), iovs: make([]unix.Iovec, batch),
		hops: make([]*nextHop, 0, batch), lens: make([]int, 0, batch)}, nil
}

func (p *pktSender) close() {
	if p != nil && p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

// add queues the inner packet buf[sendHeadroom:sendHeadroom+n] to nh,
// writing its outer header in front of it.
func (p *pktSender) add(buf []byte, n int, nh *nextHop) {
	inner := buf[sendHeadroom : sendHeadroom+n]
	frame := buf[sendHeadroom-ipv6HeaderLen : sendHeadroom+n]
	copy(frame, nh.hdr[:])
	binary.BigEndian.PutUint32(frame[0:4], 6<<28|flowLabel(inner))
	binary.BigEndian.PutUint16(frame[4:6], uint16(n))
	i := len(p.msgs)
	p.iovs[i].Base = &frame[0]
	p.iovs[i].SetLen(len(frame))
	p.msgs = append(p.msgs, mmsghdr{hdr: unix.Msghdr{
		Name:    (*byte)(unsafe.Pointer(&nh.sa)),
		Namelen: uint32(unsafe.Sizeof(nh.sa)),
		Iov:     &p.iovs[i],
		Iovlen:  1,
	}})
	p.hops = append(p.hops, nh)
	p.lens = append(p.lens, n)
}

// flush sends what add queued: one sendmmsg, more only when the kernel
// takes part of the batch or fails a message.
func (u *userDP) flushPkt(p *pktSender) {
	msgs, hops, lens := p.msgs, p.hops, p.lens
	for len(msgs) > 0 {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(p.fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), 0, 0, 0)
		n := int(r)
		if errno != 0 {
			n = 0
		}
		for _, l := range lens[:n] {
			u.ctr.packetsOut.Add(1)
			u.ctr.bytesOut.Add(uint64(l))
		}
		p.sent.Add(uint64(n))
		msgs, hops, lens = msgs[n:], hops[n:], lens[n:]
		if errno == 0 || len(msgs) == 0 {
			continue
		}
		if errno == unix.EINTR || errno == unix.EAGAIN {
			continue
		}
		// The first unsent message failed (ENOBUFS: the device dropped
		// it; ENETDOWN, ENXIO: the interface went away; EMSGSIZE: its
		// MTU shrank): count it and resolve the next hops again.
		u.ctr.drop(DropIO)
		if errno != unix.ENOBUFS {
			hops[0].probe.Store(true)
			u.kickHops()
		}
		msgs, hops, lens = msgs[1:], hops[1:], lens[1:]
	}
	runtime.KeepAlive(p)
	clear(p.hops)
	p.msgs, p.hops, p.lens = p.msgs[:0], p.hops[:0], p.lens[:0]
}
