package mn

import (
	"net/netip"
	"time"

	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/pathprobe"
	"monami/internal/paths"
)

// pathPoll is how often the mobile node reads its per-endpoint receive
// counters and runs the path state machines: a small share of the 50 ms
// after which a path that carried traffic turns suspect (internal/paths).
const pathPoll = 20 * time.Millisecond

// natPoll is how often the NAT keepalives are due-checked (ipv4.go): a
// Refresh Time is whole seconds.
const natPoll = 250 * time.Millisecond

// pathConfig: the mobile node probes every path it registers once a second
// (the idle cost), a busy or degraded one every 25 ms for its loss, and a
// quiet one at the suspect interval.
func pathConfig() paths.Config { return paths.Config{ProbeUp: true, ProbeDown: true, ProbeBusy: true} }

// pathConfigFor adds mn.yaml's paths.max_loss.
func pathConfigFor(cfg *config.MobileNode) paths.Config {
	c := pathConfig()
	c.MaxLoss = cfg.Paths.MaxLossRatio()
	return c
}

// watchPaths starts judging the paths of f's care-of address to every home
// agent.
func (m *MobileNode) watchPaths(f *accessInterface) {
	if m.live == nil {
		return // tests that build a MobileNode by hand
	}
	if f.coa.Is4() {
		return // the echo probes are ICMPv6; NAT keepalives hold an IPv4 path
	}
	for _, h := range m.homes {
		if !h.careOf.Via().IsValid() { // a nested home address never takes this path
			m.live.Add(m.now(), paths.Key{Local: f.coa, Peer: h.ha})
		}
	}
}

func (m *MobileNode) unwatchPaths(coa netip.Addr) {
	if m.live == nil {
		return
	}
	for _, h := range m.homes {
		m.live.Remove(paths.Key{Local: coa, Peer: h.ha})
	}
}

// pathAlive: the path of f to h's home agent is not judged down.
func (m *MobileNode) pathAlive(h *homeRegistration, f *accessInterface) bool {
	return m.live == nil || m.live.State(paths.Key{Local: f.coa, Peer: h.ha}) != paths.Down
}

// pathDegraded: the path of f to h's home agent loses more than
// paths.max_loss.
func (m *MobileNode) pathDegraded(h *homeRegistration, f *accessInterface) bool {
	return m.live != nil && m.live.Degraded(paths.Key{Local: f.coa, Peer: h.ha})
}

// pathsTick feeds the arrivals since the last tick and acts on the paths'
// state machines.
func (m *MobileNode) pathsTick() {
	now := m.now()
	var acts []paths.Action
	if ec, ok := m.dp.(dataplane.EndpointCounter); ok {
		cs, err := ec.EndpointCounters()
		if err != nil {
			m.log.Debug("endpoint counters", "err", err)
		}
		for k, n := range cs {
			acts = append(acts, m.live.Received(now, paths.Key{Local: k.Local, Peer: k.Peer}, n)...)
		}
	}
	acts = append(acts, m.live.Tick(now)...)
	m.pathActions(acts)
}

func (m *MobileNode) echoReply(r pathprobe.Reply) {
	m.pathActions(m.live.ProbeReply(r.At, paths.Key{Local: r.Local, Peer: r.Peer}, r.Seq))
}

func (m *MobileNode) pathActions(acts []paths.Action) {
	reselect := false
	for _, a := range acts {
		switch a.Kind {
		case paths.SendProbe:
			f := m.ifaceByCoA(a.Key.Local)
			if f == nil || m.echo == nil {
				continue
			}
			if err := m.echo.Send(a.Key.Local, a.Key.Peer, f.index, a.Seq); err != nil {
				m.log.Debug("path probe", "coa", a.Key.Local, "ha", a.Key.Peer, "err", err)
			}
		case paths.StateChanged:
			m.cnt.pathChanges++
			lvl := m.log.Info
			if a.State != paths.Up {
				lvl = m.log.Warn
			}
			lvl("path "+a.State.String(), "coa", a.Key.Local, "ha", a.Key.Peer, "was", a.Was.String(), "reason", a.Reason)
			reselect = true
		case paths.QualityChanged:
			// A degraded path ranks after the healthy ones
			// (forwarding.Binding.Degraded): the uplink moves.
			m.cnt.pathChanges++
			if a.Degraded {
				m.log.Warn("path degraded", "coa", a.Key.Local, "ha", a.Key.Peer, "reason", a.Reason)
			} else {
				m.log.Info("path good again", "coa", a.Key.Local, "ha", a.Key.Peer, "reason", a.Reason)
			}
			reselect = true
		}
	}
	if reselect {
		m.forward()
	}
}

// PathLiveness is one (care-of address, home agent) path's figures in the
// "paths" topic.
type PathLiveness struct {
	HomeAgent netip.Addr `json:"home_agent"`
	paths.View
}

func (m *MobileNode) liveness(f *accessInterface) []PathLiveness {
	if m.live == nil || !f.coa.IsValid() {
		return nil
	}
	var out []PathLiveness
	for _, h := range m.homes {
		if st, ok := m.live.Status(paths.Key{Local: f.coa, Peer: h.ha}); ok {
			out = append(out, PathLiveness{HomeAgent: h.ha, View: st.View()})
		}
	}
	return out
}
