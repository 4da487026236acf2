package wire

import (
	"errors"
	"strconv"
)

// Inspect is a lenient walk through a Mobility Header for display
// (monami decode), as Wireshark's dissectors with their expert info: it
// decodes what it can, keeps the rest as raw octets and records each
// departure from the RFCs as a Problem, where Parse refuses the whole
// message. The protocol path keeps using Parse and the views; Inspect
// allocates and is not meant for it.

// Severity grades a Problem, as Wireshark's expert info does.
type Severity uint8

// Severities, least serious first.
const (
	// SeverityWarning: the message decodes, but not as the RFC asks (a
	// misaligned option, non-zero padding or reserved bits). Parse with
	// LaxAlignment accepts it.
	SeverityWarning Severity = iota + 1
	// SeverityError: the layout holds but a value breaks a MUST (bad
	// checksum, Payload Proto other than 59, a reserved FID); a receiver
	// discards the message.
	SeverityError
	// SeverityMalformed: a length does not fit (an option running past
	// the message end, a message shorter than its type needs); the octets
	// from there on cannot be decoded as laid out.
	SeverityMalformed
)

func (s Severity) String() string {
	switch s {
	case SeverityWarning:
		return "Warning"
	case SeverityError:
		return "Error"
	case SeverityMalformed:
		return "Malformed"
	}
	return "Severity(" + strconv.Itoa(int(s)) + ")"
}

// Problem is one departure from the RFCs found by Inspect.
type Problem struct {
	Severity Severity
	// Offset of the offending octet from the start of the Mobility Header.
	Offset int
	Text   string
	// Err is the wire sentinel the strict decoder would wrap (ErrOptionOverrun,
	// ErrBadAlignment, ...), for errors.Is; nil for warnings with none.
	Err error
}

// String is "[Severity, offset N: text]".
func (p Problem) String() string {
	return "[" + p.Severity.String() + ", offset " + strconv.Itoa(p.Offset) + ": " + p.Text + "]"
}

// ReservedField is a reserved field's value, shown so that every field of
// a structure is printed; Inspect warns when one is not zero.
type ReservedField struct {
	Name   string // in the style of the Go field names, e.g. "SelectorReserved"
	Offset int    // from the start of the Mobility Header
	Value  uint32
}

// InspectedMessage is what Inspect found in a Mobility Header.
type InspectedMessage struct {
	Header Header
	// Len is the number of octets walked: Header Len's, or fewer when the
	// buffer ends first (a Malformed problem says so).
	Len int
	// Known is false for an MH Type without a decoder; Fixed then holds
	// all the message data, shown as raw octets.
	Known bool
	// Fixed is the fixed message data (before the options).
	Fixed []byte
	// Message holds the decoded fixed fields, with Options set to the
	// options that decoded; nil when the fixed data could not be decoded.
	Message Message
	// Options lists every option in wire order, padding included.
	Options []InspectedOption
	// Problems of the header and the fixed data; an option's problems sit
	// with the option.
	Problems []Problem
}

// InspectedOption is one option, decoded or not.
type InspectedOption struct {
	Offset int // of the Type octet, from the start of the Mobility Header
	Type   OptionType
	// Length is the Length octet; -1 for Pad1 and when the octet is missing.
	Length int
	// Data is the option data, or the octets up to the end of the message
	// when the Length runs past it.
	Data []byte
	// Option is the typed value, nil when it did not decode (Data then
	// holds the raw octets) and for padding.
	Option Option
	// SubOptions are the Flow Identification option's sub-options
	// (RFC 6089 section 4.1.1), padding included.
	SubOptions []InspectedSubOption
	Reserved   []ReservedField
	Problems   []Problem
}

// Padding reports whether the option is Pad1 or PadN.
func (o InspectedOption) Padding() bool { return o.Type == OptPad1 || o.Type == OptPadN }

// InspectedSubOption is one Flow Identification sub-option.
type InspectedSubOption struct {
	Offset    int // of the Type octet, from the start of the Mobility Header
	Type      FlowSubOptionType
	Length    int // -1 for Pad1 and when the octet is missing
	Data      []byte
	SubOption FlowSubOption // nil when it did not decode, and for padding
	Reserved  []ReservedField
	Problems  []Problem
}

// Padding reports whether the sub-option is Pad1 or PadN.
func (s InspectedSubOption) Padding() bool {
	return s.Type == FlowSubOptPad1 || s.Type == FlowSubOptPadN
}

// AllProblems returns the message's problems and those of its options and
// sub-options, in wire order of the structures.
func (m *InspectedMessage) AllProblems() []Problem {
	ps := append([]Problem(nil), m.Problems...)
	for _, o := range m.Options {
		ps = append(ps, o.Problems...)
		for _, s := range o.SubOptions {
			ps = append(ps, s.Problems...)
		}
	}
	return ps
}

// Worst is the highest severity among all problems, 0 when there are none.
func (m *InspectedMessage) Worst() Severity {
	var w Severity
	for _, p := range m.AllProblems() {
		w = max(w, p.Severity)
	}
	return w
}

// Inspect walks the Mobility Header at the start of mh (see the comment
// at the top of this file). It never fails: a buffer shorter than the
// fixed header gives a Malformed problem and Len 0. Octets of mh after
// Header Len's length are reported as a warning. The checksum is left to
// the caller, which knows the pseudo-header. Byte slices alias mh.
func Inspect(mh []byte) InspectedMessage {
	var m InspectedMessage
	if len(mh) < MinMHLen {
		m.addProblem(SeverityMalformed, 0, "Mobility Header of "+itoa(len(mh))+" octets, the fixed header needs 8", ErrTruncated)
		return m
	}
	m.Header, _ = ParseHeader(mh[:MinMHLen])
	h := m.Header
	m.Len = h.Len()
	switch {
	case m.Len > len(mh):
		m.addProblem(SeverityMalformed, 1, "Header Len "+itoa(int(h.HeaderLen))+" says "+itoa(m.Len)+
			" octets, the packet holds "+itoa(len(mh))+": the message is cut short", ErrTruncated)
		m.Len = len(mh)
	case m.Len < len(mh):
		m.addProblem(SeverityWarning, m.Len, itoa(len(mh)-m.Len)+" octets follow the "+itoa(m.Len)+
			" octets Header Len "+itoa(int(h.HeaderLen))+" gives the message; they are not decoded", ErrBadLength)
	}
	// RFC 6275 section 9.2: Payload Proto MUST be IPPROTO_NONE (59).
	if h.PayloadProto != IPProtoNone {
		m.addProblem(SeverityError, 0, "Payload Proto "+itoa(int(h.PayloadProto))+
			", RFC 6275 section 6.1.1 asks for 59 (no next header); receivers discard it", ErrBadValue)
	}
	if h.Reserved != 0 {
		m.addProblem(SeverityWarning, 3, "Reserved octet is "+itoa(int(h.Reserved))+
			", RFC 6275 section 6.1.1 asks for zero", nil)
	}
	data := mh[HeaderLen:m.Len]
	e := &messageRegistry[h.Type]
	if !e.ok {
		m.Fixed = data
		return m
	}
	m.Known = true
	n := e.fixed(data)
	if n > len(data) {
		m.Fixed = data
		m.addProblem(SeverityMalformed, 1, h.Type.String()+" needs "+itoa(n)+" octets of message data, Header Len "+
			itoa(int(h.HeaderLen))+" leaves "+itoa(len(data))+" (RFC 6275 section 9.2)", ErrHeaderLenTooSmall)
		return m
	}
	if e.dataLen < 0 {
		m.Fixed = data
		data = nil
	} else {
		m.Fixed, data = data[:n:n], data[n:]
		m.Options = inspectOptions(data, HeaderLen+n)
	}
	var opts []Option
	for _, o := range m.Options {
		if o.Option != nil {
			opts = append(opts, o.Option)
		}
	}
	msg, err := e.parse(m.Fixed, opts)
	if err != nil {
		m.addParseError(err, HeaderLen, h.Type.String())
		return m
	}
	m.Message = msg
	return m
}

func (m *InspectedMessage) addProblem(s Severity, off int, text string, err error) {
	m.Problems = append(m.Problems, Problem{Severity: s, Offset: off, Text: text, Err: err})
}

// addParseError turns a strict decoder's error into a problem; base is
// added to a *ParseError's offset.
func (m *InspectedMessage) addParseError(err error, base int, what string) {
	m.Problems = append(m.Problems, problemOf(err, base, what))
}

// problemOf converts a decoder error: length errors are Malformed, value
// errors Errors.
func problemOf(err error, base int, what string) Problem {
	p := Problem{Severity: SeverityError, Offset: base, Text: what + ": " + err.Error(), Err: err}
	var pe *ParseError
	if errors.As(err, &pe) {
		p.Offset = base + pe.Offset
		p.Text = pe.What + ": " + pe.Err.Error()
		p.Err = pe.Err
	}
	if errors.Is(err, ErrBadLength) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrOptionOverrun) {
		p.Severity = SeverityMalformed
	}
	return p
}

// inspectOptions walks the options in b, which starts base octets after
// the start of the Mobility Header (RFC 6275 section 6.2).
func inspectOptions(b []byte, base int) []InspectedOption {
	var out []InspectedOption
	for i := 0; i < len(b); {
		o := InspectedOption{Offset: base + i, Type: OptionType(b[i]), Length: -1}
		if o.Type == OptPad1 {
			out = append(out, o)
			i++
			continue
		}
		name := o.Type.String() + " option (type " + itoa(int(o.Type)) + ")"
		if i+2 > len(b) {
			o.Data = b[i+1:]
			o.addProblem(SeverityMalformed, o.Offset, name+": the message ends before its Length octet", ErrTruncated)
			return append(out, o)
		}
		o.Length = int(b[i+1])
		if i+2+o.Length > len(b) {
			o.Data = b[i+2:]
			o.addProblem(SeverityMalformed, o.Offset+1, name+": Length "+itoa(o.Length)+" runs past the message end, "+
				itoa(len(b)-i-2)+" octets left", ErrOptionOverrun)
			return append(out, o)
		}
		o.Data = b[i+2 : i+2+o.Length : i+2+o.Length]
		i += 2 + o.Length
		if o.Type == OptPadN {
			if !allZero(o.Data) {
				o.addProblem(SeverityWarning, o.Offset+2, "PadN option carries non-zero octets, RFC 6275 section 6.2.3 asks for zeros", nil)
			}
			out = append(out, o)
			continue
		}
		if e := &optionRegistry[o.Type]; misaligned(o.Type, o.Offset) {
			o.addProblem(SeverityWarning, o.Offset, name+" not aligned to "+itoa(int(e.x))+"n+"+itoa(int(e.y))+
				" as RFC 6275 section 6.2 asks", ErrBadAlignment)
		}
		if o.Type == OptFlowIdentification {
			inspectFlowIdentification(&o)
		} else if opt, err := DecodeOption(RawOption{Type: o.Type, Data: o.Data, Offset: o.Offset}); err != nil {
			// DecodeOption's errors already count from the Mobility Header.
			o.Problems = append(o.Problems, problemOf(err, 0, name))
		} else {
			o.Option = opt
		}
		out = append(out, o)
	}
	return out
}

func (o *InspectedOption) addProblem(s Severity, off int, text string, err error) {
	o.Problems = append(o.Problems, Problem{Severity: s, Offset: off, Text: text, Err: err})
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
