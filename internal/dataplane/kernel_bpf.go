package dataplane

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// egressEncap replaces the second half of the detour (see setupDetour)
// with a tc egress program on the detour veth. Forwarded packets still
// take the route in cfg.Table into the veth, so ip6_forward applies the
// tunnel's inner MTU and sends Packet Too Big (RFC 4443 section 3.2, RFC
// 2473 section 7.1); but instead of crossing the veth and being routed a
// second time into a seg6 route, the program adds the outer header (RFC
// 2473 section 3.1, next header 41) and hands the packet to the outgoing
// interface's neighbour (bpf_redirect_neigh). This saves the veth crossing
// and the second forwarding pass: 0-15% of a forwarded stream in paired
// bench runs (the machine's noise is of the same size).
//
// Which tunnel? Every tunnel gets an ID; routes into it point at a
// gateway address fe80::6d6e:0:<ID> on the detour, and a permanent
// neighbour entry maps that gateway to the MAC address 02:6d:<ID>. The
// program reads the tunnel ID from the destination MAC that the kernel's
// neighbour output wrote, so the kernel's route selection (destination,
// source prefix, rules; flow marks later) stays the only classifier.
//
// Without BPF (no tcx, no CAP_BPF) the detour works as before: the far
// end of the veth forwards into the seg6 routes of cfg.Table+1.
type egressEncap struct {
	tunnels *ebpf.Map // tunnelID -> tunnelValue
	prog    *ebpf.Program
	link    link.Link
}

// tunnelValue is the map value; the program reads it at these offsets.
//
//	0  outer source (16)      16 outer destination (16)
//	32 ifindex (4)            36 pad (4)
//	40 packets (8)            48 inner bytes (8)    56 errors (8)
//	64 sent across the veth instead (8)
const (
	tvSrc, tvDst, tvIfindex             = 0, 16, 32
	tvPackets, tvBytes, tvErrors        = 40, 48, 56
	tvFallback                          = 64
	tunnelValueLen                      = 72
	ethHeaderLen                        = 14
	tunnelMACPrefix              uint16 = 0x026d // locally administered, unicast
	// RFC 2473 section 6.3: the tunnel entry point sets the hop limit as
	// a node originating a packet does; 64 is IANA's default.
	outerHopLimit = 64
)

// skb field offsets in struct __sk_buff (uapi/linux/bpf.h).
const (
	skbLen     = 0
	skbData    = 76
	skbDataEnd = 80
)

// Return codes of a tcx program (uapi/linux/bpf.h enum tcx_action_base).
const (
	tcxNext = -1
	tcxDrop = 2
)

// bpf_skb_adjust_room mode and flags (uapi/linux/bpf.h).
const (
	adjRoomMAC      = 1
	adjRoomFixedGSO = 1 << 0
	adjRoomEncapV6  = 1 << 2
)

func tunnelMAC(id uint32) [6]byte {
	var m [6]byte
	binary.BigEndian.PutUint16(m[0:], tunnelMACPrefix)
	binary.NativeEndian.PutUint32(m[2:], id) // the program loads it as a native u32 key
	return m
}

// nativeBE16 is what a host-order 16-bit load of the big-endian bytes of v
// gives (htons: for BPF loads and sockaddr_ll's protocol).
func nativeBE16(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// nativeBE32 is what a host-order 32-bit load of the big-endian bytes of
// v gives.
func nativeBE32(v uint32) uint32 {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return binary.NativeEndian.Uint32(b[:])
}

func tunnelGateway(id uint32) netip.Addr {
	b := [16]byte{0: 0xfe, 1: 0x80, 8: 0x6d, 9: 0x6e}
	binary.BigEndian.PutUint32(b[12:], id)
	return netip.AddrFrom16(b)
}

// egressEncapProgram builds the program. What it cannot encapsulate (a
// GSO type bpf_skb_adjust_room refuses, a tunnel ID no longer in the map)
// it sends on across the veth with the far end's MAC address, to the seg6
// routes: slower, not lost.
func egressEncapProgram(tunnels *ebpf.Map, peerMAC [6]byte) asm.Instructions {
	const (
		keyOff = -4  // u32 tunnel ID
		hdrOff = -48 // outer IPv6 header being built
		macOff = -56 // the veth peer's MAC address
	)
	ins := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1), // skb
		asm.LoadMem(asm.R2, asm.R6, skbData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, skbDataEnd, asm.Word),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, ethHeaderLen+ipv6HeaderLen),
		asm.JLE.Reg(asm.R4, asm.R3, "linear"),
		// The headers are not all in the linear part: pull them there
		// (rare), unless the frame is shorter than that.
		asm.LoadMem(asm.R4, asm.R6, skbLen, asm.Word),
		asm.JLT.Imm(asm.R4, ethHeaderLen+ipv6HeaderLen, "next"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, ethHeaderLen+ipv6HeaderLen),
		asm.FnSkbPullData.Call(),
		asm.JNE.Imm(asm.R0, 0, "next"),
		asm.LoadMem(asm.R2, asm.R6, skbData, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, skbDataEnd, asm.Word),
		asm.Mov.Reg(asm.R4, asm.R2),
		asm.Add.Imm(asm.R4, ethHeaderLen+ipv6HeaderLen),
		asm.JGT.Reg(asm.R4, asm.R3, "next"),
		// Ethertype IPv6 (loads are in host byte order).
		asm.LoadMem(asm.R4, asm.R2, 12, asm.Half).WithSymbol("linear"),
		asm.JNE.Imm(asm.R4, int32(nativeBE16(0x86dd)), "next"),
		// Destination MAC 02:6d:<tunnel ID>.
		asm.LoadMem(asm.R4, asm.R2, 0, asm.Half),
		asm.JNE.Imm(asm.R4, int32(nativeBE16(tunnelMACPrefix)), "next"),
		asm.LoadMem(asm.R4, asm.R2, 2, asm.Word),
		asm.StoreMem(asm.RFP, keyOff, asm.R4, asm.Word),
		// Inner version, traffic class and flow label, copied to the
		// outer header (RFC 2473 sections 6.4 and 6.5 leave both to the
		// entry point; copying keeps QoS and ECMP decisions on the path).
		asm.LoadMem(asm.R8, asm.R2, ethHeaderLen, asm.Word),
		asm.LoadMapPtr(asm.R1, tunnels.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, keyOff),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "detour"), // our MAC, unknown tunnel: a route raced its removal
		asm.Mov.Reg(asm.R7, asm.R0),
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
		asm.LoadMem(asm.R9, asm.R6, skbLen, asm.Word).WithSymbol("labelled"),
		asm.Sub.Imm(asm.R9, ethHeaderLen), // inner packet length
		// Room for the outer header between the MAC header and the
		// inner packet; FIXED_GSO keeps the segment size, which the
		// forwarding path already checked against the inner MTU.
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, ipv6HeaderLen),
		asm.Mov.Imm(asm.R3, adjRoomMAC),
		asm.Mov.Imm(asm.R4, adjRoomFixedGSO|adjRoomEncapV6),
		asm.FnSkbAdjustRoom.Call(),
		asm.JNE.Imm(asm.R0, 0, "fallback"),
		// The outer header (RFC 8200 section 3): payload length is the
		// inner packet, next header 41.
		asm.StoreMem(asm.RFP, hdrOff, asm.R8, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.HostTo(asm.BE, asm.R1, asm.Half),
		asm.StoreMem(asm.RFP, hdrOff+4, asm.R1, asm.Half),
		asm.StoreImm(asm.RFP, hdrOff+6, protoIPv6, asm.Byte),
		asm.StoreImm(asm.RFP, hdrOff+7, outerHopLimit, asm.Byte),
	}
	for i := int16(0); i < 32; i += 8 {
		ins = append(ins,
			asm.LoadMem(asm.R1, asm.R7, tvSrc+i, asm.DWord),
			asm.StoreMem(asm.RFP, hdrOff+8+i, asm.R1, asm.DWord))
	}
	ins = append(ins,
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, ethHeaderLen),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, hdrOff),
		asm.Mov.Imm(asm.R4, ipv6HeaderLen),
		asm.Mov.Imm(asm.R5, 0),
		asm.FnSkbStoreBytes.Call(),
		asm.JNE.Imm(asm.R0, 0, "error"),
		asm.Mov.Imm(asm.R1, 1),
		asm.AddAtomic.Mem(asm.R7, asm.R1, asm.DWord, tvPackets),
		asm.AddAtomic.Mem(asm.R7, asm.R9, asm.DWord, tvBytes),
		// To the interface that holds the outer source; the kernel looks
		// up the next hop toward the outer destination and its neighbour.
		asm.LoadMem(asm.R1, asm.R7, tvIfindex, asm.Word),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRedirectNeigh.Call(),
		asm.Return(),

		asm.Mov.Imm(asm.R1, 1).WithSymbol("error"),
		asm.AddAtomic.Mem(asm.R7, asm.R1, asm.DWord, tvErrors),
		asm.Mov.Imm(asm.R0, tcxDrop),
		asm.Return(),

		asm.Mov.Imm(asm.R1, 1).WithSymbol("fallback"),
		asm.AddAtomic.Mem(asm.R7, asm.R1, asm.DWord, tvFallback),
		asm.StoreImm(asm.RFP, macOff, int64(int32(binary.NativeEndian.Uint32(peerMAC[0:4]))), asm.Word).WithSymbol("detour"),
		asm.StoreImm(asm.RFP, macOff+4, int64(binary.NativeEndian.Uint16(peerMAC[4:6])), asm.Half),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, macOff),
		asm.Mov.Imm(asm.R4, 6),
		asm.Mov.Imm(asm.R5, 0),
		asm.FnSkbStoreBytes.Call(),
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("next"),
		asm.Return(),
	)
	return ins
}

// newEgressEncap loads the program and attaches it to the detour veth's
// egress; attach must run in the data plane's namespace (the ifindex is
// resolved there).
func newEgressEncap(ifindex int, peerMAC net.HardwareAddr, inNS func(func() error) error) (*egressEncap, error) {
	if len(peerMAC) != 6 {
		return nil, fmt.Errorf("detour peer MAC %v", peerMAC)
	}
	e := &egressEncap{}
	var err error
	e.tunnels, err = ebpf.NewMap(&ebpf.MapSpec{Name: "monami_tunnels", Type: ebpf.Hash,
		KeySize: 4, ValueSize: tunnelValueLen, MaxEntries: 1 << 20, Flags: 1 /* BPF_F_NO_PREALLOC */})
	if err != nil {
		return nil, fmt.Errorf("tunnel map: %w", err)
	}
	e.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: "monami_encap", Type: ebpf.SchedCLS,
		Instructions: egressEncapProgram(e.tunnels, [6]byte(peerMAC)), License: "Apache-2.0"})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("encapsulation program: %w", err)
	}
	err = inNS(func() error {
		e.link, err = link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: e.prog, Attach: ebpf.AttachTCXEgress})
		return err
	})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("attach tcx egress: %w", err)
	}
	return e, nil
}

func (e *egressEncap) put(id uint32, t Tunnel, ifindex int) error {
	var v [tunnelValueLen]byte
	src, dst := t.Local.As16(), t.Remote.As16()
	copy(v[tvSrc:], src[:])
	copy(v[tvDst:], dst[:])
	binary.NativeEndian.PutUint32(v[tvIfindex:], uint32(ifindex))
	// Keep the counters of an existing entry: only the addresses change.
	if err := e.tunnels.Update(id, v[:], ebpf.UpdateNoExist); err == nil {
		return nil
	} else if !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("tunnel map: %w", err)
	}
	var old [tunnelValueLen]byte
	if err := e.tunnels.Lookup(id, old[:]); err == nil {
		copy(v[tvPackets:], old[tvPackets:])
	}
	if err := e.tunnels.Update(id, v[:], ebpf.UpdateExist); err != nil {
		return fmt.Errorf("tunnel map: %w", err)
	}
	return nil
}

// bpfCounters are what the egress program counted for a tunnel: packets
// and inner bytes it encapsulated, packets it dropped on an error after
// growing the packet, and packets it sent across the veth instead.
type bpfCounters struct{ packets, bytes, errors, fallback uint64 }

func (c *bpfCounters) add(v []byte) {
	c.packets += binary.NativeEndian.Uint64(v[tvPackets:])
	c.bytes += binary.NativeEndian.Uint64(v[tvBytes:])
	c.errors += binary.NativeEndian.Uint64(v[tvErrors:])
	c.fallback += binary.NativeEndian.Uint64(v[tvFallback:])
}

// delete removes tunnel id and adds its counters to c.
func (e *egressEncap) delete(id uint32, c *bpfCounters) {
	var v [tunnelValueLen]byte
	if err := e.tunnels.Lookup(id, v[:]); err == nil {
		c.add(v[:])
	}
	_ = e.tunnels.Delete(id)
}

// counters sums the counters of all tunnels.
func (e *egressEncap) counters() (bpfCounters, error) {
	var c bpfCounters
	var id uint32
	var v []byte
	it := e.tunnels.Iterate()
	for it.Next(&id, &v) {
		c.add(v)
	}
	return c, it.Err()
}

func (e *egressEncap) close() error {
	var errs []error
	if e.link != nil {
		errs = append(errs, e.link.Close())
	}
	if e.prog != nil {
		errs = append(errs, e.prog.Close())
	}
	if e.tunnels != nil {
		errs = append(errs, e.tunnels.Close())
	}
	return errors.Join(errs...)
}

// bpfTunnel is a tunnel numbered for the egress program.
type bpfTunnel struct {
	key     tunnelKey
	refs    int // routes into it
	ifindex int // as last written to the map
}

// holdTunnel numbers tunnel t for the egress program, once per (outer
// source, outer destination): the map entry and the permanent neighbour
// entry of its gateway. Called with k.mu held.
func (k *kernelDP) holdTunnel(t Tunnel, ifindex int) (uint32, error) {
	key := tunnelKey{t.Local, t.Remote}
	id, ok := k.tunnelIDs[key]
	if !ok {
		for k.nextID++; k.nextID == 0 || k.tunnels[k.nextID] != nil; k.nextID++ {
		}
		id = k.nextID
	}
	// Rewriting an unchanged entry would race the program's counters.
	if !ok || k.tunnels[id].ifindex != ifindex {
		if err := k.encap.put(id, t, ifindex); err != nil {
			return 0, err
		}
	}
	if !ok {
		mac := tunnelMAC(id)
		n := &netlink.Neigh{LinkIndex: k.detour.Attrs().Index, Family: unix.AF_INET6, State: netlink.NUD_PERMANENT,
			IP: tunnelGateway(id).AsSlice(), HardwareAddr: net.HardwareAddr(mac[:])}
		if err := k.h.NeighSet(n); err != nil {
			k.encap.delete(id, &k.bpfGone)
			return 0, fmt.Errorf("tunnel %v: neighbour entry: %w", t, err)
		}
		k.tunnelIDs[key] = id
		k.tunnels[id] = &bpfTunnel{key: key}
	}
	bt := k.tunnels[id]
	bt.refs++
	bt.ifindex = ifindex
	return id, nil
}

// releaseTunnel drops one route's hold on tunnel id; the last one removes
// its neighbour and map entries and keeps its counters. Called with k.mu
// held.
func (k *kernelDP) releaseTunnel(id uint32) {
	bt := k.tunnels[id]
	if bt == nil {
		return // 0: the route took the seg6 path
	}
	if bt.refs--; bt.refs > 0 {
		return
	}
	delete(k.tunnels, id)
	delete(k.tunnelIDs, bt.key)
	n := &netlink.Neigh{LinkIndex: k.detour.Attrs().Index, Family: unix.AF_INET6, IP: tunnelGateway(id).AsSlice()}
	if err := k.h.NeighDel(n); err != nil && !errors.Is(err, unix.ENOENT) {
		k.log.Warn("delete tunnel neighbour entry", "id", id, "err", err)
	}
	k.encap.delete(id, &k.bpfGone)
}

// addBPFCounters adds what the egress program counted (it bypasses the
// nftables postrouting counter) to c.
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

// leavesBy reports whether the kernel routes the tunnel's outer packets
// out of link, the interface holding the outer source. Only then does the
// egress program take the tunnel: bpf_redirect_neigh looks up the next hop
// on the interface it is given, whereas the seg6 route re-routes the outer
// packet freely (an outer source on lo, or a multihomed host whose route
// to the peer leaves elsewhere, keeps the seg6 path). The check is made
// when the route is added.
func (k *kernelDP) leavesBy(t Tunnel, link netlink.Link) bool {
	routes, err := k.h.RouteGetWithOptions(net.IP(t.Remote.AsSlice()), &netlink.RouteGetOptions{SrcAddr: net.IP(t.Local.AsSlice())})
	if err != nil || len(routes) == 0 || routes[0].LinkIndex != link.Attrs().Index {
		got := 0
		if len(routes) > 0 {
			got = routes[0].LinkIndex
		}
		k.log.Info("tunnel leaves by another interface than its source's; forwarded packets take the seg6 path",
			"tunnel", t.String(), "source_if", link.Attrs().Index, "route_if", got, "err", err)
		return false
	}
	return true
}
