package dataplane

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Offsets in the IPv6 header (RFC 8200 section 3).
const (
	offNextHeader = 6
	offSrc        = 8
	offDst        = 24
	// The inner source of an IPv6-in-IPv6 packet whose outer header has no
	// extension headers (the outer next header is 41).
	offInnerSrc = ipv6HeaderLen + offSrc
)

const protoIPv6 = 41 // IANA protocol number of IPv6 (RFC 2473)

// Named nftables counters of the kernel backend.
const (
	nftCounterIn            = "in"
	nftCounterOut           = "out"
	nftCounterDropOuter     = "drop_outer_src"
	nftCounterDropInner     = "drop_inner_src"
	nftCounterDropInternal  = "drop_internal"
	objTypeCounter          = 1 // NFT_OBJECT_COUNTER
	nftChainPre, nftChainPo = "ingress_check", "tunnel_out"
)

var nftCounterNames = []string{nftCounterIn, nftCounterOut, nftCounterDropOuter, nftCounterDropInner, nftCounterDropInternal}

type nftState struct {
	conn      *nftables.Conn
	table     *nftables.Table
	pre, post *nftables.Chain
	internal  netip.Prefix
}

// newNFT creates the table; the postrouting counter chain only when
// countOut (the BPF programs count otherwise, and a hook that every packet
// passes costs even with no rule matching).
func newNFT(c *nftables.Conn, name string, internal netip.Prefix, countOut bool) (*nftState, error) {
	s := &nftState{conn: c, internal: internal}
	s.table = &nftables.Table{Name: name, Family: nftables.TableFamilyIPv6}
	// Start from a clean table of our own name: a crashed predecessor may
	// have left one. AddTable then DelTable then AddTable in one batch is
	// the idiom for "create or reset".
	c.AddTable(s.table)
	c.DelTable(s.table)
	c.AddTable(s.table)
	accept := nftables.ChainPolicyAccept
	// The ingress check must run before the routing decision (prerouting),
	// because the rewritten destination selects the decapsulation route.
	// Priority raw: before conntrack, so dropped packets leave no state.
	s.pre = c.AddChain(&nftables.Chain{Name: nftChainPre, Table: s.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw, Policy: &accept})
	if countOut {
		s.post = c.AddChain(&nftables.Chain{Name: nftChainPo, Table: s.table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	}
	for _, n := range nftCounterNames {
		c.AddObj(&nftables.CounterObj{Table: s.table, Name: n})
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("nftables: create table %s: %w", name, err)
	}
	return s, nil
}

func cmp16(off uint32, a netip.Addr) []expr.Any {
	b := a.As16()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 16},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

func cmpPrefix(off uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	if p.Bits() == 128 {
		return cmp16(off, p.Addr())
	}
	var mask [16]byte
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	b := p.Addr().As16()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 16},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16, Mask: mask[:], Xor: make([]byte, 16)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b[:]},
	}
}

// nextHeader compares the (first) next header with 41, IPv6.
func nextHeader(op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offNextHeader, Len: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte{protoIPv6}},
	}
}

func counterRef(name string) expr.Any { return &expr.Objref{Type: objTypeCounter, Name: name} }

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// rebuild replaces the rules of both chains in one transaction, so there is
// no moment without an ingress check.
//
// Prerouting, per local endpoint address L with internal decap address E:
//
//	ip6 nexthdr != 41 accept                                       (the common case, decided early)
//	ip6 daddr <internal prefix> counter drop_internal drop
//	ip6 daddr L saddr P [inner saddr in I] counter in, daddr set E, accept
//	ip6 daddr L saddr P counter drop_inner_src drop   (when I is given)
//	ip6 daddr L counter drop_outer_src drop
//
// Postrouting, when there is that chain: ip6 saddr L daddr R nexthdr 41
// counter out (per tunnel).
func (s *nftState) rebuild(endpoints []Endpoint, decap map[netip.Addr]netip.Addr, tunnels []Tunnel) error {
	c := s.conn
	c.FlushChain(s.pre)
	if s.post != nil {
		c.FlushChain(s.post)
	}
	// Most packets are not tunnelled: one octet decides. (Such a packet
	// sent to an internal address finds a decapsulation route that drops
	// it: End.DT6 takes only next header 41.)
	c.AddRule(&nftables.Rule{Table: s.table, Chain: s.pre, Exprs: concat(nextHeader(expr.CmpOpNeq), []expr.Any{verdict(expr.VerdictAccept)})})
	c.AddRule(&nftables.Rule{Table: s.table, Chain: s.pre, Exprs: concat(cmpPrefix(offDst, s.internal),
		[]expr.Any{counterRef(nftCounterDropInternal), verdict(expr.VerdictDrop)})})
	locals := map[netip.Addr]bool{}
	var localOrder []netip.Addr
	for _, ep := range endpoints {
		e := decap[ep.Local]
		eb := e.As16()
		rewrite := []expr.Any{
			counterRef(nftCounterIn),
			&expr.Immediate{Register: 1, Data: eb[:]},
			&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offDst, Len: 16},
			verdict(expr.VerdictAccept),
		}
		head := concat(cmp16(offDst, ep.Local), cmp16(offSrc, ep.Peer)) // next header 41: see above
		if len(ep.InnerSrc) == 0 {
			c.AddRule(&nftables.Rule{Table: s.table, Chain: s.pre, Exprs: concat(head, rewrite)})
		} else {
			for _, p := range ep.InnerSrc {
				c.AddRule(&nftables.Rule{Table: s.table, Chain: s.pre, Exprs: concat(head, cmpPrefix(offInnerSrc, p), rewrite)})
			}
			c.AddRule(&nftables.Rule{Table: s.table, Chain: s.pre, Exprs: concat(head,
				[]expr.Any{counterRef(nftCounterDropInner), verdict(expr.VerdictDrop)})})
		}
		if !locals[ep.Local] {
			locals[ep.Local] = true
			localOrder = append(localOrder, ep.Local)
		}
	}
	for _, l := range localOrder {
		c.AddRule(&nftables.Rule{Table: s.table, Chain: s.pre, Exprs: concat(cmp16(offDst, l),
			[]expr.Any{counterRef(nftCounterDropOuter), verdict(expr.VerdictDrop)})})
	}
	if s.post != nil {
		seen := map[[2]netip.Addr]bool{}
		for _, t := range tunnels {
			k := [2]netip.Addr{t.Local, t.Remote}
			if seen[k] {
				continue
			}
			seen[k] = true
			c.AddRule(&nftables.Rule{Table: s.table, Chain: s.post, Exprs: concat(cmp16(offSrc, t.Local), cmp16(offDst, t.Remote), nextHeader(expr.CmpOpEq),
				[]expr.Any{counterRef(nftCounterOut)})})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: update rules: %w", err)
	}
	return nil
}

func (s *nftState) counters() (Counters, error) {
	objs, err := s.conn.GetObjects(s.table)
	if err != nil {
		return Counters{}, fmt.Errorf("nftables: read counters: %w", err)
	}
	c := Counters{Drops: map[DropReason]uint64{}}
	for _, o := range objs {
		co, ok := o.(*nftables.CounterObj)
		if !ok {
			continue
		}
		switch co.Name {
		case nftCounterIn:
			// The outer header is counted too; report inner bytes.
			c.PacketsIn, c.BytesIn = co.Packets, co.Bytes-ipv6HeaderLen*co.Packets
		case nftCounterOut:
			c.PacketsOut, c.BytesOut = co.Packets, co.Bytes-ipv6HeaderLen*co.Packets
		case nftCounterDropOuter:
			setDrop(c.Drops, DropOuterSource, co.Packets)
		case nftCounterDropInner:
			setDrop(c.Drops, DropInnerSource, co.Packets)
		case nftCounterDropInternal:
			setDrop(c.Drops, DropInternal, co.Packets)
		}
	}
	return c, nil
}

func setDrop(m map[DropReason]uint64, r DropReason, n uint64) {
	if n != 0 {
		m[r] = n
	}
}

func (s *nftState) destroy() error {
	s.conn.DelTable(s.table)
	if err := s.conn.Flush(); err != nil && !isNotExist(err) {
		return fmt.Errorf("nftables: delete table %s: %w", s.table.Name, err)
	}
	return nil
}

func isNotExist(err error) bool {
	return err != nil && (errorsIs(err, unix.ENOENT))
}
