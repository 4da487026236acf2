package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// pcapng block types and constants (draft-ietf-opsawg-pcapng section 4).
const (
	ngBlockSHB       = 0x0A0D0D0A // Section Header Block (palindromic)
	ngBlockIDB       = 0x00000001 // Interface Description Block
	ngBlockOPB       = 0x00000002 // Packet Block (obsolete)
	ngBlockSPB       = 0x00000003 // Simple Packet Block
	ngBlockEPB       = 0x00000006 // Enhanced Packet Block
	ngByteOrderMagic = 0x1A2B3C4D

	ngOptEnd      = 0
	ngOptTSResol  = 9  // if_tsresol
	ngOptTSOffset = 14 // if_tsoffset
)

type ngInterface struct {
	linkType LinkType
	snapLen  uint32
	// Timestamp units per second: 10^n or 2^n (if_tsresol, default 10^6).
	unitsPerSec uint64
	offsetSec   int64 // if_tsoffset
}

type ngSection struct {
	order      binary.ByteOrder
	interfaces []ngInterface
	started    bool
}

func (r *Reader) ngStart() error {
	// The first block must be a Section Header Block; ngNext reads it.
	return r.ngReadSHB()
}

// ngReadSHB reads a Section Header Block whose type has been peeked.
func (r *Reader) ngReadSHB() error {
	h, err := r.readFull(12)
	if err != nil {
		return truncated("pcapng section header", err)
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(h[8:]) == ngByteOrderMagic:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[8:]) == ngByteOrderMagic:
		order = binary.BigEndian
	default:
		return fmt.Errorf("%w: pcapng section header: bad byte-order magic %#x", ErrFormat, binary.BigEndian.Uint32(h[8:]))
	}
	total := order.Uint32(h[4:])
	if total < 28 || total%4 != 0 || total > maxBlockSize {
		return fmt.Errorf("%w: pcapng section header: bad block length %d", ErrFormat, total)
	}
	rest, err := r.readFull(int(total) - 12)
	if err != nil {
		return truncated("pcapng section header", err)
	}
	if major := order.Uint16(rest[0:]); major != 1 {
		return fmt.Errorf("%w: pcapng major version %d, want 1", ErrFormat, major)
	}
	if trailer := order.Uint32(rest[len(rest)-4:]); trailer != total {
		return fmt.Errorf("%w: pcapng section header: trailing length %d != %d", ErrFormat, trailer, total)
	}
	r.ng = ngSection{order: order, started: true}
	return nil
}

func (r *Reader) ngNext() (Packet, error) {
	for {
		h, err := r.r.Peek(8)
		if err != nil {
			if errors.Is(err, io.EOF) && len(h) == 0 {
				return Packet{}, io.EOF
			}
			return Packet{}, truncated("pcapng block header", err)
		}
		order := r.ng.order
		btype := order.Uint32(h[0:])
		if binary.BigEndian.Uint32(h[0:]) == ngBlockSHB {
			if err := r.ngReadSHB(); err != nil {
				return Packet{}, err
			}
			continue
		}
		total := order.Uint32(h[4:])
		if total < 12 || total%4 != 0 || total > maxBlockSize {
			return Packet{}, fmt.Errorf("%w: pcapng block type %#x: bad block length %d", ErrFormat, btype, total)
		}
		blk, err := r.readFull(int(total))
		if err != nil {
			return Packet{}, truncated(fmt.Sprintf("pcapng block type %#x", btype), err)
		}
		if trailer := order.Uint32(blk[total-4:]); trailer != total {
			return Packet{}, fmt.Errorf("%w: pcapng block type %#x: trailing length %d != %d", ErrFormat, btype, trailer, total)
		}
		body := blk[8 : total-4]
		switch btype {
		case ngBlockIDB:
			if err := r.ngInterface(body); err != nil {
				return Packet{}, err
			}
		case ngBlockEPB:
			return r.ngEPB(body)
		case ngBlockSPB:
			return r.ngSPB(body)
		case ngBlockOPB:
			return r.ngOPB(body)
		default:
			// Name resolution, statistics, custom blocks...: skipped.
		}
	}
}

func (r *Reader) ngInterface(body []byte) error {
	if len(body) < 8 {
		return fmt.Errorf("%w: pcapng interface description block too short (%d octets)", ErrFormat, len(body))
	}
	o := r.ng.order
	ifc := ngInterface{
		linkType:    LinkType(o.Uint16(body[0:])),
		snapLen:     o.Uint32(body[4:]),
		unitsPerSec: 1e6,
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code := o.Uint16(opts[0:])
		n := int(o.Uint16(opts[2:]))
		if code == ngOptEnd {
			break
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(opts) {
			return fmt.Errorf("%w: pcapng interface %d: option %d overruns the block", ErrFormat, len(r.ng.interfaces), code)
		}
		val := opts[4 : 4+n]
		switch code {
		case ngOptTSResol:
			if n != 1 {
				return fmt.Errorf("%w: pcapng interface %d: if_tsresol length %d", ErrFormat, len(r.ng.interfaces), n)
			}
			u, ok := tsUnits(val[0])
			if !ok {
				return fmt.Errorf("%w: pcapng interface %d: unsupported if_tsresol %#x", ErrFormat, len(r.ng.interfaces), val[0])
			}
			ifc.unitsPerSec = u
		case ngOptTSOffset:
			if n != 8 {
				return fmt.Errorf("%w: pcapng interface %d: if_tsoffset length %d", ErrFormat, len(r.ng.interfaces), n)
			}
			ifc.offsetSec = int64(o.Uint64(val))
		}
		opts = opts[4+padded:]
	}
	r.ng.interfaces = append(r.ng.interfaces, ifc)
	return nil
}

// tsUnits converts an if_tsresol value to timestamp units per second:
// MSB clear means 10^-n seconds, set means 2^-n seconds.
func tsUnits(v byte) (uint64, bool) {
	n := uint(v & 0x7f)
	if v&0x80 != 0 {
		if n > 63 {
			return 0, false
		}
		return 1 << n, true
	}
	if n > 19 { // 10^20 overflows uint64
		return 0, false
	}
	u := uint64(1)
	for range n {
		u *= 10
	}
	return u, true
}

func (r *Reader) ngIface(id uint32) (ngInterface, error) {
	if int64(id) >= int64(len(r.ng.interfaces)) {
		return ngInterface{}, fmt.Errorf("%w: packet %d refers to interface %d but the section defines %d", ErrFormat, r.n+1, id, len(r.ng.interfaces))
	}
	return r.ng.interfaces[id], nil
}

func (ifc ngInterface) time(ts uint64) time.Time {
	sec := ts / ifc.unitsPerSec
	frac := ts % ifc.unitsPerSec
	// frac * 1e9 / unitsPerSec without overflow.
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, ifc.unitsPerSec)
	if sec > 1<<62 {
		sec = 1 << 62
	}
	return time.Unix(int64(sec)+ifc.offsetSec, int64(ns)).UTC()
}

// ngEPB reads an Enhanced Packet Block: a 32-bit interface ID.
func (r *Reader) ngEPB(body []byte) (Packet, error) {
	if len(body) < 20 {
		return Packet{}, fmt.Errorf("%w: packet %d: enhanced packet block too short", ErrFormat, r.n+1)
	}
	return r.ngPacket(body, r.ng.order.Uint32(body[0:]))
}

// ngOPB reads an obsolete Packet Block: a 16-bit interface ID (and a drop
// count), otherwise laid out as an Enhanced Packet Block.
func (r *Reader) ngOPB(body []byte) (Packet, error) {
	if len(body) < 20 {
		return Packet{}, fmt.Errorf("%w: packet %d: packet block too short", ErrFormat, r.n+1)
	}
	return r.ngPacket(body, uint32(r.ng.order.Uint16(body[0:])))
}

// ngPacket reads the part both packet blocks share: timestamp at 4,
// captured and original lengths at 12 and 16, data at 20.
func (r *Reader) ngPacket(body []byte, id uint32) (Packet, error) {
	o := r.ng.order
	ifc, err := r.ngIface(id)
	if err != nil {
		return Packet{}, err
	}
	ts := uint64(o.Uint32(body[4:]))<<32 | uint64(o.Uint32(body[8:]))
	capLen := o.Uint32(body[12:])
	if uint64(capLen) > uint64(len(body)-20) {
		return Packet{}, fmt.Errorf("%w: packet %d: captured length %d overruns its block", ErrFormat, r.n+1, capLen)
	}
	return Packet{
		Time:      ifc.time(ts),
		LinkType:  ifc.linkType,
		Interface: int(id),
		OrigLen:   int(o.Uint32(body[16:])),
		Data:      body[20 : 20+capLen],
	}, nil
}

func (r *Reader) ngSPB(body []byte) (Packet, error) {
	o := r.ng.order
	if len(body) < 4 {
		return Packet{}, fmt.Errorf("%w: packet %d: simple packet block too short", ErrFormat, r.n+1)
	}
	// A Simple Packet Block belongs to the first interface and has no
	// timestamp (draft-ietf-opsawg-pcapng section 4.4).
	ifc, err := r.ngIface(0)
	if err != nil {
		return Packet{}, err
	}
	origLen := o.Uint32(body[0:])
	capLen := uint64(origLen)
	if ifc.snapLen != 0 && uint64(ifc.snapLen) < capLen {
		capLen = uint64(ifc.snapLen)
	}
	if capLen > uint64(len(body)-4) {
		return Packet{}, fmt.Errorf("%w: packet %d: simple packet length %d overruns its block", ErrFormat, r.n+1, capLen)
	}
	return Packet{
		LinkType: ifc.linkType,
		OrigLen:  int(origLen),
		Data:     body[4 : 4+capLen],
	}, nil
}
