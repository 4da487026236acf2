package binding

// Sequence numbers are 16-bit circular counters compared "modulo 2**16"
// (RFC 6275 section 9.5.1): for a last accepted value L, the 32768 values
// L-32767 .. L (mod 2**16) are "less than or equal" to L, and the other
// 32768 values L+1 .. L+32768 are greater. RFC 6275 gives the example: if
// the most recent accepted Sequence Number was 32767, then 0 through 32767
// are less than or equal, 32768 through 65535 are greater.

// seqWindow is half the sequence space (RFC 6275 section 9.5.1).
const seqWindow = 1 << 15

// SeqGreater reports whether a is greater than b in the sense of RFC 6275
// section 9.5.1 (a Binding Update with sequence a may follow one with b).
func SeqGreater(a, b uint16) bool {
	d := a - b
	return d != 0 && d <= seqWindow
}

// SeqLessOrEqual reports whether a is less than or equal to b modulo 2**16;
// a home agent rejects such a Binding Update with status 135 (RFC 6275
// section 9.5.1).
func SeqLessOrEqual(a, b uint16) bool { return !SeqGreater(a, b) }
