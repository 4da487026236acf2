package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"monami/internal/binding"
)

// RecordVersion is the encoding Append writes. A record is self-contained
// (its key is only an index), so every backend stores the same bytes:
//
//	0      version (1)
//	1      binding flags (binding.BindingFlags)
//	2      record flags: bit 0 care-of address present, bit 1 timestamp present
//	3      encapsulation
//	4..5   Binding ID
//	6      priority (BID-PRI, RFC 6089 section 6.1)
//	7..8   last accepted sequence number (RFC 6275 section 9.5.1)
//	9..16  last accepted timestamp (RFC 4285 section 6, NTP format)
//	17..32 home address
//	33..48 care-of address (IPv4 as ::ffff:a.b.c.d, RFC 5555)
//	49..56 registered, ns since the Unix epoch
//	57..64 expires, ns since the Unix epoch
//	65..   extensions: type (1), length (2), value; unknown types are
//	       skipped, so a later version can add flow bindings (RFC 6089)
//	       without a new layout. Type 1 (extUDPPath, length 34): the UDP
//	       path of an IPv4 care-of address (RFC 5555 section 4.3), local
//	       address (16, IPv4-mapped), peer address (16), peer port (2).
//
// Integers are big-endian.
const RecordVersion = 1

const (
	offVersion    = 0
	offFlags      = 1
	offRecFlags   = 2
	offEncap      = 3
	offBID        = 4
	offPriority   = 6
	offLastSeq    = 7
	offLastTS     = 9
	offHoA        = 17
	offCoA        = 33
	offRegistered = 49
	offExpires    = 57
	fixedLen      = 65
	extHeaderLen  = 3

	recCoA = 1 << 0
	recTS  = 1 << 1

	extUDPPath    = 1
	extUDPPathLen = 16 + 16 + 2

	keyLen = 18
)

// zeroTime stands for the zero time.Time, which has no Unix nanoseconds.
const zeroTime = math.MinInt64

// ErrRecord is wrapped by every decoding error.
var ErrRecord = errors.New("bad binding record")

// AppendKey appends the 18-octet key of k (home address, then BID): byte
// order is the order of Load.
func AppendKey(dst []byte, k Key) []byte {
	a := k.HoA.As16()
	dst = append(dst, a[:]...)
	return binary.BigEndian.AppendUint16(dst, k.BID)
}

// DecodeKey reverses AppendKey.
func DecodeKey(b []byte) (Key, error) {
	if len(b) != keyLen {
		return Key{}, fmt.Errorf("%w: key of %d octets, want %d", ErrRecord, len(b), keyLen)
	}
	return Key{HoA: netip.AddrFrom16([16]byte(b[:16])), BID: binary.BigEndian.Uint16(b[16:])}, nil
}

// AppendRecord appends the encoding of r.
func AppendRecord(dst []byte, r *Record) ([]byte, error) {
	b := &r.Binding
	if !b.HoA.Is6() || b.HoA.Is4In6() {
		return dst, fmt.Errorf("%w: home address %s is not IPv6", ErrRecord, b.HoA)
	}
	var v [fixedLen]byte
	v[offVersion] = RecordVersion
	v[offFlags] = uint8(b.Flags)
	if b.CoA.IsValid() {
		v[offRecFlags] |= recCoA
		a := b.CoA.As16()
		copy(v[offCoA:], a[:])
	}
	if r.Replay.HasTS {
		v[offRecFlags] |= recTS
		binary.BigEndian.PutUint64(v[offLastTS:], r.Replay.LastTS)
	}
	v[offEncap] = r.Encap
	binary.BigEndian.PutUint16(v[offBID:], b.BID)
	v[offPriority] = b.Priority
	binary.BigEndian.PutUint16(v[offLastSeq:], r.Replay.LastSeq)
	h := b.HoA.As16()
	copy(v[offHoA:], h[:])
	binary.BigEndian.PutUint64(v[offRegistered:], uint64(unixNano(b.Registered)))
	binary.BigEndian.PutUint64(v[offExpires:], uint64(unixNano(b.Expires)))
	dst = append(dst, v[:]...)
	if r.UDPPeer.IsValid() {
		l, p := r.UDPLocal.As16(), r.UDPPeer.Addr().As16()
		dst = append(dst, extUDPPath)
		dst = binary.BigEndian.AppendUint16(dst, extUDPPathLen)
		dst = append(append(dst, l[:]...), p[:]...)
		dst = binary.BigEndian.AppendUint16(dst, r.UDPPeer.Port())
	}
	return dst, nil
}

// DecodeRecord decodes one record; errors wrap ErrRecord and name the
// field.
func DecodeRecord(v []byte) (Record, error) {
	var r Record
	if len(v) < 1 {
		return r, fmt.Errorf("%w: empty", ErrRecord)
	}
	if v[offVersion] != RecordVersion {
		return r, fmt.Errorf("%w: version %d, this build reads %d", ErrRecord, v[offVersion], RecordVersion)
	}
	if len(v) < fixedLen {
		return r, fmt.Errorf("%w: %d octets, version %d has %d", ErrRecord, len(v), RecordVersion, fixedLen)
	}
	if f := v[offRecFlags]; f&^(recCoA|recTS) != 0 {
		return r, fmt.Errorf("%w: record flags %#x at offset %d: unknown bits", ErrRecord, f, offRecFlags)
	}
	b := &r.Binding
	b.HoA = netip.AddrFrom16([16]byte(v[offHoA : offHoA+16]))
	if b.HoA.Is4In6() {
		return r, fmt.Errorf("%w: home address %s at offset %d is not IPv6", ErrRecord, b.HoA, offHoA)
	}
	if v[offRecFlags]&recCoA != 0 {
		b.CoA = netip.AddrFrom16([16]byte(v[offCoA : offCoA+16])).Unmap()
	} else if !allZero(v[offCoA : offCoA+16]) {
		return r, fmt.Errorf("%w: care-of address at offset %d without its flag", ErrRecord, offCoA)
	}
	b.BID = binary.BigEndian.Uint16(v[offBID:])
	b.Priority = v[offPriority]
	b.Flags = binding.BindingFlags(v[offFlags])
	b.Registered = fromUnixNano(int64(binary.BigEndian.Uint64(v[offRegistered:])))
	b.Expires = fromUnixNano(int64(binary.BigEndian.Uint64(v[offExpires:])))
	r.Encap = v[offEncap]
	r.Replay.LastSeq = binary.BigEndian.Uint16(v[offLastSeq:])
	r.Replay.HasTS = v[offRecFlags]&recTS != 0
	r.Replay.LastTS = binary.BigEndian.Uint64(v[offLastTS:])
	if !r.Replay.HasTS && r.Replay.LastTS != 0 {
		return r, fmt.Errorf("%w: timestamp at offset %d without its flag", ErrRecord, offLastTS)
	}
	for off := fixedLen; off < len(v); {
		if len(v)-off < extHeaderLen {
			return r, fmt.Errorf("%w: extension header at offset %d truncated", ErrRecord, off)
		}
		n := int(binary.BigEndian.Uint16(v[off+1:]))
		if len(v)-off-extHeaderLen < n {
			return r, fmt.Errorf("%w: extension type %d at offset %d: length %d overruns the record", ErrRecord, v[off], off, n)
		}
		if v[off] == extUDPPath {
			if n != extUDPPathLen {
				return r, fmt.Errorf("%w: UDP path extension at offset %d: length %d, want %d", ErrRecord, off, n, extUDPPathLen)
			}
			x := v[off+extHeaderLen:]
			r.UDPLocal = netip.AddrFrom16([16]byte(x[:16])).Unmap()
			r.UDPPeer = netip.AddrPortFrom(netip.AddrFrom16([16]byte(x[16:32])).Unmap(), binary.BigEndian.Uint16(x[32:]))
		}
		off += extHeaderLen + n
	}
	return r, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return t.UnixNano()
}

func fromUnixNano(ns int64) time.Time {
	if ns == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
