package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"monami/internal/ctlapi"
)

// The IPv4/NAT scenario (lab demo --scenario nat, nat_topology.yaml): the
// failover runs from the IPv6 wlan link to the IPv4-only lte link behind
// the access router's NAT44 and back (RFC 5555: IPv4 care-of address, NAT
// detection, IPv6 in UDP in IPv4). Then it shows that the mobile node's
// NAT keepalives hold the mapping: with wlan down and every flow stopped,
// the NAT's UDP timeout short, the path is left idle for longer than that
// timeout, and a probe from the correspondent must still reach the home
// address; the same with the keepalives dropped in the mobile node must
// not (the control).

// Addresses of nat_topology.yaml.
const (
	homeAgentIPv4 = "192.0.2.2"
	natOutside    = "192.0.2.1"
	lteIPv4CoA    = "10.0.0.10"
)

// natHA is ha.yaml's part of the NAT scenario: the keepalive interval the
// NAT Detection option asks for.
func (s *scenario) natHA() string {
	if !s.opt.NAT {
		return ""
	}
	return fmt.Sprintf("signalling: {nat_keepalive: %s}\n", s.opt.NATKeepalive)
}

// natMN is mn.yaml's home address entry's part: the home agent's IPv4
// address, which lte0's IPv4 care-of address registers through.
func (s *scenario) natMN() string {
	if !s.opt.NAT {
		return ""
	}
	return ", home_agent_ipv4: " + homeAgentIPv4
}

// NATReport is what the NAT scenario found after the failover runs.
type NATReport struct {
	UDPTimeoutS float64 `json:"nat_udp_timeout_s"`
	KeepaliveS  float64 `json:"keepalive_interval_s"`
	IdleS       float64 `json:"idle_s"`
	// Held: keepalives on, the mapping must survive the idle period.
	Held NATPhase `json:"held"`
	// Control: keepalives dropped in the mobile node, the mapping expires.
	Control NATPhase `json:"control"`
	// Mappings are the NAT's conntrack entries for port 4191 at the end of
	// each phase (from ar's /proc/net/nf_conntrack).
	MappingsHeld    []string `json:"mappings_held"`
	MappingsControl []string `json:"mappings_control"`
}

// NATPhase is one idle period and the probe burst after it.
type NATPhase struct {
	// KeepalivesSent: Binding Updates the mobile node sent as NAT
	// keepalives during the idle period (its nat_keepalives counter).
	KeepalivesSent uint64 `json:"keepalives_sent"`
	ProbesSent     uint64 `json:"probes_sent"`
	ProbesReceived int    `json:"probes_received"`
	// RecoveryMs (control only): from the end of the block to the first
	// probe the mobile node received again.
	RecoveryMs *float64 `json:"recovery_ms,omitempty"`
}

// Held reports whether the keepalives held the mapping and its absence
// broke the path: the scenario's verdict.
func (r *NATReport) KeptMapping() bool {
	return r.Held.ProbesReceived > 0 && r.Held.KeepalivesSent > 0 && r.Control.ProbesReceived == 0
}

// natBurst is how long each probe burst after an idle period lasts.
const natBurst = time.Second

// natIdle runs the keepalive phases on the lab the failover runs used.
func (s *scenario) natIdle(ctx context.Context) (*NATReport, error) {
	r := &NATReport{UDPTimeoutS: s.opt.NATTimeout.Seconds(), KeepaliveS: s.opt.NATKeepalive.Seconds(), IdleS: s.opt.NATIdle.Seconds()}
	if err := s.lab.SetUDPTimeout("ar", s.opt.NATTimeout); err != nil {
		return r, err
	}
	s.say("== NAT keepalives: %s down, the NAT's UDP timeout %s, keepalive every %s, the lte path idle for %s", activeIf, s.opt.NATTimeout, s.opt.NATKeepalive, s.opt.NATIdle)
	if err := s.lab.SetLink("mn", activeIf, false); err != nil {
		return r, err
	}
	if err := s.waitBindings(ctx, 1, 10*time.Second); err != nil {
		return r, err
	}
	var err error
	if r.Held, err = s.idlePhase(ctx); err != nil {
		return r, err
	}
	r.MappingsHeld = s.natMappings(ctx)
	s.say("== held: %d keepalives in %s idle; %d/%d probes reached the home address after it", r.Held.KeepalivesSent, s.opt.NATIdle, r.Held.ProbesReceived, r.Held.ProbesSent)

	s.say("== control: the mobile node drops its own UDP to port 4191 (keepalives included) for %s", s.opt.NATIdle)
	if err := s.blockKeepalives(ctx, true); err != nil {
		return r, err
	}
	blocked := true
	defer func() {
		if blocked {
			_ = s.blockKeepalives(context.WithoutCancel(ctx), false)
		}
	}()
	if r.Control, err = s.idlePhase(ctx); err != nil {
		return r, err
	}
	r.MappingsControl = s.natMappings(ctx)
	if err := s.blockKeepalives(ctx, false); err != nil {
		return r, err
	}
	blocked = false
	rec, err := s.recovery(ctx, 40*time.Second)
	if err != nil {
		return r, err
	}
	r.Control.RecoveryMs = rec
	s.say("== control: %d/%d probes reached the home address; keepalives on again, recovered after %s", r.Control.ProbesReceived, r.Control.ProbesSent, fmtMs(rec))
	if !r.KeptMapping() {
		return r, fmt.Errorf("%w: the NAT keepalives did not hold the mapping (held: %d probes, %d keepalives; control: %d probes)",
			errBroken, r.Held.ProbesReceived, r.Held.KeepalivesSent, r.Control.ProbesReceived)
	}
	return r, nil
}

func fmtMs(v *float64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprintf("%.0f ms", *v)
}

// idlePhase waits NATIdle with no traffic, then sends a probe burst from
// the correspondent to the home address.
func (s *scenario) idlePhase(ctx context.Context) (NATPhase, error) {
	var p NATPhase
	before, err := s.mnCounter(ctx, "nat_keepalives")
	if err != nil {
		return p, err
	}
	select {
	case <-ctx.Done():
		return p, ctx.Err()
	case <-time.After(s.opt.NATIdle):
	}
	after, err := s.mnCounter(ctx, "nat_keepalives")
	if err != nil {
		return p, err
	}
	p.KeepalivesSent = after - before
	p.ProbesSent, p.ProbesReceived, _, err = s.probeBurst(natBurst)
	return p, err
}

// probeBurst sends the 1 kHz probe from cn to the home address for d and
// counts what the mobile node received; first is the first arrival.
func (s *scenario) probeBurst(d time.Duration) (sent uint64, got int, first time.Time, err error) {
	var prx *probeReceiver
	if err := s.lab.MustNode("mn").Do(func() (err error) {
		prx, err = listenProbe(net.JoinHostPort(homeAddress, strconv.Itoa(probePort)))
		return err
	}); err != nil {
		return 0, 0, first, err
	}
	var ptx *probeSender
	if err := s.lab.MustNode("cn").Do(func() (err error) {
		ptx, err = dialProbe(net.JoinHostPort(homeAddress, strconv.Itoa(probePort)))
		return err
	}); err != nil {
		prx.stop()
		return 0, 0, first, err
	}
	stop := make(chan struct{})
	go ptx.run(stop)
	time.Sleep(d)
	close(stop)
	<-ptx.done
	time.Sleep(200 * time.Millisecond) // the last probes in flight (80 ms round trip on lte)
	log, n, err := prx.stop()
	if len(log) > 0 {
		first = log[0].at
	}
	return ptx.sent, n, first, err
}

// recovery sends the probe until the mobile node receives it again, at
// most limit; it returns the time to the first probe received.
func (s *scenario) recovery(ctx context.Context, limit time.Duration) (*float64, error) {
	start := time.Now()
	for time.Since(start) < limit {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, n, first, err := s.probeBurst(500 * time.Millisecond)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			v := ms(first.Sub(start))
			return &v, nil
		}
	}
	return nil, nil
}

// blockKeepalives drops (or stops dropping) every UDP datagram the mobile
// node sends to port 4191, over IPv4: its signalling and data to the home
// agent through the NAT.
func (s *scenario) blockKeepalives(ctx context.Context, on bool) error {
	mn := s.lab.MustNode("mn")
	if !on {
		_, err := mn.Exec(ctx, "nft", "delete", "table", "ip", "ntblock")
		return err
	}
	for _, c := range [][]string{
		{"add", "table", "ip", "ntblock"},
		{"add", "chain", "ip", "ntblock", "out", "{ type filter hook output priority 0 ; }"},
		{"add", "rule", "ip", "ntblock", "out", "udp", "dport", "4191", "drop"},
	} {
		if out, err := mn.Exec(ctx, "nft", c...); err != nil {
			return fmt.Errorf("nft %s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

// natMappings lists the NAT's conntrack entries of UDP port 4191.
func (s *scenario) natMappings(ctx context.Context) []string {
	out, err := s.lab.MustNode("ar").Exec(ctx, "cat", "/proc/net/nf_conntrack")
	if err != nil {
		return []string{"(no /proc/net/nf_conntrack: " + err.Error() + ")"}
	}
	var ms []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "dport=4191") {
			ms = append(ms, strings.Join(strings.Fields(l), " "))
		}
	}
	return ms
}

// mnCounter reads one of the mobile node's counters (monami ctl counters).
func (s *scenario) mnCounter(ctx context.Context, name string) (uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, data, err := ctlapi.NewClient(s.path("mn.sock")).Get(cctx, "counters")
	if err != nil {
		return 0, fmt.Errorf("mobile node counters: %w", err)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, err
	}
	var v uint64
	if raw, ok := c[name]; ok {
		if err := json.Unmarshal(raw, &v); err != nil {
			return 0, fmt.Errorf("counter %s: %w", name, err)
		}
	}
	return v, nil
}

// WriteReport prints the keepalive phases.
func (r *NATReport) WriteReport(w io.Writer) {
	fmt.Fprintf(w, "\n== NAT keepalives (NAT UDP timeout %.0f s, keepalive every %.0f s, idle %.0f s with %s down)\n", r.UDPTimeoutS, r.KeepaliveS, r.IdleS, activeIf)
	fmt.Fprintf(w, "held:    %d keepalives, then %d/%d probes reached the home address\n", r.Held.KeepalivesSent, r.Held.ProbesReceived, r.Held.ProbesSent)
	for _, m := range r.MappingsHeld {
		fmt.Fprintf(w, "         %s\n", m)
	}
	fmt.Fprintf(w, "control: keepalives dropped in the mobile node, then %d/%d probes reached it; recovered %s after the drop ended\n",
		r.Control.ProbesReceived, r.Control.ProbesSent, fmtMs(r.Control.RecoveryMs))
	for _, m := range r.MappingsControl {
		fmt.Fprintf(w, "         %s\n", m)
	}
	verdict := "FAIL"
	if r.KeptMapping() {
		verdict = "PASS"
	}
	fmt.Fprintf(w, "%s the keepalives hold the NAT mapping over an idle period longer than its timeout\n", verdict)
}
