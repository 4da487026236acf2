package demo

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// arrival is one tunnelled packet seen arriving on a mobile node interface.
type arrival struct {
	at    time.Time
	bytes int
	// seq is a probe's sequence number (probe.go), 0 for other arrivals.
	seq uint64
}

// meter counts the tunnelled data (IPv6-in-IPv6, next header 41, or UDP
// port 4191 over IPv6 or IPv4) arriving on one interface, with an AF_PACKET socket: it sees
// what the link delivers, whatever the IP stack then does with it.
type meter struct {
	ifname string
	fd     int
	mu     sync.Mutex
	log    []arrival
	done   chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openMeter must run inside the node's network namespace (lab Node.Do).
func openMeter(ifname string) (*meter, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("meter: %w", err)
	}
	ifi := ifc.Index
	// Every protocol: an IPv4-only link carries IPv6 in UDP in IPv4 (RFC 5555).
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", ifname, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("meter %s: %w", ifname, err)
	}
	tv := unix.Timeval{Usec: 100_000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &meter{ifname: ifname, fd: fd, done: make(chan struct{})}, nil
}

func (m *meter) run(stop <-chan struct{}) {
	defer close(m.done)
	buf := make([]byte, 128)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, from, err := unix.Recvfrom(m.fd, buf, unix.MSG_TRUNC)
		if err != nil {
			continue // timeout: look at stop again
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if !tunnelled(buf[:min(n, len(buf))]) {
			continue
		}
		m.mu.Lock()
		m.log = append(m.log, arrival{at: time.Now(), bytes: n})
		m.mu.Unlock()
	}
}

// tunnelled reports whether an IPv6 packet carries an inner packet:
// next header 41, or UDP to or from port 4191 (RFC 5555); or an IPv4 one
// UDP to or from port 4191.
func tunnelled(p []byte) bool {
	if off, ok := ipv4UDP4191(p); ok {
		return off > 0
	}
	if len(p) < 40 || p[0]>>4 != 6 {
		return false
	}
	switch p[6] {
	case 41:
		return true
	case 17:
		return len(p) >= 44 && (binary.BigEndian.Uint16(p[40:]) == 4191 || binary.BigEndian.Uint16(p[42:]) == 4191)
	}
	return false
}

func (m *meter) arrivals() []arrival {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]arrival(nil), m.log...)
}

func (m *meter) close() {
	<-m.done
	unix.Close(m.fd)
}

// ipv4UDP4191: for an IPv4 packet (ok), the offset of the UDP payload when
// it is UDP to or from port 4191, else 0.
func ipv4UDP4191(p []byte) (off int, ok bool) {
	if len(p) < 20 || p[0]>>4 != 4 {
		return 0, false
	}
	ihl := int(p[0]&0x0f) * 4
	if p[9] != 17 || ihl < 20 || len(p) < ihl+8 {
		return 0, true
	}
	if binary.BigEndian.Uint16(p[ihl:]) != 4191 && binary.BigEndian.Uint16(p[ihl+2:]) != 4191 {
		return 0, true
	}
	return ihl + 8, true
}
