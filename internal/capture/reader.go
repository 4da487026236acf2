package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxPacketSize bounds the captured length the readers accept for one
// packet, so a damaged length field cannot make them allocate gigabytes.
// Linux captures of GSO/GRO packets reach 256 KiB; 1 MiB leaves room.
const MaxPacketSize = 1 << 20

// maxBlockSize bounds a pcapng block for the same reason.
const maxBlockSize = MaxPacketSize + 64<<10

// ErrFormat means the input is not a capture file this package knows, or
// its structure is damaged; the Reader cannot go on after it.
var ErrFormat = errors.New("capture: bad file format")

// Format is the container format of a capture file.
type Format int

// Capture file formats.
const (
	FormatPcap Format = iota + 1
	FormatPcapNG
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Packet is one captured frame as stored in the file.
type Packet struct {
	// Number is the 1-based position of the packet in the file, as
	// Wireshark numbers frames.
	Number int
	// Time is the capture timestamp (UTC).
	Time time.Time
	// LinkType is the link-layer header type of Data.
	LinkType LinkType
	// Interface is the pcapng interface ID (always 0 for pcap).
	Interface int
	// OrigLen is the length of the frame on the wire; len(Data) may be
	// shorter when the capture was truncated by a snap length.
	OrigLen int
	// Data is the captured frame. It is valid until the next call to Next.
	Data []byte
}

// Reader reads packets from a pcap or pcapng stream.
type Reader struct {
	r      *bufio.Reader
	format Format
	n      int // packets returned so far
	buf    []byte

	// pcap state
	order    binary.ByteOrder
	nanos    bool
	linkType LinkType
	snapLen  uint32

	// pcapng state
	ng ngSection
}

// NewReader detects the format from the first four octets and reads the
// file header. It fails with an error wrapping ErrFormat if the input is
// neither pcap nor pcapng.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: reading magic number: %v", ErrFormat, err)
	}
	rd := &Reader{r: br}
	switch {
	case binary.BigEndian.Uint32(magic) == ngBlockSHB:
		rd.format = FormatPcapNG
		if err := rd.ngStart(); err != nil {
			return nil, err
		}
	default:
		rd.format = FormatPcap
		if err := rd.pcapStart(); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

// Format returns the container format of the input.
func (r *Reader) Format() Format { return r.format }

// Next returns the next packet, or io.EOF after the last one. Any other
// error means the file structure is damaged (or truncated in the middle of
// a record) and reading cannot go on.
func (r *Reader) Next() (Packet, error) {
	var p Packet
	var err error
	if r.format == FormatPcapNG {
		p, err = r.ngNext()
	} else {
		p, err = r.pcapNext()
	}
	if err != nil {
		return Packet{}, err
	}
	r.n++
	p.Number = r.n
	return p, nil
}

// readFull reads exactly n octets into the reader's reusable buffer.
// A clean end of input before the first octet gives io.EOF; a short read
// after it gives io.ErrUnexpectedEOF.
func (r *Reader) readFull(n int) ([]byte, error) {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	_, err := io.ReadFull(r.r, b)
	return b, err
}

func truncated(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: file truncated", ErrFormat, what)
	}
	return fmt.Errorf("capture: %s: %w", what, err)
}
