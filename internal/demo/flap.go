package demo

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// The flap scenario (issue 14, Flapping): under the TCP stream and the
// 1 kHz probe each way, the preferred interface (wlan0) goes down and up
// again Flaps times, FlapInterval between each change. Every down is an
// interface-down failover and must stay within its bound (100 ms); every
// up moves the traffic back to wlan0 and must not interrupt it at all.

// Defaults of the flap scenario: the independent tester's 50 flaps at
// 200 ms intervals.
const (
	defaultFlaps        = 50
	defaultFlapInterval = 200 * time.Millisecond
	// flapWarmup lets the stream fill the path before the first flap;
	// flapSettle is how long after the last up the gaps are still looked
	// for (a move back to wlan0 lost there would show).
	flapWarmup = 2 * time.Second
	flapSettle = time.Second
)

// FlapGap is the longest probe interruption of one direction over the
// flapping, measured as the demo measures its failover gap: from each link
// change up to the next (the last up: flapSettle), the longest time without
// an arrival, counted from the change.
type FlapGap struct {
	LongestMs float64 `json:"longest_gap_ms"`
	// After is the link change the longest gap followed, AtMs when it
	// happened (from the start of the stream).
	After string  `json:"after"`
	AtMs  float64 `json:"at_ms"`
	// Around names the probes on each side of the longest gap: sequence
	// number and one-way time (send to kernel receive stamp). A long
	// one-way time before it is a queue that the link took down with it.
	Around string `json:"around"`
	// OverBound counts the link changes followed by a gap longer than the
	// interface-down failover bound; Over describes each with its verdict.
	OverBound int      `json:"changes_over_bound"`
	Over      []string `json:"over_bound,omitempty"`
	// Verdict is the worst of the changes' (judgeChange).
	Verdict Verdict `json:"verdict"`
	// SenderStallMs is the probe sender's longest pause in the longest gap
	// and the 100 ms before it (the probes then in flight): a busy machine.
	SenderStallMs float64 `json:"sender_stall_ms"`
}

// FlapSummary is the outcome of the flap scenario.
type FlapSummary struct {
	Backend   string `json:"backend"`
	Transport string `json:"transport"`
	// Start is the stream's start (wall clock): the offsets' origin, to
	// find a change in the daemons' logs.
	Start        time.Time        `json:"started_at"`
	Flaps        int              `json:"flaps"`
	IntervalMs   float64          `json:"interval_ms"`
	BoundMs      float64          `json:"bound_ms"`
	Downlink     FlapGap          `json:"downlink"`
	Uplink       FlapGap          `json:"uplink"`
	Probe        ProbeResult      `json:"probe"`
	UplinkProbe  ProbeResult      `json:"uplink_probe"`
	AppStallMs   float64          `json:"tcp_stall_ms"`
	BytesPerLink map[string]int64 `json:"bytes_per_link"`
	BindingsSeen []string         `json:"bindings_seen"`
	TCP          TCPResult        `json:"tcp"`
	Events       []Event          `json:"events"`
}

// Failures lists what the run missed: a change followed by a gap over
// the bound either way (judgeChange), a downlink whose longest gap is
// below the failover's floor (the measurement is broken: every down costs
// a signalling trip up lte and a data trip down it), or a broken TCP
// connection. Unresolved gaps are listed too, marked so.
func (f *FlapSummary) Failures() (v Verdict, why []string) {
	for _, g := range []struct {
		name string
		gap  FlapGap
	}{{"downlink", f.Downlink}, {"uplink", f.Uplink}} {
		if g.gap.Verdict != Pass {
			why = append(why, fmt.Sprintf("%s: %s", g.name, strings.Join(g.gap.Over, "; ")))
		}
		v = max(v, g.gap.Verdict)
	}
	if f.Downlink.LongestMs < failoverFloorMs {
		why = append(why, fmt.Sprintf("downlink: longest gap %.1f ms below the failover's floor %d ms: the measurement is broken", f.Downlink.LongestMs, failoverFloorMs))
		v = Fail
	}
	if !f.TCP.Intact || f.TCP.Received == 0 {
		why = append(why, fmt.Sprintf("TCP: %+v", f.TCP))
		v = Fail
	}
	return v, why
}

// judgeChange judges the gap after one link change. Over the bound, it is
// not resolved when the probe sender paused at least as long (judgeGap),
// or when the kernel's delay in reporting the change to the mobile node's
// namespace (tookMs, linkNotes: the interface goes silent at once, but is
// reported down only once the change is done) accounts for the excess.
func judgeChange(gapMs, stallMs, tookMs, boundMs float64) (Verdict, string) {
	v, why := judgeGap(gapMs, stallMs, 0, boundMs)
	if v == Fail && gapMs-tookMs <= boundMs {
		return Unresolved, fmt.Sprintf("gap %.1f ms above %.0f ms, but the kernel reported the change after %.1f ms", gapMs, boundMs, tookMs)
	}
	return v, why
}

// RunFlap builds the demo network, registers both care-of addresses,
// flaps wlan0 under the stream and the probes, and tears everything down.
func RunFlap(ctx context.Context, opt Options) (*FlapSummary, error) {
	var sum *FlapSummary
	err := inLab(ctx, opt, func(s *scenario) error {
		if err := s.writeConfigs(); err != nil {
			return err
		}
		s.say("== starting monami ha (backend %s) and monami mn (signalling %s)", s.opt.Backend, s.opt.Transport)
		for _, role := range []string{"ha", "mn"} {
			if err := s.startDaemon(ctx, role, role); err != nil {
				return err
			}
		}
		if err := s.waitBindings(ctx, 2, 20*time.Second); err != nil {
			return err
		}
		var err error
		sum, err = s.flap(ctx)
		return err
	})
	return sum, err
}

// flapChange is one link change: when it was asked for, and how long the
// kernel took to report it in the mobile node's namespace (-1: never).
type flapChange struct {
	Event
	up   bool
	took time.Duration
}

// flapTimes are the link changes of the scenario, from the stream's start:
// down, up, down... ending up.
func flapTimes(n int, interval time.Duration) []time.Duration {
	ts := make([]time.Duration, 0, 2*n)
	for i := range 2 * n {
		ts = append(ts, flapWarmup+time.Duration(i)*interval)
	}
	return ts
}

// flap runs the traffic, flaps wlan0 on schedule, and measures.
func (s *scenario) flap(ctx context.Context) (*FlapSummary, error) {
	n, interval := s.opt.Flaps, s.opt.FlapInterval
	tr, err := s.startTraffic()
	if err != nil {
		return nil, err
	}
	defer tr.closeMeters()
	t0 := tr.t0
	s.say("== TCP stream and 1 kHz probes started; %s goes down and up %d times, %s apart, from +%s", activeIf, n, interval, flapWarmup)

	var notes *linkNotes
	if err := s.lab.MustNode("mn").Do(func() (err error) { notes, err = watchLink(activeIf); return err }); err != nil {
		tr.stop()
		return nil, fmt.Errorf("watching %s: %w", activeIf, err)
	}
	// The flapper keeps its own schedule (absolute times), apart from the
	// binding cache watch, whose control API calls may take a while.
	times := flapTimes(n, interval)
	changes := make([]flapChange, 0, len(times))
	flapErr := make(chan error, 1)
	go func() {
		for i, at := range times {
			select {
			case <-ctx.Done():
				flapErr <- ctx.Err()
				return
			case <-time.After(time.Until(t0.Add(at))):
			}
			up := i%2 == 1
			what := "link " + activeIf + " down"
			if up {
				what = "link " + activeIf + " up"
			}
			start := time.Now()
			err := s.lab.SetLink("mn", activeIf, up)
			changes = append(changes, flapChange{Event: Event{At: start.Sub(t0), What: what}, up: up})
			if err != nil {
				flapErr <- err
				return
			}
		}
		flapErr <- nil
	}()
	var events []Event
	bw := &bindingWatch{seen: map[string]bool{}}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	end := times[len(times)-1] + flapSettle
	var ferr error
	for flapping := true; flapping || time.Since(t0) < end; {
		bw.poll(ctx, s, t0, &events)
		select {
		case <-ctx.Done():
			if flapping {
				<-flapErr // the flapper stops at its next change
			}
			notes.stop()
			tr.stop()
			return nil, ctx.Err()
		case ferr = <-flapErr:
			flapping = false
			if ferr != nil {
				notes.stop()
				tr.stop()
				return nil, fmt.Errorf("flapping %s: %w", activeIf, ferr)
			}
		case <-tick.C:
		}
	}
	res, err := tr.stop()
	if err != nil {
		return nil, err
	}
	heardOf := notes.stop()
	for i, c := range changes {
		events = append(events, c.Event)
		if at := heard(heardOf, t0.Add(c.At), c.up); !at.IsZero() {
			changes[i].took = at.Sub(t0.Add(c.At))
		} else {
			changes[i].took = -1
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].At < events[j].At })

	from, to := t0.Add(changes[0].At), t0.Add(changes[len(changes)-1].At+flapSettle)
	sum := &FlapSummary{Start: t0, Backend: s.opt.Backend, Transport: s.opt.Transport, Flaps: n, IntervalMs: ms(interval),
		BoundMs: failoverBoundMs, BytesPerLink: map[string]int64{}, BindingsSeen: bw.bindingsSeen, TCP: res.tcp, Events: events}
	sum.Downlink = flapGap(res.probes, tr.ptx.times, changes, t0, flapSettle, failoverBoundMs)
	sum.Uplink = flapGap(res.upProbes, tr.uptx.times, changes, t0, flapSettle, failoverBoundMs)
	sum.Probe = ProbeResult{IntervalMs: ms(probeInterval), Sent: tr.ptx.sent, Received: uint64(res.probesGot),
		SenderStallMs: ms(senderStall(tr.ptx.times, from, to))}
	sum.UplinkProbe = ProbeResult{IntervalMs: ms(probeInterval), Sent: tr.uptx.sent, Received: uint64(res.upGot),
		SenderStallMs: ms(senderStall(tr.uptx.times, from, to))}
	sum.AppStallMs = ms(longestGap(res.reads, from, to))
	for name, m := range tr.meters {
		for _, a := range m.arrivals() {
			sum.BytesPerLink[name] += int64(a.bytes)
		}
	}
	if !sum.TCP.Intact {
		return sum, fmt.Errorf("%w: the TCP connection did not survive (sent %d, received %d, %s)", errBroken, sum.TCP.Sent, sum.TCP.Received, sum.TCP.Error)
	}
	return sum, nil
}

// flapGap measures the gap after each link change (flapWindows) and
// describes the longest.
func flapGap(as []arrival, sent []time.Time, changes []flapChange, t0 time.Time, settle time.Duration, boundMs float64) FlapGap {
	var g FlapGap
	var worst time.Duration
	var before, after *arrival
	for i, c := range changes {
		from := t0.Add(c.At)
		to := from.Add(settle)
		if i+1 < len(changes) {
			to = t0.Add(changes[i+1].At)
		}
		gs, ge, b, a := gapIn(as, from, to)
		d := ge.Sub(gs)
		// The sender's pauses in the gap and the 100 ms before it (the
		// probes then in flight).
		stall := ms(senderStall(sent, gs.Add(-100*time.Millisecond), ge))
		if ms(d) > boundMs {
			g.OverBound++
			v, why := judgeChange(ms(d), stall, ms(c.took), boundMs)
			g.Verdict = max(g.Verdict, v)
			if why != "" {
				why = ": " + why
			}
			g.Over = append(g.Over, fmt.Sprintf("%s at +%.3f s: %.1f ms, %s (sender pause %.1f ms, kernel reported the change after %.1f ms)%s",
				c.What, c.At.Seconds(), ms(d), v, stall, ms(c.took), why))
		}
		if d > worst {
			worst, before, after = d, b, a
			g.After, g.AtMs, g.SenderStallMs = c.What, ms(c.At), stall
		}
	}
	g.LongestMs = ms(worst)
	oneWay := func(a *arrival) string {
		if a == nil {
			return "none"
		}
		if a.seq < uint64(len(sent)) {
			return fmt.Sprintf("#%d %.1f ms", a.seq, ms(a.at.Sub(sent[a.seq])))
		}
		return fmt.Sprintf("#%d", a.seq)
	}
	g.Around = "last before: " + oneWay(before) + ", first after: " + oneWay(after)
	return g
}

// gapIn is longestGap's gap with its bounds (start: from or the arrival
// that began it; end: the arrival that ended it, or to) and the arrivals on
// each side (nil: none since from, or none before to).
func gapIn(as []arrival, from, to time.Time) (start, end time.Time, before, after *arrival) {
	prev, start, end := from, from, from
	var prevA *arrival
	for i := range as {
		a := &as[i]
		if a.at.Before(from) {
			prevA = a
			continue
		}
		if a.at.After(to) {
			break
		}
		if a.at.Sub(prev) > end.Sub(start) {
			start, end, before, after = prev, a.at, prevA, a
		}
		prev, prevA = a.at, a
	}
	if to.Sub(prev) > end.Sub(start) {
		start, end, before, after = prev, to, prevA, nil
	}
	return start, end, before, after
}

// WriteReport prints the events around each direction's longest gap and
// the summary.
func (f *FlapSummary) WriteReport(w io.Writer) {
	for _, d := range []struct {
		name string
		g    FlapGap
	}{{"downlink", f.Downlink}, {"uplink", f.Uplink}} {
		at := time.Duration(d.g.AtMs * float64(time.Millisecond))
		fmt.Fprintf(w, "\nevents around the longest %s gap (+%.3f s, %.1f ms):\n", d.name, at.Seconds(), d.g.LongestMs)
		for _, e := range f.Events {
			if e.At > at-500*time.Millisecond && e.At < at+time.Duration(d.g.LongestMs*float64(time.Millisecond))+300*time.Millisecond {
				fmt.Fprintf(w, "%8.3fs  %s\n", e.At.Seconds(), e.What)
			}
		}
	}
	fmt.Fprintf(w, "\n%d flaps of %s, %.0f ms apart (backend %s, signalling %s), stream started at %s\n",
		f.Flaps, activeIf, f.IntervalMs, f.Backend, f.Transport, f.Start.UTC().Format("15:04:05.000"))
	for _, d := range []struct {
		name string
		g    FlapGap
	}{{"downlink (1 kHz probe to the home address)", f.Downlink}, {"uplink (home address to cn)", f.Uplink}} {
		fmt.Fprintf(w, "longest %-43s %7.1f ms after %s at +%.3f s (%s; sender pause %.1f ms); %d changes followed by a gap over %.0f ms\n",
			d.name+":", d.g.LongestMs, d.g.After, d.g.AtMs/1000, d.g.Around, d.g.SenderStallMs, d.g.OverBound, f.BoundMs)
		for _, o := range d.g.Over {
			fmt.Fprintf(w, "  %s\n", o)
		}
	}
	fmt.Fprintf(w, "longest TCP stall (adds TCP loss recovery):             %7.1f ms\n", f.AppStallMs)
	fmt.Fprintf(w, "probes received: %d of %d down, %d of %d up\n", f.Probe.Received, f.Probe.Sent, f.UplinkProbe.Received, f.UplinkProbe.Sent)
	links := make([]string, 0, len(f.BytesPerLink))
	for k := range f.BytesPerLink {
		links = append(links, k)
	}
	sort.Strings(links)
	for _, l := range links {
		fmt.Fprintf(w, "bytes received on %-6s %12d\n", l+":", f.BytesPerLink[l])
	}
	state := "survived"
	if !f.TCP.Intact {
		state = "BROKEN: " + f.TCP.Error
	}
	fmt.Fprintf(w, "TCP connection %s: %d bytes sent, %d received\n", state, f.TCP.Sent, f.TCP.Received)
	v, why := f.Failures()
	fmt.Fprintf(w, "verdict: %s\n", v)
	for _, y := range why {
		fmt.Fprintf(w, "  %s\n", y)
	}
}
