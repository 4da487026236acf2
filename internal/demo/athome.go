package demo

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/lab"
)

// The home scenario (`monami lab demo --scenario home`, issue 14 item 4):
// at home on one interface, away on the other (RFC 5648 section 5.6.3). A
// host on the shared home link exchanges UDP echoes with the home address
// while the mobile node's wlan0 is away, on the home link, and away again;
// a correspondent does the same through lte0's binding, and through the
// home link once lte0 is down. Each phase says whose link-layer address the
// host's neighbour entry for the home address holds and what the home
// agent's home0 received and sent meanwhile: through the home agent (its
// proxy Neighbor Discovery, RFC 6275 section 10.4.1) or directly.

//go:embed athome_topology.yaml
var atHomeTopologyYAML []byte

// HomeTopology returns the home scenario's network (athome_topology.yaml).
func HomeTopology() []byte { return atHomeTopologyYAML }

const (
	// hostOnHomeLink is the plain host on the home link.
	hostOnHomeLink = "hh"
	// wlanHomeAddr is wlan0's address on the home link: what a Router
	// Advertisement there (SLAAC) or DHCPv6 would give it.
	wlanHomeAddr = "2001:db8:1::a"
	wlanAwayAddr = "2001:db8:a::10"
	lteAddr      = "2001:db8:b::10"
	echoPort     = 7007
	// homeEchoes is the number of echoes of each exchange.
	homeEchoes = 50
	// homeSwitch is the home link's switch in the topology.
	homeSwitch = "homelink"
)

// HomeSummary is what the home scenario measured.
type HomeSummary struct {
	Scenario string      `json:"scenario"`
	Backend  string      `json:"backend"`
	Phases   []HomePhase `json:"phases"`
	Checks   Checks      `json:"checks"`
	// Error says why the scenario stopped before its end.
	Error string `json:"error,omitempty"`
}

// HomePhase is one attachment of the mobile node and the exchanges in it.
type HomePhase struct {
	Name string `json:"name"`
	// CareOfAddresses are the home agent's bindings for the home address
	// (the home address itself: the binding of the interface at home).
	CareOfAddresses []string `json:"care_of_addresses"`
	// WlanAtHomeFor is what the mobile node's ctl paths says wlan0 is at
	// home for (empty: away).
	WlanAtHomeFor string `json:"mn_wlan0_at_home_for"`
	// BindingsAfterMs: after a move of wlan0, how long from its address
	// change until the home agent held the phase's bindings (polled every
	// 50 ms).
	BindingsAfterMs *int64       `json:"bindings_after_ms,omitempty"`
	HomeLinkHost    *EchoFigures `json:"home_link_host,omitempty"`
	Correspondent   *EchoFigures `json:"correspondent,omitempty"`
}

// EchoFigures are one exchange of UDP echoes with the home address.
type EchoFigures struct {
	Sent     int `json:"sent"`
	Answered int `json:"answered"`
	// Neighbour is the home link host's neighbour entry for the home
	// address, NeighbourOf whose link-layer address it holds.
	Neighbour   string `json:"neighbour_entry,omitempty"`
	NeighbourOf string `json:"neighbour_of,omitempty"`
	// NeighbourAfterMs: after a move of wlan0, how long from its address
	// change until the host's entry held that link-layer address (polled
	// every 50 ms, one echo each time).
	NeighbourAfterMs *int64 `json:"neighbour_after_ms,omitempty"`
	// HomeAgentHome0RX and TX: packets the home agent's home link
	// interface received and sent during the exchange.
	HomeAgentHome0RX uint64 `json:"ha_home0_rx_packets"`
	HomeAgentHome0TX uint64 `json:"ha_home0_tx_packets"`
}

// Passed reports whether the scenario ran to its end and every check passed.
func (r *HomeSummary) Passed() bool { return r.Error == "" && r.Checks.allPass() }

func (r *HomeSummary) check(name, want string, pass bool, got string, a ...any) {
	r.Checks.add(name, want, pass, got, a...)
}

// WriteReport prints the phases and the checks.
func (r *HomeSummary) WriteReport(w io.Writer) {
	fmt.Fprintf(w, "== home scenario (RFC 5648 section 5.6.3), backend %s\n", r.Backend)
	for _, p := range r.Phases {
		fmt.Fprintf(w, "%s: bindings %s", p.Name, strings.Join(p.CareOfAddresses, ", "))
		if p.BindingsAfterMs != nil {
			fmt.Fprintf(w, " (%d ms after wlan0's address changed)", *p.BindingsAfterMs)
		}
		fmt.Fprintln(w)
		for _, e := range []struct {
			who string
			f   *EchoFigures
		}{{"home link host", p.HomeLinkHost}, {"correspondent", p.Correspondent}} {
			if e.f == nil {
				continue
			}
			fmt.Fprintf(w, "  %s: %d of %d echoes; ha home0 rx %d tx %d", e.who, e.f.Answered, e.f.Sent, e.f.HomeAgentHome0RX, e.f.HomeAgentHome0TX)
			if e.f.NeighbourOf != "" {
				fmt.Fprintf(w, "; its neighbour entry for the home address: %s", e.f.NeighbourOf)
			}
			if e.f.NeighbourAfterMs != nil {
				fmt.Fprintf(w, " (%d ms after wlan0's address changed)", *e.f.NeighbourAfterMs)
			}
			fmt.Fprintln(w)
		}
	}
	for _, c := range r.Checks {
		mark := "PASS"
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %s: %s (want %s)\n", mark, c.Name, c.Got, c.Want)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "stopped: %s\n", r.Error)
	}
}

// RunHome builds the home link network, runs the home scenario and returns
// its summary, with what it measured before it stopped if it stopped early.
func RunHome(ctx context.Context, opt Options) (*HomeSummary, error) {
	if opt.Name == "" {
		opt.Name = "athome"
	}
	var sum *HomeSummary
	err := onNetwork(ctx, opt, atHomeTopologyYAML, "mn with wlan0 and lte0, ar, ha with a shared home link to host hh, cn", func(s *scenario) error {
		s.haExtra = "home_link: home0\n"
		if err := s.writeConfigs(); err != nil {
			return err
		}
		for _, r := range []string{"ha", "mn"} {
			if err := s.startDaemon(ctx, r, r); err != nil {
				return err
			}
		}
		if sum = s.homeScenario(ctx); !sum.Passed() {
			return fmt.Errorf("home scenario failed")
		}
		return nil
	})
	return sum, err
}

// homeScenario runs the phases with the daemons started.
func (s *scenario) homeScenario(ctx context.Context) *HomeSummary {
	r := &HomeSummary{Scenario: "home", Backend: s.opt.Backend}
	if err := s.homePhases(ctx, r); err != nil {
		r.Error = err.Error()
	}
	return r
}

func (s *scenario) homePhases(ctx context.Context, r *HomeSummary) error {
	// (1) Both interfaces away; the mobile node has its home address once
	// it registered.
	p, err := s.homePhase(ctx, "away", time.Time{}, wlanAwayAddr, lteAddr)
	if err != nil {
		return err
	}
	stop, err := s.udpEcho()
	if err != nil {
		return err
	}
	defer stop()
	haMAC, err := s.macOf("ha", "home0")
	if err != nil {
		return err
	}
	mnMAC, err := s.macOf("mn", "wlan0")
	if err != nil {
		return err
	}
	owners := map[string]string{haMAC: "home agent home0 (proxy ND)", mnMAC: "mobile node wlan0"}
	n := homeEchoes
	if p.HomeLinkHost, err = s.homeLinkEcho(ctx, haMAC, owners, time.Time{}); err != nil {
		return err
	}
	r.Phases = append(r.Phases, *p)
	r.checkVia("away: home link host reaches the mobile node through the home agent's proxy ND", p.HomeLinkHost, true, n)

	// (2) wlan0 on the home link, lte0 away.
	s.say("== wlan0 moves onto the home link")
	moved, err := s.moveWlan(ctx, true)
	if err != nil {
		return err
	}
	if p, err = s.homePhase(ctx, "wlan0 at home, lte0 away", moved, homeAddress, lteAddr); err != nil {
		return err
	}
	if p.HomeLinkHost, err = s.homeLinkEcho(ctx, mnMAC, owners, moved); err != nil {
		return err
	}
	r.checkVia("wlan0 at home: home link host reaches the mobile node directly", p.HomeLinkHost, false, n)
	r.check("wlan0 at home: the mobile node says so (ctl paths at_home_for)", homeAddress, p.WlanAtHomeFor == homeAddress, "%q", p.WlanAtHomeFor)
	if p.Correspondent, err = s.figuresOf(ctx, "cn", n); err != nil {
		return err
	}
	r.Phases = append(r.Phases, *p)
	c := p.Correspondent
	r.check("wlan0 at home: correspondent reaches the mobile node through lte0's binding", fmt.Sprintf(">= %d of %d echoes", n*9/10, n),
		c.Answered >= n*9/10, "%d of %d", c.Answered, c.Sent)

	// (3) Only the home link: the home agent routes the home address onto
	// it.
	s.say("== lte0 down: only the home link is left")
	if err := s.lab.SetLink("mn", "lte0", false); err != nil {
		return err
	}
	if p, err = s.homePhase(ctx, "only wlan0, at home", time.Time{}, homeAddress); err != nil {
		return err
	}
	if p.Correspondent, err = s.figuresOf(ctx, "cn", n); err != nil {
		return err
	}
	r.Phases = append(r.Phases, *p)
	c = p.Correspondent
	r.check("only the home link: correspondent reaches the mobile node, the home agent sends onto home0",
		fmt.Sprintf(">= %d of %d echoes, ha home0 tx >= %d", n*9/10, n, n), c.Answered >= n*9/10 && c.HomeAgentHome0TX >= uint64(n),
		"%d of %d, ha home0 tx %d", c.Answered, c.Sent, c.HomeAgentHome0TX)
	if err := s.lab.SetLink("mn", "lte0", true); err != nil {
		return err
	}
	if err := s.waitHomeCoAs(ctx, homeAddress, lteAddr); err != nil {
		return err
	}

	// (4) wlan0 away again.
	s.say("== wlan0 moves back to the access router")
	if moved, err = s.moveWlan(ctx, false); err != nil {
		return err
	}
	if p, err = s.homePhase(ctx, "back away", moved, wlanAwayAddr, lteAddr); err != nil {
		return err
	}
	if p.HomeLinkHost, err = s.homeLinkEcho(ctx, haMAC, owners, moved); err != nil {
		return err
	}
	r.Phases = append(r.Phases, *p)
	r.checkVia("back away: home link host reaches the mobile node through the home agent again", p.HomeLinkHost, true, n)
	r.check("back away: the mobile node says wlan0 is away (ctl paths at_home_for)", `""`, p.WlanAtHomeFor == "", "%q", p.WlanAtHomeFor)
	return nil
}

// checkVia checks a home link host's exchange: answered, and through the
// home agent's home0 (every echo request received there) or not (a fifth
// of them at most: Neighbor Discovery and multicast).
func (r *HomeSummary) checkVia(name string, f *EchoFigures, viaHA bool, n int) {
	want := fmt.Sprintf(">= %d of %d echoes, ha home0 rx >= %d", n*9/10, n, n)
	pass := f.Answered >= n*9/10
	if viaHA {
		pass = pass && f.HomeAgentHome0RX >= uint64(n)
	} else {
		want = fmt.Sprintf(">= %d of %d echoes, ha home0 rx < %d", n*9/10, n, n/5)
		pass = pass && f.HomeAgentHome0RX < uint64(n/5)
	}
	r.check(name, want, pass, "%d of %d, ha home0 rx %d, neighbour entry of %s", f.Answered, f.Sent, f.HomeAgentHome0RX, f.NeighbourOf)
}

// homePhase waits until the home agent holds exactly the care-of addresses
// want and starts the phase's figures; since, when set, is when wlan0's
// address changed.
func (s *scenario) homePhase(ctx context.Context, name string, since time.Time, want ...string) (*HomePhase, error) {
	if err := s.waitHomeCoAs(ctx, want...); err != nil {
		return nil, err
	}
	s.say("%s: bindings %s", name, strings.Join(want, ", "))
	p := &HomePhase{Name: name, CareOfAddresses: want}
	p.BindingsAfterMs = msSince(since)
	var paths []struct {
		Interface string `json:"interface"`
		AtHomeFor string `json:"at_home_for"`
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, data, err := ctlapi.NewClient(s.path("mn.sock")).Get(pctx, "paths")
	if err == nil {
		err = json.Unmarshal(data, &paths)
	}
	if err != nil {
		return nil, fmt.Errorf("monami ctl --role mn paths: %w", err)
	}
	for _, x := range paths {
		if x.Interface == "wlan0" {
			p.WlanAtHomeFor = x.AtHomeFor
		}
	}
	return p, nil
}

// waitHomeCoAs waits up to 20 s until the home agent holds exactly the
// care-of addresses want.
func (s *scenario) waitHomeCoAs(ctx context.Context, want ...string) error {
	deadline := time.Now().Add(20 * time.Second)
	var got []string
	for {
		bs, err := s.bindings(ctx)
		got = got[:0]
		for _, b := range bs {
			got = append(got, b.CareOfAddress)
		}
		slices.Sort(got)
		w := slices.Sorted(slices.Values(want))
		if err == nil && slices.Equal(got, w) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the home agent holds care-of addresses %v, want %v (%v)\n-- ha.log --\n%s\n-- mn.log --\n%s",
				got, want, err, s.logTail("ha"), s.logTail("mn"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// homeLinkEcho waits until the home link host's neighbour entry for the
// home address holds mac (the mobile node's advertisement, or the home
// agent's), then exchanges the echoes.
func (s *scenario) homeLinkEcho(ctx context.Context, mac string, owners map[string]string, since time.Time) (*EchoFigures, error) {
	hh := s.lab.MustNode(hostOnHomeLink)
	deadline := time.Now().Add(10 * time.Second)
	var neigh string
	for {
		s.echo(hostOnHomeLink, 1) // traffic makes the host resolve the address again
		out, _ := hh.Exec(ctx, "ip", "-6", "neigh", "show", homeAddress, "dev", "eth0")
		if neigh = strings.TrimSpace(string(out)); strings.Contains(neigh, mac) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the home link host's neighbour entry for %s is %q, want %s (%s)", homeAddress, neigh, mac, owners[mac])
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := msSince(since)
	f, err := s.figuresOf(ctx, hostOnHomeLink, homeEchoes)
	if err != nil {
		return nil, err
	}
	f.Neighbour, f.NeighbourOf, f.NeighbourAfterMs = neigh, owners[mac], after
	return f, nil
}

// msSince is the time since t in milliseconds, nil for no t.
func msSince(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := time.Since(t).Milliseconds()
	return &ms
}

// figuresOf exchanges n echoes between node and the home address and
// counts the home agent's home0 packets meanwhile.
func (s *scenario) figuresOf(ctx context.Context, node string, n int) (*EchoFigures, error) {
	rx0, tx0, err := s.linkPackets(ctx, "ha", "home0")
	if err != nil {
		return nil, err
	}
	got, err := s.echo(node, n)
	if err != nil {
		return nil, err
	}
	rx, tx, err := s.linkPackets(ctx, "ha", "home0")
	if err != nil {
		return nil, err
	}
	return &EchoFigures{Sent: n, Answered: got, HomeAgentHome0RX: rx - rx0, HomeAgentHome0TX: tx - tx0}, nil
}

// udpEcho serves UDP echo on the mobile node's home address.
func (s *scenario) udpEcho() (stop func(), err error) {
	var c *net.UDPConn
	if err := s.lab.MustNode("mn").Do(func() (err error) {
		c, err = net.ListenUDP("udp6", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(homeAddress), echoPort)))
		return err
	}); err != nil {
		return nil, fmt.Errorf("echo on the home address: %w", err)
	}
	go func() {
		b := make([]byte, 1500)
		for {
			k, from, err := c.ReadFromUDPAddrPort(b)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(b[:k], from)
		}
	}()
	return func() { c.Close() }, nil
}

// echo sends n datagrams from node to the home address's echo, one at a
// time, and counts the answers.
func (s *scenario) echo(node string, n int) (int, error) {
	got := 0
	err := s.lab.MustNode(node).Do(func() error {
		c, err := net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(homeAddress), echoPort)))
		if err != nil {
			return err
		}
		defer c.Close()
		b := make([]byte, 64)
		for i := range n {
			msg := fmt.Sprintf("echo %d", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				continue
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if k, err := c.Read(b); err == nil && string(b[:k]) == msg {
				got++
			}
		}
		return nil
	})
	return got, err
}

// macOf is the link-layer address of a node's interface.
func (s *scenario) macOf(node, ifname string) (string, error) {
	var mac string
	err := s.lab.MustNode(node).Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err == nil {
			mac = ifi.HardwareAddr.String()
		}
		return err
	})
	return mac, err
}

// linkPackets is how many packets a node's interface received and sent so
// far.
func (s *scenario) linkPackets(ctx context.Context, node, ifname string) (rx, tx uint64, err error) {
	out, err := s.lab.MustNode(node).Exec(ctx, "ip", "-s", "-j", "link", "show", "dev", ifname)
	if err != nil {
		return 0, 0, err
	}
	var links []struct {
		Stats map[string]struct {
			Packets uint64 `json:"packets"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return 0, 0, fmt.Errorf("ip -s -j link show dev %s: %v: %s", ifname, err, out)
	}
	return links[0].Stats["rx"].Packets, links[0].Stats["tx"].Packets, nil
}

// moveWlan moves the mobile node's wlan0 onto the home link (home) or back
// to the access router: the other end of its veth changes namespace, as a
// laptop's Wi-Fi changes access point; its address and default route
// change as a Router Advertisement there would change them. The new
// address comes before the old one goes: the mobile node moves the Binding
// ID to it.
// It returns when the old address went.
func (s *scenario) moveWlan(ctx context.Context, home bool) (time.Time, error) {
	arNS, swNS := lab.NsName(s.opt.Name, "ar"), s.opt.Name+"-sw-"+homeSwitch
	mn := s.lab.MustNode("mn")
	var errs []error
	run := func(node *lab.NodeNS, args ...string) {
		if len(errs) > 0 {
			return
		}
		var out []byte
		var err error
		if node == nil {
			out, err = exec.CommandContext(ctx, "ip", args...).CombinedOutput()
		} else {
			out, err = node.Exec(ctx, "ip", args...)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out))
		}
	}
	newAddr, oldAddr, gw := wlanHomeAddr+"/64", wlanAwayAddr+"/64", "2001:db8:1::1"
	if home {
		run(nil, "-n", arNS, "link", "set", "wlan0", "netns", swNS)
		run(nil, "-n", swNS, "link", "set", "wlan0", "master", "br0", "up")
	} else {
		newAddr, oldAddr, gw = oldAddr, newAddr, "2001:db8:a::1"
		run(nil, "-n", swNS, "link", "set", "wlan0", "nomaster")
		run(nil, "-n", swNS, "link", "set", "wlan0", "netns", arNS)
		run(nil, "-n", arNS, "addr", "add", "2001:db8:a::1/64", "dev", "wlan0", "nodad")
		run(nil, "-n", arNS, "link", "set", "wlan0", "up")
	}
	run(mn, "addr", "add", newAddr, "dev", "wlan0", "nodad")
	run(mn, "route", "replace", "default", "via", gw, "dev", "wlan0")
	run(mn, "addr", "del", oldAddr, "dev", "wlan0")
	return time.Now(), errors.Join(errs...)
}
