package wire

import (
	"encoding/binary"
	"net/netip"
)

// Message is a Mobility Header message. Implementations are value structs.
type Message interface {
	// MHType is the message's IANA MH Type.
	MHType() MHType
	// AppendBody appends the fixed message data: the fields after the
	// Checksum field and before the Mobility Options.
	AppendBody(b []byte) ([]byte, error)
	// MobilityOptions returns the options to encode after the fixed data,
	// in order, without padding.
	MobilityOptions() []Option
}

// MessageParser decodes a message. data is exactly the fixed message
// data registered for the type (or all message data when the registered
// length is -1); opts are the decoded options that follow it.
type MessageParser func(data []byte, opts []Option) (Message, error)

type messageEntry struct {
	parse   MessageParser
	dataLen int // fixed message data length; -1: no options, all data to parse
	// fixedLen, when set, reads the fixed data length from the data (at
	// least dataLen octets): a fixed part with a count field, as the Home
	// Agent Switch message's # of Addresses (RFC 5142 section 4).
	fixedLen func(data []byte) int
	ok       bool
}

// fixed is the length of the fixed message data at the start of data
// (more than len(data) when Header Len is too small for it).
func (e *messageEntry) fixed(data []byte) int {
	if e.fixedLen != nil && len(data) >= e.dataLen {
		return e.fixedLen(data)
	}
	return e.dataLen
}

var messageRegistry [256]messageEntry

// registerMessage makes Parse decode MH Type t. dataLen is the length of
// the fixed message data; -1 for types whose message data has no options.
// Registering a type twice panics (found at start-up).
func registerMessage(t MHType, dataLen int, parse MessageParser) {
	if messageRegistry[t].ok {
		panic("wire: MH type " + t.String() + " registered twice")
	}
	messageRegistry[t] = messageEntry{parse: parse, dataLen: dataLen, ok: true}
}

// Parser holds decoding choices. The zero value verifies the checksum and
// option alignment.
type Parser struct {
	// ChecksumVerified skips the checksum check, for a caller whose kernel
	// already verified it (a raw socket with IPV6_CHECKSUM set).
	ChecksumVerified bool
	// LaxAlignment accepts options that do not start at their xn+y
	// alignment (RFC 6275 section 6.2), for peers that get it wrong.
	LaxAlignment bool
}

// Parse decodes the Mobility Header at the start of mh with a zero Parser.
// src and dst are the pseudo-header addresses: src is the home address when
// the packet carried a Home Address option (RFC 6275 section 6.1.1).
func Parse(mh []byte, src, dst netip.Addr) (Message, error) {
	return Parser{}.Parse(mh, src, dst)
}

// Parse decodes the Mobility Header at the start of mh. The result does not
// alias mh. An unregistered MH Type gives a *ParseError wrapping
// ErrUnknownMHType with MHType set (RFC 6275 section 9.2: answer with
// Binding Error status 2).
func (p Parser) Parse(mh []byte, src, dst netip.Addr) (Message, error) {
	h, data, opts, err := p.check(mh, src, dst)
	if err != nil {
		return nil, err
	}
	e := &messageRegistry[h.Type]
	// One copy up front so decoded byte slices never alias the caller's buffer.
	own := make([]byte, len(data)+len(opts))
	copy(own, data)
	copy(own[len(data):], opts)
	data, opts = own[:len(data):len(data)], own[len(data):]
	var list []Option
	if e.dataLen >= 0 {
		list, err = ParseOptions(opts, HeaderLen+len(data), p.LaxAlignment)
		if err != nil {
			return nil, err
		}
	}
	m, err := e.parse(data, list)
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Offset += HeaderLen
			return nil, pe
		}
		return nil, perr(HeaderLen, h.Type.String(), err)
	}
	return m, nil
}

// check validates the header, checksum, MH Type, Payload Proto and Header
// Len (RFC 6275 section 9.2) and splits the
// message data into its fixed part and its options.
func (p Parser) check(mh []byte, src, dst netip.Addr) (Header, []byte, []byte, error) {
	h, err := ParseHeader(mh)
	if err != nil {
		return h, nil, nil, err
	}
	mh = mh[:h.Len()]
	if !p.ChecksumVerified && !VerifyChecksum(mh, src, dst) {
		return h, nil, nil, perr(ChecksumOffset, "Mobility Header checksum", ErrBadChecksum)
	}
	e := &messageRegistry[h.Type]
	if !e.ok {
		pe := perr(2, "Mobility Header", ErrUnknownMHType)
		pe.MHType = h.Type
		return h, nil, nil, pe
	}
	// RFC 6275 section 9.2: "The Payload Proto field MUST be IPPROTO_NONE
	// (59 decimal)"; otherwise the node discards the message (and SHOULD
	// send ICMP Parameter Problem code 0 pointing at this field, offset 0).
	if h.PayloadProto != IPProtoNone {
		return h, nil, nil, perr(0, "Mobility Header (Payload Proto "+itoa(int(h.PayloadProto))+", want 59)", ErrBadPayloadProto)
	}
	data := mh[HeaderLen:]
	if e.dataLen < 0 {
		return h, data, nil, nil
	}
	n := e.fixed(data)
	if n > len(data) {
		return h, nil, nil, perr(1, h.Type.String()+" (Header Len "+itoa(int(h.HeaderLen))+")", ErrHeaderLenTooSmall)
	}
	return h, data[:n:n], data[n:], nil
}

// Marshal encodes m as a Mobility Header with its checksum computed over
// the pseudo-header src, dst (src: the home address when a Home Address
// option is sent, RFC 6275 section 6.1.1).
func Marshal(m Message, src, dst netip.Addr) ([]byte, error) {
	return AppendMessage(make([]byte, 0, 64), m, src, dst)
}

// AppendMessage appends the encoding of m to b: header, fixed data,
// options each padded to its alignment, padding to a multiple of 8
// octets (RFC 6275 section 6.1.1), Header Len and checksum. When src and
// dst are both the zero Addr the checksum is left zero (for a socket that
// computes it, IPV6_CHECKSUM).
func AppendMessage(b []byte, m Message, src, dst netip.Addr) ([]byte, error) {
	start := len(b)
	b, err := appendUnsummed(b, m)
	if err != nil {
		return b[:start], err
	}
	if src.IsValid() || dst.IsValid() {
		SetChecksum(b[start:], src, dst)
	}
	return b, nil
}

// appendUnsummed encodes m with a zero checksum.
func appendUnsummed(b []byte, m Message) ([]byte, error) {
	start := len(b)
	b = appendHeader(b, m.MHType())
	b, err := m.AppendBody(b)
	if err != nil {
		return b[:start], err
	}
	opts := m.MobilityOptions()
	for i, o := range opts {
		if o == nil {
			return b[:start], eerr(m.MHType().String(), "nil option")
		}
		if a, ok := o.(MobilityMessageAuthentication); ok && i == len(opts)-1 {
			// The last option ends on an 8-octet boundary: no PadN after
			// it (see authOptionPad).
			b = appendPad(b, authOptionPad(len(b)-start, authFixedLen+len(a.AuthenticationData)))
		}
		if b, err = AppendOption(b, start, o); err != nil {
			return b[:start], err
		}
	}
	return finishMH(b, start, m.MHType())
}

// finishMH pads the Mobility Header starting at b[start] to a multiple of
// 8 octets and writes Header Len.
func finishMH(b []byte, start int, t MHType) ([]byte, error) {
	n := len(b) - start
	b = appendPad(b, padFor(n, 8, 0))
	n = len(b) - start
	if n > MaxMHLen {
		return b[:start], eerr(t.String(), "message is "+itoa(n)+" octets, more than 2048")
	}
	b[start+1] = byte(n/8 - 1)
	binary.BigEndian.PutUint16(b[start+ChecksumOffset:], 0)
	return b, nil
}
