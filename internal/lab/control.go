package lab

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FindLink returns the link with the given name, or the link that has
// interface ifname on node (name may then be "node:if").
func (l *Lab) FindLink(name string) (*Link, error) {
	t := l.st.Topology
	node, ifn, byEnd := strings.Cut(name, ":")
	for i := range t.Links {
		lk := &t.Links[i]
		if !byEnd && lk.Name == name {
			return lk, nil
		}
		if byEnd && ((lk.A.Node == node && lk.A.If == ifn) || (lk.B.Node == node && lk.B.If == ifn)) {
			return lk, nil
		}
	}
	var have []string
	for _, lk := range t.Links {
		have = append(have, fmt.Sprintf("%s (%s:%s-%s:%s)", lk.Name, lk.A.Node, lk.A.If, lk.B.Node, lk.B.If))
	}
	return nil, fmt.Errorf("lab %s has no link %q; links: %s", l.st.Name, name, strings.Join(have, ", "))
}

// Impairment returns the current impairment of a link (name or "node:if").
func (l *Lab) Impairment(link string) (DirImpairment, error) {
	lk, err := l.FindLink(link)
	if err != nil {
		return DirImpairment{}, err
	}
	return l.st.Impair[lk.Name], nil
}

// SetImpairment gives both directions of a link (name or "node:if") the
// impairment im while the lab runs. Delay and jitter need a link built with
// a relay.
func (l *Lab) SetImpairment(link string, im Impairment) error {
	return l.SetImpairments(link, Both(im))
}

// SetImpairments sets a link's impairment per direction.
func (l *Lab) SetImpairments(link string, d DirImpairment) error {
	lk, err := l.FindLink(link)
	if err != nil {
		return err
	}
	return l.applyImpairment(lk, d)
}

// SetEgressImpairment sets the impairment of the traffic that leaves
// node:if over its link, keeping the other direction.
func (l *Lab) SetEgressImpairment(node, ifname string, im Impairment) error {
	lk, err := l.FindLink(node + ":" + ifname)
	if err != nil {
		return err
	}
	d := l.st.Impair[lk.Name]
	if lk.A.Node == node && lk.A.If == ifname {
		d.AtoB = im
	} else {
		d.BtoA = im
	}
	return l.applyImpairment(lk, d)
}

// SetLink sets a node's interface administratively up or down. The peer
// sees carrier loss. Addresses are kept (keep_addr_on_down); routes the
// kernel flushed on down are re-installed from the topology on up.
func (l *Lab) SetLink(node, ifname string, up bool) error {
	n := l.st.Topology.node(node)
	if n == nil {
		return fmt.Errorf("lab %s has no node %q", l.st.Name, node)
	}
	if _, err := l.FindLink(node + ":" + ifname); err != nil {
		return err
	}
	h, err := l.handle(l.nsOf(node))
	if err != nil {
		return err
	}
	ln, err := h.LinkByName(l.ifName(node, ifname))
	if err != nil {
		return fmt.Errorf("%s:%s: %w", node, ifname, err)
	}
	key := node + ":" + ifname
	// On a relayed link the peer is the relay's veth: mirror the state on
	// the relay's other veth so the far node loses carrier as on a direct link.
	if lk, _ := l.FindLink(key); lk != nil && lk.needsRelay() {
		far := relayIfB
		if lk.B.Node == node && lk.B.If == ifname {
			far = relayIfA
		}
		rh, err := l.handle(relayNsName(l.st.Name, lk.Name))
		if err != nil {
			return err
		}
		fl, err := rh.LinkByName(far)
		if err != nil {
			return err
		}
		if up {
			err = rh.LinkSetUp(fl)
		} else {
			err = rh.LinkSetDown(fl)
		}
		if err != nil {
			return fmt.Errorf("relay side of %s: %w", lk.Name, err)
		}
	}
	if !up {
		if err := h.LinkSetDown(ln); err != nil {
			return err
		}
		return l.st.update(func(s *State) { s.AdminDown = appendUniq(s.AdminDown, key) })
	}
	if err := h.LinkSetUp(ln); err != nil {
		return err
	}
	// IPv6 restores the kept addresses' prefix routes only once the link
	// has carrier; routes through this interface can be re-added after
	// that. The peer may be down (no carrier): then give up after a while.
	var errs []error
	deadline := time.Now().Add(3 * time.Second)
	for {
		errs = errs[:0]
		if cur, err := h.LinkByIndex(ln.Attrs().Index); err == nil && cur.Attrs().RawFlags&unix.IFF_LOWER_UP != 0 {
			for j, r := range n.Routes {
				if !l.routeUses(node, r, ifname) {
					continue
				}
				if err := l.addRoute(node, r, true); err != nil {
					errs = append(errs, fmt.Errorf("route %d (%s): %w", j, r.Dst, err))
				}
			}
			if len(errs) == 0 {
				break
			}
		} else {
			errs = append(errs, fmt.Errorf("%s:%s has no carrier (is the peer down?)", node, ifname))
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := l.st.update(func(s *State) {
		out := s.AdminDown[:0]
		for _, x := range s.AdminDown {
			if x != key {
				out = append(out, x)
			}
		}
		s.AdminDown = out
	}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// routeUses reports whether route r of node goes out of interface ifname:
// bound to it, or via a gateway inside one of its prefixes.
func (l *Lab) routeUses(node string, r Route, ifname string) bool {
	if r.Dev != "" {
		return r.Dev == ifname
	}
	_, via, _, err := r.resolve()
	if err != nil || !via.IsValid() {
		return false
	}
	for _, lk := range l.st.Topology.Links {
		for _, e := range []End{lk.A, lk.B} {
			if e.Node != node || e.If != ifname {
				continue
			}
			for _, a := range e.Addrs {
				if pf, err := parseIfAddr(a); err == nil && pf.Masked().Contains(via) {
					return true
				}
			}
		}
	}
	return false
}

// Status describes a running lab.
type Status struct {
	Name      string       `json:"name"`
	State     string       `json:"state"`
	Dir       string       `json:"dir"`
	Nodes     []NodeStatus `json:"nodes"`
	Links     []LinkStatus `json:"links"`
	Processes []ProcStatus `json:"processes"`
	Relays    []ProcStatus `json:"relays"`
}

type NodeStatus struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Netns   string `json:"netns"`
	Present bool   `json:"present"`
}

type LinkStatus struct {
	Name   string        `json:"name"`
	Ends   []EndStatus   `json:"ends"`
	Impair DirImpairment `json:"impair"`
	Relay  bool          `json:"relay"`
}

type EndStatus struct {
	Node    string   `json:"node"`
	If      string   `json:"if"`
	Admin   string   `json:"admin"` // up, down, missing
	Oper    string   `json:"oper"`
	Addrs   []string `json:"addrs"`
	Dropped uint64   `json:"loss_dropped"` // packets dropped by the loss rule
}

type ProcStatus struct {
	Name    string   `json:"name"`
	Node    string   `json:"node,omitempty"`
	PID     int      `json:"pid"`
	Running bool     `json:"running"`
	Log     string   `json:"log"`
	Argv    []string `json:"argv"`
}

// Status reads the live state of the lab from the kernel.
func (l *Lab) Status() (*Status, error) {
	st := l.st
	s := &Status{Name: st.Name, State: st.Status, Dir: l.StateDir()}
	for _, n := range st.Topology.Nodes {
		ns := l.nsOf(n.Name)
		s.Nodes = append(s.Nodes, NodeStatus{Name: n.Name, Kind: n.Kind, Netns: nsLabel(ns), Present: ns == "" || netnsExists(ns)})
	}
	for _, lk := range st.Topology.Links {
		ls := LinkStatus{Name: lk.Name, Impair: st.Impair[lk.Name], Relay: lk.needsRelay()}
		for _, e := range []End{lk.A, lk.B} {
			ls.Ends = append(ls.Ends, l.endStatus(e))
		}
		s.Links = append(s.Links, ls)
	}
	marker := labEnvKey + "=" + st.Name + "\x00"
	for _, p := range st.Processes {
		s.Processes = append(s.Processes, ProcStatus{Name: p.Name, Node: p.Node, PID: p.PID, Running: processAlive(p.PID, marker), Log: p.Log, Argv: p.Argv})
	}
	for _, p := range st.Relays {
		s.Relays = append(s.Relays, ProcStatus{Name: p.Name, PID: p.PID, Running: processAlive(p.PID, marker), Log: p.Log})
	}
	return s, nil
}

func (l *Lab) endStatus(e End) EndStatus {
	es := EndStatus{Node: e.Node, If: e.If, Admin: "missing"}
	ns := l.nsOf(e.Node)
	if ns != "" && !netnsExists(ns) {
		return es
	}
	h, err := l.handle(ns)
	if err != nil {
		return es
	}
	ln, err := h.LinkByName(l.ifName(e.Node, e.If))
	if err != nil {
		return es
	}
	a := ln.Attrs()
	es.Admin = "down"
	if a.Flags&(1<<0) != 0 { // IFF_UP
		es.Admin = "up"
	}
	es.Oper = a.OperState.String()
	if addrs, err := h.AddrList(ln, netlink.FAMILY_ALL); err == nil {
		for _, ad := range addrs {
			es.Addrs = append(es.Addrs, ad.IPNet.String())
		}
	}
	es.Dropped = l.lossDropped(ns, l.ifName(e.Node, e.If))
	return es
}

// lossDropped reads the counter of the loss rule on an interface.
func (l *Lab) lossDropped(ns, ifn string) uint64 {
	var total uint64
	_ = l.withNft(ns, func(c *nftables.Conn) error {
		table := &nftables.Table{Name: nftTableName(l.st.Name), Family: nftables.TableFamilyNetdev}
		rules, err := c.GetRules(table, &nftables.Chain{Name: "loss_" + ifn, Table: table})
		if err != nil {
			return err
		}
		for _, r := range rules {
			for _, x := range r.Exprs {
				if ctr, ok := x.(*expr.Counter); ok {
					total += ctr.Packets
				}
			}
		}
		return nil
	})
	return total
}
