package dataplane

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"

	"monami/internal/forwarding"
)

// Groups: a run of consecutive routes (in routeBefore order) whose flows
// set the same fields, each to one value, with one tunnel or a drop, is
// one rule: a lookup of the packet's fields in a map to the mark. No
// packet matches two of them (their keys differ), so the lookup keeps the
// order's meaning, and a parent with a thousand port rules costs a packet
// one hash lookup instead of a thousand comparisons. A drop is the mark
// of index 0, which the BPF program drops. The map counts per element.

// groupShape is which fields a groupable flow sets; 0: not groupable.
type groupShape uint16

const (
	gSrc groupShape = 1 << iota
	gDst
	gNH
	gSport
	gDport
	gTC
	gFL
	gSPI
	gValid // set on every groupable shape
)

func shapeOf(fr *flowRoute) groupShape {
	if fr == nil {
		return 0
	}
	m := fr.r.Flow
	if m.IsZero() || !(fr.r.Mode == ModeDrop || fr.r.Mode == ModeSingle || len(fr.idx) == 1) {
		return 0
	}
	s := gValid
	exact := true
	addr := func(r forwarding.AddrRange, bit groupShape) {
		if r.Set() {
			s |= bit
			exact = exact && r.From == r.To
		}
	}
	rng := func(set bool, lo, hi uint32, bit groupShape) {
		if set {
			s |= bit
			exact = exact && lo == hi
		}
	}
	addr(m.Src, gSrc)
	addr(m.Dst, gDst)
	rng(m.NextHeader.Set, uint32(m.NextHeader.Lo), uint32(m.NextHeader.Hi), gNH)
	rng(m.SrcPort.Set, uint32(m.SrcPort.Lo), uint32(m.SrcPort.Hi), gSport)
	rng(m.DstPort.Set, uint32(m.DstPort.Lo), uint32(m.DstPort.Hi), gDport)
	rng(m.TrafficClass.Set, uint32(m.TrafficClass.Lo), uint32(m.TrafficClass.Hi), gTC)
	rng(m.FlowLabel.Set, m.FlowLabel.Lo, m.FlowLabel.Hi, gFL)
	rng(m.SPI.Set, m.SPI.Lo, m.SPI.Hi, gSPI)
	if !exact {
		return 0
	}
	return s
}

// groupKeyLen is the key's length: fields padded to 32-bit registers.
func groupKeyLen(s groupShape) int {
	n := 0
	for _, f := range []struct {
		bit groupShape
		len int
	}{{gSrc, 16}, {gDst, 16}, {gNH, 4}, {gSport, 4}, {gDport, 4}, {gTC, 4}, {gFL, 4}, {gSPI, 4}} {
		if s&f.bit != 0 {
			n += f.len
		}
	}
	return n
}

// groupKey is fr's element key, as groupLoads leave the registers.
func groupKey(s groupShape, m forwarding.Match) []byte {
	var b []byte
	pad := func(v []byte) { b = append(b, v...); b = append(b, make([]byte, 4-len(v)%4)[:(4-len(v)%4)%4]...) }
	if s&gSrc != 0 {
		pad(m.Src.From.AsSlice())
	}
	if s&gDst != 0 {
		pad(m.Dst.From.AsSlice())
	}
	if s&gNH != 0 {
		pad([]byte{m.NextHeader.Lo})
	}
	if s&gSport != 0 {
		pad(be16(m.SrcPort.Lo))
	}
	if s&gDport != 0 {
		pad(be16(m.DstPort.Lo))
	}
	if s&gTC != 0 {
		pad(be16(uint16(m.TrafficClass.Lo) << 4))
	}
	if s&gFL != 0 {
		pad(be32(m.FlowLabel.Lo))
	}
	if s&gSPI != 0 {
		pad(be32(m.SPI.Lo))
	}
	return b
}

// groupRule loads the shape's fields into the 32-bit registers from
// NFT_REG32_00 (8), looks them up in set and sets the mark it maps to.
// The checks that need register 1 (has ports, is ESP) come first.
func groupRule(s groupShape, set string) []expr.Any {
	var out []expr.Any
	if s&(gSport|gDport) != 0 {
		out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Lookup{SourceRegister: 1, SetName: setPortProtos})
	}
	if s&gSPI != 0 {
		out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoESP}})
	}
	reg := uint32(8)
	pl := func(base expr.PayloadBase, off, n uint32) {
		out = append(out, &expr.Payload{DestRegister: reg, Base: base, Offset: off, Len: n})
	}
	mask := func(m []byte) {
		out = append(out, &expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: uint32(len(m)), Mask: m, Xor: make([]byte, len(m))})
	}
	if s&gSrc != 0 {
		pl(expr.PayloadBaseNetworkHeader, offSrc, 16)
		reg += 4
	}
	if s&gDst != 0 {
		pl(expr.PayloadBaseNetworkHeader, offDst, 16)
		reg += 4
	}
	if s&gNH != 0 {
		out = append(out, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg})
		reg++
	}
	if s&gSport != 0 {
		pl(expr.PayloadBaseTransportHeader, 0, 2)
		reg++
	}
	if s&gDport != 0 {
		pl(expr.PayloadBaseTransportHeader, 2, 2)
		reg++
	}
	if s&gTC != 0 {
		pl(expr.PayloadBaseNetworkHeader, 0, 2)
		mask([]byte{0x0f, 0xf0})
		reg++
	}
	if s&gFL != 0 {
		pl(expr.PayloadBaseNetworkHeader, 0, 4)
		mask([]byte{0, 0x0f, 0xff, 0xff})
		reg++
	}
	if s&gSPI != 0 {
		pl(expr.PayloadBaseTransportHeader, 0, 4)
		reg++
	}
	return append(out,
		&expr.Lookup{SourceRegister: 8, SetName: set, DestRegister: 1, IsDestRegSet: true},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		verdict(expr.VerdictAccept))
}

// groupMark is the mark a grouped route's element maps to.
func groupMark(fr *flowRoute) []byte {
	i := uint32(0) // drop
	if fr.r.Mode != ModeDrop {
		i = fr.idx[0]
	}
	return binaryutil.NativeEndian.PutUint32(markOf(i))
}

// flowGroup is one group map of a parent's chain.
type flowGroup struct {
	name   string
	shape  groupShape
	routes []*flowRoute
}

// addGroup stages the group's map and elements (chunked as the ingress
// sets' are) and returns its rule.
func (k *kernelDP) addGroup(g *flowGroup) ([]expr.Any, error) {
	set := &nftables.Set{Table: k.nft.table, Name: g.name, IsMap: true, Counter: true,
		KeyType:  nftables.SetDatatype{Name: "flow", Bytes: uint32(groupKeyLen(g.shape))},
		DataType: nftables.TypeMark}
	if err := k.nft.conn.AddSet(set, nil); err != nil {
		return nil, fmt.Errorf("nftables: set %s: %w", g.name, err)
	}
	els := make([]nftables.SetElement, 0, len(g.routes))
	for _, fr := range g.routes {
		els = append(els, nftables.SetElement{Key: groupKey(g.shape, fr.r.Flow), Val: groupMark(fr)})
	}
	for len(els) > 0 {
		n := min(len(els), maxElemsPerMessage)
		if err := k.nft.conn.SetAddElements(set, els[:n]); err != nil {
			return nil, err
		}
		els = els[n:]
	}
	return groupRule(g.shape, g.name), nil
}

// groupCounters reads a group map's element counters into its routes'
// counts (packets, octets by route id).
func (k *kernelDP) groupCounters(g *flowGroup, into map[uint32][2]uint64) error {
	els, err := k.nft.conn.GetSetElements(&nftables.Set{Table: k.nft.table, Name: g.name, IsMap: true,
		KeyType: nftables.SetDatatype{Name: "flow", Bytes: uint32(groupKeyLen(g.shape))}, DataType: nftables.TypeMark})
	if err != nil {
		return fmt.Errorf("nftables: read set %s: %w", g.name, err)
	}
	byKey := map[string]*flowRoute{}
	for _, fr := range g.routes {
		byKey[string(groupKey(g.shape, fr.r.Flow))] = fr
	}
	for _, e := range els {
		if fr := byKey[string(e.Key)]; fr != nil && e.Counter != nil {
			into[fr.id] = [2]uint64{e.Counter.Packets, e.Counter.Bytes}
		}
	}
	return nil
}
