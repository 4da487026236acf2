package wire

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// unhex reads hex with spaces, newlines and "|" separators allowed, so
// expected bytes can be laid out like the RFC figures.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	r := strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "")
	b, err := hex.DecodeString(r.Replace(s))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// refChecksum is a straightforward RFC 1071 checksum over the RFC 8200
// section 8.1 pseudo-header, written independently of checksum.go.
func refChecksum(mh []byte, src, dst netip.Addr) uint16 {
	var buf []byte
	s, d := src.As16(), dst.As16()
	buf = append(buf, s[:]...)
	buf = append(buf, d[:]...)
	n := len(mh)
	buf = append(buf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n), 0, 0, 0, IPProtoMH)
	c := append([]byte(nil), mh...)
	c[4], c[5] = 0, 0
	buf = append(buf, c...)
	if len(buf)%2 == 1 {
		buf = append(buf, 0)
	}
	var sum uint32
	for i := 0; i < len(buf); i += 2 {
		sum += uint32(buf[i])<<8 | uint32(buf[i+1])
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

var (
	tSrc = netip.MustParseAddr("2001:db8:1::100")
	tDst = netip.MustParseAddr("2001:db8:2::1")
	tCoA = netip.MustParseAddr("2001:db8:1::100")
	tHoA = netip.MustParseAddr("2001:db8:2::100")
)

func mustMarshalNoSum(t testing.TB, m Message) []byte {
	t.Helper()
	b, err := AppendMessage(nil, m, netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatalf("encode %T: %v", m, err)
	}
	return b
}
