package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Lab is a running lab.
type Lab struct {
	st *State

	mu      sync.Mutex
	handles map[string]*netlink.Handle // by namespace name; "" is the root namespace
}

// Name returns the lab name (the prefix of its namespaces).
func (l *Lab) Name() string { return l.st.Name }

// Topology returns the topology the lab was built from.
func (l *Lab) Topology() *Topology { return l.st.Topology }

// StateDir is where the lab keeps state.json and process logs.
func (l *Lab) StateDir() string { return StateDir(l.st.Name) }

// NsName returns the network namespace name of a node ("" for the root node).
func NsName(lab, node string) string { return lab + "-" + node }

func relayNsName(lab, link string) string { return lab + "-relay-" + link }

func (l *Lab) nsOf(node string) string {
	n := l.st.Topology.node(node)
	if n == nil || n.Kind == KindRoot {
		return ""
	}
	return NsName(l.st.Name, node)
}

// ifName returns the kernel name of a node's interface (prefixed on the root node).
func (l *Lab) ifName(node, ifname string) string {
	if n := l.st.Topology.node(node); n != nil && n.Kind == KindRoot {
		return l.st.Name + "-" + ifname
	}
	return ifname
}

// handle returns a netlink handle bound to the namespace.
func (l *Lab) handle(ns string) (*netlink.Handle, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.handles[ns]; h != nil {
		return h, nil
	}
	var h *netlink.Handle
	var err error
	if ns == "" {
		h, err = netlink.NewHandle()
	} else {
		var nsh netns.NsHandle
		nsh, err = netns.GetFromPath(nsPath(ns))
		if err != nil {
			return nil, fmt.Errorf("open netns %s: %w", ns, err)
		}
		h, err = netlink.NewHandleAt(nsh)
		nsh.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("netlink handle for netns %q: %w", ns, err)
	}
	if l.handles == nil {
		l.handles = map[string]*netlink.Handle{}
	}
	l.handles[ns] = h
	return h, nil
}

// Close releases the lab's netlink handles without tearing it down.
func (l *Lab) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, h := range l.handles {
		h.Close()
		delete(l.handles, k)
	}
}

// Down tears the lab down: processes, relays, namespaces, host interfaces,
// nftables tables and the state directory.
// Calling it again is a no-op.
func (l *Lab) Down() error {
	l.Close()
	if err := Teardown(l.st.Name); err != nil && !errors.Is(err, ErrNoLab) {
		return err
	}
	return nil
}

// Open attaches to a lab that is up (built by this or another process).
func Open(name string) (*Lab, error) {
	st, err := ReadState(name)
	if err != nil {
		return nil, err
	}
	return &Lab{st: st}, nil
}

// Up builds the topology. On error everything already created is removed.
// The lab outlives ctx (ctx only bounds the build) and the calling process;
// call Down (or Teardown with the name) to remove it.
func Up(ctx context.Context, t *Topology) (*Lab, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("lab up needs root (network namespaces, netlink)")
	}
	st, err := newState(t)
	if err != nil {
		return nil, err
	}
	l := &Lab{st: st}
	if err := l.build(ctx); err != nil {
		l.Close()
		if terr := Teardown(t.Name); terr != nil {
			return nil, fmt.Errorf("lab %s: %w (and teardown failed: %v)", t.Name, err, terr)
		}
		return nil, fmt.Errorf("lab %s: %w", t.Name, err)
	}
	return l, nil
}

func (l *Lab) build(ctx context.Context) error {
	t := l.st.Topology
	// 1. Namespaces.
	for _, n := range t.Nodes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n.Kind == KindRoot {
			continue
		}
		if err := l.addNamespace(NsName(t.Name, n.Name)); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		if err := l.setSysctls(n, true); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	// 2. Links.
	for i := range t.Links {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.addLink(&t.Links[i]); err != nil {
			return fmt.Errorf("link %s: %w", t.Links[i].Name, err)
		}
	}
	for i := range t.Switches {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.addSwitch(&t.Switches[i]); err != nil {
			return fmt.Errorf("switch %s: %w", t.Switches[i].Name, err)
		}
	}
	// 3. Routes and per-interface sysctls.
	for _, n := range t.Nodes {
		if err := l.setSysctls(n, false); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
		for j, r := range n.Routes {
			if err := l.addRoute(n.Name, r, false); err != nil {
				return fmt.Errorf("node %s route %d (%s): %w", n.Name, j, r.Dst, err)
			}
		}
	}
	// 4. Processes.
	for _, p := range t.Processes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.startProcess(p); err != nil {
			return fmt.Errorf("process %s: %w", p.Name, err)
		}
	}
	return l.st.update(func(s *State) { s.Status = "up" })
}

func (l *Lab) addNamespace(ns string) error {
	if err := l.st.update(func(s *State) { s.Namespaces = append(s.Namespaces, ns) }); err != nil {
		return err
	}
	if err := createNetns(ns); err != nil {
		return err
	}
	h, err := l.handle(ns)
	if err != nil {
		return err
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netns %s: lo: %w", ns, err)
	}
	return h.LinkSetUp(lo)
}

// defaultSysctls make a fresh namespace behave like a lab host: addresses
// usable at once (no DAD wait) and kept when a link is set down.
var defaultSysctls = []SysctlBackup{
	{"net.ipv6.conf.all.accept_dad", "0"},
	{"net.ipv6.conf.default.accept_dad", "0"},
	{"net.ipv6.conf.all.keep_addr_on_down", "1"},
	{"net.ipv6.conf.default.keep_addr_on_down", "1"},
}

// setSysctls applies a node's sysctls. The first pass (before links exist)
// applies defaults and non-interface keys; the second applies all user keys
// (per-interface ones need the interface; "all" ones are re-applied so they
// reach the new interfaces).
func (l *Lab) setSysctls(n Node, first bool) error {
	var kv []SysctlBackup
	if first && n.Kind != KindRoot {
		kv = append(kv, defaultSysctls...)
		if n.Kind == KindRouter {
			kv = append(kv, SysctlBackup{"net.ipv6.conf.all.forwarding", "1"}, SysctlBackup{"net.ipv4.ip_forward", "1"})
		}
	}
	keys := make([]string, 0, len(n.Sysctls))
	for k := range n.Sysctls {
		keys = append(keys, k)
	}
	// "all" before "default" before per-interface, so specific ones win.
	sort.SliceStable(keys, func(i, j int) bool {
		return sysctlRank(keys[i]) < sysctlRank(keys[j]) || (sysctlRank(keys[i]) == sysctlRank(keys[j]) && keys[i] < keys[j])
	})
	for _, k := range keys {
		if first && sysctlRank(k) == 2 {
			continue
		}
		kv = append(kv, SysctlBackup{l.sysctlKey(n, k), n.Sysctls[k]})
	}
	if len(kv) == 0 {
		return nil
	}
	if n.Kind == KindRoot {
		return l.setRootSysctls(kv)
	}
	return l.writeNodeSysctls(n, kv)
}

// writeNodeSysctls writes kv in namespaced node n.
func (l *Lab) writeNodeSysctls(n Node, kv []SysctlBackup) error {
	return inNetns(nsPath(NsName(l.st.Name, n.Name)), func() error {
		for _, s := range kv {
			if err := writeSysctl(s.Key, s.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

// sysctlKey maps a per-interface key on the root node to the prefixed name.
func (l *Lab) sysctlKey(n Node, k string) string {
	if n.Kind != KindRoot {
		return k
	}
	parts := strings.Split(k, ".")
	if len(parts) >= 5 && parts[2] == "conf" && parts[3] != "all" && parts[3] != "default" {
		parts[3] = l.st.Name + "-" + parts[3]
	}
	return strings.Join(parts, ".")
}

// setIfSysctls applies a namespaced node's sysctls of interface e.If
// before the interface comes up: net.ipv6.conf.<if>.disable_ipv6 must hold
// from the start, or the kernel sends its link-local address's MLD reports
// and DAD onto an IPv4-only link (step 3 of Up applies them again).
func (l *Lab) setIfSysctls(e End) error {
	n := l.st.Topology.node(e.Node)
	if n == nil || n.Kind == KindRoot {
		return nil
	}
	var kv []SysctlBackup
	for k, v := range n.Sysctls {
		if parts := strings.Split(k, "."); sysctlRank(k) == 2 && len(parts) >= 5 && parts[3] == e.If {
			kv = append(kv, SysctlBackup{k, v})
		}
	}
	if len(kv) == 0 {
		return nil
	}
	sort.Slice(kv, func(i, j int) bool { return kv[i].Key < kv[j].Key })
	return l.writeNodeSysctls(*n, kv)
}

func sysctlRank(k string) int {
	switch {
	case strings.Contains(k, ".conf.all."):
		return 0
	case strings.Contains(k, ".conf.default."):
		return 1
	case strings.Contains(k, ".conf."), strings.Contains(k, ".neigh."):
		return 2
	}
	return 0
}

func sysctlFile(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

func writeSysctl(key, val string) error {
	if err := os.WriteFile(sysctlFile(key), []byte(val), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, val, err)
	}
	return nil
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlFile(key))
	return strings.TrimSpace(string(b)), err
}

// setRootSysctls changes the machine's own sysctls, recording old values
// first so Teardown restores them.
func (l *Lab) setRootSysctls(kv []SysctlBackup) error {
	for _, s := range kv {
		old, err := readSysctl(s.Key)
		if err != nil {
			return fmt.Errorf("sysctl %s: %w", s.Key, err)
		}
		if old == s.Value {
			continue
		}
		key := s.Key
		if err := l.st.update(func(st *State) {
			for _, b := range st.HostSysctl {
				if b.Key == key {
					return // keep the oldest value
				}
			}
			st.HostSysctl = append(st.HostSysctl, SysctlBackup{key, old})
		}); err != nil {
			return err
		}
		if err := writeSysctl(s.Key, s.Value); err != nil {
			return err
		}
	}
	return nil
}

// needsRelay reports whether the link is built with a delay relay.
func (lk *Link) needsRelay() bool { return lk.Relay || lk.Directions().delayed() }

// Relay-side interface names in the middle namespace.
const (
	relayIfA = "ra"
	relayIfB = "rb"
)

// nsFd opens a namespace for IFLA_NET_NS_FD; the root namespace ("") is
// left unset (nil), which means the namespace of our netlink socket.
func (l *Lab) nsFd(ns string) (any, func(), error) {
	if ns == "" {
		return nil, func() {}, nil
	}
	h, err := netns.GetFromPath(nsPath(ns))
	if err != nil {
		return nil, nil, fmt.Errorf("open netns %s: %w", ns, err)
	}
	return netlink.NsFd(h), func() { h.Close() }, nil
}

// addVeth creates a veth pair with each end directly in its namespace, so
// no temporary interface ever exists in the root namespace.
func (l *Lab) addVeth(nsA, ifA, nsB, ifB string, mtu int) error {
	for _, e := range []struct{ ns, name string }{{nsA, ifA}, {nsB, ifB}} {
		if e.ns == "" {
			name := e.name
			if err := l.st.update(func(s *State) { s.HostLinks = append(s.HostLinks, name) }); err != nil {
				return err
			}
		}
	}
	fdA, closeA, err := l.nsFd(nsA)
	if err != nil {
		return err
	}
	defer closeA()
	fdB, closeB, err := l.nsFd(nsB)
	if err != nil {
		return err
	}
	defer closeB()
	la := netlink.NewLinkAttrs()
	la.Name = ifA
	la.MTU = mtu
	la.Namespace = fdA
	v := &netlink.Veth{LinkAttrs: la, PeerName: ifB, PeerNamespace: fdB}
	h, err := l.handle("")
	if err != nil {
		return err
	}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("create veth %s/%s - %s/%s: %w", nsLabel(nsA), ifA, nsLabel(nsB), ifB, err)
	}
	return nil
}

func nsLabel(ns string) string {
	if ns == "" {
		return "(root)"
	}
	return ns
}

func (l *Lab) addLink(lk *Link) error {
	mtu := lk.MTU
	if mtu == 0 {
		mtu = 1500
	}
	nsA, nsB := l.nsOf(lk.A.Node), l.nsOf(lk.B.Node)
	ifA, ifB := l.ifName(lk.A.Node, lk.A.If), l.ifName(lk.B.Node, lk.B.If)
	if lk.needsRelay() {
		rns := relayNsName(l.st.Name, lk.Name)
		if err := l.addNamespace(rns); err != nil {
			return err
		}
		// The middle namespace only relays frames: no IPv6 of its own
		// (no link-local addresses, DAD, MLD or RS leaking onto the link).
		if err := inNetns(nsPath(rns), func() error {
			for _, k := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
				if err := writeSysctl(k, "1"); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		if err := l.addVeth(nsA, ifA, rns, relayIfA, mtu); err != nil {
			return err
		}
		if err := l.addVeth(nsB, ifB, rns, relayIfB, mtu); err != nil {
			return err
		}
		h, err := l.handle(rns)
		if err != nil {
			return err
		}
		for _, n := range []string{relayIfA, relayIfB} {
			if err := setOffloads(rns, n, false); err != nil {
				return err
			}
			ln, err := h.LinkByName(n)
			if err != nil {
				return err
			}
			if err := h.LinkSetUp(ln); err != nil {
				return err
			}
		}
	} else if err := l.addVeth(nsA, ifA, nsB, ifB, mtu); err != nil {
		return err
	}
	for _, e := range []End{lk.A, lk.B} {
		if err := l.configureEnd(e); err != nil {
			return fmt.Errorf("%s:%s: %w", e.Node, e.If, err)
		}
		if e.IngressFilter {
			if err := l.addIngressFilter(lk, e); err != nil {
				return fmt.Errorf("%s:%s: ingress filter: %w", e.Node, e.If, err)
			}
		}
		if e.Masquerade {
			if err := l.addMasquerade(e); err != nil {
				return fmt.Errorf("%s:%s: masquerade: %w", e.Node, e.If, err)
			}
		}
	}
	if lk.needsRelay() {
		if err := l.startRelay(lk); err != nil {
			return err
		}
	}
	return l.applyImpairment(lk, lk.Directions())
}

func (l *Lab) configureEnd(e End) error {
	ns := l.nsOf(e.Node)
	h, err := l.handle(ns)
	if err != nil {
		return err
	}
	ln, err := h.LinkByName(l.ifName(e.Node, e.If))
	if err != nil {
		return err
	}
	if err := l.setIfSysctls(e); err != nil {
		return err
	}
	for _, a := range e.Addrs {
		pf, err := parseIfAddr(a)
		if err != nil {
			return err
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: pf.Addr().AsSlice(), Mask: net.CIDRMask(pf.Bits(), pf.Addr().BitLen())}}
		if pf.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(ln, addr); err != nil {
			return fmt.Errorf("address %s: %w", a, err)
		}
	}
	if e.Down {
		return l.st.update(func(s *State) { s.AdminDown = appendUniq(s.AdminDown, e.Node+":"+e.If) })
	}
	return h.LinkSetUp(ln)
}

func appendUniq(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func (l *Lab) addRoute(node string, r Route, readd bool) error {
	dst, via, src, err := r.resolve()
	if err != nil {
		return err
	}
	h, err := l.handle(l.nsOf(node))
	if err != nil {
		return err
	}
	rt := &netlink.Route{Dst: prefixNet(dst), Table: r.Table, Priority: r.Metric}
	if dst.Bits() == 0 {
		// netlink encodes a nil Dst as the default route of Family.
		rt.Dst = nil
		rt.Family = unix.AF_INET6
		if dst.Addr().Is4() {
			rt.Family = unix.AF_INET
		}
	}
	if via.IsValid() {
		rt.Gw = via.AsSlice()
	}
	if src.IsValid() {
		rt.Src = src.AsSlice()
	}
	if r.Dev != "" {
		ln, err := h.LinkByName(l.ifName(node, r.Dev))
		if err != nil {
			return fmt.Errorf("dev %s: %w", r.Dev, err)
		}
		rt.LinkIndex = ln.Attrs().Index
	}
	if !via.IsValid() {
		rt.Scope = netlink.SCOPE_LINK
	}
	// Add, not replace: on the root node a replace could clobber a route
	// of the machine itself.
	if err := h.RouteAdd(rt); err != nil {
		if errors.Is(err, unix.EEXIST) && readd {
			return nil
		}
		return err
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
