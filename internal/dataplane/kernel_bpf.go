package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// lwtEncap adds the outer header of every tunnel route in one lightweight
// tunnel BPF program at the routes' xmit hook, which the kernel runs in
// ip6_finish_output2: after ip6_forward has checked the packet against the
// route's MTU (locked to the tunnel's inner MTU plus the 40 octets the
// program declares as headroom), so an oversize forwarded packet draws the
// right Packet Too Big (RFC 4443 section 3.2, RFC 2473 section 7.1), and
// after local sockets have sized their packets by the same MTU. The program
// pushes the RFC 2473 header (section 3.1, next header 41) with
// bpf_lwt_push_encap and returns BPF_LWT_REROUTE: the kernel routes the
// outer packet like any locally sent one (policy rules, source routes,
// IPsec policies), as a seg6 route does. No second forwarding pass, no
// veth crossing, and no postrouting nftables chain (the program counts).
//
// A route's program cannot learn which route ran it, so every route shares
// one program, which finds the route's tunnel again from the inner header
// in hash and LPM maps keyed as the routes are (see routeKey): adding a
// route is one map update and one route, whatever the number installed,
// and a packet costs one to three map lookups.
//
// What the program cannot encapsulate, a GSO packet that is not TCP
// (bpf_lwt_push_encap segments only TCP; a UDP GSO send is the common
// case), it redirects into the segmentation veth (setupSegmenter), with an
// Ethernet header for the far end pushed in front: the kernel cuts the
// packet into single ones on the way out, and each comes back in, is
// forwarded, and meets this program again. No policy rule is needed for
// it (see routeTable for why that matters).
type lwtEncap struct {
	byDst    *ebpf.Map // inner destination (/128 routes) -> tunnelValue
	byDstPfx *ebpf.Map // LPM on the inner destination (shorter prefixes)
	bySrc    *ebpf.Map // LPM on the inner source (::/0 from a prefix)
	// byMark: tunnel index (the low bits of a flow route's skb mark,
	// kernel_flow.go) -> tunnelValue.
	byMark *ebpf.Map
	prog   *ebpf.Program
	encap  netlink.Encap // the routes' lightweight tunnel into prog
	seg    segmenterParams
}

// segmenterParams are the segmentation veth's numbers, constants of the
// program.
type segmenterParams struct {
	ifindex, peerIfindex int
	eth                  [ethHeaderLen]byte // to the far end, IPv6
}

// tunnelValue is the map value; the program reads it at these offsets.
//
//	0  outer source (16)      16 outer destination (16)
//	32 packets (8)            40 inner bytes (8)
//	48 errors (8)             56 sent to be segmented (8)
const (
	tvSrc, tvDst         = 0, 16
	tvPackets, tvBytes   = 32, 40
	tvErrors, tvFallback = 48, 56
	tunnelValueLen       = 64
	lpmKeyLen            = 4 + 16 // struct bpf_lpm_trie_key: prefix length, address
	lwtHeadroom          = ipv6HeaderLen
	ethHeaderLen         = 14
	maxTunnelRoutes      = 1 << 20
	// RFC 2473 section 6.3: the tunnel entry point sets the hop limit as
	// a node originating a packet does; 64 is IANA's default.
	outerHopLimit = 64
	programName   = "monami_tunnel"
)

// Offsets in struct __sk_buff (uapi/linux/bpf.h).
const (
	skbLen            = 0
	skbMark           = 8
	skbIngressIfindex = 36
	skbIfindex        = 40
	skbCB0            = 48
	skbGSOSize        = 176
)

// Return codes of an LWT program and bpf_lwt_push_encap's type
// (uapi/linux/bpf.h).
const (
	bpfDrop       = 2
	bpfLWTReroute = 128
	bpfLWTEncapIP = 2
)

// The program's stack: the inner header as read, an LPM key, the outer
// header being built (or the Ethernet header of a redirect).
const (
	stackInner    = -40 // 40 octets
	stackInnerSrc = stackInner + offSrc
	stackInnerDst = stackInner + offDst
	stackKey      = -64  // lpmKeyLen octets
	stackHeader   = -104 // 40 octets
)

// tunnelProgram is the routes' xmit program.
func tunnelProgram(m *lwtEncap) asm.Instructions {
	ins := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // skb; data starts at the inner IPv6 header
		// The whole inner header: skb_load_bytes also reads a non-linear head.
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, stackInner),
		asm.Mov.Imm(asm.R4, ipv6HeaderLen),
		asm.FnSkbLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "drop"),
	}
	ins = append(ins, lookupTunnel(m)...)
	ins = append(ins,
		asm.Mov.Reg(asm.R7, asm.R0),
		asm.LoadMem(asm.R9, asm.R6, skbLen, asm.Word),
		// bpf_lwt_push_encap segments only TCP: another GSO packet (UDP
		// GSO, or TCP behind extension headers) is segmented first.
		asm.LoadMem(asm.R1, asm.R6, skbGSOSize, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "single"),
		asm.LoadMem(asm.R1, asm.RFP, stackInner+offNextHeader, asm.Byte),
		asm.JNE.Imm(asm.R1, unix.IPPROTO_TCP, "fallback"),
		// The inner traffic class and flow label, copied to the outer
		// header (RFC 2473 sections 6.4 and 6.5 leave both to the entry
		// point; copying keeps QoS and ECMP decisions on the path).
		asm.LoadMem(asm.R8, asm.RFP, stackInner, asm.Word).WithSymbol("single"),
		// An unlabelled inner packet gets a flow label from the flow's
		// hash (RFC 6438 section 3), so the path can still spread flows.
		asm.Mov.Reg(asm.R1, asm.R8),
		asm.And.Imm(asm.R1, int32(nativeBE32(0x000fffff))),
		asm.JNE.Imm(asm.R1, 0, "labelled"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnGetHashRecalc.Call(),
		asm.And.Imm(asm.R0, 0xfffff),
		asm.HostTo(asm.BE, asm.R0, asm.Word),
		asm.Or.Reg(asm.R8, asm.R0),
		// The outer header (RFC 8200 section 3): payload length is the
		// inner packet (a GSO packet's is rewritten per segment), next
		// header 41.
		asm.StoreMem(asm.RFP, stackHeader, asm.R8, asm.Word).WithSymbol("labelled"),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, stackHeader+4, asm.R1, asm.Half),
		asm.StoreImm(asm.RFP, stackHeader+6, protoIPv6, asm.Byte),
		asm.StoreImm(asm.RFP, stackHeader+7, outerHopLimit, asm.Byte),
	)
	for i := int16(0); i < 32; i += 8 {
		ins = append(ins,
			asm.LoadMem(asm.R1, asm.R7, tvSrc+i, asm.DWord),
			asm.StoreMem(asm.RFP, stackHeader+8+i, asm.R1, asm.DWord))
	}
	ins = append(ins,
		// A flow route's mark has done its work: the outer packet is
		// routed without it, as one of a plain route is.
		asm.LoadMem(asm.R1, asm.R6, skbMark, asm.Word),
		asm.And.Imm(asm.R1, markMaskImm),
		asm.JNE.Imm(asm.R1, flowMarkMagic, "push"),
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.R6, skbMark, asm.R1, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol("push"),
		asm.Mov.Imm(asm.R2, bpfLWTEncapIP),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, stackHeader),
		asm.Mov.Imm(asm.R4, ipv6HeaderLen),
		asm.FnLwtPushEncap.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R7, asm.R1, asm.DWord, tvPackets),
		asm.AddAtomic.Mem(asm.R7, asm.R9, asm.DWord, tvBytes),
		asm.Mov.Imm(asm.R0, bpfLWTReroute),
		asm.Return(),

		asm.Mov.Imm(asm.R1, 1).WithSymbol("error"),
		asm.AddAtomic.Mem(asm.R7, asm.R1, asm.DWord, tvErrors),
		asm.Mov.Imm(asm.R0, bpfDrop),
		asm.Return(),
	)
	ins = append(ins, redirectToSegmenter(m.seg)...)
	return append(ins,
		asm.Mov.Imm(asm.R0, bpfDrop).WithSymbol("drop"),
		asm.Return(),
	)
}

// lookupTunnel finds the route's value the way the kernel found the route
// (see routeKey): the inner destination exactly, then by longest prefix,
// then the inner source by longest prefix. It leaves the value in R0, or
// jumps to "drop" (no entry: a route raced its removal).
//
// A packet that a flow route classified (kernel_flow.go) carries the
// tunnel's index in its mark: that index is looked up instead. A value
// with no outer destination is a parent whose unmatched packets drop.
func lookupTunnel(m *lwtEncap) asm.Instructions {
	ins := asm.Instructions{
		asm.LoadMem(asm.R1, asm.R6, skbMark, asm.Word),
		asm.Mov.Reg(asm.R2, asm.R1),
		asm.And.Imm(asm.R2, markMaskImm),
		asm.JNE.Imm(asm.R2, flowMarkMagic, "inner"),
		asm.And.Imm(asm.R1, flowIndexMask),
		asm.StoreMem(asm.RFP, stackKey, asm.R1, asm.Word),
		asm.LoadMapPtr(asm.R1, m.byMark.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stackKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "drop"),
		asm.Ja.Label("found"),
		asm.LoadMapPtr(asm.R1, m.byDst.FD()).WithSymbol("inner"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stackInnerDst),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "found"),
		asm.StoreImm(asm.RFP, stackKey, 128, asm.Word),
	}
	ins = append(ins, copyAddr(stackInnerDst, stackKey+4)...)
	ins = append(ins,
		asm.LoadMapPtr(asm.R1, m.byDstPfx.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stackKey),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "found"),
	)
	ins = append(ins, copyAddr(stackInnerSrc, stackKey+4)...)
	return append(ins,
		asm.LoadMapPtr(asm.R1, m.bySrc.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stackKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "drop"),
		asm.LoadMem(asm.R1, asm.R0, tvDst, asm.DWord).WithSymbol("found"),
		asm.LoadMem(asm.R2, asm.R0, tvDst+8, asm.DWord),
		asm.Or.Reg(asm.R1, asm.R2),
		asm.JEq.Imm(asm.R1, 0, "drop"),
	)
}

// copyAddr copies 16 octets on the stack, a word at a time (the LPM key's
// address is only 4-aligned).
func copyAddr(from, to int16) asm.Instructions {
	var ins asm.Instructions
	for i := int16(0); i < 16; i += 4 {
		ins = append(ins,
			asm.LoadMem(asm.R1, asm.RFP, from+i, asm.Word),
			asm.StoreMem(asm.RFP, to+i, asm.R1, asm.Word))
	}
	return ins
}

// redirectToSegmenter sends the packet into the segmentation veth, unless
// it comes from there: never loop. Its segments are counted as they come
// back.
func redirectToSegmenter(seg segmenterParams) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, asm.R6, skbIngressIfindex, asm.Word).WithSymbol("fallback"),
		asm.JEq.Imm(asm.R1, int32(seg.peerIfindex), "error"),
		// bpf_skb_change_head is for this: an L3 packet that needs an
		// Ethernet header to be redirected into an L2 device; GSO stays.
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, ethHeaderLen),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnSkbChangeHead.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
		asm.LoadImm(asm.R1, int64(binary.NativeEndian.Uint64(seg.eth[0:8])), asm.DWord),
		asm.StoreMem(asm.RFP, stackHeader, asm.R1, asm.DWord),
		asm.StoreImm(asm.RFP, stackHeader+8, int64(int32(binary.NativeEndian.Uint32(seg.eth[8:12]))), asm.Word),
		asm.StoreImm(asm.RFP, stackHeader+12, int64(int16(binary.NativeEndian.Uint16(seg.eth[12:14]))), asm.Half),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, stackHeader),
		asm.Mov.Imm(asm.R4, ethHeaderLen),
		asm.Mov.Imm(asm.R5, 0),
		asm.FnSkbStoreBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R7, asm.R1, asm.DWord, tvFallback),
		asm.Mov.Imm(asm.R1, int32(seg.ifindex)),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRedirect.Call(), // BPF_REDIRECT (7)
		asm.Return(),
	}
}

// newLWTEncap creates the maps and checks, by loading the program once,
// that the kernel takes it (LWT BPF, bpf_lwt_push_encap).
func newLWTEncap() (*lwtEncap, error) {
	e := &lwtEncap{}
	var err error
	// BPF_F_NO_PREALLOC: memory follows the routes installed, not the
	// limit (an LPM trie requires it).
	if e.byDst, err = ebpf.NewMap(&ebpf.MapSpec{Name: "monami_dst", Type: ebpf.Hash,
		KeySize: 16, ValueSize: tunnelValueLen, MaxEntries: maxTunnelRoutes, Flags: unix.BPF_F_NO_PREALLOC}); err != nil {
		return nil, fmt.Errorf("tunnel map: %w", err)
	}
	if e.byMark, err = ebpf.NewMap(&ebpf.MapSpec{Name: "monami_mark", Type: ebpf.Hash,
		KeySize: 4, ValueSize: tunnelValueLen, MaxEntries: flowIndexMask + 1, Flags: unix.BPF_F_NO_PREALLOC}); err != nil {
		e.close()
		return nil, fmt.Errorf("tunnel map: %w", err)
	}
	for _, m := range []struct {
		p    **ebpf.Map
		name string
	}{{&e.byDstPfx, "monami_dst_pfx"}, {&e.bySrc, "monami_src"}} {
		if *m.p, err = ebpf.NewMap(&ebpf.MapSpec{Name: m.name, Type: ebpf.LPMTrie,
			KeySize: lpmKeyLen, ValueSize: tunnelValueLen, MaxEntries: maxTunnelRoutes, Flags: unix.BPF_F_NO_PREALLOC}); err != nil {
			e.close()
			return nil, fmt.Errorf("tunnel map: %w", err)
		}
	}
	if err := e.load(); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// load (re)loads the program with the current segmenter's numbers; routes
// installed afterwards use it.
func (e *lwtEncap) load() error {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: programName, Type: ebpf.LWTXmit,
		Instructions: tunnelProgram(e), License: "Apache-2.0"})
	if err != nil {
		return fmt.Errorf("tunnel encapsulation program: %w", err)
	}
	enc := &netlink.BpfEncap{}
	if err := enc.SetProg(nl.LWT_BPF_XMIT, p.FD(), programName); err != nil {
		p.Close()
		return err
	}
	if err := enc.SetXmitHeadroom(lwtHeadroom); err != nil {
		p.Close()
		return err
	}
	if e.prog != nil {
		e.prog.Close()
	}
	e.prog, e.encap = p, enc
	return nil
}

// setSegmenter takes the segmentation veth's numbers and reloads the
// program with them.
func (e *lwtEncap) setSegmenter(near, far netlink.Link) error {
	dst, src := far.Attrs().HardwareAddr, near.Attrs().HardwareAddr
	if len(dst) != 6 || len(src) != 6 {
		return fmt.Errorf("segmentation veth: no Ethernet addresses (%v, %v)", src, dst)
	}
	e.seg = segmenterParams{ifindex: near.Attrs().Index, peerIfindex: far.Attrs().Index}
	copy(e.seg.eth[0:], dst)
	copy(e.seg.eth[6:], src)
	binary.BigEndian.PutUint16(e.seg.eth[12:], unix.ETH_P_IPV6)
	return e.load()
}

// routeKey is where a route's tunnel sits in the maps. The program looks
// in the order the kernel picks routes: longest destination first, and
// the source only among routes to ::/0. A route with both a destination
// prefix and a source prefix has no place (ErrUnsupported): no role
// installs one.
func (e *lwtEncap) routeKey(s Selector) (*ebpf.Map, []byte, error) {
	switch {
	case !s.Src.IsValid() && s.Dst.Bits() == 128:
		a := s.Dst.Addr().As16()
		return e.byDst, a[:], nil
	case !s.Src.IsValid():
		return e.byDstPfx, lpmKey(s.Dst), nil
	case s.Dst.Bits() == 0:
		return e.bySrc, lpmKey(s.Src), nil
	}
	return nil, nil, fmt.Errorf("route %v: a destination and a source prefix together: %w", s, ErrUnsupported)
}

func lpmKey(p netip.Prefix) []byte {
	k := make([]byte, lpmKeyLen)
	binary.NativeEndian.PutUint32(k, uint32(p.Bits()))
	a := p.Masked().Addr().As16()
	copy(k[4:], a[:])
	return k
}

// put points the route at t, keeping what an old value counted in gone
// (replacing says there may be one).
func (e *lwtEncap) put(s Selector, t Tunnel, replacing bool, gone *bpfCounters) error {
	m, k, err := e.routeKey(s)
	if err != nil {
		return err
	}
	var v [tunnelValueLen]byte
	if replacing && m.Lookup(k, v[:]) == nil {
		gone.add(v[:])
		clear(v[:])
	}
	src, dst := t.Local.As16(), t.Remote.As16()
	copy(v[tvSrc:], src[:])
	copy(v[tvDst:], dst[:])
	if err := m.Update(k, v[:], ebpf.UpdateAny); err != nil {
		return fmt.Errorf("route %v: tunnel map: %w", s, err)
	}
	return nil
}

// remove deletes the route's entry and adds its counters to gone.
func (e *lwtEncap) remove(s Selector, gone *bpfCounters) error {
	m, k, err := e.routeKey(s)
	if err != nil {
		return err
	}
	var v [tunnelValueLen]byte
	if m.Lookup(k, v[:]) == nil {
		gone.add(v[:])
	}
	if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("route %v: tunnel map: %w", s, err)
	}
	return nil
}

// bpfCounters are what the program counted: packets and inner bytes
// sent, packets dropped on an error, and packets sent to be segmented
// (whose segments count as sent).
type bpfCounters struct{ packets, bytes, errors, fallback uint64 }

func (c *bpfCounters) add(v []byte) {
	c.packets += binary.NativeEndian.Uint64(v[tvPackets:])
	c.bytes += binary.NativeEndian.Uint64(v[tvBytes:])
	c.errors += binary.NativeEndian.Uint64(v[tvErrors:])
	c.fallback += binary.NativeEndian.Uint64(v[tvFallback:])
}

// counters sums the counters of all routes.
func (e *lwtEncap) counters() (bpfCounters, error) {
	var c bpfCounters
	for _, m := range []*ebpf.Map{e.byDst, e.byDstPfx, e.bySrc, e.byMark} {
		var k, v []byte
		it := m.Iterate()
		for it.Next(&k, &v) {
			c.add(v)
		}
		if err := it.Err(); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (e *lwtEncap) close() error {
	var errs []error
	if e.prog != nil {
		errs = append(errs, e.prog.Close())
	}
	for _, m := range []*ebpf.Map{e.byDst, e.byDstPfx, e.bySrc, e.byMark} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	return errors.Join(errs...)
}

// addBPFCounters adds what the program counted (there is no nftables
// postrouting counter with BPF) to c.
func (k *kernelDP) addBPFCounters(c *Counters) error {
	if k.encap == nil {
		return nil
	}
	b, err := k.encap.counters()
	if err != nil {
		return fmt.Errorf("BPF counters: %w", err)
	}
	c.PacketsOut += b.packets + k.bpfGone.packets
	c.BytesOut += b.bytes + k.bpfGone.bytes
	if n := b.errors + k.bpfGone.errors; n != 0 {
		if c.Drops == nil {
			c.Drops = map[DropReason]uint64{}
		}
		c.Drops[DropIO] += n
	}
	return nil
}

// putIndex points flow tunnel index i at t (kernel_flow.go).
func (e *lwtEncap) putIndex(i uint32, t Tunnel) error {
	var v [tunnelValueLen]byte
	src, dst := t.Local.As16(), t.Remote.As16()
	copy(v[tvSrc:], src[:])
	copy(v[tvDst:], dst[:])
	if err := e.byMark.Update(i, v[:], ebpf.UpdateAny); err != nil {
		return fmt.Errorf("tunnel %v: index map: %w", t, err)
	}
	return nil
}

// removeIndex deletes index i's entry, keeping what it counted in gone.
func (e *lwtEncap) removeIndex(i uint32, gone *bpfCounters) {
	var v [tunnelValueLen]byte
	if e.byMark.Lookup(i, v[:]) == nil {
		gone.add(v[:])
	}
	_ = e.byMark.Delete(i)
}

// value is the map entry of the route for s.
func (e *lwtEncap) value(s Selector) ([]byte, error) {
	m, k, err := e.routeKey(s)
	if err != nil {
		return nil, err
	}
	v := make([]byte, tunnelValueLen)
	return v, m.Lookup(k, v)
}
