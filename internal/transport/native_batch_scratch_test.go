package transport

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/net/ipv6"
)

// appendPacketInfo gives the octets ipv6.ControlMessage.Marshal gives for
// the same source and interface, and nothing where it gives nothing.
func TestAppendPacketInfoMatchesMarshal(t *testing.T) {
	for _, c := range []struct {
		src     string
		ifIndex int
	}{
		{"2001:db8:1::1", 0}, {"2001:db8:1::1", 7}, {"fe80::1%eth0", 3}, {"::", 0},
		{"", 0}, {"", 4}, {"192.0.2.1", 0}, {"192.0.2.1", 2}, {"::ffff:192.0.2.1", 0}, {"::ffff:192.0.2.1", 5},
	} {
		var src netip.Addr
		if c.src != "" {
			src = netip.MustParseAddr(c.src)
		}
		want := (&ipv6.ControlMessage{Src: src.AsSlice(), IfIndex: c.ifIndex}).Marshal()
		got := appendPacketInfo([]byte("x"), src, c.ifIndex)[1:]
		if !bytes.Equal(got, want) {
			t.Errorf("src %q if %d: got %x, want %x", c.src, c.ifIndex, got, want)
		}
	}
}

// A pooled scratch built twice, the second time with fewer and other
// signals, holds exactly the second batch's packets and addresses.
func TestBatchScratchReused(t *testing.T) {
	mk := func(dst string, n int) []Signal {
		ss := make([]Signal, n)
		for i := range ss {
			ss[i] = Signal{Via: ViaMH, Src: netip.MustParseAddr("2001:db8:1::1"), Dst: netip.MustParseAddr(dst),
				MH: []byte{59, 1, 6, 0, 0, 0, byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0}}
		}
		return ss
	}
	var b batchScratch
	b.build(mk("2001:db8:2::1", 5), make([]error, 5))
	ss := mk("2001:db8:3::1", 3)
	ms, idx := b.build(ss, make([]error, 3))
	if len(ms) != 3 || len(idx) != 3 {
		t.Fatalf("%d messages, %d indexes; want 3", len(ms), len(idx))
	}
	for k, m := range ms {
		want, err := appendPacket(nil, &ss[k])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Buffers[0], want) || m.Addr.String() != "2001:db8:3::1" || len(m.Buffers) != 1 {
			t.Errorf("message %d: %x to %v, want %x to 2001:db8:3::1", k, m.Buffers[0], m.Addr, want)
		}
	}
}
