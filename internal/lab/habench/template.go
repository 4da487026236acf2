package habench

import (
	"encoding/binary"
	"fmt"
	"time"

	"monami/wire"
)

// Offsets in a Binding Update (RFC 6275 section 6.1.7): the Sequence
// Number follows the 6-octet Mobility Header, the options the 6-octet
// fixed body.
const (
	buSequenceAt = 6
	buOptionsAt  = 12
)

// buTemplate is a mobile node's Binding Update, encoded once. Every send
// copies it and patches in the Sequence Number and the Timestamp (RFC
// 4285 section 6), then computes the authenticator (RFC 4285 section 5:
// over the care-of address, the home address and the Mobility Header up
// to the SPI) and the checksum (RFC 6275 section 6.1.1) of those exact
// octets again. Only the encoding of the unchanging options is saved: the
// result is what wire.Authenticator.AppendMessage gives for the same
// values (TestTemplateMatchesAppendMessage).
type buTemplate struct {
	b    []byte
	tsAt int // offset of the Timestamp
	auth *wire.Authenticator
}

// newTemplate encodes mobile node i's Binding Update (see signal).
func newTemplate(m *mobileNode, i int, o Options) (buTemplate, error) {
	auth := wire.NewAuthenticator(m.key)
	b, err := auth.AppendMessage(nil, buMessage(m, i, o, 0, 0), m.spi, m.coa, m.hoa, m.hoa, haAddr)
	if err != nil {
		return buTemplate{}, err
	}
	it := wire.NewOptionIterator(b[buOptionsAt:], buOptionsAt)
	for it.Next() {
		if opt := it.Option(); opt.Type == wire.OptMobilityMessageReplay {
			return buTemplate{b: b, tsAt: opt.Offset + 2, auth: auth}, nil
		}
	}
	return buTemplate{}, fmt.Errorf("mobile node %d: no Timestamp option in its Binding Update", i)
}

// buMessage is mobile node i's Binding Update (RFC 6275 section 6.1.7,
// a BID option, RFC 5648; flows, RFC 6089; RFC 4283 NAI; RFC 4285
// timestamp).
func buMessage(m *mobileNode, i int, o Options, seq uint16, ts uint64) wire.BindingUpdate {
	bu := wire.BindingUpdate{Sequence: seq, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: lifetime}
	bu.Options = appendBIDs(bu.Options, i, o.BIDs)
	bu.Options = appendFlows(bu.Options, o.BIDs, o.FIDs)
	bu.Options = append(bu.Options, wire.NAI(m.id), wire.MobilityMessageReplayProtection{Timestamp: ts})
	return bu
}

// appendBU appends the Binding Update with seq and the timestamp of now,
// authenticated and checksummed, to dst.
func (t *buTemplate) appendBU(dst []byte, m *mobileNode, seq uint16, now time.Time) []byte {
	start := len(dst)
	dst = append(dst, t.b...)
	mh := dst[start:]
	binary.BigEndian.PutUint16(mh[buSequenceAt:], seq)
	binary.BigEndian.PutUint64(mh[t.tsAt:], wire.NTPTimestamp(now))
	spiEnd := len(mh) - wire.MNHAAuthenticatorLen
	t.auth.Sum(mh[:spiEnd], m.coa, m.hoa, mh[:spiEnd]) // in place: mh has the room
	wire.SetChecksum(mh, m.hoa, haAddr)
	return dst
}
