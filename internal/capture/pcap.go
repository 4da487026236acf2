package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Classic pcap magic numbers, as written in the file's own byte order
// (draft-ietf-opsawg-pcap section 4).
const (
	pcapMagicMicros = 0xa1b2c3d4
	pcapMagicNanos  = 0xa1b23c4d
	pcapHeaderLen   = 24
	pcapRecordLen   = 16
)

func (r *Reader) pcapStart() error {
	h, err := r.readFull(pcapHeaderLen)
	if err != nil {
		return truncated("pcap file header", err)
	}
	switch {
	case binary.LittleEndian.Uint32(h) == pcapMagicMicros:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h) == pcapMagicMicros:
		r.order = binary.BigEndian
	case binary.LittleEndian.Uint32(h) == pcapMagicNanos:
		r.order, r.nanos = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h) == pcapMagicNanos:
		r.order, r.nanos = binary.BigEndian, true
	default:
		return fmt.Errorf("%w: unknown magic number %#08x (not pcap or pcapng)", ErrFormat, binary.BigEndian.Uint32(h))
	}
	if major := r.order.Uint16(h[4:]); major != 2 {
		return fmt.Errorf("%w: pcap major version %d, want 2", ErrFormat, major)
	}
	r.snapLen = r.order.Uint32(h[16:])
	// The low 16 bits hold the link type; the upper bits carry FCS
	// information (draft-ietf-opsawg-pcap section 4, LinkType field).
	r.linkType = LinkType(r.order.Uint32(h[20:]) & 0xffff)
	return nil
}

func (r *Reader) pcapNext() (Packet, error) {
	h, err := r.readFull(pcapRecordLen)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Packet{}, io.EOF
		}
		return Packet{}, truncated(fmt.Sprintf("record header of packet %d", r.n+1), err)
	}
	sec := r.order.Uint32(h[0:])
	frac := r.order.Uint32(h[4:])
	capLen := r.order.Uint32(h[8:])
	origLen := r.order.Uint32(h[12:])
	if capLen > MaxPacketSize {
		return Packet{}, fmt.Errorf("%w: packet %d: captured length %d exceeds %d", ErrFormat, r.n+1, capLen, MaxPacketSize)
	}
	var ns int64
	if r.nanos {
		ns = int64(frac)
	} else {
		ns = int64(frac) * 1000
	}
	data, err := r.readFull(int(capLen))
	if err != nil {
		return Packet{}, truncated(fmt.Sprintf("data of packet %d", r.n+1), err)
	}
	return Packet{
		Time:     time.Unix(int64(sec), ns).UTC(),
		LinkType: r.linkType,
		OrigLen:  int(origLen),
		Data:     data,
	}, nil
}
