package transport

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// batchScratch holds one SendBatch call's buffers. They are pooled: a
// home agent answering tens of thousands of Binding Updates a second
// would otherwise allocate every packet's buffer, control message and
// address anew (and collect them again).
type batchScratch struct {
	arena []byte // the packets
	oob   []byte // their control messages
	ends  []int  // where each packet ends in arena (-1: not built)
	oends []int  // where each control message ends in oob
	ms    []ipv6.Message
	idx   []int // the Signal of each message
	addrs []net.IPAddr
	bufs  [][]byte
}

var batchPool = sync.Pool{New: func() any { return new(batchScratch) }}

// put returns b to the pool. It refers to nothing outside itself (the
// packets are copies), so nothing needs clearing.
func (b *batchScratch) put() { batchPool.Put(b) }

// build makes the messages of ss, each packet built as Send builds it;
// errs gets each one that cannot be built. It returns the messages and
// the Signal each stands for.
func (b *batchScratch) build(ss []Signal, errs []error) ([]ipv6.Message, []int) {
	b.arena, b.oob = b.arena[:0], b.oob[:0]
	b.ends, b.oends, b.idx = b.ends[:0], b.oends[:0], b.idx[:0]
	for i := range ss {
		s := &ss[i]
		start := len(b.arena)
		var err error
		b.arena, err = appendPacket(b.arena, s)
		if err != nil {
			b.arena, errs[i] = b.arena[:start], err
			b.ends = append(b.ends, -1)
			continue
		}
		b.ends = append(b.ends, len(b.arena))
		b.oob = appendPacketInfo(b.oob, s.Src, s.IfIndex)
		b.oends = append(b.oends, len(b.oob))
		b.idx = append(b.idx, i)
		errs[i] = nil
	}
	// The arenas stop growing here: the messages slice them now.
	n := len(b.idx)
	b.ms = grow(b.ms, n)
	b.addrs = grow(b.addrs, n)
	b.bufs = grow(b.bufs, n)
	start, ostart := 0, 0
	for k, i := range b.idx {
		if k > 0 {
			start, ostart = b.ends[b.idx[k-1]], b.oends[k-1]
		}
		s := &ss[i]
		a := &b.addrs[k]
		a.IP = append(a.IP[:0], s.Dst.AsSlice()...)
		a.Zone = ""
		if s.IfIndex != 0 && (s.Dst.IsLinkLocalUnicast() || s.Dst.IsLinkLocalMulticast()) {
			a.Zone = strconv.Itoa(s.IfIndex)
		}
		b.bufs[k] = b.arena[start:b.ends[i]]
		b.ms[k] = ipv6.Message{Buffers: b.bufs[k : k+1 : k+1], OOB: b.oob[ostart:b.oends[k]], Addr: a}
	}
	return b.ms, b.idx
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// appendPacketInfo appends the IPV6_PKTINFO control message (RFC 3542
// section 6.1: source address and outgoing interface) that
// ipv6.ControlMessage{Src: src, IfIndex: ifIndex}.Marshal() gives, without
// allocating: none unless src is an IPv6 address (not IPv4-mapped) or
// ifIndex is set.
func appendPacketInfo(b []byte, src netip.Addr, ifIndex int) []byte {
	v6 := src.Is6() && !src.Is4In6()
	if !v6 && ifIndex <= 0 {
		return b
	}
	var h unix.Cmsghdr
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	var pi unix.Inet6Pktinfo
	if v6 {
		pi.Addr = src.As16()
	}
	if ifIndex > 0 {
		pi.Ifindex = uint32(ifIndex)
	}
	start := len(b)
	b = append(b, unsafe.Slice((*byte)(unsafe.Pointer(&h)), unix.SizeofCmsghdr)...)
	b = append(b, make([]byte, unix.CmsgLen(0)-unix.SizeofCmsghdr)...)
	b = append(b, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), unix.SizeofInet6Pktinfo)...)
	return append(b, make([]byte, start+unix.CmsgSpace(unix.SizeofInet6Pktinfo)-len(b))...)
}
