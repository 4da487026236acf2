package lab

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Switch is a shared link with more than two ends: a Linux bridge in a
// namespace of its own (<lab>-sw-<name>), with one veth per port. Every
// port's node sees one Ethernet segment, so neighbour discovery, unsolicited
// Neighbor Advertisements and link-layer address moves behave as on a real
// LAN (a home link with several home agents and the router).
type Switch struct {
	Name  string `yaml:"name" json:"name"`
	Ports []End  `yaml:"ports" json:"ports"`
	MTU   int    `yaml:"mtu,omitempty" json:"mtu,omitempty"`
}

func switchNsName(lab, sw string) string { return lab + "-sw-" + sw }

// switchBridge is the bridge's name inside the switch namespace.
const switchBridge = "br0"

// validateSwitches checks the switches with the maps Validate builds for
// links: node names, interface names per node, addresses in use and each
// node's on-link prefixes (which routes' next hops are checked against).
func (t *Topology) validateSwitches(nodes map[string]*Node, ifs map[string]map[string]bool, used map[netip.Addr]string,
	onLink map[string][]ifPrefix, seen map[string]bool, add func(string, ...any)) {
	for i := range t.Switches {
		sw := &t.Switches[i]
		f := fmt.Sprintf("switches[%d]", i)
		if !nodeNameRE.MatchString(sw.Name) || len(switchNsName(t.Name, sw.Name)) > 64 {
			add("%s.name: %q must be a letter then letters, digits or _", f, sw.Name)
		} else if seen[sw.Name] {
			add("%s.name: duplicate name %q (links and switches share names)", f, sw.Name)
		}
		seen[sw.Name] = true
		if len(sw.Ports) < 2 {
			add("%s.ports: a switch needs at least 2 ports, has %d", f, len(sw.Ports))
		}
		if sw.MTU != 0 && (sw.MTU < 1280 || sw.MTU > 65535) {
			add("%s.mtu: %d outside 1280..65535 (IPv6 needs at least 1280)", f, sw.MTU)
		}
		var prefixes []netip.Prefix
		for j := range sw.Ports {
			e := &sw.Ports[j]
			pf := fmt.Sprintf("%s.ports[%d]", f, j)
			n := nodes[e.Node]
			switch {
			case e.Node == "":
				add("%s.node: missing", pf)
			case n == nil:
				add("%s.node: unknown node %q", pf, e.Node)
			case n.Kind == KindRoot:
				add("%s.node: switch ports cannot be on the root node %q", pf, e.Node)
			}
			if e.IngressFilter {
				add("%s.ingress_filter: not supported on switch ports", pf)
			}
			if e.Masquerade {
				add("%s.masquerade: not supported on switch ports", pf)
			}
			if !ifNameRE.MatchString(e.If) || e.If == "lo" {
				add("%s.if: %q must be a letter then letters, digits, _ or . (max %d), not lo", pf, e.If, ifNameMax)
			} else {
				if ifs[e.Node] == nil {
					ifs[e.Node] = map[string]bool{}
				}
				if ifs[e.Node][e.If] {
					add("%s.if: duplicate interface %q on node %q", pf, e.If, e.Node)
				}
				ifs[e.Node][e.If] = true
			}
			for k, a := range e.Addrs {
				p, err := parseIfAddr(a)
				where := fmt.Sprintf("%s.addrs[%d]", pf, k)
				if err != nil {
					add("%s: %v", where, err)
					continue
				}
				if prev, dup := used[p.Addr()]; dup {
					add("%s: address %s already used at %s", where, p.Addr(), prev)
				} else {
					used[p.Addr()] = where
				}
				for _, q := range prefixes {
					if q.Addr().Is4() == p.Addr().Is4() && q.Bits() == p.Bits() && q != p.Masked() {
						add("%s: %s is outside the switch's prefix %s", where, p, q)
					}
				}
				prefixes = append(prefixes, p.Masked())
				onLink[e.Node] = append(onLink[e.Node], ifPrefix{e.If, p.Masked()})
			}
		}
	}
}

// addSwitch builds a switch: its namespace (no IPv6 of its own, like a
// relay's), the bridge, and one veth per port whose node end is configured
// like a link's end.
func (l *Lab) addSwitch(sw *Switch) error {
	mtu := sw.MTU
	if mtu == 0 {
		mtu = 1500
	}
	ns := switchNsName(l.st.Name, sw.Name)
	if err := l.addNamespace(ns); err != nil {
		return err
	}
	if err := inNetns(nsPath(ns), func() error {
		for _, k := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
			if err := writeSysctl(k, "1"); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	h, err := l.handle(ns)
	if err != nil {
		return err
	}
	// No multicast snooping: with no MLD querier on the link a snooping
	// bridge may stop flooding solicited-node groups, and neighbour
	// discovery would then depend on the bridge's timers.
	snoop := false
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = switchBridge, mtu
	br := &netlink.Bridge{LinkAttrs: la, MulticastSnooping: &snoop}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	for j, e := range sw.Ports {
		port := fmt.Sprintf("p%d", j)
		if err := l.addVeth(l.nsOf(e.Node), l.ifName(e.Node, e.If), ns, port, mtu); err != nil {
			return err
		}
		ln, err := h.LinkByName(port)
		if err != nil {
			return err
		}
		if err := h.LinkSetMaster(ln, br); err != nil {
			return fmt.Errorf("port %s: %w", port, err)
		}
		if err := h.LinkSetUp(ln); err != nil {
			return err
		}
	}
	if err := h.LinkSetUp(br); err != nil {
		return err
	}
	for _, e := range sw.Ports {
		if err := l.configureEnd(e); err != nil {
			return fmt.Errorf("%s:%s: %w", e.Node, e.If, err)
		}
	}
	return nil
}
