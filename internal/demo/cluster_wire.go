package demo

import (
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// baSniffer records the Binding Acknowledgements the home agent nodes send
// onto the home link, as the access router's interface receives them, with
// the sender's link-layer address: the wire's own account of which node
// answered when (the split-brain check does not trust the nodes' word).
type baSniffer struct {
	fd   int
	mu   sync.Mutex
	acks []wireAck
	done chan struct{}
}

type wireAck struct {
	at  time.Time
	mac string
}

// openBASniffer must run inside the router's namespace.
func openBASniffer(ifname string) (*baSniffer, error) {
	m, err := openMeter(ifname) // the same AF_PACKET socket, bound to ifname
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(m.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(m.fd)
		return nil, err
	}
	return &baSniffer{fd: m.fd, done: make(chan struct{})}, nil
}

func (b *baSniffer) run(stop <-chan struct{}) {
	defer close(b.done)
	readStamped(b.fd, 256, stop, func(pkt []byte, ll *unix.SockaddrLinklayer, at time.Time) {
		if ll.Pkttype == unix.PACKET_OUTGOING || mhType(pkt) != mhTypeBindingAck {
			return
		}
		b.mu.Lock()
		b.acks = append(b.acks, wireAck{at, net.HardwareAddr(ll.Addr[:ll.Halen]).String()})
		b.mu.Unlock()
	})
}

func (b *baSniffer) stop() []wireAck {
	<-b.done
	unix.Close(b.fd)
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]wireAck(nil), b.acks...)
}

const mhTypeBindingAck = 6 // RFC 6275 section 6.1.8

// mhType walks an IPv6 packet's extension headers (hop-by-hop, routing,
// destination options) to a Mobility Header (next header 135, RFC 6275
// section 6.1) and returns its MH Type, or -1.
func mhType(p []byte) int {
	if len(p) < 40 || p[0]>>4 != 6 {
		return -1
	}
	nh, off := p[6], 40
	for {
		switch nh {
		case 135:
			if len(p) < off+3 {
				return -1
			}
			return int(p[off+2])
		case 0, 43, 60:
			if len(p) < off+2 {
				return -1
			}
			nh, off = p[off], off+(int(p[off+1])+1)*8
		default:
			return -1
		}
	}
}
