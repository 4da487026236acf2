package wire

import "encoding/binary"

// Lenient walk of the Flow Identification option (RFC 6089 section 4.1)
// for Inspect: its fixed fields, then each sub-option decoded on its own,
// so one bad sub-option does not hide the others.

// flowIDFixedLen: FID (2), FID-PRI (2), Reserved (1), Status (1).
const flowIDFixedLen = 6

// inspectFlowIdentification fills o from o.Data. It flags what
// DecodeFlowIdentification refuses with the same severity rules as
// problemOf, and reserved fields that are not zero as warnings.
func inspectFlowIdentification(o *InspectedOption) {
	d, at := o.Data, o.Offset+2
	name := "Flow Identification option (type 45)"
	if len(d) < flowIDFixedLen {
		o.addProblem(SeverityMalformed, o.Offset+1, name+": Length "+itoa(len(d))+
			", the fixed fields need 6 (RFC 6089 section 4.1)", ErrBadLength)
		return
	}
	fi := FlowIdentification{
		FID:      binary.BigEndian.Uint16(d[0:]),
		Priority: binary.BigEndian.Uint16(d[2:]),
		Status:   FIDStatus(d[5]),
	}
	if fi.FID == 0 {
		o.addProblem(SeverityError, at, name+": FID 0 is reserved (RFC 6089 section 4.1)", ErrBadValue)
	}
	if fi.Priority == 0 {
		o.addProblem(SeverityError, at+2, name+": FID-PRI 0 is reserved (RFC 6089 section 4.1)", ErrBadValue)
	}
	o.Reserved = append(o.Reserved, reservedField(&o.Problems, "Reserved", at+4, uint32(d[4]), name))
	o.SubOptions = inspectFlowSubOptions(d[flowIDFixedLen:], at+flowIDFixedLen)
	for _, s := range o.SubOptions {
		if s.SubOption != nil {
			fi.SubOptions = append(fi.SubOptions, s.SubOption)
		}
	}
	o.Option = fi
}

// reservedField records a reserved field and warns when it is not zero:
// senders MUST set reserved fields to zero, receivers ignore them.
func reservedField(ps *[]Problem, field string, off int, v uint32, what string) ReservedField {
	if v != 0 {
		*ps = append(*ps, Problem{Severity: SeverityWarning, Offset: off,
			Text: what + ": " + field + " is " + itoa(int(v)) + ", should be zero"})
	}
	return ReservedField{Name: field, Offset: off, Value: v}
}

// inspectFlowSubOptions walks the sub-options in b, which starts base
// octets after the start of the Mobility Header (RFC 6089 section 4.1.1).
func inspectFlowSubOptions(b []byte, base int) []InspectedSubOption {
	out := []InspectedSubOption{} // not nil: the option has been walked
	for i := 0; i < len(b); {
		s := InspectedSubOption{Offset: base + i, Type: FlowSubOptionType(b[i]), Length: -1}
		if s.Type == FlowSubOptPad1 {
			out = append(out, s)
			i++
			continue
		}
		name := s.Type.String() + " sub-option (type " + itoa(int(s.Type)) + ")"
		if i+2 > len(b) {
			s.Data = b[i+1:]
			s.addProblem(SeverityMalformed, s.Offset, name+": the option ends before its Length octet", ErrTruncated)
			return append(out, s)
		}
		s.Length = int(b[i+1])
		if i+2+s.Length > len(b) {
			s.Data = b[i+2:]
			s.addProblem(SeverityMalformed, s.Offset+1, name+": Length "+itoa(s.Length)+
				" runs past the Flow Identification option's end, "+itoa(len(b)-i-2)+" octets left", ErrOptionOverrun)
			return append(out, s)
		}
		s.Data = b[i+2 : i+2+s.Length : i+2+s.Length]
		i += 2 + s.Length
		if s.Type == FlowSubOptPadN {
			if !allZero(s.Data) {
				s.addProblem(SeverityWarning, s.Offset+2, "PadN sub-option carries non-zero octets, RFC 6089 section 4.1.1.2 asks for zeros", nil)
			}
			out = append(out, s)
			continue
		}
		inspectFlowSubOption(&s, name)
		out = append(out, s)
	}
	return out
}

// inspectFlowSubOption decodes one sub-option with the strict decoder and
// records its reserved fields.
func inspectFlowSubOption(s *InspectedSubOption, name string) {
	d, at := s.Data, s.Offset+2
	v, err := decodeFlowSubOption(s.Type, d)
	if err != nil {
		// The decoders' offsets count from the sub-option data.
		s.Problems = append(s.Problems, problemOf(err, at, name))
		return
	}
	s.SubOption = v
	switch s.Type {
	case FlowSubOptTrafficSelector:
		// TS Format (8) | Reserved (8) | selector: flags (16) |
		// Reserved (16) | fields (RFC 6088 section 3).
		s.Reserved = append(s.Reserved, reservedField(&s.Problems, "Reserved", at+1, uint32(d[1]), name))
		if f := TSFormat(d[0]); (f == TSFormatIPv4Binary || f == TSFormatIPv6Binary) && len(d) >= 6 {
			if f == TSFormatIPv4Binary {
				// Flags A..N use 14 bits; the last two are reserved.
				s.Reserved = append(s.Reserved, reservedField(&s.Problems, "SelectorReservedFlags", at+3,
					uint32(binary.BigEndian.Uint16(d[2:])&0x3), name))
			}
			s.Reserved = append(s.Reserved, reservedField(&s.Problems, "SelectorReserved", at+4,
				uint32(binary.BigEndian.Uint16(d[4:])), name))
		}
	case FlowSubOptFlowBindingAction:
		s.Reserved = append(s.Reserved, reservedField(&s.Problems, "Reserved", at, uint32(d[0]), name))
	case FlowSubOptTargetCareOfAddress:
		s.Reserved = append(s.Reserved, reservedField(&s.Problems, "Reserved", at, uint32(binary.BigEndian.Uint16(d)), name))
	}
}

func (s *InspectedSubOption) addProblem(sev Severity, off int, text string, err error) {
	s.Problems = append(s.Problems, Problem{Severity: sev, Offset: off, Text: text, Err: err})
}
