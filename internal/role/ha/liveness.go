package ha

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"

	"monami/internal/dataplane"
	"monami/internal/pathprobe"
	"monami/internal/paths"
)

// pathWatch is the home agent's own judgement of the path to each care-of
// address: a path that carried traffic and went silent is probed at once
// (ICMPv6 Echo to the care-of address, answered by the mobile node's
// kernel) and, unanswered, declared down; the home addresses tunnelled to
// it then move to their next binding on a live path without waiting for
// the mobile node (issue 14). Idle paths are not probed here: the mobile
// node probes them (docs/paths.md), so each idle path costs one packet per
// second each way. A busy path (uplink traffic arrived within a second) is
// probed every 25 ms for its loss: above paths.max_loss the path is
// degraded, and its home addresses' downlink moves to a healthy binding.
type pathWatch struct {
	live    *paths.Table
	echo    *pathprobe.Echo // nil: suspect paths are judged by silence alone
	replies chan pathprobe.Reply
	watched map[netip.Addr]bool // care-of addresses with an endpoint
	// readings: the counter reader's (liveness_counters.go); loopCost:
	// what the last round took on the event loop, in nanoseconds, which
	// the reader counts in its pace.
	readings chan counterReading
	loopCost atomic.Int64
}

// openPaths opens the probe socket in the data plane's namespace (ns; the
// caller's when not open). Without it, a suspect path is judged by silence
// alone.
func (h *HomeAgent) openPaths(ns netns.NsHandle) {
	pc := paths.Config{ProbeBusy: true}
	if h.cfg != nil {
		pc.MaxLoss = h.cfg.Paths.MaxLossRatio()
	}
	h.pw = &pathWatch{live: paths.New(pc), replies: make(chan pathprobe.Reply, 64),
		watched: map[netip.Addr]bool{}, readings: make(chan counterReading)}
	err := inNamespace(ns, func() error {
		var err error
		h.pw.echo, err = pathprobe.Open()
		return err
	})
	if err != nil {
		h.pw.echo = nil
		h.log.Warn("path probes off; silent paths are judged by silence alone", "err", err)
	}
}

// startPaths starts the probe reader and the counter reader; the event
// loop then selects on h.pw.readings and h.pw.replies.
func (h *HomeAgent) startPaths(ctx context.Context, wg *sync.WaitGroup) {
	if h.pw == nil {
		h.openPaths(netns.None())
	}
	if e := h.pw.echo; e != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Read(ctx, h.now, h.pw.replies)
		}()
	}
	ec, _ := h.dp.(dataplane.EndpointCounter)
	wg.Add(1)
	go func() {
		defer wg.Done()
		readCounters(ctx, ec, &h.pw.loopCost, h.pw.readings)
	}()
}

func (pw *pathWatch) close() {
	if pw != nil && pw.echo != nil {
		pw.echo.Close()
	}
}

func (h *HomeAgent) pathKey(coa netip.Addr) paths.Key { return paths.Key{Local: h.addr, Peer: coa} }

// pathsRound runs one path round on the event loop from a counter
// reading (liveness_counters.go) and tells the reader what it cost.
func (h *HomeAgent) pathsRound(r counterReading) {
	start := time.Now()
	if r.err != nil {
		h.log.Debug("endpoint counters", "err", r.err)
	}
	h.pathsTick(r.counts)
	h.pw.loopCost.Store(int64(time.Since(start)))
}

// pathsTick follows the endpoints installed, feeds the arrivals counted
// (read off the loop, at most one loop turn ago), and acts on the state
// machines.
func (h *HomeAgent) pathsTick(counts map[dataplane.EndpointKey]uint64) {
	pw, now := h.pw, h.now()
	seen := map[netip.Addr]bool{}
	for coa := range h.coaHomes {
		seen[coa] = true
		if !pw.watched[coa] {
			pw.watched[coa] = true
			pw.live.Add(now, h.pathKey(coa))
		}
	}
	for coa := range pw.watched {
		if !seen[coa] {
			delete(pw.watched, coa)
			pw.live.Remove(h.pathKey(coa))
		}
	}
	var acts []paths.Action
	for k, n := range counts {
		acts = append(acts, pw.live.Received(now, paths.Key{Local: k.Local, Peer: k.Peer}, n)...)
	}
	h.pathActions(append(acts, pw.live.Tick(now)...))
	h.retryFailed()
}

func (h *HomeAgent) pathReply(r pathprobe.Reply) {
	h.pathActions(h.pw.live.ProbeReply(r.At, paths.Key{Local: r.Local, Peer: r.Peer}, r.Seq))
}

func (h *HomeAgent) pathActions(acts []paths.Action) {
	for _, a := range acts {
		switch a.Kind {
		case paths.SendProbe:
			if h.pw.echo == nil {
				continue
			}
			if err := h.pw.echo.Send(a.Key.Local, a.Key.Peer, 0, a.Seq); err != nil {
				h.log.Debug("path probe", "coa", a.Key.Peer, "err", err)
			}
		case paths.StateChanged:
			lvl := h.log.Info
			if a.State != paths.Up {
				lvl = h.log.Warn
			}
			lvl("path "+a.State.String(), "coa", a.Key.Peer, "was", a.Was.String(), "reason", a.Reason)
			// A binding on a down path is not usable (forwardingInput):
			// the home addresses tunnelled there move to their next
			// binding on a live path, and come back when it is up.
			h.touchPath(a.Key.Peer)
		case paths.QualityChanged:
			// A degraded binding ranks after the healthy ones.
			if a.Degraded {
				h.log.Warn("path degraded", "coa", a.Key.Peer, "reason", a.Reason)
			} else {
				h.log.Info("path good again", "coa", a.Key.Peer, "reason", a.Reason)
			}
			h.touchPath(a.Key.Peer)
		}
	}
	h.commitLogged("tunnelling home addresses (path liveness)")
}

// touchPath marks for recomputation the home addresses tunnelled to coa.
func (h *HomeAgent) touchPath(coa netip.Addr) {
	for _, hoa := range h.coaHomes[coa] {
		h.touch(hoa)
	}
}

// PathView is one path as the "paths" topic shows it.
type PathView struct {
	CareOfAddress netip.Addr `json:"care_of_address"`
	paths.View
}

func (h *HomeAgent) pathViews() []PathView {
	if h.pw == nil {
		return nil
	}
	var out []PathView
	for _, st := range h.pw.live.Snapshot() {
		out = append(out, PathView{CareOfAddress: st.Key.Peer, View: st.View()})
	}
	return out
}
