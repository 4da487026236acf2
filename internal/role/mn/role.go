// Package mn is the mobile node role: it watches the access interfaces
// (linkmon), registers one binding per care-of address with its home
// agent(s) through the Binding Update List (RFC 6275 section 11.7, RFC 5648
// multiple care-of addresses with bulk registration), signs every Binding
// Update (RFC 4285), keeps the home addresses on a stable home interface,
// reverse-tunnels traffic from them through the best registered care-of
// address (RFC 6275 section 11.3.1) and decapsulates what the home agent
// tunnels back.
//
// One goroutine owns all state (the event loop in Run); transport readers
// and the link monitor only feed it, and the control API asks it for
// snapshots.
package mn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/internal/ctlapi"
	"monami/internal/dataplane"
	"monami/internal/forwarding"
	"monami/internal/pathprobe"
	"monami/internal/paths"
	"monami/internal/policy"
	"monami/internal/reconcile"
	"monami/internal/transport"
	"monami/wire"
)

// Policy routing numbers: the data plane takes its table and the next
// (kernel backend without BPF) with rules at dataplaneRulePriority and one
// less (the kernel backend with BPF uses the local table and no rule); the
// mobile node's own table follows with its rule right after.
const (
	dataplaneRulePriority = 1000
	ownRulePriority       = 1010
	ownTableOffset        = 2
)

// Timeouts of the graceful shutdown.
const (
	deregisterTimeout = 1500 * time.Millisecond
	sendTimeout       = time.Second
	// retryAfterFailure re-registers a binding the home agent refused or
	// never answered (RFC 6275 section 11.8 ends the backoff at
	// MAX_BINDACK_TIMEOUT; a mobile node keeps trying at that pace).
	retryAfterFailure = 32 * time.Second
	// neighbourKeepalive re-probes each access link's gateway (probe.go).
	neighbourKeepalive = 15 * time.Second
)

// Options injects what a test replaces; zero values take the real thing.
type Options struct {
	Logger *slog.Logger
	// NetNS is the network namespace to run in; not open (netns.None(), or
	// any value <= 0) means the caller's.
	NetNS netns.NsHandle
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NoControlSocket skips the control API.
	NoControlSocket bool
}

// MobileNode is a running mobile node.
type MobileNode struct {
	cfg *config.MobileNode
	log *slog.Logger
	now func() time.Time
	ns  netns.NsHandle
	nl  *netlink.Handle
	dp  dataplane.DataPlane
	rt  *router
	bul *binding.BindingUpdateList
	ctl *ctlapi.Server
	tps map[config.Transport]transport.Transport
	nbr *neighbourProbe
	// live judges each (care-of address, home agent) path; echo sends its
	// probes and echoes brings the replies (liveness.go, echo.go).
	live   *paths.Table
	echo   *pathprobe.Echo
	echoes chan pathprobe.Reply
	home   int // index of the home interface
	// homeGw is the next hop into the home interface (kernel backend).
	homeGw netip.Addr

	homes []*homeRegistration
	ifs   []*accessInterface

	in    chan received
	snaps chan snapshotReq
	cnt   counters
	// outstanding: groups (HA, HoA) with a Binding Update awaiting its
	// answer, for counting retransmissions.
	outstanding map[groupKey]uint16
	buf         []byte

	// flows are the flow bindings signalled with every registration
	// (flowsig.go).
	flows []signalledFlow

	// The running policy (flowpolicy.go): mn.yaml's, the overrides of
	// monami ctl flow move, and the forwarding rules they make.
	pol       *policy.Policy
	overrides []policy.Override
	rules     []forwarding.Rule
	def       *forwarding.Action
	// rec installs the forwarding (forward.go); fwdFailed: its last Set
	// failed.
	rec       *reconcile.Reconciler
	fwdFailed bool
	// plainOnly: the data plane refused flow routes (ErrUnsupported), so
	// only each home address's default is installed.
	plainOnly bool
	// calls are control API commands for the event loop.
	calls chan func()
	// lender lends the UDP signalling socket to the data plane's IPv4
	// tunnels (ipv4.go); nil without IPv4 care-of addresses.
	lender *udpLender
}

type groupKey struct{ ha, hoa netip.Addr }

// homeRegistration is one home address and its home agent.
type homeRegistration struct {
	hoa, ha netip.Addr
	// prefix is the home prefix: an access interface with an address in it
	// is on the home link (homelink.go).
	prefix netip.Prefix
	// ha4 is the home agent's IPv4 address (home_agent_ipv4; ipv4.go).
	ha4 netip.Addr
	spi uint32
	// careOf is the mn.yaml rule of the care-of addresses this home address
	// takes (draft-ietf-monami6-mipv6-analysis section 6.3.2).
	careOf config.CareOfRule
	auth   *wire.Authenticator // nil with security.insecure
	// active is the interface whose care-of address carries the reverse
	// tunnel now (nil: none).
	active    *accessInterface
	activeCoA netip.Addr
	since     time.Time
	// flowStatus is the home agent's last answer per FID (RFC 6089).
	flowStatus map[uint16]wire.FIDStatus
	// entries are its forwarding entries as last computed (forward.go).
	entries []*forwarding.Entry
	// A Home Agent Switch (switch.go): next is the home agent being
	// registered with, sw the switch in progress, prev the one left (its
	// deregistration's answer still comes from it).
	next, prev netip.Addr
	sw         *switchState
}

type received struct {
	sig transport.Signal
	via config.Transport
	at  time.Time
}

// New opens the data plane, the transports and the routing state; Run
// starts the mobile node. On error everything opened is closed again.
func New(cfg *config.MobileNode, opt Options) (_ *MobileNode, err error) {
	m := &MobileNode{
		cfg: cfg, log: opt.Logger, now: opt.Now, ns: netns.None(),
		tps:         map[config.Transport]transport.Transport{},
		in:          make(chan received, 256),
		snaps:       make(chan snapshotReq),
		calls:       make(chan func()),
		outstanding: map[groupKey]uint16{},
		live:        paths.New(pathConfigFor(cfg)),
		echoes:      make(chan pathprobe.Reply, 64),
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("role", "mn")
	if m.now == nil {
		m.now = time.Now
	}
	if opt.NetNS > 0 {
		if m.ns, err = dupNS(opt.NetNS); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			m.close()
		}
	}()
	if m.ns.IsOpen() {
		m.nl, err = netlink.NewHandleAt(m.ns)
	} else {
		m.nl, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	for _, h := range cfg.HomeAddresses {
		hr := &homeRegistration{hoa: h.Addr(), prefix: h.Prefix(), ha: h.HomeAgentAddr(), ha4: h.HomeAgentIPv4Addr(), spi: h.Security.SPI, careOf: h.CareOf}
		if !cfg.Security.Insecure {
			hr.auth = wire.NewAuthenticator(h.Security.Secret())
		}
		m.homes = append(m.homes, hr)
	}
	for _, f := range cfg.Interfaces {
		m.ifs = append(m.ifs, newAccessInterface(f))
	}
	m.addNestedInterfaces()
	pol := cfg.Policy
	if _, err := m.setPolicy(&pol, nil); err != nil {
		return nil, err
	}
	m.bul = binding.NewBindingUpdateList(binding.BULConfig{
		Lifetime:          cfg.Lifetime.D(),
		Timestamps:        !cfg.Security.Insecure, // RFC 4285 section 6 replay protection
		RetryAfterFailure: retryAfterFailure,
	})

	if err := m.openDataPlane(); err != nil {
		return nil, err
	}
	m.rec = reconcile.New(m.dp)
	if err := m.openTransports(); err != nil {
		return nil, err
	}
	if err := m.setupRouting(); err != nil {
		return nil, err
	}
	if !opt.NoControlSocket {
		if m.ctl, err = ctlapi.Listen(cfg.ControlSocket, m, m.log); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func dupNS(ns netns.NsHandle) (netns.NsHandle, error) {
	fd, err := dupFD(int(ns))
	if err != nil {
		return netns.None(), fmt.Errorf("duplicate network namespace handle: %w", err)
	}
	return netns.NsHandle(fd), nil
}

func (m *MobileNode) openDataPlane() error {
	backend := dataplane.Backend(m.cfg.Dataplane.Backend)
	if backend == dataplane.BackendAuto {
		for _, f := range m.cfg.Interfaces {
			if f.Transport == config.TransportUDP {
				// The kernel backend has no UDP encapsulation (RFC 5555).
				backend = dataplane.BackendUserspace
			}
		}
		if m.cfg.NestedHomes() {
			// Nor does it nest tunnels (config.ParseMobileNode).
			backend = dataplane.BackendUserspace
		}
	}
	cfg := dataplane.Config{
		Backend: backend, Table: m.cfg.Dataplane.Table, RulePriority: dataplaneRulePriority,
		NetNS: m.ns, TunName: m.cfg.HomeInterface, Logger: m.log, NoBPF: m.cfg.Dataplane.NoBPF(),
	}
	if len(m.ipv4Interfaces()) > 0 {
		// IPv4 tunnels leave from the signalling socket (ipv4.go).
		m.lender = &udpLender{}
		cfg.SharedUDP, cfg.SharedUDPIPv4Only = m.lender, true
	}
	dp, err := dataplane.New(cfg)
	if err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	m.dp = dp
	return nil
}

func (m *MobileNode) openTransports() error {
	return inNS(m.ns, func() error {
		var err error
		if m.nbr, err = openNeighbourProbe(); err != nil {
			return err
		}
		if m.echo, err = pathprobe.Open(); err != nil {
			return err
		}
		for _, f := range m.cfg.Interfaces {
			if m.tps[f.Transport] != nil {
				continue
			}
			switch f.Transport {
			case config.TransportNative:
				n, err := transport.OpenNative(transport.NativeConfig{Logger: m.log, NFTTable: "monami_mn_mh"})
				if err != nil {
					return fmt.Errorf("native signalling: %w", err)
				}
				m.tps[f.Transport] = n
			case config.TransportUDP:
				// An ephemeral port on all addresses (RFC 5555 section 4.1);
				// the source-specific routes pick the interface.
				eps := []transport.UDPEndpoint{{Addr: netip.AddrPortFrom(netip.IPv6Unspecified(), 0)}}
				var data func([]byte, netip.AddrPort, netip.AddrPort, int)
				if m.lender != nil {
					// IPv4 care-of addresses: signalling and data share one
					// ephemeral port (RFC 5555 sections 4.1, 4.3).
					eps = append(eps, transport.UDPEndpoint{Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)})
					data = m.deliverUDP
				}
				u, err := transport.ListenUDP(transport.UDPConfig{Logger: m.log, Endpoints: eps, Data: data})
				if err != nil {
					return fmt.Errorf("UDP signalling: %w", err)
				}
				m.tps[f.Transport] = u
				if m.lender != nil {
					m.lender.u.Store(u)
				}
			}
		}
		return nil
	})
}

// setupRouting puts the home addresses on the home interface and installs
// the mobile node's table and rule (see routes.go).
func (m *MobileNode) setupRouting() error {
	m.rt = newRouter(m, m.cfg.Dataplane.Table+ownTableOffset, ownRulePriority)
	link, err := m.nl.LinkByName(m.cfg.HomeInterface)
	if err != nil {
		return fmt.Errorf("home interface %s: %w", m.cfg.HomeInterface, err)
	}
	m.home = link.Attrs().Index
	if m.homeGw, err = m.rt.homeNextHop(m.cfg.HomeInterface); err != nil {
		return err
	}
	for _, h := range m.homes {
		if err := m.rt.addHomeAddress(m.home, h.hoa); err != nil {
			return err
		}
		if err := m.rt.replace(routeSpec{dst: defaultRoute, src: netip.PrefixFrom(h.hoa, 128), metric: metricUnreachable, unreachable: true}); err != nil {
			return err
		}
	}
	// The first home address is what unbound sockets get.
	if err := m.rt.replace(routeSpec{dst: defaultRoute, oif: m.home, gw: m.homeGw, prefsrc: m.homes[0].hoa, metric: metricHome}); err != nil {
		return err
	}
	return m.rt.addRule()
}

// close removes everything New and Run installed, in reverse order.
func (m *MobileNode) close() error {
	var errs []error
	if m.ctl != nil {
		errs = append(errs, m.ctl.Close())
	}
	if m.rt != nil {
		errs = append(errs, m.rt.close())
	}
	if m.dp != nil {
		errs = append(errs, m.dp.Close())
	}
	for _, tp := range m.tps {
		errs = append(errs, tp.Close())
	}
	errs = append(errs, m.nbr.Close(), m.echo.Close())
	if m.nl != nil {
		m.nl.Close()
	}
	if m.ns.IsOpen() {
		m.ns.Close()
	}
	err := errors.Join(errs...)
	if err != nil {
		m.log.Error("cleanup incomplete", "err", err)
	}
	return err
}

// Run serves until ctx ends, then deregisters every binding (best effort,
// within deregisterTimeout) and removes everything installed.
func (m *MobileNode) Run(ctx context.Context) error {
	defer m.close()
	return m.loop(ctx)
}
