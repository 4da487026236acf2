package wire

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Fuzz targets for the decoders CORE owns. Seeds come from the table
// tests (f.Add) and from testdata/fuzz/<target>/ (regenerate with
// MONAMI_WRITE_FUZZ_SEEDS=1 go test -run TestWriteCoreFuzzSeeds ./wire/).

func coreOption(t OptionType) bool {
	switch t {
	case OptBindingRefreshAdvice, OptAlternateCareOfAddress, OptNonceIndices, OptBindingAuthorizationData,
		OptMobileNodeIdentifier, OptMobilityMessageAuthentication, OptMobilityMessageReplay, OptBindingIdentifier:
		return true
	}
	return !optionRegistry[t].parsed
}

func coreMessage(m Message) bool {
	switch m.(type) {
	case BindingUpdate, BindingAcknowledgement, BindingError, BindingRefreshRequest,
		HomeTestInit, CareOfTestInit, HomeTest, CareOfTest:
	default:
		return false
	}
	for _, o := range m.MobilityOptions() {
		if !coreOption(o.OptionType()) {
			return false
		}
	}
	return true
}

// optionsOf iterates the options of an encoded message of a registered type.
func optionsOf(mh []byte) OptionIterator {
	e := messageRegistry[mh[2]]
	base := HeaderLen + e.fixed(mh[min(HeaderLen, len(mh)):])
	if base < HeaderLen || base > len(mh) {
		return OptionIterator{}
	}
	return NewOptionIterator(mh[base:], base)
}

func coreMHSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, v := range coreMessageVectors {
		b, err := Marshal(v.msg, tSrc, tDst)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzParseMH(f *testing.F) {
	for _, s := range coreMHSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(b, tSrc, tDst) // checksum path
		m, err := Parser{ChecksumVerified: true}.Parse(b, tSrc, tDst)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			return
		}
		if !coreMessage(m) {
			return
		}
		enc, err := Marshal(m, tSrc, tDst)
		if err != nil {
			var ee *EncodeError
			if errors.As(err, &ee) && strings.Contains(ee.Reason, "more than 2048") {
				return // canonical alignment padding can grow a packed message
			}
			t.Fatalf("re-encode %#v: %v", m, err)
		}
		m2, err := Parse(enc, tSrc, tDst)
		if err != nil {
			t.Fatalf("re-parse %x: %v", enc, err)
		}
		if !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("round trip differs:\n%#v\n%#v", m, m2)
		}
	})
}

func FuzzOption(f *testing.F) {
	for _, s := range coreMHSeeds(f) {
		it := optionsOf(s)
		for it.Next() {
			o := it.Option()
			f.Add(append([]byte{byte(o.Type)}, o.Data...))
		}
	}
	f.Add([]byte{byte(OptBindingIdentifier), 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 || len(b) > 256 || b[0] <= byte(OptPadN) {
			return // padding never reaches DecodeOption: the iterator consumes it
		}
		r := RawOption{Type: OptionType(b[0]), Data: b[1:], Offset: 12}
		o, err := DecodeOption(r)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			return
		}
		if !coreOption(r.Type) {
			return
		}
		d, err := o.AppendData(nil)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", o, err)
		}
		// Every CORE option format is exact: decoding then encoding gives
		// back the input octets.
		if string(d) != string(r.Data) {
			t.Fatalf("round trip %x -> %#v -> %x", r.Data, o, d)
		}
		if o2, err := DecodeOption(RawOption{Type: r.Type, Data: d}); err != nil || !OptionsEqual(o, o2) {
			t.Fatalf("re-decode %#v -> %#v, %v", o, o2, err)
		}
	})
}

func FuzzDecodeBindingUpdate(f *testing.F) {
	for _, s := range coreMHSeeds(f) {
		if s[2] == byte(MHBindingUpdate) {
			f.Add(s)
		}
	}
	f.Add(unhex(f, authBU))
	a := NewAuthenticator(testKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		p := Parser{ChecksumVerified: true}
		var v BindingUpdateView
		err := p.DecodeBindingUpdate(&v, b, tSrc, tDst)
		m, perr := p.Parse(b, tSrc, tDst)
		if err != nil {
			if perr == nil && m.MHType() == MHBindingUpdate {
				t.Fatalf("fast path rejects what Parse accepts: %v", err)
			}
			return
		}
		it := v.Options()
		var decErr error
		n := 0
		var bid BindingIdentifier
		for it.Next() {
			n++
			o := it.Option()
			if o.Type != it.Type() || !bytes.Equal(o.Data, it.Data()) || o.Offset != it.Offset() {
				t.Fatalf("accessors %v %x %d disagree with Option %+v", it.Type(), it.Data(), it.Offset(), o)
			}
			if _, e := DecodeOption(o); e != nil && decErr == nil {
				decErr = e
			}
			if o.Type == OptBindingIdentifier {
				want, werr := DecodeBindingIdentifier(o.Data)
				if gerr := bid.Decode(o.Data); (gerr == nil) != (werr == nil) || bid != want {
					t.Fatalf("in-place decode %+v %v, by value %+v %v", bid, gerr, want, werr)
				}
			}
		}
		if it.Err() != nil {
			t.Fatalf("options validated by DecodeBindingUpdate fail later: %v", it.Err())
		}
		if (decErr == nil) != (perr == nil) {
			t.Fatalf("fast path option errors %v, Parse %v", decErr, perr)
		}
		if perr == nil {
			bu := m.(BindingUpdate)
			if bu.Sequence != v.Sequence || bu.Flags != v.Flags || bu.Lifetime != v.Lifetime || len(bu.Options) != n {
				t.Fatalf("fast path %+v, Parse %+v", v, bu)
			}
		}
		if last, ok := LastOption(v.Options()); ok {
			_ = a.Verify(v.Bytes(), last, tCoA, tHoA)
		}
	})
}

func FuzzParseDestOpts(f *testing.F) {
	b, _ := AppendHomeAddressDestOpts(nil, IPProtoMH, tHoA)
	f.Add(b)
	f.Add([]byte{59, 0, 0, 1, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDestOpts(b)
		if err != nil {
			return
		}
		if d.Len > len(b) || d.Len%8 != 0 {
			t.Fatalf("length %d of %d", d.Len, len(b))
		}
		if d.HomeAddress.IsValid() {
			if _, err := AppendHomeAddressDestOpts(nil, d.NextHeader, d.HomeAddress); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzParseRoutingHeader2(f *testing.F) {
	b, _ := AppendRoutingHeader2(nil, IPProtoMH, tHoA)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRoutingHeader2(b)
		if err != nil {
			return
		}
		enc, err := AppendRoutingHeader2(nil, r.NextHeader, r.HomeAddress)
		if err != nil {
			t.Fatal(err)
		}
		if string(enc[:2]) != string(b[:2]) || string(enc[8:]) != string(b[8:24]) {
			t.Fatalf("re-encode %x from %x", enc, b[:24])
		}
	})
}

func FuzzParseIPv6(f *testing.F) {
	for _, p := range []MHPacket{
		{IPv6: IPv6Header{HopLimit: 64, Src: tCoA, Dst: tDst}, HomeAddress: tHoA},
		{IPv6: IPv6Header{HopLimit: 64, Src: tDst, Dst: tCoA}, RoutingHomeAddress: tHoA},
		{IPv6: IPv6Header{HopLimit: 64, Src: tDst, Dst: tCoA}, RoutingHomeAddress: tHoA, HomeAddress: tHoA},
	} {
		for _, v := range coreMessageVectors[:4] {
			b, err := p.Append(nil, v.msg)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkt, err := ParseIPv6(b)
		if err != nil {
			return
		}
		if pkt.PayloadOffset+len(pkt.Payload) > len(b) {
			t.Fatalf("payload past buffer")
		}
		_, _, _ = Parser{}.ParsePacket(b)
		_, _, _ = Parser{ChecksumVerified: true, LaxAlignment: true}.ParsePacket(b)
	})
}

// TestWriteCoreFuzzSeeds writes the seeds above as files under
// testdata/fuzz so plain `go test` replays them and the fuzzer starts from
// them. Run with MONAMI_WRITE_FUZZ_SEEDS=1.
func TestWriteCoreFuzzSeeds(t *testing.T) {
	if os.Getenv("MONAMI_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set MONAMI_WRITE_FUZZ_SEEDS=1 to regenerate seed files")
	}
	write := func(target string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("seed-%x", sha256.Sum256(b))[:21]
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range coreMHSeeds(t) {
		write("FuzzParseMH", s)
		if s[2] == byte(MHBindingUpdate) {
			write("FuzzDecodeBindingUpdate", s)
		}
		it := optionsOf(s)
		for it.Next() {
			o := it.Option()
			write("FuzzOption", append([]byte{byte(o.Type)}, o.Data...))
		}
	}
	write("FuzzDecodeBindingUpdate", unhex(t, authBU))
	b, _ := AppendHomeAddressDestOpts(nil, IPProtoMH, tHoA)
	write("FuzzParseDestOpts", b)
	b, _ = AppendRoutingHeader2(nil, IPProtoMH, tHoA)
	write("FuzzParseRoutingHeader2", b)
	for _, p := range []MHPacket{
		{IPv6: IPv6Header{HopLimit: 64, Src: tCoA, Dst: tDst}, HomeAddress: tHoA},
		{IPv6: IPv6Header{HopLimit: 64, Src: tDst, Dst: tCoA}, RoutingHomeAddress: tHoA},
	} {
		for _, v := range coreMessageVectors {
			b, err := p.Append(nil, v.msg)
			if err != nil {
				t.Fatal(err)
			}
			write("FuzzParseIPv6", b)
		}
	}
}
