package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// Bicast acceptance (issue 11): a 1 kHz UDP flow marked bicast (policy rule
// on its port, bicast over both links) loses no datagram and delivers no
// duplicate, each way, while wlan fails, visibly (interface down) or
// silently (the access router drops all of wlan's traffic, the link stays
// up). Phases of each case, from the start of the flow:
const (
	bicastFailAt   = time.Second
	bicastRestore  = 2500 * time.Millisecond
	bicastDuration = 3500 * time.Millisecond
	// bicastDrain lets the last copies arrive (lte is 40 ms one-way, plus
	// a queue).
	bicastDrain = 500 * time.Millisecond
)

// BicastCase is one failure of wlan under the bicast flow.
type BicastCase struct {
	Failure string    `json:"failure"`
	Down    SeqResult `json:"down"`
	Up      SeqResult `json:"up"`
	// CopiesBefore counts the flow's packets per link before the failure:
	// bicast shows as the same count on both links.
	CopiesBefore map[string]Directed `json:"packets_per_link_before_failure"`
}

func (b BicastCase) write(w io.Writer) {
	fmt.Fprintf(w, "bicast, wlan0 %s: down %d sent, %d lost, %d duplicates; up %d sent, %d lost, %d duplicates; packets per link before: %v\n",
		b.Failure, b.Down.Sent, b.Down.Lost, b.Down.Duplicates, b.Up.Sent, b.Up.Lost, b.Up.Duplicates, b.CopiesBefore)
}

// bicast runs both failure cases in turn.
func (s *scenario) bicast(ctx context.Context, r *ScenarioReport, t0 time.Time) error {
	r.Congestion = []string{"none (UDP only)"}
	for i, silent := range []bool{false, true} {
		if i > 0 {
			if err := s.waitBindings(ctx, 2, 20*time.Second); err != nil {
				return err
			}
		}
		s.opt.Silent = silent
		c, err := s.bicastCase(ctx, r, t0)
		if err != nil {
			return err
		}
		r.Bicast = append(r.Bicast, c)
		for _, d := range []struct {
			name string
			res  SeqResult
		}{{"down", c.Down}, {"up", c.Up}} {
			r.check(fmt.Sprintf("bicast %s, wlan0 %s", d.name, c.Failure), "0 lost, 0 duplicates",
				d.res.Sent > 0 && d.res.Lost == 0 && d.res.Duplicates == 0,
				"%d sent, %d lost, %d duplicates", d.res.Sent, d.res.Lost, d.res.Duplicates)
		}
		w, l := c.CopiesBefore[activeIf], c.CopiesBefore[backupIf]
		r.check("bicast copies on both links, wlan0 "+c.Failure, "the flow's packets on wlan0 and lte0 each way before the failure",
			w.Down > 0 && w.Up > 0 && l.Down > 0 && l.Up > 0, "wlan0 %d down %d up, lte0 %d down %d up", w.Down, w.Up, l.Down, l.Up)
	}
	return nil
}

func (s *scenario) bicastCase(ctx context.Context, r *ScenarioReport, t0 time.Time) (BicastCase, error) {
	c := BicastCase{Failure: "interface down"}
	if s.opt.Silent {
		c.Failure = "silently dropped"
	}
	mn, cn := s.lab.MustNode("mn"), s.lab.MustNode("cn")
	hoa := &net.UDPAddr{IP: net.ParseIP(homeAddress), Port: bicastPort}
	cna := &net.UDPAddr{IP: net.ParseIP(correspondent), Port: bicastPort}
	var mp, cp *seqPeer
	if err := mn.Do(func() (err error) { mp, err = listenSeq(hoa, cna); return err }); err != nil {
		return c, fmt.Errorf("mobile node bicast flow: %w", err)
	}
	defer mp.close()
	if err := cn.Do(func() (err error) { cp, err = listenSeq(cna, hoa); return err }); err != nil {
		return c, fmt.Errorf("correspondent bicast flow: %w", err)
	}
	defer cp.close()
	// Opened last: nothing returns early between here and their close.
	taps, err := s.openTaps(byPort(17, map[uint16]string{bicastPort: "bicast"}))
	if err != nil {
		return c, err
	}
	stopTaps := runTaps(taps)
	start := time.Now()
	stop := make(chan struct{})
	sent := make(chan struct{}, 2)
	for _, p := range []*seqPeer{mp, cp} {
		go func() { p.send(stop); sent <- struct{}{} }()
	}
	var failAt time.Time
	err = func() error {
		if err := sleepCtx(ctx, bicastFailAt); err != nil {
			return err
		}
		failAt = time.Now()
		if err := s.fail(&r.Events, t0); err != nil {
			return err
		}
		if err := sleepCtx(ctx, bicastRestore-bicastFailAt); err != nil {
			return err
		}
		if err := s.restore(&r.Events, t0); err != nil {
			return err
		}
		return sleepCtx(ctx, bicastDuration-bicastRestore)
	}()
	close(stop)
	<-sent
	<-sent
	time.Sleep(bicastDrain)
	pkts := stopTaps()
	if err != nil {
		return c, err
	}
	c.CopiesBefore = packetsPerLink(pkts, "bicast", start, failAt)
	c.Down = mp.result(cp.sentCount())
	c.Up = cp.result(mp.sentCount())
	return c, nil
}

// openTaps opens a flow tap on each access link of the mobile node.
func (s *scenario) openTaps(classify func([]byte) string) ([]*flowTap, error) {
	var taps []*flowTap
	err := s.lab.MustNode("mn").Do(func() error {
		for _, a := range accessLinks {
			t, err := openFlowTap(a.ifname, classify)
			if err != nil {
				for _, t := range taps {
					close(t.done)
					t.close()
				}
				return err
			}
			taps = append(taps, t)
		}
		return nil
	})
	return taps, err
}
