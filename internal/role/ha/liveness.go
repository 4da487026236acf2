package ha

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netns"

	"monami/internal/binding"
	"monami/internal/dataplane"
	"monami/internal/pathprobe"
	"monami/internal/paths"
)

// pathPoll is how often the home agent reads its per-endpoint receive
// counters and runs the path state machines (internal/paths).
const pathPoll = 20 * time.Millisecond

// pathWatch is the home agent's own judgement of the path to each care-of
// address: a path that carried traffic and went silent is probed at once
// (ICMPv6 Echo to the care-of address, answered by the mobile node's
// kernel) and, unanswered, declared down; the home addresses tunnelled to
// it then move to their next binding on a live path without waiting for
// the mobile node (issue 14). Idle paths are not probed here: the mobile
// node probes them (docs/paths.md), so each idle path costs one packet per
// second each way.
type pathWatch struct {
	live    *paths.Table
	echo    *pathprobe.Echo // nil: suspect paths are judged by silence alone
	replies chan pathprobe.Reply
	watched map[netip.Addr]bool // care-of addresses with an endpoint
	// steered: home addresses whose downlink left the cache's preferred
	// binding for a live path.
	steered map[netip.Addr]steering
	// nextRound: no path round before it (pathsTickBounded).
	nextRound time.Time
}

// steering is where a home address's downlink went (to), and the sequence
// number of the last Binding Update then: a later one may have moved the
// route again (apply.go), so the home address is steered anew.
type steering struct {
	to  netip.Addr
	seq uint16
}

// openPaths opens the probe socket in the data plane's namespace (ns; the
// caller's when not open). Without it, a suspect path is judged by silence
// alone.
func (h *HomeAgent) openPaths(ns netns.NsHandle) {
	h.pw = &pathWatch{live: paths.New(paths.Config{}), replies: make(chan pathprobe.Reply, 64),
		watched: map[netip.Addr]bool{}, steered: map[netip.Addr]steering{}}
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

// startPaths starts the probe reader; the event loop then selects on the
// returned ticker and h.pw.replies.
func (h *HomeAgent) startPaths(ctx context.Context, wg *sync.WaitGroup) *time.Ticker {
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
	return time.NewTicker(pathPoll)
}

func (pw *pathWatch) close() {
	if pw != nil && pw.echo != nil {
		pw.echo.Close()
	}
}

func (h *HomeAgent) pathKey(coa netip.Addr) paths.Key { return paths.Key{Local: h.addr, Peer: coa} }

// pathShare bounds the event loop's time in path rounds: a round reads
// every endpoint's counter, which at thousands of mobile nodes takes
// milliseconds, and the next one waits long enough that rounds take at
// most this share of the loop. Detection then slows with the number of
// endpoints (docs/paths.md) instead of starving the Binding Updates.
const pathShare = 0.1

// pathsTickBounded runs pathsTick unless the last round's cost says to
// wait.
func (h *HomeAgent) pathsTickBounded() {
	start := time.Now()
	if start.Before(h.pw.nextRound) {
		return
	}
	h.pathsTick()
	spent := time.Since(start)
	h.pw.nextRound = start.Add(time.Duration(float64(spent) / pathShare))
}

// pathsTick follows the endpoints installed, feeds the arrivals, and acts
// on the state machines.
func (h *HomeAgent) pathsTick() {
	pw, now := h.pw, h.now()
	seen := map[netip.Addr]bool{}
	for k := range h.endpoints {
		seen[k.coa] = true
		if !pw.watched[k.coa] {
			pw.watched[k.coa] = true
			pw.live.Add(now, h.pathKey(k.coa))
		}
	}
	for coa := range pw.watched {
		if !seen[coa] {
			delete(pw.watched, coa)
			pw.live.Remove(h.pathKey(coa))
		}
	}
	var acts []paths.Action
	if ec, ok := h.dp.(dataplane.EndpointCounter); ok {
		cs, err := ec.EndpointCounters()
		if err != nil {
			h.log.Debug("endpoint counters", "err", err)
		}
		for k, n := range cs {
			acts = append(acts, pw.live.Received(now, paths.Key{Local: k.Local, Peer: k.Peer}, n)...)
		}
	}
	h.pathActions(append(acts, pw.live.Tick(now)...))
	h.resteer()
}

// resteer keeps the home addresses of down paths off them: a Binding
// Update may have pointed one back at its preferred binding meanwhile.
// Only down paths are visited, so the cost follows the failures.
func (h *HomeAgent) resteer() {
	for k, hoas := range h.endpoints {
		if h.pw.live.State(h.pathKey(k.coa)) != paths.Down {
			continue
		}
		for _, hoa := range hoas {
			h.steer(hoa)
		}
	}
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
			for k, hoas := range h.endpoints {
				if k.coa != a.Key.Peer {
					continue
				}
				for _, hoa := range hoas {
					h.steer(hoa)
				}
			}
		}
	}
}

// steer tunnels hoa's downlink to its best binding whose path is not
// judged down (the cache's preferred one when it is alive, or when none is).
func (h *HomeAgent) steer(hoa netip.Addr) {
	bs := h.cache.Lookup(hoa)
	if len(bs) == 0 || bs[0].Flags&binding.FlagAtHome != 0 {
		delete(h.pw.steered, hoa)
		return
	}
	choice := bs[0]
	for _, b := range bs {
		if b.Flags&binding.FlagAtHome == 0 && b.CoA.IsValid() && h.pw.live.State(h.pathKey(b.CoA)) != paths.Down {
			choice = b
			break
		}
	}
	seq, _ := h.cache.LastSequence(hoa)
	cur, steered := h.pw.steered[hoa]
	if choice.CoA == bs[0].CoA && !steered || steered && cur == (steering{choice.CoA, seq}) {
		return
	}
	r := dataplane.Route{Selector: dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)},
		Tunnel: dataplane.Tunnel{Local: h.addr, Remote: choice.CoA, Encap: h.installed[bindingKey{hoa, choice.BID}].encap}}
	if err := h.dp.AddRoute(r); err != nil {
		h.dpError("tunnelling home address (path liveness)", err, "hoa", hoa, "coa", choice.CoA)
		return
	}
	if choice.CoA == bs[0].CoA {
		delete(h.pw.steered, hoa)
		h.log.Info("home address tunnelled to its preferred binding again", "hoa", hoa, "bid", choice.BID, "coa", choice.CoA)
		return
	}
	h.pw.steered[hoa] = steering{choice.CoA, seq}
	h.log.Warn("home address tunnelled off a dead path", "hoa", hoa, "bid", choice.BID, "coa", choice.CoA, "preferred", bs[0].CoA)
}

// PathView is one path as the "paths" topic shows it.
type PathView struct {
	CareOfAddress netip.Addr `json:"care_of_address"`
	State         string     `json:"state"`
	Since         time.Time  `json:"since"`
	LossPct       float64    `json:"loss_percent"`
	Samples       int        `json:"loss_samples"`
	SRTTms        float64    `json:"srtt_ms"`
	ProbesSent    uint64     `json:"probes_sent"`
}

func (h *HomeAgent) pathViews() []PathView {
	if h.pw == nil {
		return nil
	}
	var out []PathView
	for _, st := range h.pw.live.Snapshot() {
		out = append(out, PathView{CareOfAddress: st.Key.Peer, State: st.State.String(), Since: st.Since,
			LossPct: 100 * st.Loss, Samples: st.Samples, SRTTms: float64(st.SRTT.Microseconds()) / 1000, ProbesSent: st.ProbesSent})
	}
	return out
}
