package dataplane

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// lwtEncap adds the outer header of every tunnel route in a lightweight
// tunnel BPF program at the route's xmit hook, which the kernel runs in
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
// One program per tunnel (outer source and destination): a route's
// program cannot learn which route ran it, so the tunnel ID is a constant
// of the program, which finds the addresses and its counters in the
// tunnels map under that ID.
//
// What the program cannot encapsulate, a GSO packet that is not TCP
// (bpf_lwt_push_encap segments only TCP; a UDP GSO send is the common
// case), it redirects into the segmentation veth (setupSegmenter), with an
// Ethernet header for the far end pushed in front: the kernel cuts the
// packet into single ones on the way out, and each comes back in, is
// forwarded, and meets this program again. No policy rule is needed for
// it (see routeTable for why that matters).
type lwtEncap struct {
	tunnels *ebpf.Map // tunnel ID -> tunnelValue
	seg     segmenterParams
}

// segmenterParams are the segmentation veth's numbers, constants of every
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
	lwtHeadroom          = ipv6HeaderLen
	ethHeaderLen         = 14
	maxTunnelPrograms    = 1 << 20
	// RFC 2473 section 6.3: the tunnel entry point sets the hop limit as
	// a node originating a packet does; 64 is IANA's default.
	outerHopLimit = 64
)

// Offsets in struct __sk_buff (uapi/linux/bpf.h).
const (
	skbLen            = 0
	skbIngressIfindex = 36
	skbGSOSize        = 176
)

// Return codes of an LWT program and bpf_lwt_push_encap's type
// (uapi/linux/bpf.h).
const (
	bpfDrop        = 2
	bpfLWTReroute  = 128
	bpfLWTEncapIP  = 2
	lwtStackInner  = -8  // the inner header's first 8 octets
	lwtStackHeader = -48 // the outer header being built
	lwtStackKey    = -52 // u32 tunnel ID
)

// tunnelProgram is the xmit program of tunnel id.
func tunnelProgram(tunnels *ebpf.Map, id uint32, seg segmenterParams) asm.Instructions {
	ins := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // skb; data starts at the inner IPv6 header
		asm.StoreImm(asm.RFP, lwtStackKey, int64(int32(id)), asm.Word),
		asm.LoadMapPtr(asm.R1, tunnels.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, lwtStackKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "drop"), // entry gone: a route raced its removal
		asm.Mov.Reg(asm.R7, asm.R0),
		// Version, traffic class, flow label, payload length, next
		// header: skb_load_bytes also reads a non-linear head.
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, lwtStackInner),
		asm.Mov.Imm(asm.R4, 8),
		asm.FnSkbLoadBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
		asm.LoadMem(asm.R9, asm.R6, skbLen, asm.Word),
		// bpf_lwt_push_encap segments only TCP: another GSO packet (UDP
		// GSO, or TCP behind extension headers) is segmented first.
		asm.LoadMem(asm.R1, asm.R6, skbGSOSize, asm.Word),
		asm.JEq.Imm(asm.R1, 0, "single"),
		asm.LoadMem(asm.R1, asm.RFP, lwtStackInner+6, asm.Byte),
		asm.JNE.Imm(asm.R1, unix.IPPROTO_TCP, "fallback"),
		// The inner traffic class and flow label, copied to the outer
		// header (RFC 2473 sections 6.4 and 6.5 leave both to the entry
		// point; copying keeps QoS and ECMP decisions on the path).
		asm.LoadMem(asm.R8, asm.RFP, lwtStackInner, asm.Word).WithSymbol("single"),
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
		asm.StoreMem(asm.RFP, lwtStackHeader, asm.R8, asm.Word).WithSymbol("labelled"),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, lwtStackHeader+4, asm.R1, asm.Half),
		asm.StoreImm(asm.RFP, lwtStackHeader+6, protoIPv6, asm.Byte),
		asm.StoreImm(asm.RFP, lwtStackHeader+7, outerHopLimit, asm.Byte),
	}
	for i := int16(0); i < 32; i += 8 {
		ins = append(ins,
			asm.LoadMem(asm.R1, asm.R7, tvSrc+i, asm.DWord),
			asm.StoreMem(asm.RFP, lwtStackHeader+8+i, asm.R1, asm.DWord))
	}
	ins = append(ins,
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, bpfLWTEncapIP),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, lwtStackHeader),
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

		// To the segmentation veth, unless it comes from there: never
		// loop. Its segments are counted as they come back.
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
		asm.StoreMem(asm.RFP, lwtStackHeader, asm.R1, asm.DWord),
		asm.StoreImm(asm.RFP, lwtStackHeader+8, int64(int32(binary.NativeEndian.Uint32(seg.eth[8:12]))), asm.Word),
		asm.StoreImm(asm.RFP, lwtStackHeader+12, int64(int16(binary.NativeEndian.Uint16(seg.eth[12:14]))), asm.Half),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, lwtStackHeader),
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

		asm.Mov.Imm(asm.R0, bpfDrop).WithSymbol("drop"),
		asm.Return(),
	)
	return ins
}

// newLWTEncap creates the tunnels map and checks, by loading one, that
// the kernel takes the tunnel programs (LWT BPF, bpf_lwt_push_encap).
func newLWTEncap() (*lwtEncap, error) {
	e := &lwtEncap{}
	var err error
	e.tunnels, err = ebpf.NewMap(&ebpf.MapSpec{Name: "monami_tunnels", Type: ebpf.Hash,
		KeySize: 4, ValueSize: tunnelValueLen, MaxEntries: maxTunnelPrograms, Flags: 1 /* BPF_F_NO_PREALLOC */})
	if err != nil {
		return nil, fmt.Errorf("tunnel map: %w", err)
	}
	p, err := e.program(0)
	if err != nil {
		e.close()
		return nil, err
	}
	p.Close()
	return e, nil
}

func (e *lwtEncap) program(id uint32) (*ebpf.Program, error) {
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: tunnelProgramName(id), Type: ebpf.LWTXmit,
		Instructions: tunnelProgram(e.tunnels, id, e.seg), License: "Apache-2.0"})
	if err != nil {
		return nil, fmt.Errorf("tunnel encapsulation program: %w", err)
	}
	return p, nil
}

// tunnelProgramName names tunnel id's program (in bpftool, and on the
// route).
func tunnelProgramName(id uint32) string { return fmt.Sprintf("monami_t%d", id) }

// routeEncap is the lightweight tunnel of a route into p.
func routeEncap(p *ebpf.Program, id uint32) (netlink.Encap, error) {
	e := &netlink.BpfEncap{}
	if err := e.SetProg(nl.LWT_BPF_XMIT, p.FD(), tunnelProgramName(id)); err != nil {
		return nil, err
	}
	if err := e.SetXmitHeadroom(lwtHeadroom); err != nil {
		return nil, err
	}
	return e, nil
}

// setSegmenter takes the segmentation veth's numbers for the programs
// loaded from now on.
func (e *lwtEncap) setSegmenter(near, far netlink.Link) error {
	dst, src := far.Attrs().HardwareAddr, near.Attrs().HardwareAddr
	if len(dst) != 6 || len(src) != 6 {
		return fmt.Errorf("segmentation veth: no Ethernet addresses (%v, %v)", src, dst)
	}
	e.seg = segmenterParams{ifindex: near.Attrs().Index, peerIfindex: far.Attrs().Index}
	copy(e.seg.eth[0:], dst)
	copy(e.seg.eth[6:], src)
	binary.BigEndian.PutUint16(e.seg.eth[12:], unix.ETH_P_IPV6)
	return nil
}

func (e *lwtEncap) put(id uint32, t Tunnel) error {
	var v [tunnelValueLen]byte
	src, dst := t.Local.As16(), t.Remote.As16()
	copy(v[tvSrc:], src[:])
	copy(v[tvDst:], dst[:])
	if err := e.tunnels.Update(id, v[:], ebpf.UpdateNoExist); err != nil {
		return fmt.Errorf("tunnel map: %w", err)
	}
	return nil
}

// bpfCounters are what the tunnel programs counted: packets and inner
// bytes sent, packets dropped on an error, and packets sent to be
// segmented (whose segments count as sent).
type bpfCounters struct{ packets, bytes, errors, fallback uint64 }

func (c *bpfCounters) add(v []byte) {
	c.packets += binary.NativeEndian.Uint64(v[tvPackets:])
	c.bytes += binary.NativeEndian.Uint64(v[tvBytes:])
	c.errors += binary.NativeEndian.Uint64(v[tvErrors:])
	c.fallback += binary.NativeEndian.Uint64(v[tvFallback:])
}

// delete removes tunnel id and adds its counters to c.
func (e *lwtEncap) delete(id uint32, c *bpfCounters) {
	var v [tunnelValueLen]byte
	if err := e.tunnels.Lookup(id, v[:]); err == nil {
		c.add(v[:])
	}
	_ = e.tunnels.Delete(id)
}

// counters sums the counters of all tunnels.
func (e *lwtEncap) counters() (bpfCounters, error) {
	var c bpfCounters
	var id uint32
	var v []byte
	it := e.tunnels.Iterate()
	for it.Next(&id, &v) {
		c.add(v)
	}
	return c, it.Err()
}

func (e *lwtEncap) close() error {
	if e.tunnels != nil {
		return e.tunnels.Close()
	}
	return nil
}

// bpfTunnel is a tunnel numbered for its program.
type bpfTunnel struct {
	key   tunnelKey
	refs  int // routes into it
	prog  *ebpf.Program
	encap netlink.Encap
}

// holdTunnel numbers tunnel t once per (outer source, outer destination),
// with its map entry and program. Called with k.mu held.
func (k *kernelDP) holdTunnel(t Tunnel) (*bpfTunnel, uint32, error) {
	key := tunnelKey{t.Local, t.Remote}
	if id, ok := k.tunnelIDs[key]; ok {
		bt := k.tunnels[id]
		bt.refs++
		return bt, id, nil
	}
	if len(k.tunnels) >= maxTunnelPrograms {
		return nil, 0, fmt.Errorf("tunnel %v: %d tunnels in use: %w", t, len(k.tunnels), ErrUnsupported)
	}
	for k.nextID++; k.nextID == 0 || k.tunnels[k.nextID] != nil; k.nextID++ {
	}
	id := k.nextID
	if err := k.encap.put(id, t); err != nil {
		return nil, 0, err
	}
	p, err := k.encap.program(id)
	if err != nil {
		k.encap.delete(id, &k.bpfGone)
		return nil, 0, fmt.Errorf("tunnel %v: %w", t, err)
	}
	enc, err := routeEncap(p, id)
	if err != nil {
		p.Close()
		k.encap.delete(id, &k.bpfGone)
		return nil, 0, fmt.Errorf("tunnel %v: %w", t, err)
	}
	bt := &bpfTunnel{key: key, refs: 1, prog: p, encap: enc}
	k.tunnelIDs[key] = id
	k.tunnels[id] = bt
	return bt, id, nil
}

// releaseTunnel drops one route's hold on tunnel id; the last one removes
// its map entry (keeping its counters) and closes its program, which the
// kernel frees with the last route using it. Called with k.mu held.
func (k *kernelDP) releaseTunnel(id uint32) {
	bt := k.tunnels[id]
	if bt == nil {
		return // 0: no BPF
	}
	if bt.refs--; bt.refs > 0 {
		return
	}
	delete(k.tunnels, id)
	delete(k.tunnelIDs, bt.key)
	k.encap.delete(id, &k.bpfGone)
	if err := bt.prog.Close(); err != nil {
		k.log.Warn("close tunnel program", "id", id, "err", err)
	}
}

// addBPFCounters adds what the tunnel programs counted (there is no
// nftables postrouting counter with BPF) to c.
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
