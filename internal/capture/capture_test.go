package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"monami/wire"
)

var (
	mnHoA  = netip.MustParseAddr("2001:db8:1::100")
	mnCoA  = netip.MustParseAddr("2001:db8:a::100")
	haAddr = netip.MustParseAddr("2001:db8:1::1")
	mnV4   = netip.MustParseAddr("192.0.2.100")
	haV4   = netip.MustParseAddr("198.51.100.1")
	t0     = time.Date(2026, 11, 23, 3, 0, 0, 123456789, time.UTC)
)

func testBU() wire.BindingUpdate {
	return wire.BindingUpdate{Sequence: 7, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 60, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 1, Priority: 1, CareOfAddress: mnCoA},
	}}
}

// buPacket is an IPv6 BU from the care-of address with a Home Address
// option, as RFC 6275 section 11.7.1 has a mobile node send it.
func buPacket(t testing.TB) []byte {
	t.Helper()
	b, err := wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: mnCoA, Dst: haAddr}, HomeAddress: mnHoA}.Append(nil, testBU())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func baPacket(t testing.TB) []byte {
	t.Helper()
	ba := wire.BindingAcknowledgement{Sequence: 7, Lifetime: 60}
	b, err := wire.MHPacket{IPv6: wire.IPv6Header{HopLimit: 64, Src: haAddr, Dst: mnCoA}, RoutingHomeAddress: mnHoA}.Append(nil, ba)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	macA = [6]byte{2, 0, 0, 0, 0, 1}
	macB = [6]byte{2, 0, 0, 0, 0, 2}
)

func TestPcapBothOrdersAndResolutions(t *testing.T) {
	frame := EthernetFrame(macA, macB, EtherTypeIPv6, buPacket(t))
	for _, order := range []interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}{binary.LittleEndian, binary.BigEndian} {
		for _, nanos := range []bool{false, true} {
			var buf bytes.Buffer
			w, err := NewPcapWriter(&buf, order, nanos, LinkTypeEthernet, 65535)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if err := w.WritePacket(t0.Add(time.Duration(i)*time.Second), frame); err != nil {
					t.Fatal(err)
				}
			}
			r, err := NewReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("%v nanos=%v: %v", order, nanos, err)
			}
			if r.Format() != FormatPcap {
				t.Fatalf("format %v", r.Format())
			}
			for i := range 3 {
				p, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				want := t0.Add(time.Duration(i) * time.Second)
				if !nanos {
					want = want.Truncate(time.Microsecond)
				}
				if p.Number != i+1 || !p.Time.Equal(want) || p.LinkType != LinkTypeEthernet || !bytes.Equal(p.Data, frame) || p.OrigLen != len(frame) {
					t.Fatalf("%v nanos=%v packet %d: %+v", order, nanos, i, p)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after last packet: %v, want io.EOF", err)
			}
		}
	}
}

func TestPcapNGMultipleInterfacesBothOrders(t *testing.T) {
	eth := EthernetFrame(macA, macB, EtherTypeIPv6, buPacket(t))
	raw := baPacket(t)
	for _, order := range []interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}{binary.LittleEndian, binary.BigEndian} {
		var buf bytes.Buffer
		w, err := NewNGWriter(&buf, order)
		if err != nil {
			t.Fatal(err)
		}
		i0, _ := w.AddInterface(LinkTypeEthernet, 262144)
		i1, _ := w.AddInterface(LinkTypeRaw, 262144)
		if err := w.WritePacket(i0, t0, eth); err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(i1, t0.Add(time.Millisecond), raw); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if r.Format() != FormatPcapNG {
			t.Fatalf("format %v", r.Format())
		}
		p, err := r.Next()
		if err != nil || p.Interface != 0 || p.LinkType != LinkTypeEthernet || !p.Time.Equal(t0) || !bytes.Equal(p.Data, eth) {
			t.Fatalf("%v packet 1: %+v %v", order, p, err)
		}
		p, err = r.Next()
		if err != nil || p.Number != 2 || p.Interface != 1 || p.LinkType != LinkTypeRaw || !p.Time.Equal(t0.Add(time.Millisecond)) || !bytes.Equal(p.Data, raw) {
			t.Fatalf("%v packet 2: %+v %v", order, p, err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("end: %v", err)
		}
	}
}

// ngBlock builds a little-endian pcapng block.
func ngBlock(btype uint32, body []byte) []byte {
	n := 12 + len(body)
	b := binary.LittleEndian.AppendUint32(nil, btype)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, uint32(n))
}

func ngSHB() []byte {
	body := binary.LittleEndian.AppendUint32(nil, ngByteOrderMagic)
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0))
	return ngBlock(ngBlockSHB, body)
}

func ngIDB(lt LinkType, snap uint32, tsresol int) []byte {
	body := binary.LittleEndian.AppendUint16(nil, uint16(lt))
	body = append(body, 0, 0)
	body = binary.LittleEndian.AppendUint32(body, snap)
	if tsresol >= 0 {
		body = binary.LittleEndian.AppendUint16(body, ngOptTSResol)
		body = binary.LittleEndian.AppendUint16(body, 1)
		body = append(body, byte(tsresol), 0, 0, 0)
		body = append(body, 0, 0, 0, 0) // opt_endofopt
	}
	return ngBlock(ngBlockIDB, body)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestPcapNGSimplePacketsResolutionsAndSkippedBlocks(t *testing.T) {
	data := baPacket(t)
	var f []byte
	f = append(f, ngSHB()...)
	f = append(f, ngIDB(LinkTypeIPv6, 60, -1)...) // default microseconds, snap 60
	f = append(f, ngIDB(LinkTypeRaw, 0, 0x80|10)...)
	// Name Resolution Block (type 4): skipped.
	f = append(f, ngBlock(4, []byte{0, 0, 0, 0})...)
	// SPB on interface 0: snap length 60 truncates the data.
	spb := binary.LittleEndian.AppendUint32(nil, uint32(len(data)))
	spb = append(spb, pad4(append([]byte(nil), data[:60]...))...)
	f = append(f, ngBlock(ngBlockSPB, spb)...)
	// EPB on interface 1 with 2^-10 s units: 1.5 s = 1536 units.
	epb := binary.LittleEndian.AppendUint32(nil, 1)
	epb = binary.LittleEndian.AppendUint32(epb, 0)
	epb = binary.LittleEndian.AppendUint32(epb, 1536)
	epb = binary.LittleEndian.AppendUint32(epb, uint32(len(data)))
	epb = binary.LittleEndian.AppendUint32(epb, uint32(len(data)))
	epb = append(epb, pad4(append([]byte(nil), data...))...)
	f = append(f, ngBlock(ngBlockEPB, epb)...)
	// A second section, big-endian, redefining interfaces.
	var buf bytes.Buffer
	w, _ := NewNGWriter(&buf, binary.BigEndian)
	id, _ := w.AddInterface(LinkTypeLinuxSLL2, 0)
	sll2 := append(make([]byte, 20), data...)
	binary.BigEndian.PutUint16(sll2, etherTypeIPv6)
	_ = w.WritePacket(id, t0, sll2)
	f = append(f, buf.Bytes()...)

	r, err := NewReader(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Next()
	if err != nil || p.LinkType != LinkTypeIPv6 || len(p.Data) != 60 || p.OrigLen != len(data) {
		t.Fatalf("SPB: %+v %v", p, err)
	}
	p, err = r.Next()
	if err != nil || p.LinkType != LinkTypeRaw || !p.Time.Equal(time.Unix(1, 5e8).UTC()) {
		t.Fatalf("EPB 2^-10: %+v %v", p, err)
	}
	p, err = r.Next()
	if err != nil || p.Number != 3 || p.LinkType != LinkTypeLinuxSLL2 || p.Interface != 0 || !p.Time.Equal(t0) {
		t.Fatalf("second section: %+v %v", p, err)
	}
	recs := Walk(p)
	if len(recs) != 1 || recs[0].Err != nil || recs[0].Checksum != ChecksumOK {
		t.Fatalf("walk second-section packet: %+v", recs)
	}
	// The truncated SPB packet gives an error record, not a panic.
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestReaderBadFiles(t *testing.T) {
	good := func() []byte {
		var buf bytes.Buffer
		w, _ := NewNGWriter(&buf, binary.LittleEndian)
		id, _ := w.AddInterface(LinkTypeRaw, 0)
		_ = w.WritePacket(id, t0, baPacket(t))
		return buf.Bytes()
	}()
	var pc bytes.Buffer
	pw, _ := NewPcapWriter(&pc, binary.LittleEndian, false, LinkTypeRaw, 0)
	_ = pw.WritePacket(t0, baPacket(t))

	cases := []struct {
		name string
		b    []byte
		open bool // NewReader succeeds, Next fails
	}{
		{"empty", nil, false},
		{"not a capture", []byte("hello, world, this is text"), false},
		{"pcap header cut", pc.Bytes()[:10], false},
		{"pcap record cut", pc.Bytes()[:30], true},
		{"pcap data cut", pc.Bytes()[:pc.Len()-1], true},
		{"pcapng SHB cut", good[:20], false},
		{"pcapng block cut", good[:len(good)-3], true},
		{"pcapng bad trailer", append(append([]byte(nil), good[:len(good)-4]...), 1, 0, 0, 0), true},
		{"pcapng packet before interface", append(ngSHB(), ngBlock(ngBlockEPB, make([]byte, 20))...), true},
		{"pcapng bad if_tsresol", append(ngSHB(), ngIDB(LinkTypeRaw, 0, 20)...), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(c.b))
			if !c.open {
				if err == nil {
					t.Fatal("NewReader succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			_, err = r.Next()
			if err == nil || err == io.EOF {
				t.Fatalf("Next: %v, want a format error", err)
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Next: %v does not wrap ErrFormat", err)
			}
		})
	}
}

func TestStripLink(t *testing.T) {
	ip6 := baPacket(t)
	ip4 := IPv4Packet(mnV4, haV4, 17, UDPDatagram(mnV4, haV4, 1000, 4191, ip6))
	vlan := append(append(append([]byte(nil), macA[:]...), macB[:]...), 0x81, 0x00, 0x00, 0x05, 0x86, 0xdd)
	vlan = append(vlan, ip6...)
	sll := append(make([]byte, 14), 0x08, 0x00)
	sll = append(sll, ip4...)
	cases := []struct {
		name string
		lt   LinkType
		f    []byte
		net  Network
		pay  []byte
	}{
		{"ethernet", LinkTypeEthernet, EthernetFrame(macA, macB, EtherTypeIPv6, ip6), NetworkIPv6, ip6},
		{"ethernet vlan", LinkTypeEthernet, vlan, NetworkIPv6, ip6},
		{"ethernet arp", LinkTypeEthernet, EthernetFrame(macA, macB, 0x0806, []byte{1}), NetworkOther, []byte{1}},
		{"raw v6", LinkTypeRaw, ip6, NetworkIPv6, ip6},
		{"raw v4", LinkTypeRaw, ip4, NetworkIPv4, ip4},
		{"ipv6", LinkTypeIPv6, ip6, NetworkIPv6, ip6},
		{"ipv4", LinkTypeIPv4, ip4, NetworkIPv4, ip4},
		{"null little-endian AF_INET6 (Linux 10)", LinkTypeNull, append([]byte{10, 0, 0, 0}, ip6...), NetworkIPv6, ip6},
		{"null big-endian AF_INET6 (Darwin 30)", LinkTypeNull, append([]byte{0, 0, 0, 30}, ip6...), NetworkIPv6, ip6},
		{"loop AF_INET", LinkTypeLoop, append([]byte{0, 0, 0, 2}, ip4...), NetworkIPv4, ip4},
		{"sll", LinkTypeLinuxSLL, sll, NetworkIPv4, ip4},
		{"sll2", LinkTypeLinuxSLL2, append([]byte{0x86, 0xdd}, append(make([]byte, 18), ip6...)...), NetworkIPv6, ip6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, p, err := StripLink(c.lt, c.f)
			if err != nil || n != c.net || !bytes.Equal(p, c.pay) {
				t.Fatalf("got %v %x %v", n, p, err)
			}
		})
	}
	for _, lt := range []LinkType{LinkTypeEthernet, LinkTypeNull, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, 147} {
		if _, _, err := StripLink(lt, []byte{0x60}); err == nil {
			t.Errorf("%v: short frame accepted", lt)
		}
	}
}

func walkRaw(b []byte) []Record {
	return Walk(Packet{Number: 1, LinkType: LinkTypeRaw, Data: b})
}

func TestWalkIPv6WithHomeAddressOption(t *testing.T) {
	pkt := buPacket(t)
	recs := Walk(Packet{Number: 3, Time: t0, LinkType: LinkTypeEthernet, Data: EthernetFrame(macA, macB, EtherTypeIPv6, pkt)})
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[0]
	if r.Err != nil || r.Frame != 3 || r.Transport != TransportIPv6 || r.Src != mnCoA || r.Dst != haAddr ||
		r.HomeAddress != mnHoA || r.ChecksumSrc != mnHoA || r.Checksum != ChecksumOK || r.Offset != 14+40+24 {
		t.Fatalf("%+v", r)
	}
	if !reflect.DeepEqual(r.Message, wire.Message(testBU())) {
		t.Fatalf("message %#v", r.Message)
	}
}

func TestWalkRoutingHeader2AndBadChecksum(t *testing.T) {
	pkt := baPacket(t)
	recs := walkRaw(pkt)
	if len(recs) != 1 || recs[0].Err != nil || recs[0].RoutingHomeAddress != mnHoA || recs[0].ChecksumDst != mnHoA || recs[0].Checksum != ChecksumOK {
		t.Fatalf("%+v", recs)
	}
	bad := append([]byte(nil), pkt...)
	bad[recs[0].Offset+4] ^= 0xff
	recs = walkRaw(bad)
	if len(recs) != 1 || recs[0].Checksum != ChecksumBad || recs[0].Message == nil {
		t.Fatalf("bad checksum: %+v", recs)
	}
}

func TestWalkUDPEncapsulation(t *testing.T) {
	inner := buPacket(t)
	frame := IPv4Packet(mnV4, haV4, 17, UDPDatagram(mnV4, haV4, 40000, 4191, inner))
	recs := walkRaw(frame)
	if len(recs) != 1 {
		t.Fatalf("%+v", recs)
	}
	r := recs[0]
	if r.Err != nil || r.Transport != TransportUDPEncap || r.SrcPort != 40000 || r.DstPort != 4191 ||
		r.HomeAddress != mnHoA || r.Checksum != ChecksumOK || len(r.Tunnel) != 1 || r.Offset != 20+8+40+24 {
		t.Fatalf("%+v", r)
	}
	// Over IPv6 too.
	frame6 := IPv6Packet(mnCoA, haAddr, 17, UDPDatagram(mnCoA, haAddr, 4191, 4191, inner))
	if recs := walkRaw(frame6); len(recs) != 1 || recs[0].Err != nil || recs[0].Transport != TransportUDPEncap {
		t.Fatalf("over IPv6: %+v", recs)
	}
	// A malformed inner packet gives an error located after the UDP header.
	bad := IPv4Packet(mnV4, haV4, 17, UDPDatagram(mnV4, haV4, 40000, 4191, inner[:30]))
	recs = walkRaw(bad)
	if len(recs) != 1 || recs[0].Err == nil || recs[0].Offset != 28 {
		t.Fatalf("malformed inner: %+v", recs)
	}
}

func TestWalkPMIPv6OverUDP5436(t *testing.T) {
	mh, err := wire.Marshal(testBU(), netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	frame := IPv4Packet(mnV4, haV4, 17, UDPDatagram(mnV4, haV4, 5436, 5436, mh))
	recs := walkRaw(frame)
	if len(recs) != 1 || recs[0].Err != nil || recs[0].Transport != TransportPMIPv6UDP || recs[0].Checksum != ChecksumNotVerified || recs[0].Message == nil {
		t.Fatalf("%+v", recs)
	}
}

func TestWalkTunnelsAndOthers(t *testing.T) {
	inner := buPacket(t)
	tun := IPv6Packet(haAddr, mnCoA, 41, inner)
	recs := walkRaw(tun)
	if len(recs) != 1 || recs[0].Err != nil || len(recs[0].Tunnel) != 1 || recs[0].Offset != 40+40+24 {
		t.Fatalf("IPv6-in-IPv6: %+v", recs)
	}
	// Non-MH traffic gives nothing.
	udp := IPv4Packet(mnV4, haV4, 17, UDPDatagram(mnV4, haV4, 53, 53, []byte("dns")))
	if recs := walkRaw(udp); len(recs) != 0 {
		t.Fatalf("DNS: %+v", recs)
	}
	tcp := IPv6Packet(mnCoA, haAddr, 6, make([]byte, 20))
	if recs := walkRaw(tcp); len(recs) != 0 {
		t.Fatalf("TCP: %+v", recs)
	}
	// Deep nesting is refused, not followed forever.
	deep := inner
	for range 10 {
		deep = IPv6Packet(haAddr, mnCoA, 41, deep)
	}
	if recs := walkRaw(deep); len(recs) != 1 || recs[0].Err == nil {
		t.Fatalf("deep: %+v", recs)
	}
}

func TestWalkMalformedMobilityHeader(t *testing.T) {
	pkt := buPacket(t)
	// Header Len says 1 more 8-octet unit than there is.
	bad := append([]byte(nil), pkt...)
	off := 40 + 24
	bad[off+1]++
	// The message is still shown, with the problem located in the frame.
	recs := walkRaw(bad)
	if len(recs) != 1 || recs[0].Err != nil || recs[0].Message == nil || recs[0].Checksum != ChecksumNotVerified {
		t.Fatalf("%+v", recs)
	}
	ps := recs[0].AllProblems()
	if len(ps) != 1 || ps[0].Severity != wire.SeverityMalformed || recs[0].Offset+ps[0].Offset != off+1 {
		t.Fatalf("problems %v", ps)
	}
	var text strings.Builder
	if err := WriteText(&text, recs[0]); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("[Malformed, offset %d: Header Len 5 says 48 octets, the packet holds 40: the message is cut short]", off+1); !strings.Contains(text.String(), want) {
		t.Errorf("text lacks %q:\n%s", want, text.String())
	}
	// An unknown MH type is shown, not an error.
	mh := []byte{59, 0, 200, 0, 0, 0, 0, 0}
	wire.SetChecksum(mh, mnCoA, haAddr)
	recs = walkRaw(IPv6Packet(mnCoA, haAddr, 135, mh))
	if len(recs) != 1 || recs[0].Err != nil || !recs[0].Unknown || recs[0].Checksum != ChecksumOK {
		t.Fatalf("unknown type: %+v", recs)
	}
}

// Problems the walker finds outside the Mobility Header itself: the
// checksum and octets the IPv6 payload carries after Header Len's end.
func TestWalkFlagsChecksumAndTrailingOctets(t *testing.T) {
	mh := []byte{59, 0, 0, 0, 0, 0, 0, 0} // Binding Refresh Request
	wire.SetChecksum(mh, mnCoA, haAddr)
	good := walkRaw(IPv6Packet(mnCoA, haAddr, 135, mh))
	if len(good) != 1 || len(good[0].AllProblems()) != 0 || good[0].Checksum != ChecksumOK {
		t.Fatalf("clean message: %+v", good)
	}
	bad := append([]byte(nil), mh...)
	bad[5] ^= 1
	recs := walkRaw(IPv6Packet(mnCoA, haAddr, 135, bad))
	ps := recs[0].AllProblems()
	if len(ps) != 1 || ps[0].Severity != wire.SeverityError || !errors.Is(ps[0].Err, wire.ErrBadChecksum) ||
		recs[0].Offset+ps[0].Offset != 44 || recs[0].Message == nil || recs[0].Checksum != ChecksumBad {
		t.Fatalf("bad checksum: %v %+v", ps, recs[0])
	}
	recs = walkRaw(IPv6Packet(mnCoA, haAddr, 135, append(append([]byte(nil), mh...), 1, 2, 3, 4)))
	ps = recs[0].AllProblems()
	if len(ps) != 1 || ps[0].Severity != wire.SeverityWarning || recs[0].Offset+ps[0].Offset != 48 ||
		!strings.Contains(ps[0].Text, "4 octets follow") || recs[0].Checksum != ChecksumOK {
		t.Fatalf("trailing octets: %v %+v", ps, recs[0])
	}
}
