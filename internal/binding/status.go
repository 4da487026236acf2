package binding

import "monami/wire"

// Status is a Binding Acknowledgement status (RFC 6275 section 6.1.8, IANA
// "Status Codes (Binding Acknowledgement)"); values below 128 mean the
// Binding Update was accepted.
type Status = wire.Status

// Short local names for the statuses this package sends or reacts to.
const (
	stAccepted                  = wire.StatusAccepted
	stMCoANotComplete           = wire.StatusMCoANotComplete          // RFC 5648 (MCOA NOTCOMPLETE)
	stMCoAReturnHomeWithoutNDP  = wire.StatusMCoAReturnHomeWithoutNDP // RFC 5648 (MCOA RETURNHOME WO/NDP)
	stAdministrativelyProhib    = wire.StatusAdministrativelyProhibited
	stInsufficientResources     = wire.StatusInsufficientResources
	stHomeRegNotSupported       = wire.StatusHomeRegistrationNotSupported
	stNotHomeSubnet             = wire.StatusNotHomeSubnet
	stNotHomeAgentForThisMN     = wire.StatusNotHomeAgentForThisMobileNode
	stDADFailed                 = wire.StatusDuplicateAddressDetectionFailed
	stSequenceOutOfWindow       = wire.StatusSequenceNumberOutOfWindow
	stRegistrationTypeChange    = wire.StatusRegistrationTypeChange
	stMobileRouterNotPermitted  = wire.StatusMobileRouterNotPermitted // RFC 3963
	stMIPv6IDMismatch           = wire.StatusMIPv6IDMismatch          // RFC 4285 (MIPV6-ID-MISMATCH)
	stMIPv6MesgIDRequired       = wire.StatusMIPv6MesgIDRequired      // RFC 4285 (MIPV6-MESG-ID-REQD)
	stMIPv6AuthFail             = wire.StatusMIPv6AuthFail            // RFC 4285 (MIPV6-AUTH-FAIL)
	stMCoAMalformed             = wire.StatusMCoAMalformed
	stMCoANonMCoABindingExists  = wire.StatusMCoANonMCoABindingExists
	stMCoAProhibited            = wire.StatusMCoAProhibited
	stMCoAUnknownCoA            = wire.StatusMCoAUnknownCoA
	stMCoABulkRegProhibited     = wire.StatusMCoABulkRegistrationProhibited
	stMCoASimultaneousHomeForgn = wire.StatusMCoASimultaneousHomeForeign
	stInvalidCareOfAddress      = wire.StatusInvalidCareOfAddress // RFC 6275 (IANA 174)
)

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
