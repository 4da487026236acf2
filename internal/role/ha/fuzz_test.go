package ha

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"monami/internal/config"
	"monami/internal/transport"
	"monami/wire"
)

// FuzzHomeAgentHandle feeds arbitrary Mobility Header bytes, with or
// without a Home Address option, over either transport, to a fresh home
// agent (secure and insecure). Nothing may panic, and every answer the
// agent sends must decode.
func FuzzHomeAgentHandle(f *testing.F) {
	valid := func(lifetime uint16, nai string, k []byte, bids ...wire.Option) []byte {
		bu := wire.BindingUpdate{Sequence: 7, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: lifetime}
		for _, b := range bids {
			bu.Options = append(bu.Options, b)
		}
		if nai != "" {
			bu.Options = append(bu.Options, wire.NAI(nai))
		}
		bu.Options = append(bu.Options, wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())})
		mh, err := wire.NewAuthenticator(k).AppendMessage(nil, bu, 300, coa1, hoa, hoa, haAddr)
		if err != nil {
			f.Fatal(err)
		}
		return mh
	}
	f.Add(valid(15, "mn1@example.org", key, wire.BindingIdentifier{BindingID: 1, CareOfAddress: coa1}), true, false, false)
	f.Add(valid(0, "mn1@example.org", key), true, false, true)
	f.Add(valid(15, "", key, wire.BindingIdentifier{BindingID: 2, CareOfAddress: coa2, Priority: 3}), false, true, false)
	f.Add(valid(15, "nobody", []byte("wrong key, wrong key"), wire.BindingIdentifier{BindingID: 1}), true, true, true)
	// RFC 6089 flow options: an add, a Flow Summary, an unknown BID.
	f.Add(valid(15, "mn1@example.org", key, wire.BindingIdentifier{BindingID: 1, CareOfAddress: coa1},
		fid(1, 10, []uint16{1}, voiceTS), fid(2, 20, []uint16{9}, bulkTS), wire.FlowSummary{FIDs: []uint16{3}}), true, false, true)
	f.Add([]byte{59, 0, 200, 0, 0, 0, 0, 0}, false, false, false)
	f.Add([]byte{59, 1, 5, 0, 0, 0, 0, 1, 0xc0, 0, 0, 1, 1, 0, 0, 0}, true, false, false)

	secure, err := config.ParseHomeAgent("ha.yaml", []byte(haYAML))
	if err != nil {
		f.Fatal(err)
	}
	insecure, err := config.ParseHomeAgent("ha.yaml", []byte(haYAML+"security: {insecure: true}\n"))
	if err != nil {
		f.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, mh []byte, withHAO, overUDP, isInsecure bool) {
		cfg := secure
		if isInsecure {
			cfg = insecure
		}
		tp := newMemTransport()
		h, err := New(cfg, Options{Transports: []transport.Transport{tp}, DataPlane: newRecordingDP(), NoControlSocket: true, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		sig := transport.Signal{Via: transport.ViaMH, Src: coa1, Dst: haAddr, MH: mh}
		if withHAO {
			sig.Ext, sig.HomeAddress = transport.ExtHAO, hoa
		}
		if overUDP {
			sig.Via, sig.Peer = transport.ViaUDP, netip.AddrPortFrom(coa1, 4191)
		}
		for i := 0; i < 2; i++ { // twice: the second meets the state the first left
			h.handle(context.Background(), received{sig: sig, tp: tp, at: time.Now()})
			select {
			case <-tp.cond:
			default:
			}
		}
		for _, s := range tp.sent {
			if _, err := (wire.Parser{ChecksumVerified: true}).Parse(s.MH, s.Src, s.Dst); err != nil {
				t.Fatalf("the agent sent an undecodable answer: %v", err)
			}
		}
	})
}
