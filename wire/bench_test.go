package wire

import (
	"net/netip"
	"runtime"
	"syscall"
	"testing"
)

// The machine is shared: wall-clock ns/op grows with other load. Each
// benchmark also reports cpu-ns/op, the CPU time of its own (locked) OS
// thread per operation, which load does not inflate as much.
func threadCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuMetric starts measuring; call the result after the loop.
func cpuMetric(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}

// Benchmarks for the home agent's hot path. Baselines measured in the same
// run (plain copy, plain checksum) let results be read as ratios.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./wire/

var benchCoAs = []netip.Addr{
	netip.MustParseAddr("2001:db8:10::1"),
	netip.MustParseAddr("2001:db8:11::1"),
	netip.MustParseAddr("2001:db8:12::1"),
	netip.MustParseAddr("2001:db8:13::1"),
}

// benchBU is a bulk registration: 4 Binding Identifier options with IPv6
// care-of addresses, an NAI, replay protection and MN-HA authentication.
func benchBU(b *testing.B) []byte {
	opts := []Option{}
	for i, c := range benchCoAs {
		opts = append(opts, BindingIdentifier{BindingID: uint16(i + 1), Priority: uint8(i + 1), CareOfAddress: c})
	}
	opts = append(opts, NAI("mobile-node-17@example.net"), MobilityMessageReplayProtection{Timestamp: 0x1234567890abcdef})
	bu := BindingUpdate{Sequence: 100, Flags: BUFlagA | BUFlagH, Lifetime: 60, Options: opts}
	mh, err := NewAuthenticator(testKey).AppendMessage(nil, bu, 0x1000, benchCoAs[0], tHoA, tHoA, tDst)
	if err != nil {
		b.Fatal(err)
	}
	return mh
}

// haDecode is what a home agent does with every option of a Binding
// Update: typed decode into stack values.
func haDecode(v *BindingUpdateView) (bids int, auth RawOption, err error) {
	var bid BindingIdentifier
	it := v.Options()
	for it.Next() {
		switch it.Type() {
		case OptBindingIdentifier:
			if err := bid.Decode(it.Data()); err != nil {
				return 0, auth, err
			}
			if bid.CareOfAddress.IsValid() {
				bids++
			}
		case OptMobileNodeIdentifier:
			if _, err := DecodeMobileNodeIdentifier(it.Data()); err != nil {
				return 0, auth, err
			}
		case OptMobilityMessageReplay:
			if _, err := DecodeMobilityMessageReplayProtection(it.Data()); err != nil {
				return 0, auth, err
			}
		case OptMobilityMessageAuthentication:
			if _, err := DecodeMobilityMessageAuthentication(it.Data()); err != nil {
				return 0, auth, err
			}
			auth = it.Option()
		}
	}
	return bids, auth, it.Err()
}

func BenchmarkBaselineCopy(b *testing.B) {
	mh := benchBU(b)
	dst := make([]byte, len(mh))
	b.SetBytes(int64(len(mh)))
	b.ReportAllocs()
	done := cpuMetric(b)
	for b.Loop() {
		copy(dst, mh)
	}
	done()
}

func BenchmarkBaselineChecksum(b *testing.B) {
	mh := benchBU(b)
	b.SetBytes(int64(len(mh)))
	b.ReportAllocs()
	done := cpuMetric(b)
	for b.Loop() {
		if !VerifyChecksum(mh, tHoA, tDst) {
			b.Fatal("checksum")
		}
	}
	done()
}

// (a) decode of the bulk Binding Update, checksum already verified by the kernel.
func BenchmarkDecodeBindingUpdate(b *testing.B) {
	mh := benchBU(b)
	p := Parser{ChecksumVerified: true}
	var v BindingUpdateView
	b.SetBytes(int64(len(mh)))
	b.ReportAllocs()
	done := cpuMetric(b)
	for b.Loop() {
		if err := p.DecodeBindingUpdate(&v, mh, tHoA, tDst); err != nil {
			b.Fatal(err)
		}
		if n, _, err := haDecode(&v); err != nil || n != 4 {
			b.Fatal(n, err)
		}
	}
	done()
}

// (b) decode + checksum verification + MN-HA authenticator check.
func BenchmarkDecodeVerifyBindingUpdate(b *testing.B) {
	mh := benchBU(b)
	a := NewAuthenticator(testKey)
	var v BindingUpdateView
	b.SetBytes(int64(len(mh)))
	b.ReportAllocs()
	done := cpuMetric(b)
	for b.Loop() {
		if err := (Parser{}).DecodeBindingUpdate(&v, mh, tHoA, tDst); err != nil {
			b.Fatal(err)
		}
		_, auth, err := haDecode(&v)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Verify(v.Bytes(), auth, benchCoAs[0], tHoA); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// The generic path, for comparison: typed options in a new BindingUpdate.
func BenchmarkParseBindingUpdateGeneric(b *testing.B) {
	mh := benchBU(b)
	b.SetBytes(int64(len(mh)))
	b.ReportAllocs()
	done := cpuMetric(b)
	for b.Loop() {
		if _, err := Parse(mh, tHoA, tDst); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

func benchBA() BindingAcknowledgement {
	opts := []Option{}
	for i := range benchCoAs {
		st := StatusAccepted
		if i == 3 {
			st = StatusMCoAUnknownCoA
		}
		opts = append(opts, BindingIdentifier{BindingID: uint16(i + 1), Status: st})
	}
	opts = append(opts, MobilityMessageReplayProtection{Timestamp: 0x1234567890abcdef})
	return BindingAcknowledgement{Status: StatusAccepted, Sequence: 100, Lifetime: 60, Options: opts}
}

// (c) encode of the matching Binding Acknowledgement (BID statuses, replay
// protection, MN-HA authentication, checksum) into a reused buffer.
func BenchmarkEncodeBindingAcknowledgement(b *testing.B) {
	a := NewAuthenticator(testKey)
	var ba Message = benchBA() // boxed once, as a role reusing its reply would
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	done := cpuMetric(b)
	for b.Loop() {
		out, err := a.AppendMessage(buf[:0], ba, 0x1000, benchCoAs[0], tHoA, tDst, tHoA)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
	done()
	b.SetBytes(int64(len(buf)))
}

// (c') the same, building the option list for every message as a role would.
func BenchmarkEncodeBindingAcknowledgementFresh(b *testing.B) {
	a := NewAuthenticator(testKey)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	done := cpuMetric(b)
	for b.Loop() {
		out, err := a.AppendMessage(buf[:0], benchBA(), 0x1000, benchCoAs[0], tHoA, tDst, tHoA)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
	done()
	b.SetBytes(int64(len(buf)))
}
