package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"monami/wire"
)

func seedFrames(t testing.TB) [][]byte {
	bu, ba := buPacket(t), baPacket(t)
	return [][]byte{
		bu, ba,
		IPv4Packet(mnV4, haV4, 17, UDPDatagram(mnV4, haV4, 40000, 4191, bu)),
		IPv4Packet(mnV4, haV4, 17, UDPDatagram(mnV4, haV4, 5436, 5436, bu[64:])),
		IPv6Packet(haAddr, mnCoA, 41, bu),
	}
}

func FuzzReader(f *testing.F) {
	frames := seedFrames(f)
	var ng bytes.Buffer
	w, _ := NewNGWriter(&ng, binary.BigEndian)
	i0, _ := w.AddInterface(LinkTypeRaw, 0)
	i1, _ := w.AddInterface(LinkTypeEthernet, 0)
	for _, fr := range frames {
		_ = w.WritePacket(i0, t0, fr)
	}
	_ = w.WritePacket(i1, t0, EthernetFrame(macA, macB, EtherTypeIPv6, frames[0]))
	f.Add(ng.Bytes())
	var pc bytes.Buffer
	pw, _ := NewPcapWriter(&pc, binary.LittleEndian, true, LinkTypeRaw, 0)
	for _, fr := range frames {
		_ = pw.WritePacket(t0, fr)
	}
	f.Add(pc.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		for i := 0; ; i++ {
			p, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("error %v does not wrap ErrFormat", err)
				}
				return
			}
			if p.Number != i+1 || len(p.Data) > MaxPacketSize {
				t.Fatalf("packet %d: number %d, %d octets", i, p.Number, len(p.Data))
			}
			checkRecords(t, p, Walk(p))
		}
	})
}

func FuzzWalk(f *testing.F) {
	for _, fr := range seedFrames(f) {
		f.Add(uint16(LinkTypeRaw), fr)
	}
	f.Add(uint16(LinkTypeEthernet), EthernetFrame(macA, macB, EtherTypeIPv6, buPacket(f)))
	f.Add(uint16(LinkTypeLinuxSLL2), append([]byte{0x86, 0xdd}, append(make([]byte, 18), baPacket(f)...)...))
	f.Fuzz(func(t *testing.T, lt uint16, frame []byte) {
		p := Packet{Number: 1, LinkType: LinkType(lt), Data: frame}
		checkRecords(t, p, Walk(p))
	})
}

// checkRecords checks the invariants every record must hold.
func checkRecords(t *testing.T, p Packet, recs []Record) {
	for _, r := range recs {
		if r.Frame != p.Number {
			t.Fatalf("record frame %d, packet %d", r.Frame, p.Number)
		}
		if r.Offset < 0 || r.Offset > len(p.Data) {
			t.Fatalf("offset %d outside a %d-octet frame: %+v", r.Offset, len(p.Data), r)
		}
		if r.Err == nil && !r.Unknown && r.Message == nil && r.Worst() < wire.SeverityError {
			t.Fatalf("record without message, error, unknown flag or problem: %+v", r)
		}
		if r.Err == nil && len(r.MH) != r.Header.Len() && r.Worst() != wire.SeverityMalformed {
			t.Fatalf("MH of %d octets, Header Len says %d, and no Malformed problem", len(r.MH), r.Header.Len())
		}
		for _, pr := range r.AllProblems() {
			if at := r.Offset + pr.Offset; at < 0 || at > len(p.Data) || pr.Text == "" {
				t.Fatalf("problem %+v at frame offset %d of %d", pr, at, len(p.Data))
			}
		}
		// The printers must cope with whatever the decoders produce.
		if err := WriteText(io.Discard, r); err != nil {
			t.Fatalf("WriteText: %v", err)
		}
		if _, err := MarshalRecordJSON(r); err != nil {
			t.Fatalf("MarshalRecordJSON: %v", err)
		}
	}
}
