package dataplane

import (
	"encoding/binary"
	"errors"
	"net"

	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18) and receive
// coalescing (UDP_GRO, Linux 5.0): one sendmsg carries up to 64 inner
// packets of equal size, one recvmsg returns a run of them. The kernel
// moves the run through veths and the stack as one buffer, which is what
// lets a userspace tunnel over UDP keep up with TCP.
const (
	udpMaxSegments = 64
	udpMaxPayload  = 65535 - udpHeaderLen - ipv6HeaderLen
)

// segmentCmsg is a UDP_SEGMENT control message for segments of size n.
func segmentCmsg(n int) []byte {
	b := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafePointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(n))
	return b
}

// groSize returns the UDP_GRO segment size in oob, 0 when the datagram
// was not coalesced.
func groSize(oob []byte) int {
	for len(oob) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafePointer(&oob[0]))
		l := int(h.Len)
		if l < unix.CmsgLen(0) || l > len(oob) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			return int(binary.NativeEndian.Uint32(oob[unix.CmsgLen(0):]))
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}

// flushUDPGSO sends s.pending, gluing runs of equal-size packets to the
// same peer into one UDP_SEGMENT message each.
func (u *userDP) flushUDPGSO(s *tunnelSock) {
	ms := s.pending
	s.gsoMsgs = s.gsoMsgs[:0]
	s.gsoCounts = s.gsoCounts[:0]
	total := 0
	for _, m := range ms {
		total += len(m.Buffers[0])
	}
	if cap(s.slab) < total {
		s.slab = make([]byte, 0, total+total/2)
	}
	slab := s.slab[:0]
	for i := 0; i < len(ms); {
		size := len(ms[i].Buffers[0])
		start := len(slab)
		slab = append(slab, ms[i].Buffers[0]...)
		j := i + 1
		for j < len(ms) && j-i < udpMaxSegments && ms[j].Addr == ms[i].Addr &&
			len(ms[j].Buffers[0]) <= size && len(slab)-start+len(ms[j].Buffers[0]) <= udpMaxPayload {
			slab = append(slab, ms[j].Buffers[0]...)
			j++
			if len(ms[j-1].Buffers[0]) < size { // a short one ends the run
				break
			}
		}
		m := ipv6.Message{Buffers: [][]byte{slab[start:]}, Addr: ms[i].Addr}
		if j-i > 1 {
			m.OOB = s.cmsgFor(size)
		}
		s.gsoMsgs = append(s.gsoMsgs, m)
		s.gsoCounts = append(s.gsoCounts, j-i)
		i = j
	}
	s.slab = slab
	out := s.gsoMsgs
	counts := s.gsoCounts
	for len(out) > 0 {
		n, err := s.pc.WriteBatch(out, 0)
		n = max(n, 0) // sendmmsg's -1 on an error
		for k := 0; k < n; k++ {
			u.ctr.packetsOut.Add(uint64(counts[k]))
			u.ctr.bytesOut.Add(uint64(len(out[k].Buffers[0])))
		}
		out, counts = out[n:], counts[n:]
		if err == nil {
			continue
		}
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS) {
			continue
		}
		if errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) {
			// No UDP GSO on the egress path (e.g. a device without
			// checksum offload): fall back to one datagram per packet.
			u.log.Info("UDP GSO unavailable, sending packet by packet", "local", s.key.local, "err", err)
			s.noGSO = true
			s.pending = ms
			u.flush(s)
			return
		}
		if len(out) > 0 {
			for range counts[0] {
				u.ctr.drop(DropIO)
			}
			out, counts = out[1:], counts[1:]
		}
		if errors.Is(err, net.ErrClosed) {
			break
		}
	}
	clear(s.gsoMsgs)
	clear(s.pending)
	s.pending = s.pending[:0]
}

func (s *tunnelSock) cmsgFor(size int) []byte {
	if s.cmsgs == nil {
		s.cmsgs = map[int][]byte{}
	}
	c, ok := s.cmsgs[size]
	if !ok {
		c = segmentCmsg(size)
		s.cmsgs[size] = c
	}
	return c
}
