package wire

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Decoders wrap them in *ParseError; test with errors.Is.
var (
	// ErrTruncated: the buffer ends before the structure it must hold.
	ErrTruncated = errors.New("truncated")
	// ErrBadLength: a length field has a value the format does not allow
	// (e.g. a fixed-size option with the wrong Length).
	ErrBadLength = errors.New("bad length")
	// ErrOptionOverrun: an option's Length runs past the end of the message.
	ErrOptionOverrun = errors.New("option overruns message")
	// ErrHeaderLenTooSmall: Header Len is less than the MH type needs; RFC
	// 6275 section 9.2 says to answer with ICMP Parameter Problem code 0.
	ErrHeaderLenTooSmall = errors.New("header len too small for message type")
	// ErrBadPayloadProto: the Payload Proto of a Mobility Header is not 59
	// (IPPROTO_NONE); RFC 6275 section 9.2 says to answer with ICMP
	// Parameter Problem code 0. It is also an ErrBadValue.
	ErrBadPayloadProto = fmt.Errorf("payload proto not IPPROTO_NONE: %w", ErrBadValue)
	// ErrBadChecksum: the Mobility Header checksum does not verify.
	ErrBadChecksum = errors.New("bad checksum")
	// ErrUnknownMHType: no decoder for this MH Type; RFC 6275 section 9.2
	// says to answer with a Binding Error, status 2 (BEUnrecognizedMHType).
	ErrUnknownMHType = errors.New("unknown MH type")
	// ErrBadAlignment: an option does not start at its xn+y alignment
	// (RFC 6275 section 6.2).
	ErrBadAlignment = errors.New("option misaligned")
	// ErrBadValue: a field holds a value the format forbids.
	ErrBadValue = errors.New("bad field value")
)

// ParseError says where decoding failed. Offset counts octets from the
// start of the Mobility Header (or of the buffer given to a standalone
// decoder such as ParseIPv6).
type ParseError struct {
	Offset int
	What   string // the structure being decoded, e.g. "Binding Identifier option"
	Err    error  // one of the sentinels above, possibly wrapped
	// MHType is set when Err is ErrUnknownMHType, so a node can answer
	// with Binding Error status 2 without re-reading the buffer.
	MHType MHType
}

func (e *ParseError) Error() string {
	return "wire: " + e.What + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

func (e *ParseError) Unwrap() error { return e.Err }

func perr(off int, what string, err error) *ParseError {
	return &ParseError{Offset: off, What: what, Err: err}
}

// EncodeError reports a value that cannot be encoded.
type EncodeError struct {
	What   string
	Reason string
}

func (e *EncodeError) Error() string { return "wire: cannot encode " + e.What + ": " + e.Reason }

func eerr(what, reason string) *EncodeError { return &EncodeError{What: what, Reason: reason} }

func itoa(i int) string { return strconv.Itoa(i) }
