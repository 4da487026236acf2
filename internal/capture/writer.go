package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// NGWriter writes a pcapng file: one section, any number of interfaces,
// Enhanced Packet Blocks with nanosecond timestamps. It exists for the
// sample capture generator and the tests; its output is what dumpcap
// writes for the same packets.
type NGWriter struct {
	w     io.Writer
	order interface {
		binary.ByteOrder
		binary.AppendByteOrder
	}
	ifs int
	err error
}

// NewNGWriter writes the Section Header Block in the given byte order.
// order is binary.LittleEndian or binary.BigEndian.
func NewNGWriter(w io.Writer, order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}) (*NGWriter, error) {
	nw := &NGWriter{w: w, order: order}
	body := make([]byte, 16)
	order.PutUint32(body[0:], ngByteOrderMagic)
	order.PutUint16(body[4:], 1) // major
	order.PutUint16(body[6:], 0) // minor
	order.PutUint64(body[8:], ^uint64(0))
	nw.block(ngBlockSHB, body)
	return nw, nw.err
}

// AddInterface writes an Interface Description Block with nanosecond
// timestamp resolution and returns the interface ID.
func (nw *NGWriter) AddInterface(lt LinkType, snapLen uint32) (int, error) {
	body := make([]byte, 8, 20)
	nw.order.PutUint16(body[0:], uint16(lt))
	nw.order.PutUint32(body[4:], snapLen)
	opt := make([]byte, 12)
	nw.order.PutUint16(opt[0:], ngOptTSResol)
	nw.order.PutUint16(opt[2:], 1)
	opt[4] = 9 // 10^-9 s
	// opt[8:12] is opt_endofopt (code 0, length 0).
	body = append(body, opt...)
	nw.block(ngBlockIDB, body)
	nw.ifs++
	return nw.ifs - 1, nw.err
}

// WritePacket writes an Enhanced Packet Block.
func (nw *NGWriter) WritePacket(iface int, t time.Time, data []byte) error {
	if iface < 0 || iface >= nw.ifs {
		return fmt.Errorf("capture: interface %d not defined", iface)
	}
	padded := (len(data) + 3) &^ 3
	body := make([]byte, 20+padded)
	ts := uint64(t.UnixNano())
	nw.order.PutUint32(body[0:], uint32(iface))
	nw.order.PutUint32(body[4:], uint32(ts>>32))
	nw.order.PutUint32(body[8:], uint32(ts))
	nw.order.PutUint32(body[12:], uint32(len(data)))
	nw.order.PutUint32(body[16:], uint32(len(data)))
	copy(body[20:], data)
	nw.block(ngBlockEPB, body)
	return nw.err
}

func (nw *NGWriter) block(btype uint32, body []byte) {
	if nw.err != nil {
		return
	}
	total := uint32(12 + len(body))
	b := make([]byte, 0, total)
	b = nw.order.AppendUint32(b, btype)
	b = nw.order.AppendUint32(b, total)
	b = append(b, body...)
	b = nw.order.AppendUint32(b, total)
	_, nw.err = nw.w.Write(b)
}

// PcapWriter writes a classic pcap file (microsecond or nanosecond
// timestamps, either byte order). Used by tests.
type PcapWriter struct {
	w     io.Writer
	order binary.ByteOrder
	nanos bool
}

// NewPcapWriter writes the pcap file header.
func NewPcapWriter(w io.Writer, order binary.ByteOrder, nanos bool, lt LinkType, snapLen uint32) (*PcapWriter, error) {
	h := make([]byte, pcapHeaderLen)
	magic := uint32(pcapMagicMicros)
	if nanos {
		magic = pcapMagicNanos
	}
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], snapLen)
	order.PutUint32(h[20:], uint32(lt))
	_, err := w.Write(h)
	return &PcapWriter{w: w, order: order, nanos: nanos}, err
}

// WritePacket writes one record.
func (pw *PcapWriter) WritePacket(t time.Time, data []byte) error {
	h := make([]byte, pcapRecordLen, pcapRecordLen+len(data))
	pw.order.PutUint32(h[0:], uint32(t.Unix()))
	frac := uint32(t.Nanosecond())
	if !pw.nanos {
		frac /= 1000
	}
	pw.order.PutUint32(h[4:], frac)
	pw.order.PutUint32(h[8:], uint32(len(data)))
	pw.order.PutUint32(h[12:], uint32(len(data)))
	_, err := pw.w.Write(append(h, data...))
	return err
}
