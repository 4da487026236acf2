package wire

import (
	"encoding/binary"
	"time"
)

// bindingAckDataLen: Status, flags+Reserved, Sequence #, Lifetime (RFC 6275 section 6.1.8).
const bindingAckDataLen = 6

func init() {
	registerMessage(MHBindingAcknowledgement, bindingAckDataLen, parseBindingAcknowledgement)
}

// BindingAcknowledgement is RFC 6275 section 6.1.8, with the flags later
// RFCs added (see BAFlags).
type BindingAcknowledgement struct {
	Status   Status
	Flags    BAFlags
	Sequence uint16
	Lifetime uint16 // units of LifetimeUnit
	Options  []Option
}

func (BindingAcknowledgement) MHType() MHType              { return MHBindingAcknowledgement }
func (m BindingAcknowledgement) MobilityOptions() []Option { return m.Options }
func (m BindingAcknowledgement) AppendBody(b []byte) ([]byte, error) {
	b = append(b, byte(m.Status), byte(m.Flags))
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	return binary.BigEndian.AppendUint16(b, m.Lifetime), nil
}

// LifetimeDuration is Lifetime as a duration.
func (m BindingAcknowledgement) LifetimeDuration() time.Duration {
	return time.Duration(m.Lifetime) * LifetimeUnit
}

func parseBindingAcknowledgement(d []byte, opts []Option) (Message, error) {
	return BindingAcknowledgement{
		Status:   Status(d[0]),
		Flags:    BAFlags(d[1]),
		Sequence: binary.BigEndian.Uint16(d[2:]),
		Lifetime: binary.BigEndian.Uint16(d[4:]),
		Options:  opts,
	}, nil
}
