package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/role/ha"
)

func (s *scenario) run(ctx context.Context) (*Report, error) {
	if err := s.writeConfigs(); err != nil {
		return nil, err
	}
	if s.opt.NAT {
		// The reference is TCP over lte alone without monami: an IPv6
		// flow cannot cross the IPv4-only link (failover_goodput is left
		// out).
		s.say("== no %s calibration: it is IPv4-only", backupIf)
	} else if err := s.calibrate(ctx); err != nil {
		return nil, err
	}
	s.say("== starting monami ha (backend %s) and monami mn (signalling %s)", s.opt.Backend, s.opt.Transport)
	if err := s.startDaemon(ctx, "ha", "ha"); err != nil {
		return nil, err
	}
	if err := s.startDaemon(ctx, "mn", "mn"); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := s.waitBindings(ctx, 2, 20*time.Second); err != nil {
		return nil, err
	}
	s.say("== both care-of addresses registered after %s", time.Since(start).Round(time.Millisecond))
	rep := &Report{}
	for i, cc := range s.opt.congestions() {
		if i > 0 {
			// The previous run restored wlan: wait until both care-of
			// addresses are registered again and the stream has drained.
			if err := s.waitBindings(ctx, 2, 20*time.Second); err != nil {
				return rep, err
			}
			time.Sleep(time.Second)
		}
		s.opt.Congestion = cc
		s.say("== failover run %d: TCP congestion control %s", i+1, ccName(cc))
		sum, err := s.failover(ctx)
		if sum != nil {
			rep.Runs = append(rep.Runs, sum)
		}
		if err != nil {
			return rep, err
		}
	}
	if s.opt.NAT {
		nat, err := s.natIdle(ctx)
		rep.NAT = nat
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// calibrate measures, before the daemons start, the goodput of one TCP
// connection per congestion control over the backup link alone: the
// reference of the goodput after failover.
func (s *scenario) calibrate(ctx context.Context) error {
	lte, _ := linkByName(backupIf)
	undo, err := sourceRouting(ctx, s.lab)
	if err != nil {
		return err
	}
	defer undo()
	s.linkMbps = map[string]float64{}
	for _, cc := range s.opt.congestions() {
		r, err := measureFlow(ctx, s.lab, flowSpec{local: lte.addr, down: true, congestion: cc,
			duration: calibrationDuration, warmup: calibrationWarmup})
		if err != nil {
			return fmt.Errorf("measuring %s alone: %w", backupIf, err)
		}
		s.say("== %s alone, single TCP (%s) without monami: %.1f Mbit/s", backupIf, r.Congestion, r.Mbps)
		s.linkMbps[cc] = r.Mbps
	}
	return nil
}

func ccName(cc string) string {
	if cc == "" {
		return "default"
	}
	return cc
}

// bindings asks the home agent's control API for its binding cache.
func (s *scenario) bindings(ctx context.Context) ([]ha.BindingView, error) {
	var b []ha.BindingView
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, data, err := ctlapi.NewClient(s.path("ha.sock")).Get(pctx, "bindings")
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	return b, err
}

// waitBindings waits until the home agent holds n bindings.
func (s *scenario) waitBindings(ctx context.Context, n int, limit time.Duration) error {
	start := time.Now()
	for {
		b, err := s.bindings(ctx)
		if err == nil && len(b) == n {
			return nil
		}
		if time.Since(start) > limit {
			return fmt.Errorf("%w: the home agent holds %d bindings, not %d, after %s (%v)\n-- ha.log --\n%s\n-- mn.log --\n%s",
				errBroken, len(b), n, limit, err, s.logTail("ha"), s.logTail("mn"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// failover streams TCP and the probe from cn to the home address, fails
// and restores the active link, and measures.
func (s *scenario) failover(ctx context.Context) (*Summary, error) {
	tr, err := s.startTraffic()
	if err != nil {
		return nil, err
	}
	defer tr.closeMeters()
	t0 := tr.t0
	s.say("== TCP stream cn -> [%s]:%d started; %s fails at +%s, comes back at +%s", homeAddress, streamPort, activeIf, s.opt.FailAt, s.opt.RestoreAt)

	// Watch the binding cache while the stream runs.
	var events []Event
	bw := &bindingWatch{seen: map[string]bool{}}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	failed, restored := false, false
	var failAt, restoreAt time.Time
	for {
		now := time.Since(t0)
		if !failed && now >= s.opt.FailAt {
			failed = true
			failAt = time.Now()
			if err := s.fail(&events, t0); err != nil {
				return nil, err
			}
		}
		if !restored && now >= s.opt.RestoreAt {
			restored = true
			restoreAt = time.Now()
			if err := s.restore(&events, t0); err != nil {
				return nil, err
			}
		}
		if now >= s.opt.Duration {
			break
		}
		bw.poll(ctx, s, t0, &events)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	res, err := tr.stop()
	if err != nil {
		return nil, err
	}
	probes, probesGot, upProbes, upGot, reads := res.probes, res.probesGot, res.upProbes, res.upGot, res.reads
	ptx, uptx, tx, meters := tr.ptx, tr.uptx, tr.tx, tr.meters
	sum := analyse(t0, failAt, restoreAt, s.opt, meters, reads)
	sum.Congestion = tx.congestion
	if ref, ok := s.linkMbps[s.opt.Congestion]; ok {
		g := failoverGoodput(reads, failAt, restoreAt, ref)
		g.Congestion = tx.congestion
		sum.Goodput = &g
	}
	end := t0.Add(s.opt.Duration)
	sum.Probe = ProbeResult{IntervalMs: ms(probeInterval), Sent: ptx.sent, Received: uint64(probesGot),
		SenderStallMs: ms(senderStall(ptx.times, failAt, earlier(failAt.Add(3*time.Second), restoreAt)))}
	sum.FailoverGapMs = ms(longestGap(probes, failAt, earlier(failAt.Add(3*time.Second), restoreAt)))
	sum.RestoreGapMs = ms(longestGap(probes, restoreAt, earlier(restoreAt.Add(3*time.Second), end)))
	sum.UplinkFailoverGapMs = ms(longestGap(upProbes, failAt, earlier(failAt.Add(3*time.Second), restoreAt)))
	sum.UplinkProbe = ProbeResult{IntervalMs: ms(probeInterval), Sent: uptx.sent, Received: uint64(upGot),
		SenderStallMs: ms(senderStall(uptx.times, failAt, earlier(failAt.Add(3*time.Second), restoreAt)))}
	sum.Events, sum.BindingsSeen = events, bw.bindingsSeen
	sum.TCP = res.tcp
	if !sum.TCP.Intact {
		return sum, fmt.Errorf("%w: the TCP connection did not survive (sent %d, received %d, %s)", errBroken, sum.TCP.Sent, sum.TCP.Received, sum.TCP.Error)
	}
	return sum, nil
}

// bindingWatch follows the home agent's binding cache while a scenario runs.
type bindingWatch struct {
	last         string
	seen         map[string]bool
	bindingsSeen []string
}

// poll reads the binding cache once and records a change as an event.
func (w *bindingWatch) poll(ctx context.Context, s *scenario, t0 time.Time, events *[]Event) {
	b, err := s.bindings(ctx)
	if err != nil {
		return
	}
	if desc := describe(b); desc != w.last {
		*events = append(*events, Event{At: time.Since(t0), What: "home agent bindings: " + desc})
		w.last = desc
	}
	for _, x := range b {
		k := fmt.Sprintf("BID %d -> %s", x.BindingID, x.CareOfAddress)
		if !w.seen[k] {
			w.seen[k] = true
			w.bindingsSeen = append(w.bindingsSeen, k)
		}
	}
}

// describe summarises the binding cache in one line, preferred binding marked.
func describe(bs []ha.BindingView) string {
	if len(bs) == 0 {
		return "none"
	}
	out := ""
	for i, b := range bs {
		if i > 0 {
			out += ", "
		}
		star := ""
		if b.Primary {
			star = "*"
		}
		out += fmt.Sprintf("BID %d%s %s", b.BindingID, star, b.CareOfAddress)
	}
	return out
}
