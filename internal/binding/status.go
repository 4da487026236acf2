package binding

import "fmt"

// Status is a Binding Acknowledgement status (RFC 6275 section 6.1.8, IANA
// "Status Codes (Binding Acknowledgement)"). Values below 128 mean the
// Binding Update was accepted.
//
// TODO(wire): alias wire.Status and use its constants once monami/wire
// builds; the values below are the IANA ones and must stay identical.
type Status uint8

const (
	stAccepted                  Status = 0   // RFC 6275 section 6.1.8
	stMCoANotComplete           Status = 4   // RFC 5648 section 6.2 (MCOA NOTCOMPLETE)
	stMCoAReturnHomeWithoutNDP  Status = 5   // RFC 5648 section 6.2 (MCOA RETURNHOME WO/NDP)
	stReasonUnspecified         Status = 128 // RFC 6275 section 6.1.8
	stAdministrativelyProhib    Status = 129 // RFC 6275 section 6.1.8
	stInsufficientResources     Status = 130 // RFC 6275 section 6.1.8
	stHomeRegNotSupported       Status = 131 // RFC 6275 section 6.1.8
	stNotHomeSubnet             Status = 132 // RFC 6275 section 6.1.8
	stNotHomeAgentForThisMN     Status = 133 // RFC 6275 section 6.1.8
	stDADFailed                 Status = 134 // RFC 6275 section 6.1.8
	stSequenceOutOfWindow       Status = 135 // RFC 6275 section 6.1.8
	stRegistrationTypeChange    Status = 139 // RFC 6275 section 6.1.8
	stMobileRouterNotPermitted  Status = 140 // RFC 3963 section 6.1.2
	stMIPv6IDMismatch           Status = 144 // RFC 4285 section 9 (MIPV6-ID-MISMATCH)
	stMIPv6MesgIDRequired       Status = 145 // RFC 4285 section 9 (MIPV6-MESG-ID-REQD)
	stMIPv6AuthFail             Status = 146 // RFC 4285 section 9 (MIPV6-AUTH-FAIL)
	stMCoAMalformed             Status = 164 // RFC 5648 section 6.2
	stMCoANonMCoABindingExists  Status = 165 // RFC 5648 section 6.2
	stMCoAProhibited            Status = 166 // RFC 5648 section 6.2
	stMCoAUnknownCoA            Status = 167 // RFC 5648 section 6.2
	stMCoABulkRegProhibited     Status = 168 // RFC 5648 section 6.2
	stMCoASimultaneousHomeForgn Status = 169 // RFC 5648 section 6.2
	stInvalidCareOfAddress      Status = 174 // RFC 6275 section 6.1.8 (IANA)
)

var statusNames = map[Status]string{
	stAccepted:                  "Binding Update accepted",
	stMCoANotComplete:           "MCOA NOTCOMPLETE",
	stMCoAReturnHomeWithoutNDP:  "MCOA RETURNHOME WO/NDP",
	stReasonUnspecified:         "Reason unspecified",
	stAdministrativelyProhib:    "Administratively prohibited",
	stInsufficientResources:     "Insufficient resources",
	stHomeRegNotSupported:       "Home registration not supported",
	stNotHomeSubnet:             "Not home subnet",
	stNotHomeAgentForThisMN:     "Not home agent for this mobile node",
	stDADFailed:                 "Duplicate Address Detection failed",
	stSequenceOutOfWindow:       "Sequence number out of window",
	stRegistrationTypeChange:    "Registration type change disallowed",
	stMobileRouterNotPermitted:  "Mobile Router Operation not permitted",
	stMIPv6IDMismatch:           "MIPV6-ID-MISMATCH",
	stMIPv6MesgIDRequired:       "MIPV6-MESG-ID-REQD",
	stMIPv6AuthFail:             "MIPV6-AUTH-FAIL",
	stMCoAMalformed:             "MCOA MALFORMED",
	stMCoANonMCoABindingExists:  "MCOA NON-MCOA BINDING EXISTS",
	stMCoAProhibited:            "MCOA PROHIBITED",
	stMCoAUnknownCoA:            "MCOA UNKNOWN COA",
	stMCoABulkRegProhibited:     "MCOA BULK REGISTRATION PROHIBITED",
	stMCoASimultaneousHomeForgn: "MCOA SIMULTANEOUS HOME AND FOREIGN PROHIBITED",
	stInvalidCareOfAddress:      "Invalid Care-of Address",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return fmt.Sprintf("%s (%d)", n, uint8(s))
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Accepted reports whether s means the Binding Update was accepted (RFC
// 6275 section 6.1.8: values less than 128).
func (s Status) Accepted() bool { return s < 128 }

// HomeAgentStatuses lists every status ProcessBindingUpdate can answer.
// (128 Reason unspecified is never needed: every rejection has a reason.)
var HomeAgentStatuses = []Status{
	stAccepted, stMCoANotComplete, stMCoAReturnHomeWithoutNDP,
	stAdministrativelyProhib, stInsufficientResources, stHomeRegNotSupported,
	stNotHomeSubnet, stNotHomeAgentForThisMN, stDADFailed, stSequenceOutOfWindow,
	stRegistrationTypeChange, stMobileRouterNotPermitted, stMIPv6IDMismatch,
	stMIPv6MesgIDRequired, stMIPv6AuthFail, stMCoAMalformed, stMCoANonMCoABindingExists,
	stMCoAProhibited, stMCoAUnknownCoA, stMCoABulkRegProhibited, stMCoASimultaneousHomeForgn,
	stInvalidCareOfAddress,
}
