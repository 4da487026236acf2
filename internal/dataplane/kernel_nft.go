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

// The ingress check's sets (RFC 6275 section 10.4.5: outer source is the
// registered care-of address, inner source a home address bound to it).
// Every endpoint is a few elements, so adding or removing one is one small
// transaction whatever the number installed, and a packet costs hash
// lookups, not a walk along a rule per endpoint.
const (
	setAllowed    = "allowed"     // local . peer . inner source (/128)
	setAllowedPfx = "allowed_pfx" // local . peer . inner source range (prefixes)
	setAnyInner   = "any_inner"   // local . peer, any inner source
	setPeers      = "peers"       // local . peer, for drop_inner_src
	setLocals     = "locals"      // local, for drop_outer_src
	mapDecap      = "decap"       // local -> internal decapsulation address
	setTunnels    = "tunnels"     // outer source . destination (postrouting counter)
)

// nftState is the kernel backend's nftables table. It keeps just enough
// to know when a shared element (a local address, a tunnel) is first added
// and last removed; the rest is computed from the endpoint being changed.
type nftState struct {
	conn      *nftables.Conn
	opts      []nftables.ConnOption // to open conn again
	table     *nftables.Table
	pre, post *nftables.Chain
	internal  netip.Prefix
	sets      map[string]*nftables.Set

	localRefs  map[netip.Addr]int
	tunnelRefs map[tunnelKey]int
	countOut   bool
	// pending: the table's creation is staged on conn, not yet committed
	// (newNFT's deferCreate).
	pending bool
}

var (
	typeAddr2 = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeIP6Addr)
	typeAddr3 = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeIP6Addr, nftables.TypeIP6Addr)
)

// newNFT creates the table, its sets and its fixed rules; the postrouting
// counter chain only when countOut (the BPF program counts otherwise, and
// a hook that every packet passes costs even with no rule matching).
//
// With deferCreate the creation is only staged on the connection: the
// table a predecessor left keeps checking and decapsulating until the
// first transaction (the restored endpoints, normally) replaces it with
// the new one in the same commit, so no packet meets an empty table
// (adoption, kernel_adopt.go).
func newNFT(opts []nftables.ConnOption, name string, internal netip.Prefix, countOut, deferCreate bool) (*nftState, error) {
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	s := &nftState{conn: c, opts: opts, internal: internal, countOut: countOut, sets: map[string]*nftables.Set{},
		localRefs: map[netip.Addr]int{}, tunnelRefs: map[tunnelKey]int{}}
	s.table = &nftables.Table{Name: name, Family: nftables.TableFamilyIPv6}
	if err := s.stageCreate(); err != nil {
		return nil, err
	}
	if deferCreate {
		s.pending = true
		return s, nil
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("nftables: create table %s: %w", name, err)
	}
	return s, nil
}

// stageCreate stages the table's creation (replacing one of the same name)
// on s.conn.
func (s *nftState) stageCreate() error {
	c := s.conn
	// Start from a clean table of our own name: a predecessor may have
	// left one. AddTable then DelTable then AddTable in one batch is the
	// idiom for "create or reset".
	c.AddTable(s.table)
	c.DelTable(s.table)
	c.AddTable(s.table)
	for _, n := range nftCounterNames {
		c.AddObj(&nftables.CounterObj{Table: s.table, Name: n})
	}
	for _, set := range []*nftables.Set{
		// The accepting sets count per element: per endpoint arrivals
		// (endpoint_counters.go), read by the path liveness of the roles.
		{Name: setAllowed, KeyType: typeAddr3, Concatenation: true, Counter: true},
		{Name: setAllowedPfx, KeyType: typeAddr3, Concatenation: true, Interval: true, Counter: true},
		{Name: setAnyInner, KeyType: typeAddr2, Concatenation: true, Counter: true},
		{Name: setPeers, KeyType: typeAddr2, Concatenation: true},
		{Name: setLocals, KeyType: nftables.TypeIP6Addr},
		{Name: mapDecap, KeyType: nftables.TypeIP6Addr, DataType: nftables.TypeIP6Addr, IsMap: true},
		{Name: setTunnels, KeyType: typeAddr2, Concatenation: true},
	} {
		set.Table = s.table
		if err := c.AddSet(set, nil); err != nil {
			return fmt.Errorf("nftables: set %s: %w", set.Name, err)
		}
		s.sets[set.Name] = set
	}
	if err := s.addFlowSets(); err != nil {
		return err
	}
	accept := nftables.ChainPolicyAccept
	// The ingress check must run before the routing decision (prerouting),
	// because the rewritten destination selects the decapsulation route.
	// Priority raw: before conntrack, so dropped packets leave no state.
	s.pre = c.AddChain(&nftables.Chain{Name: nftChainPre, Table: s.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw, Policy: &accept})
	for _, r := range s.preRules() {
		c.AddRule(&nftables.Rule{Table: s.table, Chain: s.pre, Exprs: r})
	}
	if s.countOut {
		s.post = c.AddChain(&nftables.Chain{Name: nftChainPo, Table: s.table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		c.AddRule(&nftables.Rule{Table: s.table, Chain: s.post, Exprs: concat(nextHeader(expr.CmpOpEq),
			load(offSrc, 1), load(offDst, 2), lookup(setTunnels), []expr.Any{counterRef(nftCounterOut)})})
	}
	return nil
}

// flush commits what is staged on the connection; a failed commit
// reopens it (see reopen).
func (s *nftState) flush() error {
	if err := s.conn.Flush(); err != nil {
		s.reopen()
		return err
	}
	s.pending = false
	return nil
}

// preRules is the ingress check, fixed whatever the number of endpoints:
//
//	ip6 nexthdr != 41 accept                         (the common case, decided early)
//	ip6 daddr <internal prefix> counter drop_internal drop
//	ip6 daddr . saddr . inner saddr @allowed     counter in, daddr set @decap[daddr], accept
//	ip6 daddr . saddr . inner saddr @allowed_pfx counter in, (the same)
//	ip6 daddr . saddr @any_inner                 counter in, (the same)
//	ip6 daddr . saddr @peers counter drop_inner_src drop
//	ip6 daddr @locals counter drop_outer_src drop
//
// The inner source is read at a fixed offset: the outer header has no
// extension headers when its next header is 41.
func (s *nftState) preRules() [][]expr.Any {
	// Most packets are not tunnelled: one octet decides. (Such a packet
	// sent to an internal address finds a decapsulation route that drops
	// it: End.DT6 takes only next header 41.)
	rules := [][]expr.Any{
		concat(nextHeader(expr.CmpOpNeq), []expr.Any{verdict(expr.VerdictAccept)}),
		concat(cmpPrefix(offDst, s.internal), []expr.Any{counterRef(nftCounterDropInternal), verdict(expr.VerdictDrop)}),
	}
	outer := concat(load(offDst, 1), load(offSrc, 2))
	inner := concat(outer, load(offInnerSrc, 3))
	rules = append(rules,
		concat(inner, lookup(setAllowed), decapRewrite()),
		concat(inner, lookup(setAllowedPfx), decapRewrite()),
		concat(outer, lookup(setAnyInner), decapRewrite()),
		concat(outer, lookup(setPeers), []expr.Any{counterRef(nftCounterDropInner), verdict(expr.VerdictDrop)}),
		concat(load(offDst, 1), lookup(setLocals), []expr.Any{counterRef(nftCounterDropOuter), verdict(expr.VerdictDrop)}),
	)
	return rules
}

// decapRewrite counts an admitted packet and points its outer destination
// at the internal address whose End.DT6 route decapsulates it (register 1
// still holds the outer destination).
func decapRewrite() []expr.Any {
	return []expr.Any{
		counterRef(nftCounterIn),
		&expr.Lookup{SourceRegister: 1, SetName: mapDecap, DestRegister: 1, IsDestRegSet: true},
		&expr.Payload{OperationType: expr.PayloadWrite, SourceRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offDst, Len: 16},
		verdict(expr.VerdictAccept),
	}
}

// load puts the address at off into 16-octet register reg (1-3); a lookup
// from register 1 reads the registers after it as one concatenated key.
func load(off, reg uint32) []expr.Any {
	return []expr.Any{&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 16}}
}

func lookup(set string) []expr.Any {
	return []expr.Any{&expr.Lookup{SourceRegister: 1, SetName: set}}
}

func cmpPrefix(off uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
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

// reopen replaces the connection after a failed transaction: its socket
// may still hold answers to the failed messages, which the next
// transaction would take for its own. A table creation still pending is
// staged again on the new connection.
func (s *nftState) reopen() {
	c, err := nftables.New(s.opts...)
	if err != nil {
		return // keep the old one; the next transaction tells
	}
	_ = s.conn.CloseLasting()
	s.conn = c
	if s.pending {
		_ = s.stageCreate() // staged before: it cannot fail now
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
