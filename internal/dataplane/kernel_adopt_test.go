package dataplane

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"monami/internal/lab"
	"monami/internal/testenv"
)

// TestDetachAdopt is an upgrade restart of b's kernel data plane under a
// 1 kHz UDP echo that crosses it both ways (b's tunnel route to s, and
// b's endpoint for a's tunnel back): Detach leaves it forwarding, a new
// data plane with Adopt takes it over, installs again only part of it,
// and Settle removes the rest. No echo may be lost. A third data plane,
// closed before it settles, must leave nothing.
func TestDetachAdopt(t *testing.T) {
	testenv.RequireRoot(t)
	for i, bc := range backendCases[:2] { // the kernel backend, with and without BPF
		t.Run(bc.name, func(t *testing.T) {
			n := upTestNet(t, fmt.Sprintf("uqad%d", i))
			_, dpB := setupTunnel(t, n, bc)
			e := startEcho(t, n.b, addrSvc, n.s, addrS)
			time.Sleep(100 * time.Millisecond)

			if err := dpB.(Detacher).Detach(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // forwarding without a process
			dp2, err := New(Config{Backend: bc.backend, Table: testTable, RulePriority: testPref, NetNS: nsHandle(t, n.b),
				NFTable: testNFT, TunName: testTun, NoBPF: bc.noBPF, Adopt: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dp2.Close() })
			time.Sleep(100 * time.Millisecond) // forwarding on the predecessor's state
			// What restore installs: the route to s and the endpoint,
			// not the route to a's home prefix (a binding that expired).
			err = Apply(dp2, []Op{
				{Kind: OpAddEndpoint, Endpoint: Endpoint{Local: addrB, Peer: addrA, Encap: bc.encap, InnerSrc: []netip.Prefix{prefS, prefAHome}}},
				{Kind: OpAddRoute, Route: Route{Selector: Selector{Dst: prefS}, Tunnel: Tunnel{Local: addrB, Remote: addrA, Encap: bc.encap}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if err := dp2.(Settler).Settle(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			sent, lost := e.stop()
			t.Logf("echoes: %d sent, %d lost", sent, lost)
			if sent < 300 || lost != 0 {
				t.Errorf("%d of %d echoes lost across Detach, adoption and Settle", lost, sent)
			}
			k := dp2.(*kernelDP)
			listed, err := k.rt.list(k.routeTable())
			if err != nil {
				t.Fatal(err)
			}
			var ours []string
			decaps := 0
			for _, r := range listed {
				if !k.ownsRoute(r) {
					continue
				}
				if r.dst.Bits() == 128 && k.cfg.InternalPrefix.Contains(r.dst.Addr()) {
					decaps++
					continue
				}
				ours = append(ours, r.dst.String())
			}
			if len(ours) != 1 || ours[0] != prefS.String() || decaps != 1 {
				t.Errorf("after Settle: tunnel routes %v and %d decapsulation routes, want [%v] and 1", ours, decaps, prefS)
			}
			udpEcho(t, n.b, addrSvc, n.s, addrS)
			// Detached again, then a successor that drains before it
			// settles (a start that fails) removes its predecessor's
			// state too.
			if err := dp2.(Detacher).Detach(); err != nil {
				t.Fatal(err)
			}
			dp3, err := New(Config{Backend: bc.backend, Table: testTable, RulePriority: testPref, NetNS: nsHandle(t, n.b),
				NFTable: testNFT, TunName: testTun, NoBPF: bc.noBPF, Adopt: true})
			if err != nil {
				t.Fatal(err)
			}
			udpEcho(t, n.b, addrSvc, n.s, addrS)
			if err := dp3.Close(); err != nil {
				t.Fatal(err)
			}
			assertClean(t, n.b)
		})
	}
}

// echoStream sends a numbered datagram every millisecond from a client to
// an echo server and counts the echoes.
type echoStream struct {
	cl, srv net.PacketConn
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	sent    uint32
	got     map[uint32]bool
}

func startEcho(t *testing.T, client *lab.NodeNS, from netip.Addr, server *lab.NodeNS, at netip.Addr) *echoStream {
	t.Helper()
	e := &echoStream{done: make(chan struct{}), got: map[uint32]bool{}}
	if err := server.Do(func() (err error) {
		e.srv, err = net.ListenPacket("udp6", net.JoinHostPort(at.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := client.Do(func() (err error) {
		e.cl, err = net.ListenPacket("udp6", net.JoinHostPort(from.String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.cl.Close(); e.srv.Close() })
	e.wg.Add(3)
	go func() { // the server
		defer e.wg.Done()
		buf := make([]byte, 2000)
		for {
			n, a, err := e.srv.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = e.srv.WriteTo(buf[:n], a)
		}
	}()
	go func() { // the client's receiver
		defer e.wg.Done()
		buf := make([]byte, 2000)
		for {
			n, _, err := e.cl.ReadFrom(buf)
			if err != nil {
				return
			}
			if n >= 4 {
				e.mu.Lock()
				e.got[binary.BigEndian.Uint32(buf)] = true
				e.mu.Unlock()
			}
		}
	}()
	go func() { // the client's sender
		defer e.wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		msg := make([]byte, 64)
		for {
			select {
			case <-e.done:
				return
			case <-tick.C:
			}
			e.mu.Lock()
			binary.BigEndian.PutUint32(msg, e.sent)
			e.sent++
			e.mu.Unlock()
			_, _ = e.cl.WriteTo(msg, e.srv.LocalAddr())
		}
	}()
	return e
}

// stop ends the stream, waits for the last echoes and returns how many
// datagrams were sent and how many echoes never came back.
func (e *echoStream) stop() (sent, lost int) {
	close(e.done)
	time.Sleep(200 * time.Millisecond)
	_ = e.cl.SetReadDeadline(time.Now())
	_ = e.srv.SetReadDeadline(time.Now())
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := uint32(0); i < e.sent; i++ {
		if !e.got[i] {
			lost++
		}
	}
	return int(e.sent), lost
}
