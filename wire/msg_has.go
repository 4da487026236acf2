package wire

// Home Agent Switch message (RFC 5142 section 4): MH Type 12 (IANA
// "Mobility Header Types"). A home agent tells a mobile node to register
// with another home agent, listing the ones it may use.

import (
	"net/netip"
)

// Offsets in the Home Agent Switch message data (after the Checksum).
const (
	hasNumAddrsOff = 0 // # of Addresses
	hasReservedOff = 1 // Reserved
	hasAddrsOff    = 2 // Home Agent Addresses, 16 octets each
	// HomeAgentSwitchMaxAddresses: # of Addresses is one octet.
	HomeAgentSwitchMaxAddresses = 255
)

func init() {
	registerMessage(MHHomeAgentSwitch, hasAddrsOff, parseHomeAgentSwitch)
	// The fixed part ends after the addresses # of Addresses counts;
	// the Mobility Options follow them.
	messageRegistry[MHHomeAgentSwitch].fixedLen = func(d []byte) int {
		return hasAddrsOff + int(d[hasNumAddrsOff])*IPv6AddrLen
	}
}

// IPv6AddrLen is the length of an IPv6 address in a message.
const IPv6AddrLen = 16

// HomeAgentSwitch is the Home Agent Switch message (RFC 5142 section 4): #
// of Addresses, Reserved, Home Agent Addresses, Mobility Options. An empty
// list asks the mobile node to find a home agent itself (Dynamic Home
// Agent Address Discovery, RFC 6275 section 10.5).
type HomeAgentSwitch struct {
	// Reserved is sent as zero and ignored on receipt (RFC 5142 section
	// 4); kept so a decoder shows what arrived.
	Reserved uint8
	// HomeAgentAddresses are the home agents to switch to, preferred first.
	HomeAgentAddresses []netip.Addr
	Options            []Option
}

func (HomeAgentSwitch) MHType() MHType              { return MHHomeAgentSwitch }
func (m HomeAgentSwitch) MobilityOptions() []Option { return m.Options }

func (m HomeAgentSwitch) AppendBody(b []byte) ([]byte, error) {
	if len(m.HomeAgentAddresses) > HomeAgentSwitchMaxAddresses {
		return b, eerr("Home Agent Switch", "# of Addresses is one octet: "+itoa(len(m.HomeAgentAddresses))+" addresses")
	}
	b = append(b, byte(len(m.HomeAgentAddresses)), m.Reserved)
	for i, a := range m.HomeAgentAddresses {
		if !a.Is6() || a.Is4In6() {
			return b, eerr("Home Agent Switch", "Home Agent Address "+itoa(i)+" ("+a.String()+") is not an IPv6 address")
		}
		s := a.As16()
		b = append(b, s[:]...)
	}
	return b, nil
}

func parseHomeAgentSwitch(d []byte, opts []Option) (Message, error) {
	m := HomeAgentSwitch{Reserved: d[hasReservedOff], Options: opts}
	n := int(d[hasNumAddrsOff])
	if n > 0 {
		m.HomeAgentAddresses = make([]netip.Addr, n)
	}
	for i := range n {
		off := hasAddrsOff + i*IPv6AddrLen
		m.HomeAgentAddresses[i] = netip.AddrFrom16([IPv6AddrLen]byte(d[off : off+IPv6AddrLen]))
	}
	return m, nil
}

// OptionsOffset is where the Mobility Options of the message in mh start
// (from the start of the Mobility Header), for a registered MH Type whose
// fixed data fits the Header Len: what a receiver needs to find the last
// option (the RFC 4285 authentication option) of any message.
func OptionsOffset(mh []byte) (int, bool) {
	if len(mh) < HeaderLen {
		return 0, false
	}
	e := &messageRegistry[mh[2]]
	if !e.ok || e.dataLen < 0 {
		return 0, false
	}
	n := HeaderLen + e.fixed(mh[HeaderLen:])
	return n, n <= len(mh)
}
