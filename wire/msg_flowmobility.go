package wire

// Update Notification messages (RFC 7077 section 4), which PMIPv6 flow
// mobility (RFC 7864 section 3.3) uses as its Flow Mobility Initiate (FMI:
// an Update Notification with Notification Reason FLOW-MOBILITY, sent by
// the LMA) and Flow Mobility Acknowledgement (FMA: the Update Notification
// Acknowledgement sent back by the MAG). The flow options they carry (RFC
// 6089 Flow Identification and its sub-options) are ordinary Mobility
// Options in Options.
//
// IANA has no MH Type of its own for FMI/FMA: they are MH Types 19 and 20
// with the FLOW-MOBILITY reason (IANA "Update Notification Reasons
// Registry", value 8) and the RFC 7864 UPA status codes 131 and 132.

import (
	"encoding/binary"
	"strconv"
)

func init() {
	// Sequence # (2) + Notification Reason (1) + A, D flags and Reserved (3).
	registerMessage(MHUpdateNotification, 6, parseUpdateNotification)
	// Sequence # (2) + Status (1) + Reserved (3).
	registerMessage(MHUpdateNotificationAck, 6, parseUpdateNotificationAck)
}

// NotificationReason is the Notification Reason of an Update Notification
// (RFC 7077 section 4.1; IANA "Update Notification Reasons Registry").
type NotificationReason uint8

const (
	ReasonForceReregistration       NotificationReason = 1 // FORCE-REREGISTRATION, RFC 7077
	ReasonUpdateSessionParameters   NotificationReason = 2 // UPDATE-SESSION-PARAMETERS, RFC 7077
	ReasonVendorSpecific            NotificationReason = 3 // VENDOR-SPECIFIC-REASON, RFC 7077
	ReasonANIParamsRequested        NotificationReason = 4 // ANI-PARAMS-REQUESTED, RFC 7077
	ReasonQoSServiceRequest         NotificationReason = 5 // QOS_SERVICE_REQUEST, RFC 7222
	ReasonPGWTriggeredPCSCFRestPCO  NotificationReason = 6 // 3GPP TS 29.275
	ReasonPGWTriggeredPCSCFRestDHCP NotificationReason = 7 // 3GPP TS 29.275
	ReasonFlowMobility              NotificationReason = 8 // FLOW-MOBILITY, RFC 7864 section 3.3
)

var notificationReasonNames = map[NotificationReason]string{
	ReasonForceReregistration:       "FORCE-REREGISTRATION",
	ReasonUpdateSessionParameters:   "UPDATE-SESSION-PARAMETERS",
	ReasonVendorSpecific:            "VENDOR-SPECIFIC-REASON",
	ReasonANIParamsRequested:        "ANI-PARAMS-REQUESTED",
	ReasonQoSServiceRequest:         "QOS_SERVICE_REQUEST",
	ReasonPGWTriggeredPCSCFRestPCO:  "PGW-TRIGGERED-PCSCF-RESTORATION-PCO",
	ReasonPGWTriggeredPCSCFRestDHCP: "PGW-TRIGGERED-PCSCF-RESTORATION-DHCP",
	ReasonFlowMobility:              "FLOW-MOBILITY",
}

func (r NotificationReason) String() string {
	if s, ok := notificationReasonNames[r]; ok {
		return s
	}
	return "notification reason " + strconv.Itoa(int(r))
}

// MarshalText makes JSON output show the name.
func (r NotificationReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UpdateNotificationStatus is the Status of an Update Notification
// Acknowledgement (RFC 7077 section 4.2; IANA "Update Notification
// Acknowledgement Status Registry"). Values below 128 mean success.
type UpdateNotificationStatus uint8

const (
	UPASuccess                         UpdateNotificationStatus = 0   // SUCCESS, RFC 7077
	UPAFailedToUpdateSessionParameters UpdateNotificationStatus = 128 // RFC 7077
	UPAMissingVendorSpecificOption     UpdateNotificationStatus = 129 // RFC 7077
	UPACannotMeetQoSServiceRequest     UpdateNotificationStatus = 130 // RFC 7222
	UPAReasonUnspecified               UpdateNotificationStatus = 131 // RFC 7864 section 3.3
	UPAMNNotAttached                   UpdateNotificationStatus = 132 // RFC 7864 section 3.3
)

var upaStatusNames = map[UpdateNotificationStatus]string{
	UPASuccess:                         "SUCCESS",
	UPAFailedToUpdateSessionParameters: "FAILED-TO-UPDATE-SESSION-PARAMETERS",
	UPAMissingVendorSpecificOption:     "MISSING-VENDOR-SPECIFIC-OPTION",
	UPACannotMeetQoSServiceRequest:     "CANNOT_MEET_QOS_SERVICE_REQUEST",
	UPAReasonUnspecified:               "Reason unspecified",
	UPAMNNotAttached:                   "MN not attached",
}

func (s UpdateNotificationStatus) String() string {
	if n, ok := upaStatusNames[s]; ok {
		return n
	}
	return "update notification status " + strconv.Itoa(int(s))
}

// MarshalText makes JSON output show the name.
func (s UpdateNotificationStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Flags of the Update Notification, in the octet after the Notification
// Reason (RFC 7077 section 4.1).
const (
	upnFlagA = 0x80 // Acknowledgement requested
	upnFlagD = 0x40 // D flag
)

// UpdateNotification is the Update Notification message (RFC 7077 section
// 4.1): Sequence #, Notification Reason, A and D flags, Reserved, Mobility
// Options. With Reason ReasonFlowMobility it is the RFC 7864 Flow Mobility
// Initiate.
type UpdateNotification struct {
	Sequence uint16
	Reason   NotificationReason
	// A: the receiver must answer with an Update Notification
	// Acknowledgement.
	AckRequested bool
	// D: the RFC 7077 D flag.
	D       bool
	Options []Option
}

func (UpdateNotification) MHType() MHType { return MHUpdateNotification }

func (m UpdateNotification) AppendBody(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	var f byte
	if m.AckRequested {
		f |= upnFlagA
	}
	if m.D {
		f |= upnFlagD
	}
	return append(b, byte(m.Reason), f, 0, 0), nil
}

func (m UpdateNotification) MobilityOptions() []Option { return m.Options }

func parseUpdateNotification(data []byte, opts []Option) (Message, error) {
	return UpdateNotification{
		Sequence:     binary.BigEndian.Uint16(data),
		Reason:       NotificationReason(data[2]),
		AckRequested: data[3]&upnFlagA != 0,
		D:            data[3]&upnFlagD != 0,
		Options:      opts,
	}, nil
}

// UpdateNotificationAck is the Update Notification Acknowledgement (RFC
// 7077 section 4.2): Sequence #, Status, Reserved, Mobility Options. In
// answer to a FLOW-MOBILITY notification it is the RFC 7864 Flow Mobility
// Acknowledgement.
type UpdateNotificationAck struct {
	Sequence uint16
	Status   UpdateNotificationStatus
	Options  []Option
}

func (UpdateNotificationAck) MHType() MHType { return MHUpdateNotificationAck }

func (m UpdateNotificationAck) AppendBody(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, m.Sequence)
	return append(b, byte(m.Status), 0, 0, 0), nil
}

func (m UpdateNotificationAck) MobilityOptions() []Option { return m.Options }

func parseUpdateNotificationAck(data []byte, opts []Option) (Message, error) {
	return UpdateNotificationAck{
		Sequence: binary.BigEndian.Uint16(data),
		Status:   UpdateNotificationStatus(data[2]),
		Options:  opts,
	}, nil
}
