// Package sample builds testdata/sample.pcapng, the capture that the
// README's decode demo and the decode command's tests use: a mobile node
// with three care-of addresses registering them with flow bindings (RFC
// 5648, 6088, 6089), its home agent's answers, a Binding Update over UDP
// 4191 (RFC 5555), a PMIPv6 exchange (RFC 5213) over IPv6 and over UDP
// 5436 (RFC 5844), an Update Notification (MH type 19, RFC 7077), a packet
// that is not Mobility Header traffic, and a deliberately malformed Binding
// Update. The output is deterministic: same code, same octets.
//
// Regenerate with
//
//	go test ./internal/capture/sample -run TestSampleFile -update
package sample

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"monami/internal/capture"
	"monami/wire"
)

// Addresses used in the sample (documentation prefixes, RFC 3849/5737).
var (
	HomeAgent   = netip.MustParseAddr("2001:db8:1::1")
	HomeAddress = netip.MustParseAddr("2001:db8:1::100")
	CareOf1     = netip.MustParseAddr("2001:db8:a::100") // Wi-Fi
	CareOf2     = netip.MustParseAddr("2001:db8:b::100") // LTE
	CareOf3     = netip.MustParseAddr("2001:db8:c::100") // Ethernet
	MNv4        = netip.MustParseAddr("192.0.2.100")
	HAv4        = netip.MustParseAddr("198.51.100.1")
	MAG         = netip.MustParseAddr("2001:db8:2::2")
	LMA         = netip.MustParseAddr("2001:db8:2::1")
	MAGv4       = netip.MustParseAddr("203.0.113.2")
	LMAv4       = netip.MustParseAddr("203.0.113.1")
	MNPrefix    = netip.MustParsePrefix("2001:db8:100::/64")
)

// MNHAKey is the mobile node / home agent shared key of the sample's RFC
// 4285 authentication options; SPI is their Mobility SPI.
var MNHAKey = []byte("monami sample MN-HA key")

const SPI = 0x100

// Start is the time of the first frame.
var Start = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

var (
	macMN  = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	macHA  = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02}
	macMAG = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x03}
	macLMA = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x04}
)

// FlowTS is the IPv6 traffic selector of flow 1 in the first Binding
// Update: UDP from the home address range to ports 5000-5100, flow
// labels 0x100-0x1ff.
var FlowTS = wire.IPv6TrafficSelector{
	Flags: wire.IPv6TSStartSourceAddress | wire.IPv6TSEndSourceAddress |
		wire.IPv6TSStartFlowLabel | wire.IPv6TSEndFlowLabel |
		wire.IPv6TSStartDestinationPort | wire.IPv6TSEndDestinationPort |
		wire.IPv6TSStartNextHeader,
	StartSourceAddress:   HomeAddress,
	EndSourceAddress:     netip.MustParseAddr("2001:db8:1::1ff"),
	StartFlowLabel:       0x100,
	EndFlowLabel:         0x1ff,
	StartDestinationPort: 5000,
	EndDestinationPort:   5100,
	StartNextHeader:      17,
}

// FlowTS4 is flow 2's IPv4 traffic selector: TCP to 198.51.100.0-255.
var FlowTS4 = wire.IPv4TrafficSelector{
	Flags:                   wire.IPv4TSStartDestinationAddress | wire.IPv4TSEndDestinationAddress | wire.IPv4TSStartProtocol,
	StartDestinationAddress: netip.MustParseAddr("198.51.100.0"),
	EndDestinationAddress:   netip.MustParseAddr("198.51.100.255"),
	StartProtocol:           6,
}

// FirstBU is the Binding Update of frame 2.
func FirstBU() wire.BindingUpdate {
	return wire.BindingUpdate{Sequence: 1000, Flags: wire.BUFlagA | wire.BUFlagH | wire.BUFlagK, Lifetime: 150, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 1, Priority: 1, CareOfAddress: CareOf1},
		wire.BindingIdentifier{BindingID: 2, Priority: 5, CareOfAddress: CareOf2},
		wire.BindingIdentifier{BindingID: 3, Priority: 9, CareOfAddress: CareOf3, SimultaneousHomeAndForeign: true},
		wire.NAI("mn1@example.net"),
		wire.FlowIdentification{FID: 1, Priority: 10, SubOptions: []wire.FlowSubOption{
			wire.BindingReferenceSubOption{BIDs: []uint16{1, 2}},
			wire.TrafficSelectorSubOption{Selector: FlowTS},
		}},
		wire.FlowIdentification{FID: 2, Priority: 20, SubOptions: []wire.FlowSubOption{
			wire.BindingReferenceSubOption{BIDs: []uint16{3}},
			wire.TrafficSelectorSubOption{Selector: FlowTS4},
		}},
		wire.MobilityMessageReplayProtection{Timestamp: ntp(Start)},
	}}
}

func ntp(t time.Time) uint64 {
	const unixToNTP = 2208988800
	return uint64(t.Unix()+unixToNTP)<<32 | (uint64(t.Nanosecond())<<32+1e9-1)/1e9
}

type builder struct {
	w      *capture.NGWriter
	eth    int
	sll2   int
	frames int
	err    error
}

func (b *builder) write(iface int, frame []byte) {
	if b.err != nil {
		return
	}
	b.err = b.w.WritePacket(iface, Start.Add(time.Duration(b.frames)*100*time.Millisecond), frame)
	b.frames++
}

func (b *builder) ether(src, dst [6]byte, ip6 []byte) {
	b.write(b.eth, capture.EthernetFrame(dst, src, capture.EtherTypeIPv6, ip6))
}

// sll2 wraps an IPv4 packet in a Linux cooked v2 header (as "tcpdump -i
// any" writes): protocol, reserved, ifindex 3, ARPHRD_ETHER, outgoing.
func (b *builder) sll2v4(ip4 []byte) {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], capture.EtherTypeIPv4)
	binary.BigEndian.PutUint32(h[4:], 3)
	binary.BigEndian.PutUint16(h[8:], 1)
	h[10] = 4 // PACKET_OUTGOING
	h[11] = 6
	copy(h[12:], macMN[:])
	b.write(b.sll2, append(h, ip4...))
}

func (b *builder) check(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// authed encodes m with an MN-HA authentication option and wraps it.
func (b *builder) authed(p wire.MHPacket, m wire.Message, coa, hoa netip.Addr) []byte {
	mh, err := wire.NewAuthenticator(MNHAKey).AppendMessage(nil, m, SPI, coa, hoa, netip.Addr{}, netip.Addr{})
	b.check(err)
	pkt, err := p.AppendRaw(nil, mh)
	b.check(err)
	return pkt
}

func (b *builder) packet(p wire.MHPacket, m wire.Message) []byte {
	pkt, err := p.Append(nil, m)
	b.check(err)
	return pkt
}

// Build returns the sample capture.
func Build() ([]byte, error) {
	var out bytes.Buffer
	w, err := capture.NewNGWriter(&out, binary.LittleEndian)
	if err != nil {
		return nil, err
	}
	b := &builder{w: w}
	if b.eth, err = w.AddInterface(capture.LinkTypeEthernet, 262144); err != nil {
		return nil, err
	}
	if b.sll2, err = w.AddInterface(capture.LinkTypeLinuxSLL2, 262144); err != nil {
		return nil, err
	}

	// 1: ICMPv6 Echo Request: not Mobility Header traffic, skipped.
	b.ether(macMN, macHA, capture.ICMPv6Packet(CareOf1, HomeAgent, 128, 0, []byte{0, 1, 0, 1}))

	// 2: Binding Update registering three care-of addresses with two flow
	// bindings, from care-of address 1 with a Home Address option.
	mn := wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: CareOf1, Dst: HomeAgent}, HomeAddress: HomeAddress}
	b.ether(macMN, macHA, b.authed(mn, FirstBU(), CareOf1, HomeAddress))

	// 3: its Binding Acknowledgement, through a type 2 routing header.
	ha := wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: HomeAgent, Dst: CareOf1}, RoutingHomeAddress: HomeAddress}
	ba := wire.BindingAcknowledgement{Status: wire.StatusAccepted, Flags: wire.BAFlagK, Sequence: 1000, Lifetime: 150, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 1, Priority: 1, CareOfAddress: CareOf1},
		wire.BindingIdentifier{BindingID: 2, Priority: 5, CareOfAddress: CareOf2},
		wire.BindingIdentifier{BindingID: 3, Priority: 9, CareOfAddress: CareOf3, SimultaneousHomeAndForeign: true},
		wire.FlowIdentification{FID: 1, Priority: 10, Status: wire.FIDStatusSuccess},
		wire.FlowIdentification{FID: 2, Priority: 20, Status: wire.FIDStatusSuccess},
		wire.MobilityMessageReplayProtection{Timestamp: ntp(Start)},
	}}
	b.ether(macHA, macMN, b.authed(ha, ba, CareOf1, HomeAddress))

	// 4: a refresh listing both flows in a Flow Summary.
	refresh := wire.BindingUpdate{Sequence: 1001, Flags: wire.BUFlagA | wire.BUFlagH | wire.BUFlagK, Lifetime: 150, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 1, Priority: 1, CareOfAddress: CareOf1},
		wire.BindingIdentifier{BindingID: 2, Priority: 5, CareOfAddress: CareOf2},
		wire.FlowSummary{FIDs: []uint16{1, 2}},
		wire.MobilityMessageReplayProtection{Timestamp: ntp(Start.Add(300 * time.Millisecond))},
	}}
	b.ether(macMN, macHA, b.authed(mn, refresh, CareOf1, HomeAddress))

	// 5: a Binding Update over UDP 4191 from an IPv4-only network (RFC
	// 5555 section 4.2: the inner packet is from the home address),
	// captured with "tcpdump -i any" (Linux cooked v2).
	v4bu := wire.BindingUpdate{Sequence: 1002, Flags: wire.BUFlagA | wire.BUFlagH | wire.BUFlagF, Lifetime: 150, Options: []wire.Option{
		wire.IPv4CareOfAddress{Address: MNv4},
		wire.BindingIdentifier{BindingID: 4, Priority: 2, CareOfAddress: MNv4},
	}}
	inner := b.packet(wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: HomeAddress, Dst: HomeAgent}}, v4bu)
	b.sll2v4(capture.IPv4Packet(MNv4, HAv4, 17, capture.UDPDatagram(MNv4, HAv4, 49152, wire.UDPEncapsulationPort, inner)))

	// 6, 7: Proxy Binding Update and Acknowledgement (RFC 5213).
	pbu := wire.BindingUpdate{Sequence: 7, Flags: wire.BUFlagA | wire.BUFlagH | wire.BUFlagP, Lifetime: 900, Options: []wire.Option{
		wire.NAI("mn2@example.net"),
		wire.HomeNetworkPrefix{Prefix: netip.MustParsePrefix("::/0")},
		wire.HandoffIndicatorOption{Indicator: wire.HandoffNewInterface},
		wire.AccessTechnologyTypeOption{Type: wire.AccessTechnologyIEEE80211},
		wire.MobileNodeLinkLayerIdentifier{Identifier: []byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x10}},
		wire.TimestampFromTime(Start.Add(500 * time.Millisecond)),
	}}
	b.ether(macMAG, macLMA, b.packet(wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: MAG, Dst: LMA}}, pbu))
	pba := wire.BindingAcknowledgement{Status: wire.StatusAccepted, Flags: wire.BAFlagP, Sequence: 7, Lifetime: 900, Options: []wire.Option{
		wire.NAI("mn2@example.net"),
		wire.HomeNetworkPrefix{Prefix: MNPrefix},
		wire.HandoffIndicatorOption{Indicator: wire.HandoffNewInterface},
		wire.AccessTechnologyTypeOption{Type: wire.AccessTechnologyIEEE80211},
		wire.MobileNodeLinkLayerIdentifier{Identifier: []byte{0x02, 0x00, 0x5e, 0x00, 0x00, 0x10}},
		wire.TimestampFromTime(Start.Add(500 * time.Millisecond)),
	}}
	b.ether(macLMA, macMAG, b.packet(wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: LMA, Dst: MAG}}, pba))

	// 8: a Proxy Binding Update over an IPv4 transport network, UDP 5436
	// (RFC 5844), asking for an IPv4 home address.
	pbu4 := wire.BindingUpdate{Sequence: 8, Flags: wire.BUFlagA | wire.BUFlagH | wire.BUFlagP, Lifetime: 900, Options: []wire.Option{
		wire.NAI("mn3@example.net"),
		wire.IPv4HomeAddressRequest{Address: netip.IPv4Unspecified()},
		wire.HandoffIndicatorOption{Indicator: wire.HandoffNewInterface},
		wire.AccessTechnologyTypeOption{Type: wire.AccessTechnologyIEEE8023},
		wire.TimestampFromTime(Start.Add(700 * time.Millisecond)),
	}}
	mh4, err := wire.Marshal(pbu4, netip.Addr{}, netip.Addr{})
	b.check(err)
	b.write(b.eth, capture.EthernetFrame(macLMA, macMAG, capture.EtherTypeIPv4,
		capture.IPv4Packet(MAGv4, LMAv4, 17, capture.UDPDatagram(MAGv4, LMAv4, wire.PMIPv6ControlPort, wire.PMIPv6ControlPort, mh4))))

	// 9: Update Notification (MH type 19, RFC 7077) from the LMA, flow
	// mobility reason (RFC 7864).
	un := wire.UpdateNotification{Sequence: 1, Reason: wire.ReasonFlowMobility, AckRequested: true, Options: []wire.Option{
		wire.NAI("mn2@example.net"),
	}}
	b.ether(macLMA, macMAG, b.packet(wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: LMA, Dst: MAG}}, un))

	// 10: malformed: a Binding Update whose Binding Identifier option
	// claims more octets than the message holds (checksum correct).
	bad := wire.BindingUpdate{Sequence: 1003, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 150, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 1, Priority: 1, CareOfAddress: CareOf1},
	}}
	badPkt := b.packet(mn, bad)
	if b.err == nil {
		// IPv6 (40) + Destination Options (24) + MH fixed part (12) + Pad
		// to 8n+2 (4): the BID option's Length octet follows its Type.
		at := 40 + 24 + 12
		for badPkt[at] != byte(wire.OptBindingIdentifier) {
			at++
		}
		badPkt[at+1] = 60
		mhStart := 40 + 24
		mh := badPkt[mhStart:]
		wire.SetChecksum(mh[:(int(mh[1])+1)*8], HomeAddress, HomeAgent)
	}
	b.ether(macMN, macHA, badPkt)

	if b.err != nil {
		return nil, fmt.Errorf("sample: %w", b.err)
	}
	return out.Bytes(), nil
}
