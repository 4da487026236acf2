package dataplane

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

var (
	pmtuLocal  = netip.MustParseAddr("2001:db8:f::2")
	pmtuRemote = netip.MustParseAddr("2001:db8:a::10")
	pmtuKey    = tunnelKey{pmtuLocal, pmtuRemote}
)

func TestPathMTUsLower(t *testing.T) {
	p, t0 := newPathMTUs(), time.Unix(1000, 0)
	steps := []struct {
		mtu  int
		at   time.Duration
		want bool
		get  int
	}{
		{1279, 0, false, 0},                 // RFC 8201 section 4: below the minimum, discarded
		{1400, 0, true, 1400},               // learned
		{1450, time.Second, false, 1400},    // never raised by a Packet Too Big
		{1400, time.Second, false, 1400},    // nothing new
		{1300, 2 * time.Second, true, 1300}, // lowered again
		{1280, 3 * time.Second, true, 1280}, // the minimum itself holds
	}
	for i, s := range steps {
		if got := p.lower(pmtuKey, s.mtu, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d: lower(%d) = %v, want %v", i, s.mtu, got, s.want)
		}
		if got := p.get(pmtuKey, t0.Add(s.at)); got != s.get {
			t.Errorf("step %d: get = %d, want %d", i, got, s.get)
		}
	}
	// RFC 8201 section 4: after the timer, the link's MTU is tried again.
	last := t0.Add(3 * time.Second)
	if gone, next := p.expire(last.Add(pmtuAge - time.Nanosecond)); len(gone) != 0 || !next.Equal(last.Add(pmtuAge)) {
		t.Errorf("expire before the age: gone %v next %v, want none and %v", gone, next, last.Add(pmtuAge))
	}
	if got := p.get(pmtuKey, last.Add(pmtuAge)); got != 0 {
		t.Errorf("get after pmtuAge = %d, want 0", got)
	}
	if gone, next := p.expire(last.Add(pmtuAge)); len(gone) != 1 || gone[0] != pmtuKey || !next.IsZero() {
		t.Errorf("expire: gone %v next %v, want [%v] and none", gone, next, pmtuKey)
	}
	if !p.lower(pmtuKey, 1450, last.Add(pmtuAge)) {
		t.Error("a report after the age did not count")
	}
}

func TestInnerMTU(t *testing.T) {
	ip6 := Tunnel{Local: pmtuLocal, Remote: pmtuRemote}
	udp := Tunnel{Local: pmtuLocal, Remote: pmtuRemote, Encap: EncapUDP}
	cases := []struct {
		name          string
		t             Tunnel
		link, learned int
		want          int
		ok            bool
	}{
		{"link", ip6, 1500, 0, 1460, true},
		{"learned", ip6, 1500, 1400, 1360, true},
		{"learned above the link", ip6, 1500, 9000, 1460, true},
		{"learned, UDP", udp, 1500, 1400, 1352, true},
		{"floor (RFC 2473 section 7.1)", ip6, 1500, 1300, MinMTU, true},
		{"configured", Tunnel{Local: pmtuLocal, Remote: pmtuRemote, MTU: 1400}, 1500, 1450, 1400, true},
		{"configured, learned lower", Tunnel{Local: pmtuLocal, Remote: pmtuRemote, MTU: 1400}, 1500, 1380, 1340, true},
		{"link too small", ip6, 1300, 0, 1260, false},
	}
	for _, c := range cases {
		got, ok := innerMTU(c.t, c.link, c.learned)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: innerMTU = %d, %v, want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// tunnelPTB is the ICMPv6 part of the Packet Too Big a router sends the
// home agent for one of its tunnel packets.
func tunnelPTB(t testing.TB, mtu int) []byte {
	inner := buildUDP6(netip.MustParseAddr("2001:db8:c::10"), netip.MustParseAddr("2001:db8:1::10"), 1000, 2000, bytes.Repeat([]byte{7}, 1412))
	outer := make([]byte, ipv6HeaderLen, ipv6HeaderLen+len(inner))
	outer[0] = 6 << 4
	binary.BigEndian.PutUint16(outer[4:], uint16(len(inner)))
	outer[offNextHeader], outer[7] = protoIPv6, 64
	copy(outer[offSrc:], pmtuLocal.AsSlice())
	copy(outer[offDst:], pmtuRemote.AsSlice())
	outer = append(outer, inner...)
	pkt := packetTooBig(netip.MustParseAddr("2001:db8:d::2"), mtu, outer)
	if pkt == nil {
		t.Fatal("no Packet Too Big")
	}
	return pkt[ipv6HeaderLen:]
}

func TestParsePacketTooBig(t *testing.T) {
	msg := tunnelPTB(t, 1400)
	tb, err := parsePacketTooBig(msg)
	if err != nil {
		t.Fatal(err)
	}
	if want := (tooBig{Local: pmtuLocal, Remote: pmtuRemote, Next: protoIPv6, MTU: 1400}); tb != want {
		t.Errorf("got %+v, want %+v", tb, want)
	}
	v4 := bytes.Clone(msg)
	v4[ptbOffInvoking] = 4 << 4
	echo := bytes.Clone(msg)
	echo[0] = 128
	for name, m := range map[string][]byte{
		"short":           msg[:7],
		"no outer header": msg[:ptbOffInvoking+ipv6HeaderLen-1],
		"not IPv6":        v4,
		"echo request":    echo,
	} {
		if _, err := parsePacketTooBig(m); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParsePacketTooBig(f *testing.F) {
	f.Add(tunnelPTB(f, 1400))
	f.Add(tunnelPTB(f, 1280)[:ptbOffInvoking+ipv6HeaderLen])
	f.Add([]byte{2, 0, 0, 0, 0, 0, 5, 0x78})
	f.Fuzz(func(t *testing.T, msg []byte) {
		tb, err := parsePacketTooBig(msg)
		if err != nil {
			return
		}
		inv := msg[ptbOffInvoking:]
		if tb.Local != netip.AddrFrom16([16]byte(inv[offSrc:])) || tb.Remote != netip.AddrFrom16([16]byte(inv[offDst:])) ||
			tb.MTU != int(binary.BigEndian.Uint32(msg[ptbOffMTU:])) {
			t.Fatalf("%+v does not match the message", tb)
		}
	})
}

// A Packet Too Big for a path no route uses changes nothing; one for a
// tunnel's path lowers it once and resizes its routes.
func TestTunnelPMTULearn(t *testing.T) {
	var retuned [][]tunnelKey
	ours := true
	p := &tunnelPMTU{paths: newPathMTUs(), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		retune: func(keys []tunnelKey, learn func() bool) int {
			if !ours || (learn != nil && !learn()) {
				return 0
			}
			retuned = append(retuned, keys)
			return 1
		}}
	defer func() {
		p.mu.Lock()
		p.closed = true
		if p.timer != nil {
			p.timer.Stop()
		}
		p.mu.Unlock()
	}()
	tb := tooBig{Local: pmtuLocal, Remote: pmtuRemote, Next: protoIPv6, MTU: 1400}
	ours = false
	p.learn(tb)
	if p.get(pmtuKey) != 0 || len(retuned) != 0 {
		t.Fatalf("learned %d, retuned %v from a path no route uses", p.get(pmtuKey), retuned)
	}
	ours = true
	p.learn(tb)
	p.learn(tb)
	if p.get(pmtuKey) != 1400 || len(retuned) != 1 {
		t.Fatalf("learned %d, retuned %v, want 1400 once", p.get(pmtuKey), retuned)
	}
	if p.timer == nil {
		t.Error("no timer to age what was learned")
	}
}
