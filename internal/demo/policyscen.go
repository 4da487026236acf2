package demo

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/role/mn"
)

// Policy acceptance (issue 11): the pinned flow (policy rule "pinned": lte
// first, wlan while lte is down) travels only on lte, each way, while bulk
// TCP uses wlan; when lte goes down it moves to wlan within moveBoundMs,
// and returns when lte is back. Then `monami ctl flow move` moves it to
// wlan and back: each within moveBoundMs, each way, without a
// retransmission and without breaking the connection. Phases, from the
// start of the flows:
const (
	steadyFrom   = 500 * time.Millisecond // slow start and the first queue
	lteDownAt    = 2 * time.Second
	lteUpAt      = 4 * time.Second
	moveAwayAt   = 6500 * time.Millisecond
	moveBackAt   = 8500 * time.Millisecond
	pinnedStop   = 10500 * time.Millisecond
	moveBoundMs  = 100
	bulkFraction = 0.95 // of the bulk flows' packets on wlan in the steady phase
)

// pinnedFlow is "{next_header: tcp, dst_port: 5201}", the ctl match.
var pinnedMatch = fmt.Sprintf("{next_header: tcp, dst_port: %d}", pinnedPort)

func (s *scenario) policy(ctx context.Context, r *ScenarioReport, t0 time.Time) error {
	mn, cn := s.lab.MustNode("mn"), s.lab.MustNode("cn")
	hoa := &net.TCPAddr{IP: net.ParseIP(homeAddress), Port: pinnedPort}
	cc := s.opt.congestions()[0]
	// The pinned connection: correspondent listens, mobile node connects
	// from the home address, same port at both ends.
	var ln net.Listener
	lc := net.ListenConfig{Control: setCongestion(cc)}
	if err := cn.Do(func() (err error) {
		ln, err = lc.Listen(ctx, "tcp6", net.JoinHostPort(correspondent, strconv.Itoa(pinnedPort)))
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	var mc net.Conn
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: hoa, Control: setCongestion(cc)}
	if err := mn.Do(func() (err error) {
		mc, err = d.DialContext(ctx, "tcp6", net.JoinHostPort(correspondent, strconv.Itoa(pinnedPort)))
		return err
	}); err != nil {
		return fmt.Errorf("%w: pinned TCP from the home address: %v", errBroken, err)
	}
	defer mc.Close()
	cc0, err := ln.Accept()
	if err != nil {
		return err
	}
	defer cc0.Close()
	mEnd, err := newPinnedEnd(mc.(*net.TCPConn))
	if err != nil {
		return err
	}
	cEnd, err := newPinnedEnd(cc0.(*net.TCPConn))
	if err != nil {
		return err
	}
	brx, burx, btx, butx, err := s.bulkPair(cc)
	if err != nil {
		return err
	}
	for _, c := range []string{mEnd.congestion, cEnd.congestion, btx.congestion, butx.congestion} {
		r.addCongestion(c)
	}
	classify := byPort(6, map[uint16]string{pinnedPort: "pinned", bulkPort: "bulk", bulkPort + 1: "bulk"})
	taps, err := s.openTaps(classify)
	if err != nil {
		return err
	}
	if err := s.lab.MustNode("ar").Do(func() error {
		t, err := openEntryTap("ha0", classify)
		taps = append(taps, t)
		return err
	}); err != nil {
		for _, t := range taps[:len(taps)-1] {
			close(t.done)
			t.close()
		}
		return err
	}
	stopTaps := runTaps(taps)
	stop := make(chan struct{})
	start := time.Now()
	go mEnd.send(stop)
	go cEnd.send(stop)
	go btx.run(stop)
	go butx.run(stop)

	p := &PinnedResult{Congestion: mEnd.congestion}
	type change struct {
		at       time.Time
		from, to string
		retrans  uint32 // both senders' retransmissions at the event
		spurious uint32 // of which the receivers reported duplicates
	}
	var changes []change
	retrans := func() (uint32, uint32) {
		a, as := mEnd.retransmits()
		b, bs := cEnd.retransmits()
		return a + b, as + bs
	}
	// closeLast counts the previous change's retransmissions, up to now.
	closeLast := func() {
		if n := len(changes); n > 0 {
			t, sp := retrans()
			c := &p.Changes[n-1]
			c.Retransmits, c.Spurious = t-changes[n-1].retrans, sp-changes[n-1].spurious
			c.Lost = c.Retransmits - min(c.Spurious, c.Retransmits)
		}
	}
	step := func(at time.Duration, what, from, to string, act func() error) error {
		if err := sleepCtx(ctx, time.Until(start.Add(at))); err != nil {
			return err
		}
		closeLast()
		c := PinnedChange{What: what, AtMs: ms(time.Since(t0))}
		t, sp := retrans()
		changes = append(changes, change{time.Now(), from, to, t, sp})
		r.Events = append(r.Events, Event{At: time.Since(t0), What: what})
		if err := act(); err != nil {
			c.Error = err.Error()
		}
		p.Changes = append(p.Changes, c)
		return nil
	}
	err = func() error {
		if err := step(lteDownAt, "link lte0 down", backupIf, activeIf, func() error { return s.lab.SetLink("mn", backupIf, false) }); err != nil {
			return err
		}
		if err := step(lteUpAt, "link lte0 up", activeIf, backupIf, func() error { return s.lab.SetLink("mn", backupIf, true) }); err != nil {
			return err
		}
		if err := step(moveAwayAt, "ctl flow move --to "+activeIf, backupIf, activeIf, func() error { return s.flowMove(ctx, activeIf) }); err != nil {
			return err
		}
		if err := step(moveBackAt, "ctl flow move --to "+backupIf, activeIf, backupIf, func() error { return s.flowMove(ctx, backupIf) }); err != nil {
			return err
		}
		err := sleepCtx(ctx, time.Until(start.Add(pinnedStop)))
		closeLast()
		return err
	}()
	close(stop)
	<-btx.done
	<-butx.done
	time.Sleep(300 * time.Millisecond)
	pkts := stopTaps()
	for _, e := range []*pinnedEnd{mEnd, cEnd} {
		select {
		case <-e.done:
		case <-time.After(5 * time.Second):
			e.setErr(fmt.Errorf("no end of stream 5 s after the sender stopped"))
		}
	}
	for _, rx := range []*receiver{brx, burx} {
		select {
		case <-rx.done:
		case <-time.After(5 * time.Second):
		}
	}
	if err != nil {
		return err
	}
	p.PinnedPerLink = packetsPerLink(pkts, "pinned", start.Add(steadyFrom), start.Add(lteDownAt))
	p.BulkPerLink = packetsPerLink(pkts, "bulk", start.Add(steadyFrom), start.Add(lteDownAt))
	for i, c := range changes {
		end := start.Add(pinnedStop)
		if i+1 < len(changes) {
			end = changes[i+1].at
		}
		for _, up := range []bool{false, true} {
			p.Changes[i].Change = append(p.Changes[i].Change, linkChange(pkts, "pinned", up, c.from, c.to, c.at, end.Sub(c.at)))
		}
	}
	for _, x := range []struct{ tx, rx *pinnedEnd }{{cEnd, mEnd}, {mEnd, cEnd}} {
		x.tx.mu.Lock()
		x.rx.mu.Lock()
		t := TCPResult{Sent: x.tx.sent, Received: x.rx.got}
		t.Intact = x.tx.err == nil && x.rx.err == nil && t.Sent == t.Received && x.rx.bad < 0
		switch {
		case x.tx.err != nil:
			t.Error = x.tx.err.Error()
		case x.rx.err != nil:
			t.Error = x.rx.err.Error()
		case x.rx.bad >= 0:
			t.Error = fmt.Sprintf("octet %d off the pattern", x.rx.bad)
		}
		x.rx.mu.Unlock()
		x.tx.mu.Unlock()
		p.Streams = append(p.Streams, t)
	}
	r.Pinned = p
	s.policyChecks(r, p)
	return nil
}

// flowMove writes a flow move to the mobile node's control API, as an
// application moving its own flow would (RFC-less: the goals draft's Mr.
// Smith, section 4.2). The timing starts with the write; the command line
// (`monami ctl flow move`, the same POST) adds its own process start, 50
// ms on an idle machine and over 100 ms on a busy one, which is not the
// mobility system's latency. TestMonamiMNCommand covers the command line.
func (s *scenario) flowMove(ctx context.Context, to string) error {
	c := ctlapi.NewClient(s.path("mn.sock"))
	_, _, err := c.Do(ctx, "flow/move", mn.FlowMove{Match: pinnedMatch, To: []string{to}})
	if err != nil {
		return fmt.Errorf("control API flow/move --to %s: %w", to, err)
	}
	return nil
}

// bulkPair opens bulk TCP each way on their own ports: the correspondent
// to the home address (bulkPort) and back (bulkPort+1), with their
// receivers.
func (s *scenario) bulkPair(cc string) (down, up *receiver, downTx, upTx *sender, err error) {
	mn, cn := s.lab.MustNode("mn"), s.lab.MustNode("cn")
	if err := mn.Do(func() (err error) {
		down, err = listen(net.JoinHostPort(homeAddress, strconv.Itoa(bulkPort)))
		return err
	}); err != nil {
		return nil, nil, nil, nil, err
	}
	if err := cn.Do(func() (err error) {
		if up, err = listen(net.JoinHostPort(correspondent, strconv.Itoa(bulkPort+1))); err != nil {
			return err
		}
		downTx, err = dial(net.JoinHostPort(homeAddress, strconv.Itoa(bulkPort)), cc)
		return err
	}); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: bulk TCP to the home address: %v", errBroken, err)
	}
	if err := mn.Do(func() (err error) {
		upTx, err = dialFrom(&net.TCPAddr{IP: net.ParseIP(homeAddress)}, net.JoinHostPort(correspondent, strconv.Itoa(bulkPort+1)), cc)
		return err
	}); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("%w: bulk TCP from the home address: %v", errBroken, err)
	}
	return down, up, downTx, upTx, nil
}
