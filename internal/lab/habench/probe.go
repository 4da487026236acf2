package habench

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"monami/internal/lab"
	"monami/wire"
)

const probePort = 7777

// probeSample sends a datagram from the correspondent to each sampled home
// address. The simulator receives it tunnelled at the care-of address
// (the home agent's downlink), answers from the home address through its
// reverse tunnel, and the correspondent counts the answers that passed the
// home agent's ingress check.
func probeSample(ctx context.Context, l *lab.Lab, o Options, mns []mobileNode, rep *Report) error {
	sample := sampleOf(len(mns), o.Sample)
	rep.Sample = len(sample)
	mnsNode, cn := l.MustNode("mns"), l.MustNode("cn")
	var tun, udp net.PacketConn
	if err := mnsNode.Do(func() (err error) { tun, err = net.ListenPacket("ip6:41", "::"); return err }); err != nil {
		return fmt.Errorf("tunnel socket: %w", err)
	}
	defer tun.Close()
	if err := cn.Do(func() (err error) {
		udp, err = net.ListenPacket("udp6", net.JoinHostPort(cnAddr.String(), "0"))
		return err
	}); err != nil {
		return fmt.Errorf("correspondent socket: %w", err)
	}
	defer udp.Close()
	index := map[netip.Addr]int{}
	for _, i := range sample {
		index[mns[i].hoa] = i
	}
	var mu sync.Mutex
	down, up := map[int]bool{}, map[int]bool{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); answer(mnsNode, tun, mns, index, &mu, down) }()
	go func() { defer wg.Done(); collect(udp, &mu, up) }()
	for _, i := range sample {
		msg := []byte("habench " + strconv.Itoa(i))
		if _, err := udp.WriteTo(msg, &net.UDPAddr{IP: mns[i].hoa.AsSlice(), Port: probePort}); err != nil {
			return fmt.Errorf("probe to %v: %w", mns[i].hoa, err)
		}
		time.Sleep(time.Millisecond)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		mu.Lock()
		n := len(up)
		mu.Unlock()
		if n == len(sample) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	tun.SetReadDeadline(time.Now())
	udp.SetReadDeadline(time.Now())
	wg.Wait()
	rep.Downlink, rep.Uplink = len(down), len(up)
	return nil
}

// sampleOf spreads k indices over 0..n-1, the last one always included:
// it was installed when the tables were fullest.
func sampleOf(n, k int) []int {
	var s []int
	for j := 1; j <= k; j++ {
		s = append(s, j*n/k-1)
	}
	return s
}

// answer reads what the home agent tunnels to the care-of addresses and
// reverse-tunnels an answer from each sampled home address.
func answer(node *lab.NodeNS, tun net.PacketConn, mns []mobileNode, index map[netip.Addr]int, mu *sync.Mutex, down map[int]bool) {
	buf := make([]byte, 2048)
	for {
		n, _, err := tun.ReadFrom(buf)
		if err != nil {
			return
		}
		p := buf[:n] // the inner packet: a raw socket gets what follows the outer header
		if len(p) < 48 || p[0]>>4 != 6 || p[6] != 17 {
			continue
		}
		src, dst := netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		i, ok := index[dst]
		if !ok || src != cnAddr || binary.BigEndian.Uint16(p[42:]) != probePort {
			continue
		}
		mu.Lock()
		down[i] = true
		mu.Unlock()
		reply := udp6(dst, src, probePort, binary.BigEndian.Uint16(p[40:]), p[48:])
		_ = node.Do(func() error {
			c, err := net.ListenPacket("ip6:41", mns[i].coa.String())
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.WriteTo(reply, &net.IPAddr{IP: haAddr.AsSlice()})
			return err
		})
	}
}

func collect(udp net.PacketConn, mu *sync.Mutex, up map[int]bool) {
	buf := make([]byte, 2048)
	for {
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			return
		}
		v, ok := strings.CutPrefix(string(buf[:n]), "habench ")
		if i, err := strconv.Atoi(v); ok && err == nil {
			mu.Lock()
			up[i] = true
			mu.Unlock()
		}
	}
}

// udp6 builds an IPv6/UDP packet with its checksum (RFC 8200 section 8.1).
func udp6(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	p := make([]byte, 48+len(payload))
	p[0] = 6 << 4
	binary.BigEndian.PutUint16(p[4:], uint16(8+len(payload)))
	p[6], p[7] = 17, 64
	s, d := src.As16(), dst.As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	u := p[40:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	copy(u[8:], payload)
	c := wire.UpperLayerChecksum(u, src, dst, 17, 6)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return p
}
