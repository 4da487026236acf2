package mn

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"monami/internal/lab"
)

// downstream is a flow of numbered UDP datagrams, one every interval, with
// the arrival time of each (named for its main use, correspondent to home
// address).
type downstream struct {
	mu      sync.Mutex
	arrived []time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startDownstream(t testing.TB, x *testNet, interval time.Duration) *downstream {
	return startFlow(t, x.cnNode, x.mnNode, netip.AddrPortFrom(hoa, 6000), interval)
}

// startUpstream: the same from an unbound socket on the mobile node to the
// correspondent (through the reverse tunnel).
func startUpstream(t testing.TB, x *testNet, interval time.Duration) *downstream {
	return startFlow(t, x.mnNode, x.cnNode, netip.AddrPortFrom(cnIP, 6001), interval)
}

// startFlow sends numbered UDP datagrams from node from to dst (bound on
// node to) every interval and records when each arrives: the kernel's
// receive timestamp (SO_TIMESTAMPNS), so the reader goroutine's own
// scheduling does not move the gaps (on the busy machine a late read of
// the last wlan datagram once put the upstream gap 1 ms under its floor).
func startFlow(t testing.TB, from, to *lab.NodeNS, dst netip.AddrPort, interval time.Duration) *downstream {
	d := &downstream{stop: make(chan struct{})}
	var rx, tx *net.UDPConn
	if err := to.Do(func() (err error) {
		if rx, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(dst)); err != nil {
			return err
		}
		return lab.EnableRxTimestamps(rx)
	}); err != nil {
		t.Fatal(err)
	}
	if err := from.Do(func() (err error) {
		tx, err = net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(dst))
		return
	}); err != nil {
		rx.Close()
		t.Fatal(err)
	}
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		buf, oob := make([]byte, 64), make([]byte, 128)
		for {
			n, oobn, _, _, err := rx.ReadMsgUDP(buf, oob)
			if err != nil {
				return
			}
			at, ok := lab.RxTimestamp(oob[:oobn])
			if n >= 8 && ok {
				d.mu.Lock()
				d.arrived = append(d.arrived, at)
				d.mu.Unlock()
			}
		}
	}()
	go func() {
		defer d.wg.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		var seq uint64
		b := make([]byte, 8)
		for {
			select {
			case <-d.stop:
				return
			case <-tk.C:
				seq++
				binary.BigEndian.PutUint64(b, seq)
				tx.Write(b)
			}
		}
	}()
	t.Cleanup(func() { d.halt(); rx.Close(); tx.Close(); d.wg.Wait() })
	return d
}

func (d *downstream) halt() {
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
}

// gaps lists the silences longer than min in [from, to], as offsets from
// from, for the log.
func (d *downstream) gaps(from, to time.Time, min time.Duration) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b strings.Builder
	prev := time.Time{}
	for _, a := range d.arrived {
		if a.After(to) {
			break
		}
		if !a.Before(from) && !prev.IsZero() && a.Sub(prev) > min {
			fmt.Fprintf(&b, " [%v..%v]", prev.Sub(from).Round(100*time.Microsecond), a.Sub(from).Round(100*time.Microsecond))
		}
		prev = a
	}
	return b.String()
}

// firstAfter is the arrival time of the first datagram after t.
func (d *downstream) firstAfter(t time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.arrived {
		if a.After(t) {
			return a
		}
	}
	return time.Time{}
}

// gapAfter is the longest time without a datagram in [from, to], counted
// from the event at from (not from the last arrival before it), and up to
// to when nothing came after the last arrival: the demo's definition
// (internal/demo longestGap). n counts the arrivals in the window.
func (d *downstream) gapAfter(from, to time.Time) (time.Duration, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	prev := from
	var gap time.Duration
	n := 0
	for _, a := range d.arrived {
		if a.Before(from) {
			continue
		}
		if a.After(to) {
			break
		}
		n++
		gap = max(gap, a.Sub(prev))
		prev = a
	}
	return max(gap, to.Sub(prev)), n
}

// failoverFigures are the timings of one failover.
type failoverFigures struct {
	eventDelay   time.Duration // link down -> the mobile node handled the netlink event
	eventToBU    time.Duration // event -> Binding Update (deregistration of BID 1) sent
	eventToBA    time.Duration // event -> its Binding Acknowledgement processed
	firstOverLTE time.Duration // link down -> first downstream datagram over the remaining link
	gap          time.Duration // longest downstream silence after link down
	upFirst      time.Duration // link down -> first upstream datagram (reverse tunnel) after it
	upGap        time.Duration // longest upstream silence after link down
	silences     string
}

func (f failoverFigures) String() string {
	return fmt.Sprintf("link down->event %v, event->BU sent %v, event->BA %v, link down->first downstream datagram over lte %v, downstream gap %v; upstream: link down->first datagram %v, gap %v; downstream silences >5ms:%s",
		f.eventDelay.Round(10*time.Microsecond), f.eventToBU.Round(10*time.Microsecond), f.eventToBA.Round(10*time.Microsecond),
		f.firstOverLTE.Round(100*time.Microsecond), f.gap.Round(100*time.Microsecond),
		f.upFirst.Round(100*time.Microsecond), f.upGap.Round(100*time.Microsecond), f.silences)
}

func wlanLink(t testing.TB, x *testNet) (*netlink.Handle, netlink.Link) {
	nh, err := x.mnNode.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	wlan, err := nh.LinkByName("wlan0")
	if err != nil {
		t.Fatal(err)
	}
	return nh, wlan
}

// failover takes the mobile node's active interface down (its own
// interface: the lab's SetLink first cuts the far end, up to 100 ms
// earlier, which would count against the failover) and checks that the
// binding is deregistered and traffic moves to the other link.
func failover(t testing.TB, x *testNet, m *MobileNode, rec *recorder, ds, us *downstream) failoverFigures {
	t.Helper()
	nh, wlan := wlanLink(t, x)
	time.Sleep(300 * time.Millisecond)
	tDown := time.Now()
	if err := nh.LinkSetDown(wlan); err != nil {
		t.Fatal(err)
	}
	waitRegistered(t, x, m, 2)
	waitTunnel(t, m, "lte0")
	time.Sleep(300 * time.Millisecond)
	end := time.Now()
	gap, n := ds.gapAfter(tDown, end)
	if n == 0 {
		t.Fatal("no downstream traffic after the failover")
	}
	upGap, un := us.gapAfter(tDown, end)
	if un == 0 {
		t.Fatal("no upstream traffic after the failover")
	}
	ev, ok1 := rec.find(tDown, "care-of address event", "coa", coa1.String(), "kind", "down")
	bu, ok2 := rec.find(tDown, "binding update sent", "from", coa2.String())
	ba, ok3 := rec.find(tDown, "binding deregistered", "bid", "1")
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("failover log: down %v, BU %v, dereg %v", ok1, ok2, ok3)
	}
	return failoverFigures{eventDelay: ev.at.Sub(tDown), eventToBU: bu.at.Sub(ev.at), eventToBA: ba.at.Sub(ev.at),
		firstOverLTE: ds.firstAfter(tDown.Add(15 * time.Millisecond)).Sub(tDown), // past what was in flight on wlan
		gap:          gap, silences: ds.gaps(tDown, end, 5*time.Millisecond),
		upFirst: us.firstAfter(tDown.Add(15 * time.Millisecond)).Sub(tDown), upGap: upGap}
}

// linkUp brings wlan0 back; BID 1 then registers again.
func linkUp(t testing.TB, x *testNet) {
	t.Helper()
	nh, wlan := wlanLink(t, x)
	if err := nh.LinkSetUp(wlan); err != nil {
		t.Fatal(err)
	}
}
