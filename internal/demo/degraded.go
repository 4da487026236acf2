package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/lab"
)

// Degraded path (issue 14): bulk TCP each way on wlan under the default
// policy; at degradeAt the wlan link loses 20% of the packets each way and
// its delay triples. Within degradeBoundMs the bulk flows move to lte, and
// ctl shows the loss the daemons measured (internal/paths: the probes of a
// busy path every 25 ms). At goodAt wlan is clean again, and the flows come
// back once both ends judge it good (80 probes, two seconds).
const (
	degradeAt      = 3 * time.Second
	goodAt         = 8 * time.Second
	degradedEnd    = 13 * time.Second
	degradeBoundMs = 2000
	// returnBoundMs: the recovery window (80 probes at 25 ms), the
	// roles' poll and the move, with a second to spare.
	returnBoundMs = 4000
	// stayShare: at least this share of the flow's data packets on lte
	// from half a second after the move until wlan is good again.
	stayShare  = 0.95
	ctlPoll    = 100 * time.Millisecond
	degradeCtl = 10.0 // percent: paths.max_loss's default
)

// degradedImpairment is wlan during the degraded phase: the topology's
// rate, 20% loss each way, 30 ms one way instead of 10.
var degradedImpairment = lab.Impairment{Rate: 40_000_000, Delay: lab.Duration(30 * time.Millisecond), Loss: 0.20}

// DegradedResult is what the degraded scenario measured.
type DegradedResult struct {
	Impairment string `json:"impairment"`
	// Moves: each bulk flow's data direction leaving wlan0 after the
	// loss, and coming back after it ended.
	Moves   []LinkChange `json:"moves"`
	Returns []LinkChange `json:"returns"`
	// OnLTE is the share of each flow's data packets on lte0 from 500 ms
	// after its move until wlan0 was good again.
	OnLTE map[string]float64 `json:"share_on_lte"`
	// Ctl: what `monami ctl --role mn|ha paths` showed for the wlan path.
	Ctl     []CtlLoss   `json:"ctl"`
	Streams []TCPResult `json:"tcp"`
}

// CtlLoss is one role's view of the wlan path through the degraded phase.
type CtlLoss struct {
	Role string `json:"role"`
	// DegradedAtMs: first poll (every 100 ms) showing the path degraded,
	// from the loss's start; LossAtDegradedPct the loss it showed then.
	DegradedAtMs      *float64 `json:"degraded_at_ms"`
	LossAtDegradedPct float64  `json:"loss_at_degraded_percent"`
	MaxLossPct        float64  `json:"max_loss_percent"`
	SRTTms            float64  `json:"srtt_at_degraded_ms"`
	// GoodAtMs: first poll showing it good again, from the loss's end.
	GoodAtMs *float64 `json:"good_again_at_ms"`
	Polls    int      `json:"polls"`
}

// pathFigures is the wlan path's entry in either role's paths topic.
type pathFigures struct {
	ok       bool
	degraded bool
	loss     float64
	srtt     float64
}

func (s *scenario) degraded(ctx context.Context, r *ScenarioReport, t0 time.Time) error {
	cc := s.opt.congestions()[0]
	brx, burx, btx, butx, err := s.bulkPair(cc)
	if err != nil {
		return err
	}
	r.addCongestion(btx.congestion)
	r.addCongestion(butx.congestion)
	taps, err := s.openTaps(byPort(6, map[uint16]string{bulkPort: "bulk-down", bulkPort + 1: "bulk-up"}))
	if err != nil {
		return err
	}
	stopTaps := runTaps(taps)
	orig, err := s.lab.Impairment("wlan")
	if err != nil {
		return err
	}
	res := &DegradedResult{Impairment: lab.Both(degradedImpairment).String(), OnLTE: map[string]float64{}}
	stop := make(chan struct{})
	start := time.Now()
	go btx.run(stop)
	go butx.run(stop)
	polls := s.pollWlanPaths(ctx, start)
	err = func() error {
		if err := sleepCtx(ctx, time.Until(start.Add(degradeAt))); err != nil {
			return err
		}
		r.Events = append(r.Events, Event{At: time.Since(t0), What: "wlan: " + res.Impairment})
		if err := s.lab.SetImpairment("wlan", degradedImpairment); err != nil {
			return err
		}
		if err := sleepCtx(ctx, time.Until(start.Add(goodAt))); err != nil {
			return err
		}
		r.Events = append(r.Events, Event{At: time.Since(t0), What: "wlan: " + orig.String() + " again"})
		if err := s.lab.SetImpairments("wlan", orig); err != nil {
			return err
		}
		return sleepCtx(ctx, time.Until(start.Add(degradedEnd)))
	}()
	close(stop)
	views := polls.stop()
	<-btx.done
	<-butx.done
	time.Sleep(300 * time.Millisecond)
	pkts := stopTaps()
	for _, rx := range []*receiver{brx, burx} {
		select {
		case <-rx.done:
		case <-time.After(10 * time.Second):
		}
	}
	if err != nil {
		return err
	}
	lossAt, goodFrom := start.Add(degradeAt), start.Add(goodAt)
	for _, f := range []struct {
		flow string
		up   bool
	}{{"bulk-down", false}, {"bulk-up", true}} {
		mv := linkChange(pkts, f.flow, f.up, activeIf, backupIf, lossAt, goodAt-degradeAt)
		res.Moves = append(res.Moves, mv)
		res.Returns = append(res.Returns, linkChange(pkts, f.flow, f.up, backupIf, activeIf, goodFrom, degradedEnd-goodAt))
		if mv.ChangeMs != nil {
			from := lossAt.Add(time.Duration(*mv.ChangeMs*float64(time.Millisecond)) + 500*time.Millisecond)
			res.OnLTE[f.flow] = shareOn(packetsPerLink(pkts, f.flow, from, goodFrom), backupIf, f.up)
		}
	}
	for _, role := range []string{"mn", "ha"} {
		res.Ctl = append(res.Ctl, ctlLoss(role, views[role], lossAt, goodFrom))
	}
	for _, x := range []struct {
		tx *sender
		rx *receiver
	}{{btx, brx}, {butx, burx}} {
		_, got := x.rx.snapshot()
		t := TCPResult{Sent: x.tx.total, Received: got, Intact: x.tx.err == nil && x.rx.err == nil && x.tx.total == got}
		if x.tx.err != nil {
			t.Error = x.tx.err.Error()
		} else if x.rx.err != nil {
			t.Error = x.rx.err.Error()
		}
		res.Streams = append(res.Streams, t)
	}
	r.Degraded = res
	degradedChecks(r, res)
	return nil
}

// shareOn is the share of a direction's packets on link.
func shareOn(per map[string]Directed, link string, up bool) float64 {
	var on, all uint64
	for l, d := range per {
		n := d.Down
		if up {
			n = d.Up
		}
		all += n
		if l == link {
			on += n
		}
	}
	if all == 0 {
		return 0
	}
	return float64(on) / float64(all)
}

type ctlView struct {
	at time.Time
	pathFigures
}

// wlanPolls reads both roles' paths topic every ctlPoll.
type wlanPolls struct {
	mu    sync.Mutex
	views map[string][]ctlView
	done  chan struct{}
	quit  chan struct{}
}

func (s *scenario) pollWlanPaths(ctx context.Context, start time.Time) *wlanPolls {
	p := &wlanPolls{views: map[string][]ctlView{}, done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(ctlPoll)
		defer tick.Stop()
		for {
			for _, role := range []string{"mn", "ha"} {
				if f, err := s.wlanPath(ctx, role); err == nil && f.ok {
					p.mu.Lock()
					p.views[role] = append(p.views[role], ctlView{time.Now(), f})
					p.mu.Unlock()
				}
			}
			select {
			case <-p.quit:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *wlanPolls) stop() map[string][]ctlView {
	close(p.quit)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.views
}

// wlanPath reads the wlan path's figures from `monami ctl --role ROLE
// paths`: the mobile node's wlan0 interface, the home agent's path to
// wlan0's care-of address.
func (s *scenario) wlanPath(ctx context.Context, role string) (pathFigures, error) {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, data, err := ctlapi.NewClient(s.path(role+".sock")).Get(pctx, "paths")
	if err != nil {
		return pathFigures{}, err
	}
	type fig struct {
		CareOf   string  `json:"care_of_address"`
		Degraded bool    `json:"degraded"`
		LossPct  float64 `json:"loss_percent"`
		SRTTms   float64 `json:"srtt_ms"`
	}
	if role == "ha" {
		var vs []fig
		if err := json.Unmarshal(data, &vs); err != nil {
			return pathFigures{}, err
		}
		for _, v := range vs {
			if v.CareOf == accessLinks[0].addr {
				return pathFigures{true, v.Degraded, v.LossPct, v.SRTTms}, nil
			}
		}
		return pathFigures{}, nil
	}
	var ps []struct {
		Interface string `json:"interface"`
		Liveness  []fig  `json:"liveness"`
	}
	if err := json.Unmarshal(data, &ps); err != nil {
		return pathFigures{}, err
	}
	for _, p := range ps {
		if p.Interface == activeIf && len(p.Liveness) > 0 {
			v := p.Liveness[0]
			return pathFigures{true, v.Degraded, v.LossPct, v.SRTTms}, nil
		}
	}
	return pathFigures{}, nil
}

// ctlLoss sums up one role's polls: when the wlan path showed degraded
// after the loss began, with which loss, and when it showed good again.
func ctlLoss(role string, vs []ctlView, lossAt, goodFrom time.Time) CtlLoss {
	c := CtlLoss{Role: role, Polls: len(vs)}
	for _, v := range vs {
		if v.at.Before(lossAt) {
			continue
		}
		if v.at.Before(goodFrom) {
			c.MaxLossPct = max(c.MaxLossPct, v.loss)
			if v.degraded && c.DegradedAtMs == nil {
				d := ms(v.at.Sub(lossAt))
				c.DegradedAtMs, c.LossAtDegradedPct, c.SRTTms = &d, v.loss, v.srtt
			}
			continue
		}
		if !v.degraded && c.GoodAtMs == nil {
			d := ms(v.at.Sub(goodFrom))
			c.GoodAtMs = &d
		}
	}
	return c
}

func degradedChecks(r *ScenarioReport, d *DegradedResult) {
	for _, m := range d.Moves {
		r.check(fmt.Sprintf("bulk TCP (%s) leaves lossy %s", m.Direction, activeIf),
			fmt.Sprintf("on %s within %d ms of the loss", backupIf, degradeBoundMs), m.moved(degradeBoundMs),
			"first packet on %s after %s (last on %s %s; %d packets on %s in the 200 ms before)", backupIf,
			msOrNone(m.ChangeMs), activeIf, msOrNone(m.LastOnOldMs), m.OnOldBefore, activeIf)
	}
	for _, flow := range []string{"bulk-down", "bulk-up"} {
		v, ok := d.OnLTE[flow]
		r.check(fmt.Sprintf("%s stays on %s while the loss lasts", flow, backupIf),
			fmt.Sprintf("at least %.0f%% of its data packets", 100*stayShare), ok && v >= stayShare, "%.1f%%", 100*v)
	}
	for _, c := range d.Ctl {
		r.check(fmt.Sprintf("monami ctl --role %s paths shows the loss", c.Role),
			fmt.Sprintf("%s degraded, loss above %.0f%%", activeIf, degradeCtl),
			c.DegradedAtMs != nil && c.LossAtDegradedPct > degradeCtl,
			"degraded at +%s with loss %.1f%% (srtt %.1f ms), at most %.1f%% while lossy, %d polls",
			msOrNone(c.DegradedAtMs), c.LossAtDegradedPct, c.SRTTms, c.MaxLossPct, c.Polls)
	}
	for _, m := range d.Returns {
		r.check(fmt.Sprintf("bulk TCP (%s) returns to %s", m.Direction, activeIf),
			fmt.Sprintf("within %d ms of the loss's end", returnBoundMs), m.ChangeMs != nil && *m.ChangeMs <= returnBoundMs,
			"first packet on %s after %s", activeIf, msOrNone(m.ChangeMs))
	}
	for i, t := range d.Streams {
		dir := []string{"down", "up"}[i]
		r.check(fmt.Sprintf("bulk TCP (%s) intact", dir), "every byte sent received, no error", t.Intact && t.Received > 0,
			"sent %d, received %d %s", t.Sent, t.Received, t.Error)
	}
}

func (d *DegradedResult) write(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprintf(w, "\nDegraded %s: %s from +%v to +%v\n", activeIf, d.Impairment, degradeAt, goodAt)
	for _, c := range d.Ctl {
		fmt.Fprintf(w, "  ctl --role %s paths: degraded at +%s, loss %.1f%%, srtt %.1f ms; max loss %.1f%%; good again +%s after the loss ended\n",
			c.Role, msOrNone(c.DegradedAtMs), c.LossAtDegradedPct, c.SRTTms, c.MaxLossPct, msOrNone(c.GoodAtMs))
	}
	for i, m := range d.Moves {
		fmt.Fprintf(w, "  bulk %s: %s -> %s after %s, back after %s (from the loss's end); %.1f%% on %s meanwhile\n",
			m.Direction, m.From, m.To, msOrNone(m.ChangeMs), msOrNone(d.Returns[i].ChangeMs),
			100*d.OnLTE[[]string{"bulk-down", "bulk-up"}[i]], backupIf)
	}
}
