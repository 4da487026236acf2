package transport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// captureBatch is how many captured packets one recvmmsg returns at most,
// each into a buffer of captureSlot octets: a burst of Binding Updates
// from many mobile nodes costs one system call and one wake-up per batch,
// not per update.
const (
	captureBatch = 16
	captureSlot  = 65536 // the largest IPv6 packet without a jumbogram, as read took
)

// capturedPacket is one packet of a batch: its length as sent (above
// captureSlot: truncated), interface and packet type.
type capturedPacket struct {
	n, ifindex int
	pkttype    uint8
}

// batchReader is the recvmmsg state of a capture; one reader goroutine
// owns it.
type batchReader struct {
	bufs  []byte
	iovs  [captureBatch]unix.Iovec
	names [captureBatch]unix.RawSockaddrLinklayer
	hdrs  [captureBatch]unix.Mmsghdr
	out   [captureBatch]capturedPacket
}

func newBatchReader() *batchReader {
	r := &batchReader{bufs: make([]byte, captureBatch*captureSlot)}
	for i := range r.hdrs {
		r.iovs[i].Base = &r.bufs[i*captureSlot]
		r.iovs[i].SetLen(captureSlot)
	}
	return r
}

// packet is the i-th buffer of the last batch, up to its length.
func (r *batchReader) packet(i int) []byte {
	return r.bufs[i*captureSlot : i*captureSlot+min(r.out[i].n, captureSlot)]
}

// readBatch waits for at least one packet and returns those that came
// (MSG_TRUNC: each length is the packet's, so an oversized one shows).
func (c *capture) readBatch(r *batchReader) ([]capturedPacket, error) {
	for i := range r.hdrs {
		h := &r.hdrs[i].Hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&r.names[i])), Namelen: unix.SizeofSockaddrLinklayer, Iov: &r.iovs[i]}
		h.SetIovlen(1)
		r.hdrs[i].Len = 0
	}
	var n int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		m, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), captureBatch, unix.MSG_TRUNC, 0, 0)
		if errno != 0 {
			rerr = errno
			return errno != unix.EAGAIN
		}
		n, rerr = int(m), nil
		return true
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	for i := range n {
		r.out[i] = capturedPacket{n: int(r.hdrs[i].Len), ifindex: int(r.names[i].Ifindex), pkttype: r.names[i].Pkttype}
	}
	return r.out[:n], nil
}
