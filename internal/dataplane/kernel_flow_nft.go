package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"monami/internal/forwarding"
)

// The marks of flow routes (see kernel_flow.go). A classified packet's
// skb mark is flowMarkMagic | the index of its tunnel in the BPF program's
// byMark map; the magic keeps the mark apart from marks other software
// sets (an operator's fwmark rules), whose values rarely have these 12
// high bits. Index 0 is no tunnel: the program drops such a packet.
const (
	flowMarkMagic = 0x6d600000 // "m" (0x6d) and 6: monami
	flowMarkMask  = 0xfff00000
	flowIndexMask = 0x000fffff
	// markMaskImm is flowMarkMask as the BPF immediate (sign-extended
	// to 64 bits, which leaves a 32-bit mark's bits as they are).
	markMaskImm int32 = -1 << 20
)

// replicaAddr is where nftables' dup sends the copies of a replicated
// route (ModeReplicate): its /128 route carries the same BPF program, which
// takes the copy's tunnel from its mark. nf_dup_ipv6 looks up a route by
// this address alone (no source: a source-specific route would not be
// found) and sends the copy with ip6_local_out, so it passes postrouting
// again, where its route's next hop (detourGateway) keeps it out of the
// classification. A unique local address (RFC 4193, fd00::/8) with the
// Global ID "monam" in hex, so it can collide with no global address;
// nothing is ever sent to it on a link.
var replicaAddr = netip.MustParseAddr("fd6d:6f6e:616d:69::1")

// flowGatewayBase is the start of the next hops that flow parents' routes
// name on the detour veth: fe80::a000:0:<parent id>. The BPF program
// reroutes before any neighbour is looked up, so they are never resolved;
// nftables reads them back (rt ip6 nexthop) to learn which route the
// kernel chose for a packet.
var flowGatewayBase = netip.MustParseAddr("fe80::a000:0:0")

// Names in the nftables table for flow routes.
const (
	nftChainFlow    = "flow_out"     // postrouting: rt ip6 nexthop vmap @flow_parents
	mapFlowParents  = "flow_parents" // parent next hop -> jump fp<id>
	setPortProtos   = "port_protos"  // next headers that carry ports
	nftChainDedupIn = "dedup_in"     // input: dedup rules
	nftChainDedupFw = "dedup_fwd"    // forward: the same rules
	setDedupSeen    = "dedup_seen"   // dedup keys seen within their window
	mapShareFlows   = "share_flows"  // flow key -> its share path's mark
)

// portProtos are the upper-layer protocols with 16-bit source and
// destination ports first in their header: TCP, UDP, DCCP, SCTP, UDP-Lite.
// RFC 6088 section 3.1: a selector with ports matches only such packets.
var portProtos = []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP, unix.IPPROTO_DCCP, unix.IPPROTO_SCTP, unix.IPPROTO_UDPLITE}

const protoESP = 50

// typeDedupKey: inner source . destination . payload length . next
// header . first 16 octets after the fixed header (56 octets with the
// register padding, within nftables' 64).
var typeDedupKey = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeIP6Addr,
	nftables.TypeInetService, nftables.TypeInetProto, nftables.TypeIP6Addr)

// addFlowSets creates the sets flow routes and dedup use (not hooked:
// they cost nothing until a chain uses them).
func (s *nftState) addFlowSets() error {
	c := s.conn
	for _, set := range []*nftables.Set{
		{Name: mapFlowParents, KeyType: nftables.TypeIP6Addr, DataType: nftables.TypeVerdict, IsMap: true},
		{Name: setPortProtos, KeyType: nftables.TypeInetProto},
		{Name: setDedupSeen, KeyType: typeDedupKey, Concatenation: true, HasTimeout: true, Dynamic: true,
			Size: MaxDedupEntries, Timeout: DefaultDedupWindow},
		{Name: mapShareFlows, KeyType: typeShareFlow, DataType: nftables.TypeMark, IsMap: true, Concatenation: true,
			HasTimeout: true, Dynamic: true, Size: MaxShareFlows, Timeout: ShareFlowIdle},
	} {
		set.Table = s.table
		var els []nftables.SetElement
		if set.Name == setPortProtos {
			for _, p := range portProtos {
				els = append(els, nftables.SetElement{Key: []byte{p}})
			}
		}
		if err := c.AddSet(set, els); err != nil {
			return fmt.Errorf("nftables: set %s: %w", set.Name, err)
		}
		s.sets[set.Name] = set
	}
	return nil
}

func (s *nftState) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: s.table}
}

// flowBaseChain is the postrouting chain that sends a packet routed by a
// flow parent's route to that parent's chain. Postrouting runs in
// ip6_output before ip6_finish_output2 calls the route's BPF program, so
// it sees the inner packet. One lookup for every packet, keyed by the
// next hop of the route the kernel chose: longest prefix and source
// routes resolved exactly as the kernel resolved them.
func (s *nftState) addFlowBase() {
	accept := nftables.ChainPolicyAccept
	ch := s.conn.AddChain(&nftables.Chain{Name: nftChainFlow, Table: s.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityMangle, Policy: &accept})
	s.conn.AddRule(&nftables.Rule{Table: s.table, Chain: ch, Exprs: []expr.Any{
		&expr.Rt{Register: 1, Key: expr.RtNexthop6},
		&expr.Lookup{SourceRegister: 1, SetName: mapFlowParents, DestRegister: 0, IsDestRegSet: true},
	}})
}

func parentChainName(id uint32) string { return fmt.Sprintf("fp%d", id) }
func shareChainName(id uint32) string  { return fmt.Sprintf("fs%d", id) }
func counterName(rid uint32, path int) string {
	return fmt.Sprintf("fc%d_%d", rid, path)
}
func dedupCounterName(id uint32) string { return fmt.Sprintf("fd%d", id) }

// markOf is the mark that sends a packet into tunnel index i.
func markOf(i uint32) uint32 { return flowMarkMagic | i&flowIndexMask }

// setMark sets the skb mark (overwriting what it was: documented).
func setMark(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(m)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}
}

// markedAccept lets through what a flow route already classified: the
// segments of a GSO packet the BPF program sent to be segmented, which
// are forwarded again and meet the classification a second time.
func markedAccept() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(flowMarkMask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(flowMarkMagic)},
		verdict(expr.VerdictAccept),
	}
}

// matchExprs is the RFC 6088 section 3 selector as nftables expressions
// on the inner packet, all through register 1. Ranges compare in network
// byte order (nftables compares registers as octet strings).
func matchExprs(m forwarding.Match) []expr.Any {
	var out []expr.Any
	if m.Src.Set() {
		out = append(out, load(offSrc, 1)...)
		out = append(out, rangeCmp(m.Src.From.AsSlice(), m.Src.To.AsSlice())...)
	}
	if m.Dst.Set() {
		out = append(out, load(offDst, 1)...)
		out = append(out, rangeCmp(m.Dst.From.AsSlice(), m.Dst.To.AsSlice())...)
	}
	if m.NextHeader.Set {
		// The upper-layer protocol after any extension headers.
		out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1})
		out = append(out, rangeCmp([]byte{m.NextHeader.Lo}, []byte{m.NextHeader.Hi})...)
	}
	if m.SrcPort.Set || m.DstPort.Set {
		// Only packets with ports (section 3.1); a non-first fragment
		// has no transport header and fails the payload load.
		if !m.NextHeader.Set || !allCarryPorts(m.NextHeader) {
			out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Lookup{SourceRegister: 1, SetName: setPortProtos})
		}
		for i, r := range []forwarding.Range[uint16]{m.SrcPort, m.DstPort} {
			if !r.Set {
				continue
			}
			out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: uint32(2 * i), Len: 2})
			out = append(out, rangeCmp(be16(r.Lo), be16(r.Hi))...)
		}
	}
	if m.TrafficClass.Set {
		// The whole octet (RFC 6088 section 3.1), bits 4-11 of the header.
		out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 2},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0x0f, 0xf0}, Xor: []byte{0, 0}})
		out = append(out, rangeCmp(be16(uint16(m.TrafficClass.Lo)<<4), be16(uint16(m.TrafficClass.Hi)<<4))...)
	}
	if m.FlowLabel.Set {
		out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 0, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{0, 0x0f, 0xff, 0xff}, Xor: make([]byte, 4)})
		out = append(out, rangeCmp(be32(m.FlowLabel.Lo), be32(m.FlowLabel.Hi))...)
	}
	if m.SPI.Set {
		// The ESP header starts with the SPI (RFC 4303 section 2).
		out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoESP}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 4})
		out = append(out, rangeCmp(be32(m.SPI.Lo), be32(m.SPI.Hi))...)
	}
	return out
}

func allCarryPorts(r forwarding.Range[uint8]) bool {
	for p := int(r.Lo); p <= int(r.Hi); p++ {
		found := false
		for _, q := range portProtos {
			found = found || int(q) == p
		}
		if !found {
			return false
		}
	}
	return true
}

// rangeCmp compares register 1 with lo..hi (big endian, equal lengths).
func rangeCmp(lo, hi []byte) []expr.Any {
	if string(lo) == string(hi) {
		return []expr.Any{&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: lo}}
	}
	return []expr.Any{&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: lo, ToData: hi}}
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// routeAction is what a matching packet gets: its path's mark (and
// copies), a jump to the route's share chain, or a drop. Counters are
// the route's named counters (counterName), read by RouteCounters.
func routeAction(fr *flowRoute) []expr.Any {
	c0 := counterRef(counterName(fr.id, 0))
	switch fr.r.Mode {
	case ModeDrop:
		return []expr.Any{c0, verdict(expr.VerdictDrop)}
	case ModeShare:
		if len(fr.idx) > 1 {
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: shareChainName(fr.id)}}
		}
	case ModeReplicate:
		// Every copy but the original's: mark, then dup to the replica
		// address; the original leaves with the first path's mark. One
		// counter: every path carries every packet.
		out := []expr.Any{c0}
		for _, i := range fr.idx[1:] {
			out = append(out, setMark(markOf(i))...)
			out = append(out, &expr.Immediate{Register: 1, Data: replicaAddr.AsSlice()}, &expr.Dup{RegAddr: 1})
		}
		return append(append(out, setMark(markOf(fr.idx[0]))...), verdict(expr.VerdictAccept))
	}
	return append(append([]expr.Any{c0}, setMark(markOf(fr.idx[0]))...), verdict(expr.VerdictAccept))
}

// shareRules place new flows over the paths by weighted round robin and
// remember each flow's path in the share_flows map (goals draft section
// 3.4: a flow is never split; a hash could leave a link without any of
// four flows one time in five). Conntrack cannot remember it: the kernel
// decapsulates tunnelled packets (End.DT6) without passing prerouting, so
// conntrack sees one direction of a flow and calls its packets invalid.
//  1. a packet without ports (ICMPv6, ESP...) goes by a symmetric hash;
//  2. a flow in the map takes its path, if the route still has it, and
//     refreshes its entry;
//  3. otherwise it takes the route's next slot (numgen inc: one counter
//     per rule, so per route) modulo the sum of the weights; path j owns
//     the next weight_j slots, so any sum consecutive new flows put
//     exactly weight_j of them on path j; the map remembers the path;
//  4. when the map is full, the hash again.
func shareRules(fr *flowRoute) [][]expr.Any {
	ws, sum := shareWeights(fr)
	var rules [][]expr.Any
	for _, r := range hashRules(fr, ws, sum) {
		rules = append(rules, concat(noPorts(), r))
	}
	rules = append(rules, concat(shareKey(), []expr.Any{
		&expr.Lookup{SourceRegister: shareKeyReg, DestRegister: 1, IsDestRegSet: true, SetName: mapShareFlows},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}))
	for j, i := range fr.idx {
		rules = append(rules, concat(markIs(markOf(i)), rememberPath(i, uint32(unix.NFT_DYNSET_OP_UPDATE)), pathAction(fr, j, i)))
	}
	ne := binaryutil.NativeEndian.PutUint32
	rules = append(rules, []expr.Any{
		&expr.Numgen{Register: 1, Modulus: uint32(sum), Type: unix.NFT_NG_INCREMENTAL},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: ne(0xffff), Xor: ne(shareSlotTag)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	})
	lo := uint64(0)
	for j, i := range fr.idx {
		hi := lo + ws[j] - 1
		rules = append(rules, concat(
			[]expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
				&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4}},
			rangeCmp(be32(shareSlotTag|uint32(lo)), be32(shareSlotTag|uint32(hi))),
			rememberPath(i, uint32(unix.NFT_DYNSET_OP_ADD)), pathAction(fr, j, i)))
		lo = hi + 1
	}
	return append(rules, hashRules(fr, ws, sum)...)
}

// shareWeights are the paths' weights, scaled so that their sum fits a
// slot (16 bits); the shares stay within 1/65536.
func shareWeights(fr *flowRoute) ([]uint64, uint64) {
	ws := make([]uint64, len(fr.idx))
	var sum uint64
	for j, p := range fr.r.PathList() {
		ws[j] = uint64(p.weight())
		sum += ws[j]
	}
	for sum > 1<<16 {
		sum = 0
		for j := range ws {
			ws[j] = max(ws[j]>>1, 1)
			sum += ws[j]
		}
	}
	return ws, sum
}

// pathAction counts a packet on path j (tunnel index i) and sends it there.
func pathAction(fr *flowRoute, j int, i uint32) []expr.Any {
	return append(append([]expr.Any{counterRef(counterName(fr.id, j))}, setMark(markOf(i))...), verdict(expr.VerdictAccept))
}

// hashRules put a flow on a path by a symmetric hash of its addresses and
// ports (the kernel's flow dissector), modulo the sum of the weights: path
// j owns the next weight_j values; the last path takes the rest.
func hashRules(fr *flowRoute, ws []uint64, sum uint64) [][]expr.Any {
	var rules [][]expr.Any
	lo := uint64(0)
	for j, i := range fr.idx {
		if j == len(fr.idx)-1 {
			return append(rules, pathAction(fr, j, i))
		}
		hi := lo + ws[j] - 1
		rules = append(rules, concat([]expr.Any{
			&expr.Hash{DestRegister: 1, Modulus: uint32(sum), Type: expr.HashTypeSym},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		}, rangeCmp(be32(uint32(lo)), be32(uint32(hi))), pathAction(fr, j, i)))
		lo = hi + 1
	}
	return rules
}

// shareSlotTag marks an skb mark that holds a share slot (its low 16 bits)
// between two rules, apart from a path's mark (flowMarkMagic).
const shareSlotTag = 0x6d500000

// shareKeyReg is the first 32-bit register of a flow's key in the
// share_flows map (NFT_REG32_04, past register 1's four).
const shareKeyReg = 12

// typeShareFlow: inner source . destination . upper-layer protocol .
// source port . destination port.
var typeShareFlow = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeIP6Addr,
	nftables.TypeInetProto, nftables.TypeInetService, nftables.TypeInetService)

// shareKey loads a packet's flow key into registers 12-22.
func shareKey() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: shareKeyReg, Base: expr.PayloadBaseNetworkHeader, Offset: offSrc, Len: 16},
		&expr.Payload{DestRegister: shareKeyReg + 4, Base: expr.PayloadBaseNetworkHeader, Offset: offDst, Len: 16},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: shareKeyReg + 8},
		&expr.Payload{DestRegister: shareKeyReg + 9, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Payload{DestRegister: shareKeyReg + 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

// rememberPath adds (or refreshes) the packet's flow in share_flows with
// tunnel index i's mark.
func rememberPath(i uint32, op uint32) []expr.Any {
	return concat(shareKey(), []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(markOf(i))},
		&expr.Dynset{SrcRegKey: shareKeyReg, SrcRegData: 1, SetName: mapShareFlows, Operation: op, Timeout: ShareFlowIdle},
	})
}

// markIs matches a packet whose skb mark is m.
func markIs(m uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(m)},
	}
}

// noPorts matches a packet whose upper-layer protocol has no ports.
func noPorts() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: setPortProtos, Invert: true},
	}
}

// dedupRules drop an inner packet whose key was seen within the window,
// then remember the key (RFC 6089 section 4.1.1.3 bicasting leaves
// duplicates to the receiver). Two rules for each Dedup.
func dedupRules(d *kernelDedup) [][]expr.Any {
	m := matchExprs(d.d.Match)
	// 32-bit registers from NFT_REG32_00 (8): 4 + 4 + 1 + 1 + 4.
	key := []expr.Any{
		&expr.Payload{DestRegister: 8, Base: expr.PayloadBaseNetworkHeader, Offset: offSrc, Len: 16},
		&expr.Payload{DestRegister: 12, Base: expr.PayloadBaseNetworkHeader, Offset: offDst, Len: 16},
		&expr.Payload{DestRegister: 16, Base: expr.PayloadBaseNetworkHeader, Offset: 4, Len: 2},
		&expr.Payload{DestRegister: 17, Base: expr.PayloadBaseNetworkHeader, Offset: offNextHeader, Len: 1},
		&expr.Payload{DestRegister: 18, Base: expr.PayloadBaseNetworkHeader, Offset: ipv6HeaderLen, Len: 16},
	}
	return [][]expr.Any{
		concat(m, key, []expr.Any{&expr.Lookup{SourceRegister: 8, SetName: setDedupSeen},
			counterRef(dedupCounterName(d.id)), verdict(expr.VerdictDrop)}),
		concat(m, key, []expr.Any{&expr.Dynset{SrcRegKey: 8, SetName: setDedupSeen,
			Operation: uint32(unix.NFT_DYNSET_OP_ADD), Timeout: d.d.window()}}),
	}
}
