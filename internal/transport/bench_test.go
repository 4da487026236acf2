package transport

import (
	"testing"

	"monami/wire"
)

// The capture path's per-packet userspace work (walk + checksum) against
// the wire package's own walker + checksum as the baseline.
func BenchmarkCaptureDecode(b *testing.B) {
	s := testSignals(b)[0]
	pkt, err := appendPacket(nil, &s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("transport", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p, err := parsePacket(pkt)
			if err != nil || !verifyMH(p.HomeAddress, p.Dst, p.MH) {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-wire", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p, err := wire.ParseIPv6(pkt)
			if err != nil {
				b.Fatal(err)
			}
			mh, _ := p.MobilityHeader()
			src, dst := p.ChecksumAddrs()
			if !wire.VerifyChecksum(mh, src, dst) {
				b.Fatal("checksum")
			}
		}
	})
}

func BenchmarkAppendPacket(b *testing.B) {
	s := testSignals(b)[1]
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := appendPacket(buf[:0], &s); err != nil {
			b.Fatal(err)
		}
	}
}
