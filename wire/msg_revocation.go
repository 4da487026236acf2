package wire

// Binding Revocation (RFC 5846 section 6): one MH Type (16) whose first
// octet, the B.R. Type, selects the Binding Revocation Indication (1) or
// the Binding Revocation Acknowledgement (2).

import (
	"encoding/binary"
	"strconv"
)

func init() {
	// B.R. Type (1) + R. Trigger or Status (1) + Sequence # (2) + flags and
	// Reserved (2).
	registerMessage(MHBindingRevocation, 6, parseBindingRevocation)
}

// BRType is the B.R. Type field (RFC 5846 section 6.1; IANA "Binding
// Revocation Type").
type BRType uint8

const (
	BRTypeIndication      BRType = 1 // Binding Revocation Indication, RFC 5846 section 6.1.1
	BRTypeAcknowledgement BRType = 2 // Binding Revocation Acknowledgement, RFC 5846 section 6.1.2
)

func (t BRType) String() string {
	switch t {
	case BRTypeIndication:
		return "Binding Revocation Indication"
	case BRTypeAcknowledgement:
		return "Binding Revocation Acknowledgement"
	}
	return "B.R. type " + strconv.Itoa(int(t))
}

// MarshalText makes JSON output show the name.
func (t BRType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// RevocationTrigger is the R. Trigger field of a Binding Revocation
// Indication (RFC 5846 section 6.1.1; IANA "Revocation Trigger Values").
type RevocationTrigger uint8

const (
	RevocationUnspecified              RevocationTrigger = 0   // RFC 5846 section 6.1.1
	RevocationAdministrativeReason     RevocationTrigger = 1   // RFC 5846 section 6.1.1
	RevocationInterMAGSameAccessType   RevocationTrigger = 2   // Inter-MAG Handover - same Access Type
	RevocationInterMAGDifferentAccess  RevocationTrigger = 3   // Inter-MAG Handover - different Access Type
	RevocationInterMAGUnknown          RevocationTrigger = 4   // Inter-MAG Handover - Unknown
	RevocationUserInitiatedTermination RevocationTrigger = 5   // User Initiated Session(s) Termination
	RevocationAccessNetworkTermination RevocationTrigger = 6   // Access Network Session(s) Termination
	RevocationPossibleOutOfSyncBCE     RevocationTrigger = 7   // Possible Out-of Sync BCE State
	RevocationPerPeerPolicy            RevocationTrigger = 128 // Per-Peer Policy
	RevocationMobilityNodeLocalPolicy  RevocationTrigger = 129 // Revoking Mobility Node Local Policy
	RevocationTestingFirst             RevocationTrigger = 250 // 250-255: reserved for testing purposes only
)

var revocationTriggerNames = map[RevocationTrigger]string{
	RevocationUnspecified:              "Unspecified",
	RevocationAdministrativeReason:     "Administrative Reason",
	RevocationInterMAGSameAccessType:   "Inter-MAG Handover - same Access Type",
	RevocationInterMAGDifferentAccess:  "Inter-MAG Handover - different Access Type",
	RevocationInterMAGUnknown:          "Inter-MAG Handover - Unknown",
	RevocationUserInitiatedTermination: "User Initiated Session(s) Termination",
	RevocationAccessNetworkTermination: "Access Network Session(s) Termination",
	RevocationPossibleOutOfSyncBCE:     "Possible Out-of Sync BCE State",
	RevocationPerPeerPolicy:            "Per-Peer Policy",
	RevocationMobilityNodeLocalPolicy:  "Revoking Mobility Node Local Policy",
}

func (r RevocationTrigger) String() string {
	if s, ok := revocationTriggerNames[r]; ok {
		return s
	}
	if r >= RevocationTestingFirst {
		return "testing trigger " + strconv.Itoa(int(r))
	}
	return "revocation trigger " + strconv.Itoa(int(r))
}

// MarshalText makes JSON output show the name.
func (r RevocationTrigger) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// BRStatus is the Status field of a Binding Revocation Acknowledgement (RFC
// 5846 section 6.1.2; IANA "Binding Revocation Acknowledgement Status
// Codes"). Values below 128 mean success.
type BRStatus uint8

const (
	BRStatusSuccess                       BRStatus = 0   // RFC 5846 section 6.1.2
	BRStatusPartialSuccess                BRStatus = 1   // RFC 5846 section 6.1.2
	BRStatusBindingDoesNotExist           BRStatus = 128 // Binding Does NOT Exist
	BRStatusIPv4HomeAddressOptionRequired BRStatus = 129 // IPv4 Home Address Option Required
	BRStatusGlobalRevocationNotAuthorized BRStatus = 130 // Global Revocation NOT Authorized
	BRStatusMobileNodesIdentityRequired   BRStatus = 131 // Revoked Mobile Nodes Identity Required
	BRStatusFailedMNAttached              BRStatus = 132 // Revocation Failed - MN is Attached
	BRStatusTriggerNotSupported           BRStatus = 133 // Revocation Trigger NOT Supported
	BRStatusFunctionNotSupported          BRStatus = 134 // Revocation Function NOT Supported
	BRStatusProxyRevocationNotSupported   BRStatus = 135 // Proxy Binding Revocation NOT Supported
)

var brStatusNames = map[BRStatus]string{
	BRStatusSuccess:                       "success",
	BRStatusPartialSuccess:                "partial success",
	BRStatusBindingDoesNotExist:           "Binding Does NOT Exist",
	BRStatusIPv4HomeAddressOptionRequired: "IPv4 Home Address Option Required",
	BRStatusGlobalRevocationNotAuthorized: "Global Revocation NOT Authorized",
	BRStatusMobileNodesIdentityRequired:   "Revoked Mobile Nodes Identity Required",
	BRStatusFailedMNAttached:              "Revocation Failed - MN is Attached",
	BRStatusTriggerNotSupported:           "Revocation Trigger NOT Supported",
	BRStatusFunctionNotSupported:          "Revocation Function NOT Supported",
	BRStatusProxyRevocationNotSupported:   "Proxy Binding Revocation NOT Supported",
}

func (s BRStatus) String() string {
	if n, ok := brStatusNames[s]; ok {
		return n
	}
	return "binding revocation status " + strconv.Itoa(int(s))
}

// MarshalText makes JSON output show the name.
func (s BRStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Flags of both Binding Revocation messages, in the octet after the
// Sequence # (RFC 5846 sections 6.1.1, 6.1.2).
const (
	brFlagP = 0x80 // Proxy Binding
	brFlagV = 0x40 // IPv4 HoA Binding Only
	brFlagG = 0x20 // Global
)

func brFlags(p, v, g bool) byte {
	var f byte
	if p {
		f |= brFlagP
	}
	if v {
		f |= brFlagV
	}
	if g {
		f |= brFlagG
	}
	return f
}

// BindingRevocationIndication is the Binding Revocation Indication (RFC
// 5846 section 6.1.1): B.R. Type 1, R. Trigger, Sequence #, P, V and G
// flags, Reserved, Mobility Options.
type BindingRevocationIndication struct {
	Trigger  RevocationTrigger
	Sequence uint16
	// P: the revocation concerns a proxy (PMIPv6) binding.
	ProxyBinding bool
	// V: revoke only the IPv4 home address binding.
	IPv4HomeAddressOnly bool
	// G: global revocation (all bindings of the peer, or of the MN-ID
	// group given in the options).
	Global  bool
	Options []Option
}

func (BindingRevocationIndication) MHType() MHType { return MHBindingRevocation }

func (m BindingRevocationIndication) AppendBody(b []byte) ([]byte, error) {
	b = append(b, byte(BRTypeIndication), byte(m.Trigger))
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	return append(b, brFlags(m.ProxyBinding, m.IPv4HomeAddressOnly, m.Global), 0), nil
}

func (m BindingRevocationIndication) MobilityOptions() []Option { return m.Options }

// BindingRevocationAcknowledgement is the Binding Revocation
// Acknowledgement (RFC 5846 section 6.1.2): B.R. Type 2, Status, Sequence
// #, P, V and G flags, Reserved, Mobility Options.
type BindingRevocationAcknowledgement struct {
	Status              BRStatus
	Sequence            uint16
	ProxyBinding        bool // P
	IPv4HomeAddressOnly bool // V
	Global              bool // G
	Options             []Option
}

func (BindingRevocationAcknowledgement) MHType() MHType { return MHBindingRevocation }

func (m BindingRevocationAcknowledgement) AppendBody(b []byte) ([]byte, error) {
	b = append(b, byte(BRTypeAcknowledgement), byte(m.Status))
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	return append(b, brFlags(m.ProxyBinding, m.IPv4HomeAddressOnly, m.Global), 0), nil
}

func (m BindingRevocationAcknowledgement) MobilityOptions() []Option { return m.Options }

func parseBindingRevocation(data []byte, opts []Option) (Message, error) {
	seq := binary.BigEndian.Uint16(data[2:])
	f := data[4]
	switch BRType(data[0]) {
	case BRTypeIndication:
		return BindingRevocationIndication{
			Trigger: RevocationTrigger(data[1]), Sequence: seq,
			ProxyBinding: f&brFlagP != 0, IPv4HomeAddressOnly: f&brFlagV != 0, Global: f&brFlagG != 0,
			Options: opts,
		}, nil
	case BRTypeAcknowledgement:
		return BindingRevocationAcknowledgement{
			Status: BRStatus(data[1]), Sequence: seq,
			ProxyBinding: f&brFlagP != 0, IPv4HomeAddressOnly: f&brFlagV != 0, Global: f&brFlagG != 0,
			Options: opts,
		}, nil
	}
	return nil, perr(0, "Binding Revocation (B.R. Type "+strconv.Itoa(int(data[0]))+")", ErrBadValue)
}
