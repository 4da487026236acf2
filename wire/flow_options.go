package wire

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// RFC 6089 (Flow Bindings in Mobile IPv6 and NEMO Basic Support) options:
// Flow Identification (section 4.1) and Flow Summary (section 4.2).

func init() {
	// RFC 6089 section 4.1: "The alignment requirement for this option is
	// 2n"; section 4.2 likewise for the Flow Summary option.
	registerOption(OptFlowIdentification, 2, 0, parseAs(DecodeFlowIdentification))
	registerOption(OptFlowSummary, 2, 0, parseAs(DecodeFlowSummary))
}

// FIDStatus is the Status field of the Flow Identification option (RFC
// 6089 section 4.1; IANA "Flow Identification Mobility Option Status
// Codes"). Values below 128 mean success.
type FIDStatus uint8

// Flow Identification status codes.
const (
	FIDStatusSuccess                FIDStatus = 0   // Flow binding successful
	FIDStatusAdministrativelyDenied FIDStatus = 128 // Administratively prohibited
	FIDStatusRejected               FIDStatus = 129 // Flow binding rejected, reason unspecified
	FIDStatusMalformed              FIDStatus = 130 // Flow identification mobility option malformed
	FIDStatusBIDNotFound            FIDStatus = 131 // BID not found
	FIDStatusFIDNotFound            FIDStatus = 132 // FID not found
	FIDStatusTSFormatNotSupported   FIDStatus = 133 // Traffic selector format not supported
)

var fidStatusNames = map[FIDStatus]string{
	FIDStatusSuccess:                "Flow binding successful",
	FIDStatusAdministrativelyDenied: "Administratively prohibited",
	FIDStatusRejected:               "Flow binding rejected, reason unspecified",
	FIDStatusMalformed:              "Flow identification mobility option malformed",
	FIDStatusBIDNotFound:            "BID not found",
	FIDStatusFIDNotFound:            "FID not found",
	FIDStatusTSFormatNotSupported:   "Traffic selector format not supported",
}

func (s FIDStatus) String() string {
	if n, ok := fidStatusNames[s]; ok {
		return n
	}
	return "FIDStatus(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText makes JSON output show the name.
func (s FIDStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Accepted reports whether the status means success (values below 128).
func (s FIDStatus) Accepted() bool { return s < 128 }

// FlowIdentification is the Flow Identification mobility option (RFC 6089
// section 4.1, type 45): one flow binding, carried in Binding Updates
// (request) and Binding Acknowledgements (result in Status).
//
//	FID (16) | FID-PRI (16) | Reserved (8) | Status (8) | sub-options...
type FlowIdentification struct {
	// FID identifies the flow binding; 0 is reserved.
	FID uint16
	// Priority is FID-PRI: lower values win when flow descriptions of
	// different options overlap; 0 is reserved, and each FID of a mobile
	// node has its own priority.
	Priority uint16
	// Status is only meaningful in a Binding Acknowledgement; a Binding
	// Update sends 0 and receivers of a Binding Update ignore it.
	Status FIDStatus
	// SubOptions are in wire order, without padding.
	SubOptions []FlowSubOption
}

func (FlowIdentification) OptionType() OptionType { return OptFlowIdentification }
func (FlowIdentification) Alignment() (int, int)  { return 2, 0 }

// AppendData appends FID, FID-PRI, Reserved, Status and the sub-options.
// FID and FID-PRI 0 are refused (reserved, RFC 6089 section 4.1).
func (o FlowIdentification) AppendData(b []byte) ([]byte, error) {
	if o.FID == 0 {
		return b, eerr("Flow Identification option", "FID 0 is reserved")
	}
	if o.Priority == 0 {
		return b, eerr("Flow Identification option", "FID-PRI 0 is reserved")
	}
	b = binary.BigEndian.AppendUint16(b, o.FID)
	b = binary.BigEndian.AppendUint16(b, o.Priority)
	b = append(b, 0, byte(o.Status))
	return AppendFlowSubOptions(b, o.SubOptions)
}

// BindingReference returns the first Binding Reference sub-option, if any.
func (o FlowIdentification) BindingReference() (BindingReferenceSubOption, bool) {
	for _, s := range o.SubOptions {
		if r, ok := s.(BindingReferenceSubOption); ok {
			return r, true
		}
	}
	return BindingReferenceSubOption{}, false
}

// TrafficSelector returns the selector of the first Traffic Selector
// sub-option, or nil.
func (o FlowIdentification) TrafficSelector() TrafficSelector {
	for _, s := range o.SubOptions {
		if t, ok := s.(TrafficSelectorSubOption); ok {
			return t.Selector
		}
	}
	return nil
}

// DecodeFlowIdentification decodes the option data (at least 6 octets).
// Offsets in errors count from the start of the option data.
func DecodeFlowIdentification(d []byte) (FlowIdentification, error) {
	if len(d) < 6 {
		return FlowIdentification{}, fmt.Errorf("length %d, want at least 6: %w", len(d), ErrBadLength)
	}
	o := FlowIdentification{
		FID:      binary.BigEndian.Uint16(d[0:]),
		Priority: binary.BigEndian.Uint16(d[2:]),
		Status:   FIDStatus(d[5]), // d[4] is Reserved
	}
	if o.FID == 0 {
		return FlowIdentification{}, perr(0, "Flow Identification option: FID 0 is reserved", ErrBadValue)
	}
	if o.Priority == 0 {
		return FlowIdentification{}, perr(2, "Flow Identification option: FID-PRI 0 is reserved", ErrBadValue)
	}
	subs, err := ParseFlowSubOptions(d[6:])
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.Offset += 6
		}
		return FlowIdentification{}, err
	}
	o.SubOptions = subs
	return o, nil
}

// FlowSummary is the Flow Summary mobility option (RFC 6089 section 4.2,
// type 44): the FIDs a mobile node refreshes or deletes at once. It holds
// at least one FID.
type FlowSummary struct {
	FIDs []uint16
}

func (FlowSummary) OptionType() OptionType { return OptFlowSummary }
func (FlowSummary) Alignment() (int, int)  { return 2, 0 }

// AppendData appends the FIDs; an empty list or FID 0 is refused.
func (o FlowSummary) AppendData(b []byte) ([]byte, error) {
	if len(o.FIDs) == 0 {
		return b, eerr("Flow Summary option", "no FID")
	}
	for _, f := range o.FIDs {
		if f == 0 {
			return b, eerr("Flow Summary option", "FID 0 is reserved")
		}
		b = binary.BigEndian.AppendUint16(b, f)
	}
	return b, nil
}

// DecodeFlowSummary decodes the option data: a non-zero, even number of
// octets.
func DecodeFlowSummary(d []byte) (FlowSummary, error) {
	if len(d) < 2 || len(d)%2 != 0 {
		return FlowSummary{}, fmt.Errorf("length %d, want a positive multiple of 2: %w", len(d), ErrBadLength)
	}
	o := FlowSummary{FIDs: make([]uint16, len(d)/2)}
	for i := range o.FIDs {
		o.FIDs[i] = binary.BigEndian.Uint16(d[2*i:])
		if o.FIDs[i] == 0 {
			return FlowSummary{}, perr(2*i, "Flow Summary option: FID 0 is reserved", ErrBadValue)
		}
	}
	return o, nil
}
