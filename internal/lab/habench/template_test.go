package habench

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"monami/wire"
)

// A patched template is, octet for octet, the Binding Update that
// AppendMessage encodes for the same sequence number and timestamp, with
// or without bulk bindings and flows, and the home agent's checks (the
// checksum with the home address as source, the authenticator) pass.
func TestTemplateMatchesAppendMessage(t *testing.T) {
	mns, err := mobileNodes(3)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 123456789)
	for _, o := range []Options{{BIDs: 1}, {BIDs: 4, FIDs: 8}} {
		for i := range mns {
			m := &mns[i]
			tmpl, err := newTemplate(m, i, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, seq := range []uint16{1, 0x1234, 0xffff} {
				got := tmpl.appendBU([]byte("prefix"), m, seq, now)[len("prefix"):]
				want, err := wire.NewAuthenticator(m.key).AppendMessage(nil, buMessage(m, i, o, seq, wire.NTPTimestamp(now)),
					m.spi, m.coa, m.hoa, m.hoa, haAddr)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("bids %d fids %d node %d seq %d:\n got %x\nwant %x", o.BIDs, o.FIDs, i, seq, got, want)
				}
				if !wire.VerifyChecksum(got, m.hoa, haAddr) {
					t.Errorf("node %d seq %d: checksum wrong", i, seq)
				}
				msg, err := wire.Parser{}.Parse(got, m.hoa, haAddr)
				if err != nil {
					t.Fatal(err)
				}
				if bu := msg.(wire.BindingUpdate); bu.Sequence != seq {
					t.Errorf("sequence %d, want %d", bu.Sequence, seq)
				}
			}
		}
	}
}

// The home address of mobile node i maps back to i, and no other address
// does.
func TestMobileNodeOf(t *testing.T) {
	mns, err := mobileNodes(300)
	if err != nil {
		t.Fatal(err)
	}
	r := &registrar{mns: mns}
	for i := range mns {
		if j, ok := r.mobileNodeOf(mns[i].hoa); !ok || j != i {
			t.Fatalf("%v: %d %v, want %d", mns[i].hoa, j, ok, i)
		}
	}
	for _, a := range []string{"2001:db8:1::1", "2001:db8:1::1:12c", "2001:db8:2::1:0", "::"} {
		if j, ok := r.mobileNodeOf(mustAddr(a)); ok {
			t.Errorf("%s taken for mobile node %d", a, j)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
