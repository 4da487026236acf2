package wire

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"net/netip"
)

// RFC 4285 section 5.1 (MN-HA):
//
//	Authenticator = First(96, HMAC_SHA1(MN-HA Shared key, Mobility Data))
//	Mobility Data = care-of address | home address | MH Data
//
// where MH Data is the Mobility Header from its first octet up to and
// including the Mobility SPI field of the authentication option, with the
// Checksum field taken as zero. The option must be the last option.

// MNHAAuthenticatorLen is the MN-HA authenticator length: 96 bits.
const MNHAAuthenticatorLen = 12

// ErrAuthFailed: the authenticator does not verify, or the option is not
// usable (wrong subtype, not last); a home agent answers with Binding
// Acknowledgement status 146, MIPV6-AUTH-FAIL (RFC 4285 section 5.1).
var ErrAuthFailed = errors.New("mobility message authentication failed")

// Authenticator computes and checks MN-HA authenticators with one keyed
// hash that is Reset for each message, so a home agent verifies without
// allocating. Not safe for concurrent use: one per goroutine and key.
type Authenticator struct {
	mac  hash.Hash
	sum  [sha1.Size]byte
	addr [32]byte
}

// NewAuthenticator returns an Authenticator for the MN-HA shared key
// (16 octets in RFC 4285 section 5.1; other lengths work with HMAC).
func NewAuthenticator(key []byte) *Authenticator {
	return &Authenticator{mac: hmac.New(sha1.New, key)}
}

var zeroChecksum [2]byte

// compute fills a.sum with HMAC_SHA1(key, coa | hoa | mhData) where the
// checksum octets of mhData are taken as zero.
func (a *Authenticator) compute(coa, hoa netip.Addr, mhData []byte) {
	c, h := coa.As16(), hoa.As16()
	copy(a.addr[:16], c[:])
	copy(a.addr[16:], h[:])
	a.mac.Reset()
	a.mac.Write(a.addr[:])
	if len(mhData) >= ChecksumOffset+2 {
		a.mac.Write(mhData[:ChecksumOffset])
		a.mac.Write(zeroChecksum[:])
		a.mac.Write(mhData[ChecksumOffset+2:])
	} else {
		a.mac.Write(mhData)
	}
	a.mac.Sum(a.sum[:0])
}

// Sum appends the 96-bit MN-HA authenticator of mhData (the Mobility
// Header up to and including the Mobility SPI) to dst.
func (a *Authenticator) Sum(dst []byte, coa, hoa netip.Addr, mhData []byte) []byte {
	a.compute(coa, hoa, mhData)
	return append(dst, a.sum[:MNHAAuthenticatorLen]...)
}

// Verify checks the MN-HA authentication option opt, found in the
// Mobility Header mh (opt.Offset counts from mh[0]), against coa and hoa.
// It fails with ErrAuthFailed if the subtype is not MN-HA, the
// authenticator is not 96 bits, or it does not match. The caller checks
// the SPI against its security association and that the option is the
// last one (see LastOption).
func (a *Authenticator) Verify(mh []byte, opt RawOption, coa, hoa netip.Addr) error {
	if opt.Type != OptMobilityMessageAuthentication || len(opt.Data) != authFixedLen+MNHAAuthenticatorLen ||
		AuthSubtype(opt.Data[0]) != AuthMNHA {
		return ErrAuthFailed
	}
	end := opt.Offset + 2 + authFixedLen
	if opt.Offset < 0 || end > len(mh) {
		return ErrAuthFailed
	}
	a.compute(coa, hoa, mh[:end])
	if subtle.ConstantTimeCompare(a.sum[:MNHAAuthenticatorLen], opt.Data[authFixedLen:]) != 1 {
		return ErrAuthFailed
	}
	return nil
}

// LastOption returns the last option of an iteration, and false if the
// options are empty or malformed. RFC 4285 section 5 requires the
// authentication option to be last.
func LastOption(it OptionIterator) (RawOption, bool) {
	var last RawOption
	n := 0
	for it.Next() {
		last = it.Option()
		n++
	}
	return last, n > 0 && it.Err() == nil
}

// AppendMessage encodes m followed by an MN-HA authentication option
// with the given SPI (m's own options must not include one), fills the
// authenticator over coa | hoa | Mobility Header up to the SPI (RFC 4285
// section 5.1), then the checksum over the pseudo-header src, dst (both
// zero: left zero, see AppendMessage). It allocates nothing beyond growing b.
func (a *Authenticator) AppendMessage(b []byte, m Message, spi uint32, coa, hoa, src, dst netip.Addr) ([]byte, error) {
	start := len(b)
	b = appendHeader(b, m.MHType())
	b, err := m.AppendBody(b)
	if err != nil {
		return b[:start], err
	}
	for _, o := range m.MobilityOptions() {
		if o == nil {
			return b[:start], eerr(m.MHType().String(), "nil option")
		}
		if o.OptionType() == OptMobilityMessageAuthentication {
			return b[:start], eerr(m.MHType().String(), "authentication option given twice")
		}
		if b, err = AppendOption(b, start, o); err != nil {
			return b[:start], err
		}
	}
	// The option itself, written directly to avoid boxing a value.
	b = appendPad(b, authOptionPad(len(b)-start, authFixedLen+MNHAAuthenticatorLen))
	b = append(b, byte(OptMobilityMessageAuthentication), authFixedLen+MNHAAuthenticatorLen, byte(AuthMNHA))
	b = binary.BigEndian.AppendUint32(b, spi)
	spiEnd := len(b)
	b = append(b, make([]byte, MNHAAuthenticatorLen)...)
	if b, err = finishMH(b, start, m.MHType()); err != nil {
		return b, err
	}
	a.compute(coa, hoa, b[start:spiEnd])
	copy(b[spiEnd:], a.sum[:MNHAAuthenticatorLen])
	if src.IsValid() || dst.IsValid() {
		SetChecksum(b[start:], src, dst)
	}
	return b, nil
}

// authOptionPad is the padding before an authentication option with
// dataLen octets of option data at Mobility Header offset off. The option
// must start at 4n+1 (RFC 4285 section 5: the Mobility SPI on a 4-octet
// boundary) and must be the last option (RFC 4285 section 5), so where both
// can hold it starts where it ends on an 8-octet boundary (8n+5 for the
// 96-bit MN-HA authenticator: 2+1+4+12 octets end at 8n+24) and the
// Mobility Header needs no PadN after it (RFC 6275 section 6.1.1).
func authOptionPad(off, dataLen int) int {
	y := padFor(2+dataLen, 8, 0) // start offset mod 8 that ends at 8n
	if y%4 == 1 {
		return padFor(off, 8, y)
	}
	return padFor(off, 4, 1)
}

// MNAAAAuthenticator computes the MN-AAA authenticator for SPI
// HMACSHA1SPI (RFC 4285 section 5.2):
//
//	HMAC_SHA1(MN-AAA Shared key, SHA1(care-of address | home address | MH Data))
//
// with MH Data as for MN-HA. It is meant for tests and an AAA stub; it
// allocates.
func MNAAAAuthenticator(key []byte, coa, hoa netip.Addr, mhData []byte) []byte {
	d := sha1.New()
	c, h := coa.As16(), hoa.As16()
	d.Write(c[:])
	d.Write(h[:])
	if len(mhData) >= ChecksumOffset+2 {
		d.Write(mhData[:ChecksumOffset])
		d.Write(zeroChecksum[:])
		d.Write(mhData[ChecksumOffset+2:])
	} else {
		d.Write(mhData)
	}
	m := hmac.New(sha1.New, key)
	m.Write(d.Sum(nil))
	return m.Sum(nil)
}
