package wire

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// LifetimeUnit is the unit of the Lifetime fields of Binding Update and
// Binding Acknowledgement and of the Refresh Interval (RFC 6275 sections
// 6.1.7, 6.1.8, 6.2.4).
const LifetimeUnit = 4 * time.Second

// bindingUpdateDataLen: Sequence #, flags+Reserved, Lifetime (RFC 6275 section 6.1.7).
const bindingUpdateDataLen = 6

func init() { registerMessage(MHBindingUpdate, bindingUpdateDataLen, parseBindingUpdate) }

// BindingUpdate is RFC 6275 section 6.1.7, with the flags later RFCs
// added (see BUFlags).
type BindingUpdate struct {
	Sequence uint16
	Flags    BUFlags
	Lifetime uint16 // units of LifetimeUnit
	Options  []Option
}

func (BindingUpdate) MHType() MHType              { return MHBindingUpdate }
func (m BindingUpdate) MobilityOptions() []Option { return m.Options }
func (m BindingUpdate) AppendBody(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	b = binary.BigEndian.AppendUint16(b, uint16(m.Flags))
	return binary.BigEndian.AppendUint16(b, m.Lifetime), nil
}

// LifetimeDuration is Lifetime as a duration.
func (m BindingUpdate) LifetimeDuration() time.Duration {
	return time.Duration(m.Lifetime) * LifetimeUnit
}

func parseBindingUpdate(d []byte, opts []Option) (Message, error) {
	return BindingUpdate{
		Sequence: binary.BigEndian.Uint16(d),
		Flags:    BUFlags(binary.BigEndian.Uint16(d[2:])),
		Lifetime: binary.BigEndian.Uint16(d[4:]),
		Options:  opts,
	}, nil
}

// BindingUpdateView is a Binding Update decoded without allocation, for a
// home agent's receive path. It aliases the buffer given to
// DecodeBindingUpdate; reuse one value per receive loop.
type BindingUpdateView struct {
	Header   Header
	Sequence uint16
	Flags    BUFlags
	Lifetime uint16 // units of LifetimeUnit
	mh       []byte // exactly the Mobility Header
	lax      bool
}

// DecodeBindingUpdate checks the Mobility Header in mh (length, checksum
// unless p.ChecksumVerified, MH Type, Header Len) and the framing and
// alignment of all its options, and fills v. It does not allocate, except
// for the error on failure.
func (p Parser) DecodeBindingUpdate(v *BindingUpdateView, mh []byte, src, dst netip.Addr) error {
	h, d, opts, err := p.check(mh, src, dst)
	if err != nil {
		return err
	}
	if h.Type != MHBindingUpdate {
		return perr(2, "Binding Update (MH Type "+h.Type.String()+")", ErrBadValue)
	}
	if err := validateOptions(opts, HeaderLen+bindingUpdateDataLen, p.LaxAlignment); err != nil {
		return err
	}
	*v = BindingUpdateView{
		Header:   h,
		Sequence: binary.BigEndian.Uint16(d),
		Flags:    BUFlags(binary.BigEndian.Uint16(d[2:])),
		Lifetime: binary.BigEndian.Uint16(d[4:]),
		mh:       mh[:h.Len()],
		lax:      p.LaxAlignment,
	}
	return nil
}

// Options iterates over the Binding Update's options (padding skipped).
func (v *BindingUpdateView) Options() OptionIterator {
	off := HeaderLen + bindingUpdateDataLen
	if len(v.mh) < off {
		return OptionIterator{}
	}
	it := NewOptionIterator(v.mh[off:], off)
	it.lax = v.lax
	return it
}

// Bytes is the whole Mobility Header the view was decoded from.
func (v *BindingUpdateView) Bytes() []byte { return v.mh }

// Message converts the view to a BindingUpdate with typed options
// (allocates).
func (v *BindingUpdateView) Message() (BindingUpdate, error) {
	m := BindingUpdate{Sequence: v.Sequence, Flags: v.Flags, Lifetime: v.Lifetime}
	it := v.Options()
	for it.Next() {
		o, err := DecodeOption(it.Option())
		if err != nil {
			return BindingUpdate{}, err
		}
		m.Options = append(m.Options, o)
	}
	return m, it.Err()
}

// BindingIdentifiers appends the Binding Identifier options of the Binding
// Update to dst, in order (a bulk registration carries several, RFC 5648
// section 5.3). With enough capacity in dst it does not allocate.
func (v *BindingUpdateView) BindingIdentifiers(dst []BindingIdentifier) ([]BindingIdentifier, error) {
	var bid BindingIdentifier
	it := v.Options()
	for it.Next() {
		if it.Type() != OptBindingIdentifier {
			continue
		}
		if err := bid.Decode(it.Data()); err != nil {
			return dst, optErr(it.Option(), err)
		}
		dst = append(dst, bid)
	}
	return dst, it.Err()
}
