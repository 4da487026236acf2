package wire

import (
	"strconv"
	"strings"
)

// Protocol numbers and fixed values used around the Mobility Header.
const (
	// IPProtoMH is the Next Header value of the Mobility Header (RFC 6275 section 6.1.1).
	IPProtoMH = 135
	// IPProtoNone is the Payload Proto a Mobility Header carries (RFC 6275 section 6.1.1).
	IPProtoNone = 59
	// IPProtoDstOpts is the Next Header value of a Destination Options header (RFC 8200 (IANA registry)).
	IPProtoDstOpts = 60
	// IPProtoRouting is the Next Header value of a Routing header (RFC 8200 (IANA registry)).
	IPProtoRouting = 43
	// IPProtoHopByHop is the Next Header value of a Hop-by-Hop Options header (RFC 8200 (IANA registry)).
	IPProtoHopByHop = 0
	// IPProtoFragment is the Next Header value of a Fragment header (RFC 8200 (IANA registry)).
	IPProtoFragment = 44
	// IPProtoIPv6 is IPv6-in-IPv6 encapsulation (RFC 2473).
	IPProtoIPv6 = 41
	// IPProtoUDP is UDP.
	IPProtoUDP = 17

	// OptTypeHomeAddress is the Home Address destination option type,
	// 0xC9 (RFC 6275 section 6.3, IANA "Destination Options and Hop-by-Hop Options").
	OptTypeHomeAddress = 0xC9
	// RoutingTypeMIPv6 is the type 2 routing header (RFC 6275 section 6.4).
	RoutingTypeMIPv6 = 2
)

// MHType is a Mobility Header message type (IANA "Mobility Header Types - for the MH Type field").
type MHType uint8

// Mobility Header types (IANA "Mobility Header Types"; RFC and section beside each).
const (
	MHBindingRefreshRequest       MHType = 0  // RFC 6275 section 6.1.2
	MHHomeTestInit                MHType = 1  // RFC 6275 section 6.1.3
	MHCareOfTestInit              MHType = 2  // RFC 6275 section 6.1.4
	MHHomeTest                    MHType = 3  // RFC 6275 section 6.1.5
	MHCareOfTest                  MHType = 4  // RFC 6275 section 6.1.6
	MHBindingUpdate               MHType = 5  // RFC 6275 section 6.1.7
	MHBindingAcknowledgement      MHType = 6  // RFC 6275 section 6.1.8
	MHBindingError                MHType = 7  // RFC 6275 section 6.1.9
	MHFastBindingUpdate           MHType = 8  // RFC 5568 (IANA registry)
	MHFastBindingAcknowledgment   MHType = 9  // RFC 5568 (IANA registry)
	MHFastNeighborAdvertisement   MHType = 10 // RFC 5568 (deprecated)
	MHExperimental                MHType = 11 // RFC 5096 (IANA registry)
	MHHomeAgentSwitch             MHType = 12 // RFC 5142 (IANA registry)
	MHHeartbeat                   MHType = 13 // RFC 5847 (IANA registry)
	MHHandoverInitiate            MHType = 14 // RFC 5568 (IANA registry)
	MHHandoverAcknowledge         MHType = 15 // RFC 5568 (IANA registry)
	MHBindingRevocation           MHType = 16 // RFC 5846 (IANA registry)
	MHLocalizedRoutingInitiation  MHType = 17 // RFC 6705 (IANA registry)
	MHLocalizedRoutingAcknowledge MHType = 18 // RFC 6705 (IANA registry)
	MHUpdateNotification          MHType = 19 // RFC 7077 (IANA registry)
	MHUpdateNotificationAck       MHType = 20 // RFC 7077 (IANA registry)
	MHFlowBinding                 MHType = 21 // RFC 7109 (IANA registry)
	MHSubscriptionQuery           MHType = 22 // RFC 7161 (IANA registry)
	MHSubscriptionResponse        MHType = 23 // RFC 7161 (IANA registry)
)

var mhTypeNames = map[MHType]string{
	MHBindingRefreshRequest:       "Binding Refresh Request",
	MHHomeTestInit:                "Home Test Init",
	MHCareOfTestInit:              "Care-of Test Init",
	MHHomeTest:                    "Home Test",
	MHCareOfTest:                  "Care-of Test",
	MHBindingUpdate:               "Binding Update",
	MHBindingAcknowledgement:      "Binding Acknowledgement",
	MHBindingError:                "Binding Error",
	MHFastBindingUpdate:           "Fast Binding Update",
	MHFastBindingAcknowledgment:   "Fast Binding Acknowledgment",
	MHFastNeighborAdvertisement:   "Fast Neighbor Advertisement",
	MHExperimental:                "Experimental Mobility Header",
	MHHomeAgentSwitch:             "Home Agent Switch",
	MHHeartbeat:                   "Heartbeat",
	MHHandoverInitiate:            "Handover Initiate",
	MHHandoverAcknowledge:         "Handover Acknowledge",
	MHBindingRevocation:           "Binding Revocation",
	MHLocalizedRoutingInitiation:  "Localized Routing Initiation",
	MHLocalizedRoutingAcknowledge: "Localized Routing Acknowledgment",
	MHUpdateNotification:          "Update Notification",
	MHUpdateNotificationAck:       "Update Notification Acknowledgement",
	MHFlowBinding:                 "Flow Binding",
	MHSubscriptionQuery:           "Subscription Query",
	MHSubscriptionResponse:        "Subscription Response",
}

func (t MHType) String() string {
	if s, ok := mhTypeNames[t]; ok {
		return s
	}
	return "MH type " + strconv.Itoa(int(t))
}

// OptionType is a Mobility Option type (IANA "Mobility Options").
type OptionType uint8

// Mobility Option types (IANA "Mobility Options"; RFC and section beside each).
const (
	OptPad1                          OptionType = 0  // RFC 6275 section 6.2.2
	OptPadN                          OptionType = 1  // RFC 6275 section 6.2.3
	OptBindingRefreshAdvice          OptionType = 2  // RFC 6275 section 6.2.4
	OptAlternateCareOfAddress        OptionType = 3  // RFC 6275 section 6.2.5
	OptNonceIndices                  OptionType = 4  // RFC 6275 section 6.2.6
	OptBindingAuthorizationData      OptionType = 5  // RFC 6275 section 6.2.7
	OptMobileNetworkPrefix           OptionType = 6  // RFC 3963 (IANA registry)
	OptLinkLayerAddress              OptionType = 7  // RFC 5568 (IANA registry)
	OptMobileNodeIdentifier          OptionType = 8  // RFC 4283 section 3
	OptMobilityMessageAuthentication OptionType = 9  // RFC 4285 section 5
	OptMobilityMessageReplay         OptionType = 10 // RFC 4285 section 6 (MESG-ID)
	OptCGAParametersRequest          OptionType = 11 // RFC 4866 (IANA registry)
	OptCGAParameters                 OptionType = 12 // RFC 4866 (IANA registry)
	OptSignature                     OptionType = 13 // RFC 4866 (IANA registry)
	OptPermanentHomeKeygenToken      OptionType = 14 // RFC 4866 (IANA registry)
	OptCareOfTestInit                OptionType = 15 // RFC 4866 (IANA registry)
	OptCareOfTest                    OptionType = 16 // RFC 4866 (IANA registry)
	OptDNSUpdate                     OptionType = 17 // RFC 5026 (IANA registry)
	OptExperimental                  OptionType = 18 // RFC 5096 (IANA registry)
	OptVendorSpecific                OptionType = 19 // RFC 5094 (IANA registry)
	OptServiceSelection              OptionType = 20 // RFC 5149 (IANA registry)
	OptBindingAuthorizationDataFMIP  OptionType = 21 // RFC 5568 (IANA registry)
	OptHomeNetworkPrefix             OptionType = 22 // RFC 5213 section 8.3
	OptHandoffIndicator              OptionType = 23 // RFC 5213 section 8.4
	OptAccessTechnologyType          OptionType = 24 // RFC 5213 section 8.5
	OptMobileNodeLinkLayerIdentifier OptionType = 25 // RFC 5213 section 8.6
	OptLinkLocalAddress              OptionType = 26 // RFC 5213 section 8.7
	OptTimestamp                     OptionType = 27 // RFC 5213 section 8.8
	OptRestartCounter                OptionType = 28 // RFC 5847 (IANA registry)
	OptIPv4HomeAddress               OptionType = 29 // RFC 5555 (IANA registry)
	OptIPv4AddressAcknowledgement    OptionType = 30 // RFC 5555 (IANA registry)
	OptNATDetection                  OptionType = 31 // RFC 5555 (IANA registry)
	OptIPv4CareOfAddress             OptionType = 32 // RFC 5555 (IANA registry)
	OptGREKey                        OptionType = 33 // RFC 5845 (IANA registry)
	OptIPv6AddressPrefix             OptionType = 34 // RFC 5568 (IANA registry)
	OptBindingIdentifier             OptionType = 35 // RFC 5648 section 6.1
	OptIPv4HomeAddressRequest        OptionType = 36 // RFC 5844 (IANA registry)
	OptIPv4HomeAddressReply          OptionType = 37 // RFC 5844 (IANA registry)
	OptIPv4DefaultRouterAddress      OptionType = 38 // RFC 5844 (IANA registry)
	OptIPv4DHCPSupportMode           OptionType = 39 // RFC 5844 (IANA registry)
	OptContextRequest                OptionType = 40 // RFC 5949 (IANA registry)
	OptLocalMobilityAnchorAddress    OptionType = 41 // RFC 5949 (IANA registry)
	OptMobileNodeLinkLocalAddressIID OptionType = 42 // RFC 5949 (IANA registry)
	OptTransientBinding              OptionType = 43 // RFC 6058 (IANA registry)
	OptFlowSummary                   OptionType = 44 // RFC 6089 (IANA registry)
	OptFlowIdentification            OptionType = 45 // RFC 6089 (IANA registry)
	OptRedirectCapability            OptionType = 46 // RFC 6463 (IANA registry)
	OptRedirect                      OptionType = 47 // RFC 6463 (IANA registry)
	OptLoadInformation               OptionType = 48 // RFC 6463 (IANA registry)
	OptAlternateIPv4CareOfAddress    OptionType = 49 // RFC 6463 (IANA registry)
	OptMobileNodeGroupIdentifier     OptionType = 50 // RFC 6602 (IANA registry)
	OptMAGIPv6Address                OptionType = 51 // RFC 6705 (IANA registry)
	OptAccessNetworkIdentifier       OptionType = 52 // RFC 6757 (IANA registry)
	OptIPv4TrafficOffloadSelector    OptionType = 53 // RFC 6909 (IANA registry)
	OptDynamicIPMulticastSelector    OptionType = 54 // RFC 7028 (IANA registry)
	OptDelegatedMobileNetworkPrefix  OptionType = 55 // RFC 7148 (IANA registry)
	OptActiveMulticastSubscrIPv4     OptionType = 56 // RFC 7161 (IANA registry)
	OptActiveMulticastSubscrIPv6     OptionType = 57 // RFC 7161 (IANA registry)
	OptQualityOfService              OptionType = 58 // RFC 7222 (IANA registry)
	OptLMAUserPlaneAddress           OptionType = 59 // RFC 7389 (IANA registry)
	OptMulticastMobility             OptionType = 60 // RFC 7411 (IANA registry)
	OptMulticastAcknowledgement      OptionType = 61 // RFC 7411 (IANA registry)
	OptLMAControlledMAGParameters    OptionType = 62 // RFC 8127 (IANA registry)
	OptMAGMultipathBinding           OptionType = 63 // RFC 8278 (IANA registry)
	OptMAGIdentifier                 OptionType = 64 // RFC 8278 (IANA registry)
	OptAnchoredPrefix                OptionType = 65 // RFC 8885 (IANA)
	OptLocalPrefix                   OptionType = 66 // RFC 8885 (IANA)
	OptPreviousMAAR                  OptionType = 67 // RFC 8885 (IANA)
	OptServingMAAR                   OptionType = 68 // RFC 8885 (IANA)
	OptDLIFLinkLocalAddress          OptionType = 69 // RFC 8885 (IANA)
	OptDLIFLinkLayerAddress          OptionType = 70 // RFC 8885 (IANA)
)

var optionTypeNames = map[OptionType]string{
	OptPad1:                          "Pad1",
	OptPadN:                          "PadN",
	OptBindingRefreshAdvice:          "Binding Refresh Advice",
	OptAlternateCareOfAddress:        "Alternate Care-of Address",
	OptNonceIndices:                  "Nonce Indices",
	OptBindingAuthorizationData:      "Binding Authorization Data",
	OptMobileNetworkPrefix:           "Mobile Network Prefix",
	OptLinkLayerAddress:              "Mobility Header Link-Layer Address",
	OptMobileNodeIdentifier:          "Mobile Node Identifier",
	OptMobilityMessageAuthentication: "Mobility Message Authentication",
	OptMobilityMessageReplay:         "Mobility Message Replay Protection",
	OptCGAParametersRequest:          "CGA Parameters Request",
	OptCGAParameters:                 "CGA Parameters",
	OptSignature:                     "Signature",
	OptPermanentHomeKeygenToken:      "Permanent Home Keygen Token",
	OptCareOfTestInit:                "Care-of Test Init",
	OptCareOfTest:                    "Care-of Test",
	OptDNSUpdate:                     "DNS Update",
	OptExperimental:                  "Experimental",
	OptVendorSpecific:                "Vendor Specific",
	OptServiceSelection:              "Service Selection",
	OptBindingAuthorizationDataFMIP:  "Binding Authorization Data for FMIPv6",
	OptHomeNetworkPrefix:             "Home Network Prefix",
	OptHandoffIndicator:              "Handoff Indicator",
	OptAccessTechnologyType:          "Access Technology Type",
	OptMobileNodeLinkLayerIdentifier: "Mobile Node Link-layer Identifier",
	OptLinkLocalAddress:              "Link-local Address",
	OptTimestamp:                     "Timestamp",
	OptRestartCounter:                "Restart Counter",
	OptIPv4HomeAddress:               "IPv4 Home Address",
	OptIPv4AddressAcknowledgement:    "IPv4 Address Acknowledgement",
	OptNATDetection:                  "NAT Detection",
	OptIPv4CareOfAddress:             "IPv4 Care-of Address",
	OptGREKey:                        "GRE Key",
	OptIPv6AddressPrefix:             "Mobility Header IPv6 Address/Prefix",
	OptBindingIdentifier:             "Binding Identifier",
	OptIPv4HomeAddressRequest:        "IPv4 Home Address Request",
	OptIPv4HomeAddressReply:          "IPv4 Home Address Reply",
	OptIPv4DefaultRouterAddress:      "IPv4 Default-Router Address",
	OptIPv4DHCPSupportMode:           "IPv4 DHCP Support Mode",
	OptContextRequest:                "Context Request",
	OptLocalMobilityAnchorAddress:    "Local Mobility Anchor Address",
	OptMobileNodeLinkLocalAddressIID: "Mobile Node Link-local Address Interface Identifier",
	OptTransientBinding:              "Transient Binding",
	OptFlowSummary:                   "Flow Summary",
	OptFlowIdentification:            "Flow Identification",
	OptRedirectCapability:            "Redirect-Capability",
	OptRedirect:                      "Redirect",
	OptLoadInformation:               "Load Information",
	OptAlternateIPv4CareOfAddress:    "Alternate IPv4 Care-of Address",
	OptMobileNodeGroupIdentifier:     "Mobile Node Group Identifier",
	OptMAGIPv6Address:                "MAG IPv6 Address",
	OptAccessNetworkIdentifier:       "Access Network Identifier",
	OptIPv4TrafficOffloadSelector:    "IPv4 Traffic Offload Selector",
	OptDynamicIPMulticastSelector:    "Dynamic IP Multicast Selector",
	OptDelegatedMobileNetworkPrefix:  "Delegated Mobile Network Prefix",
	OptActiveMulticastSubscrIPv4:     "Active Multicast Subscription IPv4",
	OptActiveMulticastSubscrIPv6:     "Active Multicast Subscription IPv6",
	OptQualityOfService:              "Quality-of-Service",
	OptLMAUserPlaneAddress:           "LMA User-Plane Address",
	OptMulticastMobility:             "Multicast Mobility",
	OptMulticastAcknowledgement:      "Multicast Acknowledgement",
	OptLMAControlledMAGParameters:    "LMA-Controlled MAG Parameters",
	OptMAGMultipathBinding:           "MAG Multipath-Binding",
	OptMAGIdentifier:                 "MAG Identifier",
	OptAnchoredPrefix:                "Anchored Prefix",
	OptLocalPrefix:                   "Local Prefix",
	OptPreviousMAAR:                  "Previous MAAR",
	OptServingMAAR:                   "Serving MAAR",
	OptDLIFLinkLocalAddress:          "DLIF Link-Local Address",
	OptDLIFLinkLayerAddress:          "DLIF Link-Layer Address",
}

func (t OptionType) String() string {
	if s, ok := optionTypeNames[t]; ok {
		return s
	}
	return "option type " + strconv.Itoa(int(t))
}

// Status is the Binding Acknowledgement Status field (RFC 6275 section
// 6.1.8; IANA "Status Codes (Binding Acknowledgement)"). Values below 128
// mean the Binding Update was accepted.
type Status uint8

// Binding Acknowledgement status codes (IANA registry; RFC beside each).
const (
	StatusAccepted                        Status = 0   // RFC 6275 section 6.1.8
	StatusAcceptedPrefixDiscovery         Status = 1   // RFC 6275 section 6.1.8
	StatusGREKeyOptionNotRequired         Status = 2   // RFC 5845 (IANA registry)
	StatusGRETunnelingTLVNotSupported     Status = 3   // RFC 5845 (IANA registry)
	StatusMCoANotComplete                 Status = 4   // RFC 5648 section 6.2
	StatusMCoAReturnHomeWithoutNDP        Status = 5   // RFC 5648 section 6.2
	StatusPBUAcceptedTBIgnored            Status = 6   // RFC 6058 (IANA registry)
	StatusReasonUnspecified               Status = 128 // RFC 6275 section 6.1.8
	StatusAdministrativelyProhibited      Status = 129 // RFC 6275 section 6.1.8
	StatusInsufficientResources           Status = 130 // RFC 6275 section 6.1.8
	StatusHomeRegistrationNotSupported    Status = 131 // RFC 6275 section 6.1.8
	StatusNotHomeSubnet                   Status = 132 // RFC 6275 section 6.1.8
	StatusNotHomeAgentForThisMobileNode   Status = 133 // RFC 6275 section 6.1.8
	StatusDuplicateAddressDetectionFailed Status = 134 // RFC 6275 section 6.1.8
	StatusSequenceNumberOutOfWindow       Status = 135 // RFC 6275 section 6.1.8
	StatusExpiredHomeNonceIndex           Status = 136 // RFC 6275 section 6.1.8
	StatusExpiredCareOfNonceIndex         Status = 137 // RFC 6275 section 6.1.8
	StatusExpiredNonces                   Status = 138 // RFC 6275 section 6.1.8
	StatusRegistrationTypeChange          Status = 139 // RFC 6275 section 6.1.8
	StatusMobileRouterNotPermitted        Status = 140 // RFC 3963 (IANA registry)
	StatusInvalidPrefix                   Status = 141 // RFC 3963 (IANA registry)
	StatusNotAuthorizedForPrefix          Status = 142 // RFC 3963 (IANA registry)
	StatusForwardingSetupFailed           Status = 143 // RFC 3963 (IANA registry)
	StatusMIPv6IDMismatch                 Status = 144 // RFC 4285 (IANA registry; MIPV6-ID-MISMATCH)
	StatusMIPv6MesgIDRequired             Status = 145 // RFC 4285 (IANA registry; MIPV6-MESG-ID-REQD)
	StatusMIPv6AuthFail                   Status = 146 // RFC 4285 (IANA registry; MIPV6-AUTH-FAIL)
	StatusPermanentHomeKeygenUnavailable  Status = 147 // RFC 4866 (IANA registry)
	StatusCGASignatureFailed              Status = 148 // RFC 4866 (IANA registry)
	StatusPermanentHomeKeygenExists       Status = 149 // RFC 4866 (IANA registry)
	StatusNonNullHomeNonceIndexExpected   Status = 150 // RFC 4866 (IANA registry)
	StatusServiceAuthorizationFailed      Status = 151 // RFC 5149 (IANA registry)
	StatusProxyRegNotEnabled              Status = 152 // RFC 5213 section 8.9
	StatusNotLMAForThisMobileNode         Status = 153 // RFC 5213 section 8.9
	StatusMAGNotAuthorizedForProxyReg     Status = 154 // RFC 5213 section 8.9
	StatusNotAuthorizedForHNP             Status = 155 // RFC 5213 section 8.9
	StatusTimestampMismatch               Status = 156 // RFC 5213 section 8.9
	StatusTimestampLowerThanPrevAccepted  Status = 157 // RFC 5213 section 8.9
	StatusMissingHNPOption                Status = 158 // RFC 5213 section 8.9
	StatusBCEPBUPrefixSetDoNotMatch       Status = 159 // RFC 5213 section 8.9
	StatusMissingMNIdentifierOption       Status = 160 // RFC 5213 section 8.9
	StatusMissingHandoffIndicatorOption   Status = 161 // RFC 5213 section 8.9
	StatusMissingAccessTechTypeOption     Status = 162 // RFC 5213 section 8.9
	StatusGREKeyOptionRequired            Status = 163 // RFC 5845 (IANA registry)
	StatusMCoAMalformed                   Status = 164 // RFC 5648 section 6.2
	StatusMCoANonMCoABindingExists        Status = 165 // RFC 5648 section 6.2
	StatusMCoAProhibited                  Status = 166 // RFC 5648 section 6.2
	StatusMCoAUnknownCoA                  Status = 167 // RFC 5648 section 6.2
	StatusMCoABulkRegistrationProhibited  Status = 168 // RFC 5648 section 6.2
	StatusMCoASimultaneousHomeForeign     Status = 169 // RFC 5648 section 6.2
	StatusNotAuthorizedForIPv4Mobility    Status = 170 // RFC 5844 (IANA registry)
	StatusNotAuthorizedForIPv4HoA         Status = 171 // RFC 5844 (IANA registry)
	StatusNotAuthorizedForIPv6Mobility    Status = 172 // RFC 5844 (IANA registry)
	StatusMultipleIPv4HoANotSupported     Status = 173 // RFC 5844 (IANA registry)
	StatusInvalidCareOfAddress            Status = 174 // RFC 6275 section 6.1.8
	StatusInvalidMNGroupIdentifier        Status = 175 // RFC 6602 (IANA registry)
	StatusReinitSAWithHAC                 Status = 176 // RFC 6618 (IANA registry)
	StatusNotAuthorizedForDelegatedMNP    Status = 177 // RFC 7148 (IANA registry)
	StatusRequestedDMNPInUse              Status = 178 // RFC 7148 (IANA registry)
	StatusCannotMeetQoSServiceRequest     Status = 179 // RFC 7222 (IANA registry)
	StatusCannotSupportMultipathBinding   Status = 180 // RFC 8278 (IANA registry)
)

var statusNames = map[Status]string{
	StatusAccepted:                        "Binding Update accepted",
	StatusAcceptedPrefixDiscovery:         "Accepted but prefix discovery necessary",
	StatusGREKeyOptionNotRequired:         "GRE_KEY_OPTION_NOT_REQUIRED",
	StatusGRETunnelingTLVNotSupported:     "GRE_TUNNELING_BUT_TLV_HEADER_NOT_SUPPORTED",
	StatusMCoANotComplete:                 "MCOA NOTCOMPLETE",
	StatusMCoAReturnHomeWithoutNDP:        "MCOA RETURNHOME WO/NDP",
	StatusPBUAcceptedTBIgnored:            "PBU_ACCEPTED_TB_IGNORED_SETTINGSMISMATCH",
	StatusReasonUnspecified:               "Reason unspecified",
	StatusAdministrativelyProhibited:      "Administratively prohibited",
	StatusInsufficientResources:           "Insufficient resources",
	StatusHomeRegistrationNotSupported:    "Home registration not supported",
	StatusNotHomeSubnet:                   "Not home subnet",
	StatusNotHomeAgentForThisMobileNode:   "Not home agent for this mobile node",
	StatusDuplicateAddressDetectionFailed: "Duplicate Address Detection failed",
	StatusSequenceNumberOutOfWindow:       "Sequence number out of window",
	StatusExpiredHomeNonceIndex:           "Expired home nonce index",
	StatusExpiredCareOfNonceIndex:         "Expired care-of nonce index",
	StatusExpiredNonces:                   "Expired nonces",
	StatusRegistrationTypeChange:          "Registration type change disallowed",
	StatusMobileRouterNotPermitted:        "Mobile Router Operation not permitted",
	StatusInvalidPrefix:                   "Invalid Prefix",
	StatusNotAuthorizedForPrefix:          "Not Authorized for Prefix",
	StatusForwardingSetupFailed:           "Forwarding Setup failed",
	StatusMIPv6IDMismatch:                 "MIPV6-ID-MISMATCH",
	StatusMIPv6MesgIDRequired:             "MIPV6-MESG-ID-REQD",
	StatusMIPv6AuthFail:                   "MIPV6-AUTH-FAIL",
	StatusPermanentHomeKeygenUnavailable:  "Permanent home keygen token unavailable",
	StatusCGASignatureFailed:              "CGA and signature verification failed",
	StatusPermanentHomeKeygenExists:       "Permanent home keygen token exists",
	StatusNonNullHomeNonceIndexExpected:   "Non-null home nonce index expected",
	StatusServiceAuthorizationFailed:      "SERVICE_AUTHORIZATION_FAILED",
	StatusProxyRegNotEnabled:              "PROXY_REG_NOT_ENABLED",
	StatusNotLMAForThisMobileNode:         "NOT_LMA_FOR_THIS_MOBILE_NODE",
	StatusMAGNotAuthorizedForProxyReg:     "MAG_NOT_AUTHORIZED_FOR_PROXY_REG",
	StatusNotAuthorizedForHNP:             "NOT_AUTHORIZED_FOR_HOME_NETWORK_PREFIX",
	StatusTimestampMismatch:               "TIMESTAMP_MISMATCH",
	StatusTimestampLowerThanPrevAccepted:  "TIMESTAMP_LOWER_THAN_PREV_ACCEPTED",
	StatusMissingHNPOption:                "MISSING_HOME_NETWORK_PREFIX_OPTION",
	StatusBCEPBUPrefixSetDoNotMatch:       "BCE_PBU_PREFIX_SET_DO_NOT_MATCH",
	StatusMissingMNIdentifierOption:       "MISSING_MN_IDENTIFIER_OPTION",
	StatusMissingHandoffIndicatorOption:   "MISSING_HANDOFF_INDICATOR_OPTION",
	StatusMissingAccessTechTypeOption:     "MISSING_ACCESS_TECH_TYPE_OPTION",
	StatusGREKeyOptionRequired:            "GRE_KEY_OPTION_REQUIRED",
	StatusMCoAMalformed:                   "MCOA MALFORMED",
	StatusMCoANonMCoABindingExists:        "MCOA NON-MCOA BINDING EXISTS",
	StatusMCoAProhibited:                  "MCOA PROHIBITED",
	StatusMCoAUnknownCoA:                  "MCOA UNKNOWN COA",
	StatusMCoABulkRegistrationProhibited:  "MCOA BULK REGISTRATION PROHIBITED",
	StatusMCoASimultaneousHomeForeign:     "MCOA SIMULTANEOUS HOME AND FOREIGN PROHIBITED",
	StatusNotAuthorizedForIPv4Mobility:    "NOT_AUTHORIZED_FOR_IPV4_MOBILITY_SERVICE",
	StatusNotAuthorizedForIPv4HoA:         "NOT_AUTHORIZED_FOR_IPV4_HOME_ADDRESS",
	StatusNotAuthorizedForIPv6Mobility:    "NOT_AUTHORIZED_FOR_IPV6_MOBILITY_SERVICE",
	StatusMultipleIPv4HoANotSupported:     "MULTIPLE_IPV4_HOME_ADDRESS_ASSIGNMENT_NOT_SUPPORTED",
	StatusInvalidCareOfAddress:            "Invalid Care-of Address",
	StatusInvalidMNGroupIdentifier:        "INVALID_MOBILE_NODE_GROUP_IDENTIFIER",
	StatusReinitSAWithHAC:                 "REINIT_SA_WITH_HAC",
	StatusNotAuthorizedForDelegatedMNP:    "NOT_AUTHORIZED_FOR_DELEGATED_MNP",
	StatusRequestedDMNPInUse:              "REQUESTED_DMNP_IN_USE",
	StatusCannotMeetQoSServiceRequest:     "CANNOT_MEET_QOS_SERVICE_REQUEST",
	StatusCannotSupportMultipathBinding:   "CANNOT_SUPPORT_MULTIPATH_BINDING",
}

// Accepted reports whether the status means the Binding Update was
// accepted (values below 128, RFC 6275 section 6.1.8).
func (s Status) Accepted() bool { return s < 128 }

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "status " + strconv.Itoa(int(s))
}

// BindingErrorStatus is the Binding Error Status field (RFC 6275 section
// 6.1.9; IANA "Status Codes (Binding Error)").
type BindingErrorStatus uint8

const (
	// BEUnknownBindingForHAO: unknown binding for Home Address destination option (RFC 6275 section 6.1.9).
	BEUnknownBindingForHAO BindingErrorStatus = 1
	// BEUnrecognizedMHType: unrecognized MH Type value (RFC 6275 section 6.1.9).
	BEUnrecognizedMHType BindingErrorStatus = 2
)

func (s BindingErrorStatus) String() string {
	switch s {
	case BEUnknownBindingForHAO:
		return "Unknown binding for Home Address destination option"
	case BEUnrecognizedMHType:
		return "Unrecognized MH Type value"
	}
	return "status " + strconv.Itoa(int(s))
}

// BUFlags is the 16-bit flags-and-reserved field of a Binding Update
// (RFC 6275 section 6.1.7; IANA "Binding Update Flags"). Unassigned bits
// are kept as received.
type BUFlags uint16

// Binding Update flags.
const (
	BUFlagA BUFlags = 0x8000 // Acknowledge, RFC 6275 section 6.1.7
	BUFlagH BUFlags = 0x4000 // Home Registration, RFC 6275 section 6.1.7
	BUFlagL BUFlags = 0x2000 // Link-Local Address Compatibility, RFC 6275 section 6.1.7
	BUFlagK BUFlags = 0x1000 // Key Management Mobility Capability, RFC 6275 section 6.1.7
	BUFlagM BUFlags = 0x0800 // MAP Registration, RFC 5380 (IANA registry)
	BUFlagR BUFlags = 0x0400 // Mobile Router, RFC 3963 (IANA registry)
	BUFlagP BUFlags = 0x0200 // Proxy Registration, RFC 5213 section 8.1
	BUFlagF BUFlags = 0x0100 // Force UDP encapsulation, RFC 5555 (IANA registry)
	BUFlagT BUFlags = 0x0080 // TLV-header format for UDP encapsulation, RFC 5845 (IANA flags registry)
	BUFlagB BUFlags = 0x0040 // Bulk Binding Update, RFC 6602 (IANA registry)
	BUFlagS BUFlags = 0x0020 // Multicast subscription, RFC 7161 (IANA registry)
	BUFlagD BUFlags = 0x0010 // Distributed mobility anchoring, RFC 8885 (IANA)
)

var buFlagLetters = []flagLetter[BUFlags]{{BUFlagA, "A"}, {BUFlagH, "H"}, {BUFlagL, "L"}, {BUFlagK, "K"}, {BUFlagM, "M"},
	{BUFlagR, "R"}, {BUFlagP, "P"}, {BUFlagF, "F"}, {BUFlagT, "T"}, {BUFlagB, "B"},
	{BUFlagS, "S"}, {BUFlagD, "D"}}

// Has reports whether all bits of g are set.
func (f BUFlags) Has(g BUFlags) bool { return f&g == g }

func (f BUFlags) String() string { return flagString(f, buFlagLetters) }

// MarshalText gives JSON output the letters instead of a number.
func (f BUFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// BAFlags is the 8-bit flags-and-reserved field of a Binding
// Acknowledgement (RFC 6275 section 6.1.8; IANA "Binding Acknowledgment
// Flags"). Unassigned bits are kept as received.
type BAFlags uint8

// Binding Acknowledgement flags.
const (
	BAFlagK BAFlags = 0x80 // Key Management Mobility Capability, RFC 6275 section 6.1.8
	BAFlagR BAFlags = 0x40 // Mobile Router, RFC 3963 (IANA registry)
	BAFlagP BAFlags = 0x20 // Proxy Registration, RFC 5213 section 8.2
	BAFlagT BAFlags = 0x10 // TLV-header format for UDP encapsulation, RFC 5845 (IANA flags registry)
	BAFlagB BAFlags = 0x08 // Bulk Binding Update, RFC 6602 (IANA registry)
	BAFlagS BAFlags = 0x04 // Multicast subscription, RFC 7161 (IANA registry)
	BAFlagD BAFlags = 0x02 // Distributed mobility anchoring, RFC 8885 (IANA)
)

var baFlagLetters = []flagLetter[BAFlags]{{BAFlagK, "K"}, {BAFlagR, "R"}, {BAFlagP, "P"}, {BAFlagT, "T"}, {BAFlagB, "B"}, {BAFlagS, "S"}, {BAFlagD, "D"}}

// Has reports whether all bits of g are set.
func (f BAFlags) Has(g BAFlags) bool { return f&g == g }

func (f BAFlags) String() string { return flagString(f, baFlagLetters) }

// flagLetter names one flag bit.
type flagLetter[T ~uint8 | ~uint16] struct {
	f T
	s string
}

// flagString writes the letters of the set flags, "|"-separated, and any
// unassigned bits in hex.
func flagString[T ~uint8 | ~uint16](f T, letters []flagLetter[T]) string {
	var parts []string
	rest := f
	for _, l := range letters {
		if f&l.f != 0 {
			parts = append(parts, l.s)
			rest &^= l.f
		}
	}
	if rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// MarshalText gives JSON output the letters instead of a number.
func (f BAFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }
