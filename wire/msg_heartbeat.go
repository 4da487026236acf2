package wire

// Heartbeat message and Restart Counter option (RFC 5847 section 3), used
// between a MAG and an LMA to detect failure and restart of the peer.

import (
	"encoding/binary"
)

func init() {
	// Reserved (1) + flags (1) + Sequence Number (4).
	registerMessage(MHHeartbeat, 6, parseHeartbeat)
	registerOption(OptRestartCounter, 4, 2, parseAs(DecodeRestartCounter))
}

// Heartbeat flags, in the octet before the Sequence Number (RFC 5847
// section 3.1).
const (
	heartbeatFlagU = 0x02 // Unsolicited
	heartbeatFlagR = 0x01 // Response
)

// Heartbeat is the Heartbeat message (RFC 5847 section 3.1): Reserved, U
// and R flags, 32-bit Sequence Number, Mobility Options.
type Heartbeat struct {
	// U: an unsolicited Heartbeat Response (sent after a restart).
	Unsolicited bool
	// R: a Heartbeat Response; false is a Heartbeat Request.
	Response bool
	Sequence uint32
	Options  []Option
}

func (Heartbeat) MHType() MHType { return MHHeartbeat }

func (m Heartbeat) AppendBody(b []byte) ([]byte, error) {
	var f byte
	if m.Unsolicited {
		f |= heartbeatFlagU
	}
	if m.Response {
		f |= heartbeatFlagR
	}
	return binary.BigEndian.AppendUint32(append(b, 0, f), m.Sequence), nil
}

func (m Heartbeat) MobilityOptions() []Option { return m.Options }

func parseHeartbeat(data []byte, opts []Option) (Message, error) {
	return Heartbeat{
		Unsolicited: data[1]&heartbeatFlagU != 0,
		Response:    data[1]&heartbeatFlagR != 0,
		Sequence:    binary.BigEndian.Uint32(data[2:]),
		Options:     opts,
	}, nil
}

// RestartCounter is the Restart Counter option (RFC 5847 section 3.2),
// carried in Heartbeat Responses: a 32-bit counter incremented on every
// restart of the sender. Alignment 4n+2.
type RestartCounter struct {
	Counter uint32
}

func (RestartCounter) OptionType() OptionType { return OptRestartCounter }
func (RestartCounter) Alignment() (x, y int)  { return 4, 2 }

func (o RestartCounter) AppendData(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint32(b, o.Counter), nil
}

// DecodeRestartCounter decodes the option data (after the Length octet).
func DecodeRestartCounter(data []byte) (RestartCounter, error) {
	if err := wantLen(data, 4); err != nil {
		return RestartCounter{}, err
	}
	return RestartCounter{Counter: binary.BigEndian.Uint32(data)}, nil
}
