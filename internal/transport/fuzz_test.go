package transport

import (
	"net/netip"
	"testing"
)

// FuzzParsePacket feeds the decoder of captured packets and checks that the
// BPF capture filter and the parser agree on what the capture delivers.
func FuzzParsePacket(f *testing.F) {
	for _, s := range testSignals(f) {
		pkt, err := appendPacket(nil, &s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pkt)
	}
	mh := testSignals(f)[2].MH
	f.Add(rawPacket(protoHopByHop, ext(protoDstOpts, 8, 1, 4), ext(ProtoMH, 24, append([]byte{1, 2, 0, 0, 0xC9, 16}, tHoA.AsSlice()...)...), mh))
	f.Add(rawPacket(protoRouting, ext(ProtoMH, 8, 0, 0), mh))
	f.Add(rawPacket(protoFragment, ext(ProtoMH, 8), mh))
	vm := captureVM(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePacket(b)
		if err != nil {
			return
		}
		if checkReceivedMH(p.MH) != nil {
			t.Fatalf("parser returned a badly framed MH")
		}
		if p.Ext != ExtNone && !p.HomeAddress.Is6() {
			t.Fatalf("%v without home address", p.Ext)
		}
		n, err := vm.Run(b)
		if err != nil {
			t.Fatal(err)
		}
		delivered := p.DstOpts || p.Ext == ExtRH2
		if n > 0 && !delivered {
			t.Fatalf("filter accepts a packet the capture would not deliver: %+v", p)
		}
		if delivered && n == 0 && p.nExt <= captureDepth {
			t.Fatalf("filter rejects a deliverable packet (%d extension headers): %+v", p.nExt, p)
		}
	})
}

// FuzzDecodeUDP feeds the decoder of RFC 5555 UDP payloads.
func FuzzDecodeUDP(f *testing.F) {
	for _, s := range testSignals(f) {
		pkt, err := appendPacket(nil, &s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pkt)
	}
	f.Add([]byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2})
	f.Add(rawPacket(17, make([]byte, 8)))
	mapped := testSignals(f)[2]
	mapped.Src = netip.MustParseAddr("::ffff:192.0.2.1")
	if pkt, err := appendPacket(nil, &testSignals(f)[2]); err == nil {
		copy(pkt[8:24], mapped.Src.AsSlice())
		f.Add(pkt)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sig, data, err := decodeUDP(b)
		if err != nil {
			if data != nil || sig.MH != nil {
				t.Fatal("error with a result")
			}
			return
		}
		if (data == nil) == (sig.MH == nil) {
			t.Fatalf("want exactly one of signal and data: %+v %d", sig, len(data))
		}
		if sig.MH != nil {
			if sig.Via != ViaUDP || checkReceivedMH(sig.MH) != nil {
				t.Fatalf("bad signal %+v", sig)
			}
			// What was decoded can be sent again, unless it carries
			// IPv4-mapped addresses, which Send refuses, or octets after
			// its Header Len, which a receiver takes (RFC 8200 section
			// 4.7) and a sender does not make.
			_, err := appendPacket(nil, &sig)
			refused := sig.Src.Is4In6() || sig.Dst.Is4In6() || sig.HomeAddress.Is4In6() || checkMH(sig.MH) != nil
			if refused != (err != nil) {
				t.Fatalf("re-encoding decoded signal %+v: %v", sig, err)
			}
		}
	})
}
