package wire

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// FlowSubOptionType is the type of a Flow Identification sub-option (RFC
// 6089 section 4.1.1; IANA "Flow Identification Sub-Options").
type FlowSubOptionType uint8

// Flow Identification sub-option types.
const (
	FlowSubOptPad1                FlowSubOptionType = 0 // RFC 6089 section 4.1.1.1
	FlowSubOptPadN                FlowSubOptionType = 1 // RFC 6089 section 4.1.1.2
	FlowSubOptBindingReference    FlowSubOptionType = 2 // RFC 6089 section 4.1.1.3 ("BID Reference")
	FlowSubOptTrafficSelector     FlowSubOptionType = 3 // RFC 6089 section 4.1.1.4
	FlowSubOptFlowBindingAction   FlowSubOptionType = 4 // RFC 7109 section 6.2.1
	FlowSubOptTargetCareOfAddress FlowSubOptionType = 5 // RFC 7109 section 6.2.2
)

var flowSubOptNames = map[FlowSubOptionType]string{
	FlowSubOptPad1:                "Pad1",
	FlowSubOptPadN:                "PadN",
	FlowSubOptBindingReference:    "Binding Reference",
	FlowSubOptTrafficSelector:     "Traffic Selector",
	FlowSubOptFlowBindingAction:   "Flow Binding Action",
	FlowSubOptTargetCareOfAddress: "Target Care-of Address",
}

func (t FlowSubOptionType) String() string {
	if n, ok := flowSubOptNames[t]; ok {
		return n
	}
	if t >= 251 {
		return "Experimental(" + strconv.Itoa(int(t)) + ")"
	}
	return "FlowSubOption(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText makes JSON output show the name.
func (t FlowSubOptionType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// FlowSubOption is a sub-option of the Flow Identification option.
// Implementations are value structs; padding (Pad1, PadN) is consumed by
// the decoder and never appears in a list.
type FlowSubOption interface {
	FlowSubOptionType() FlowSubOptionType
	// AppendData appends the sub-option data (after Sub-opt Len).
	AppendData(b []byte) ([]byte, error)
}

// AppendFlowSubOptions appends each sub-option with its Type and Len.
func AppendFlowSubOptions(b []byte, subs []FlowSubOption) ([]byte, error) {
	for _, s := range subs {
		if s == nil {
			return b, eerr("Flow Identification sub-option", "nil sub-option")
		}
		t := s.FlowSubOptionType()
		if t == FlowSubOptPad1 || t == FlowSubOptPadN {
			return b, eerr(t.String()+" sub-option", "padding is not a sub-option value")
		}
		at := len(b)
		b = append(b, byte(t), 0)
		var err error
		if b, err = s.AppendData(b); err != nil {
			return b[:at], err
		}
		n := len(b) - at - 2
		if n > 255 {
			return b[:at], eerr(t.String()+" sub-option", "data is "+itoa(n)+" octets, more than 255")
		}
		b[at+1] = byte(n)
	}
	return b, nil
}

// ParseFlowSubOptions decodes the sub-options that follow the fixed fields
// of a Flow Identification option, skipping Pad1 and PadN. Offsets in
// errors count from the start of b.
func ParseFlowSubOptions(b []byte) ([]FlowSubOption, error) {
	var subs []FlowSubOption
	off := 0
	for off < len(b) {
		t := FlowSubOptionType(b[off])
		if t == FlowSubOptPad1 {
			off++
			continue
		}
		if off+2 > len(b) {
			return nil, perr(off, t.String()+" sub-option", ErrTruncated)
		}
		n := int(b[off+1])
		if off+2+n > len(b) {
			return nil, perr(off+1, t.String()+" sub-option (length "+itoa(n)+")", ErrOptionOverrun)
		}
		data := b[off+2 : off+2+n : off+2+n]
		var s FlowSubOption
		var err error
		if t != FlowSubOptPadN {
			s, err = decodeFlowSubOption(t, data)
		}
		if err != nil {
			if pe, ok := err.(*ParseError); ok {
				pe.Offset += off + 2
				return nil, pe
			}
			return nil, perr(off, t.String()+" sub-option (length "+itoa(n)+")", err)
		}
		if s != nil {
			subs = append(subs, s)
		}
		off += 2 + n
	}
	return subs, nil
}

// decodeFlowSubOption decodes the data of a sub-option other than
// padding; an unknown type gives an UnknownFlowSubOption aliasing data.
func decodeFlowSubOption(t FlowSubOptionType, data []byte) (FlowSubOption, error) {
	switch t {
	case FlowSubOptBindingReference:
		return DecodeBindingReferenceSubOption(data)
	case FlowSubOptTrafficSelector:
		return DecodeTrafficSelectorSubOption(data)
	case FlowSubOptFlowBindingAction:
		return DecodeFlowBindingActionSubOption(data)
	case FlowSubOptTargetCareOfAddress:
		return DecodeTargetCareOfAddressSubOption(data)
	}
	return UnknownFlowSubOption{Type: t, Data: data}, nil
}

// UnknownFlowSubOption is a sub-option of a type this package does not
// decode, kept so tools can show it and it can be re-encoded unchanged.
type UnknownFlowSubOption struct {
	Type FlowSubOptionType
	Data []byte
}

func (u UnknownFlowSubOption) FlowSubOptionType() FlowSubOptionType { return u.Type }
func (u UnknownFlowSubOption) AppendData(b []byte) ([]byte, error) {
	return append(b, u.Data...), nil
}

// BindingReferenceSubOption is the BID Reference sub-option (RFC 6089
// section 4.1.1.3): the Binding IDs (RFC 5648) of the care-of addresses
// the flow is bound to. More than one BID means the flow goes to all of
// them (bicasting). It holds at least one BID.
type BindingReferenceSubOption struct {
	BIDs []uint16
}

func (BindingReferenceSubOption) FlowSubOptionType() FlowSubOptionType {
	return FlowSubOptBindingReference
}

func (s BindingReferenceSubOption) AppendData(b []byte) ([]byte, error) {
	if len(s.BIDs) == 0 {
		return b, eerr("Binding Reference sub-option", "no BID")
	}
	for _, bid := range s.BIDs {
		b = binary.BigEndian.AppendUint16(b, bid)
	}
	return b, nil
}

// DecodeBindingReferenceSubOption decodes the sub-option data: a
// non-zero, even number of octets.
func DecodeBindingReferenceSubOption(d []byte) (BindingReferenceSubOption, error) {
	if len(d) < 2 || len(d)%2 != 0 {
		return BindingReferenceSubOption{}, perr(0, "Binding Reference sub-option (length "+itoa(len(d))+", want a positive multiple of 2)", ErrBadLength)
	}
	s := BindingReferenceSubOption{BIDs: make([]uint16, len(d)/2)}
	for i := range s.BIDs {
		s.BIDs[i] = binary.BigEndian.Uint16(d[2*i:])
	}
	return s, nil
}

// TrafficSelectorSubOption is the Traffic Selector sub-option (RFC 6089
// section 4.1.1.4): TS Format (8), Reserved (8), then the selector, whose
// format-specific layout is RFC 6088's.
type TrafficSelectorSubOption struct {
	Selector TrafficSelector
}

func (TrafficSelectorSubOption) FlowSubOptionType() FlowSubOptionType {
	return FlowSubOptTrafficSelector
}

func (s TrafficSelectorSubOption) AppendData(b []byte) ([]byte, error) {
	if s.Selector == nil {
		return b, eerr("Traffic Selector sub-option", "no selector")
	}
	f := s.Selector.TSFormat()
	if f == 0 {
		return b, eerr("Traffic Selector sub-option", "TS Format 0 is reserved")
	}
	return s.Selector.AppendSelector(append(b, byte(f), 0))
}

// DecodeTrafficSelectorSubOption decodes the sub-option data. TS Format 0
// (reserved) is refused; formats other than 1 and 2 decode to an
// UnknownTrafficSelector.
func DecodeTrafficSelectorSubOption(d []byte) (TrafficSelectorSubOption, error) {
	if len(d) < 2 {
		return TrafficSelectorSubOption{}, perr(0, "Traffic Selector sub-option (length "+itoa(len(d))+", need at least 2)", ErrBadLength)
	}
	f := TSFormat(d[0])
	if f == 0 {
		return TrafficSelectorSubOption{}, perr(0, "Traffic Selector sub-option: TS Format 0 is reserved", ErrBadValue)
	}
	ts, err := ParseTrafficSelector(f, d[2:])
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Offset += 2
		}
		return TrafficSelectorSubOption{}, err
	}
	return TrafficSelectorSubOption{Selector: ts}, nil
}

// FlowBindingAction is the Action of the Flow Binding Action sub-option
// (RFC 7109 section 6.2.1; IANA "Flow Binding Action Values").
type FlowBindingAction uint8

// Flow binding actions.
const (
	FlowBindingAdd     FlowBindingAction = 11
	FlowBindingDelete  FlowBindingAction = 12
	FlowBindingModify  FlowBindingAction = 13
	FlowBindingRefresh FlowBindingAction = 14
	FlowBindingMove    FlowBindingAction = 15
	FlowBindingRevoke  FlowBindingAction = 16
)

var flowBindingActionNames = map[FlowBindingAction]string{
	FlowBindingAdd: "Add", FlowBindingDelete: "Delete", FlowBindingModify: "Modify",
	FlowBindingRefresh: "Refresh", FlowBindingMove: "Move", FlowBindingRevoke: "Revoke",
}

func (a FlowBindingAction) String() string {
	if n, ok := flowBindingActionNames[a]; ok {
		return n
	}
	return "FlowBindingAction(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText makes JSON output show the name.
func (a FlowBindingAction) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// FlowBindingActionSubOption is RFC 7109's Flow Binding Action sub-option
// (home-agent-initiated flow bindings): Reserved (8), Action (8).
type FlowBindingActionSubOption struct {
	Action FlowBindingAction
}

func (FlowBindingActionSubOption) FlowSubOptionType() FlowSubOptionType {
	return FlowSubOptFlowBindingAction
}

func (s FlowBindingActionSubOption) AppendData(b []byte) ([]byte, error) {
	return append(b, 0, byte(s.Action)), nil
}

// DecodeFlowBindingActionSubOption decodes the sub-option data (length 2).
func DecodeFlowBindingActionSubOption(d []byte) (FlowBindingActionSubOption, error) {
	if len(d) != 2 {
		return FlowBindingActionSubOption{}, perr(0, "Flow Binding Action sub-option (length "+itoa(len(d))+", want 2)", ErrBadLength)
	}
	return FlowBindingActionSubOption{Action: FlowBindingAction(d[1])}, nil
}

// TargetCareOfAddressSubOption is RFC 7109's Target Care-of Address
// sub-option: Reserved (16) and an IPv4 or IPv6 care-of address, told
// apart by the length (6 or 18).
type TargetCareOfAddressSubOption struct {
	CareOfAddress netip.Addr
}

func (TargetCareOfAddressSubOption) FlowSubOptionType() FlowSubOptionType {
	return FlowSubOptTargetCareOfAddress
}

func (s TargetCareOfAddressSubOption) AppendData(b []byte) ([]byte, error) {
	if !s.CareOfAddress.IsValid() {
		return b, eerr("Target Care-of Address sub-option", "no address")
	}
	return append(append(b, 0, 0), s.CareOfAddress.AsSlice()...), nil
}

// DecodeTargetCareOfAddressSubOption decodes the sub-option data (length 6
// or 18).
func DecodeTargetCareOfAddressSubOption(d []byte) (TargetCareOfAddressSubOption, error) {
	switch len(d) {
	case 6:
		return TargetCareOfAddressSubOption{CareOfAddress: netip.AddrFrom4([4]byte(d[2:6]))}, nil
	case 18:
		return TargetCareOfAddressSubOption{CareOfAddress: netip.AddrFrom16([16]byte(d[2:18]))}, nil
	}
	return TargetCareOfAddressSubOption{}, perr(0, "Target Care-of Address sub-option (length "+itoa(len(d))+", want 6 or 18)", ErrBadLength)
}
