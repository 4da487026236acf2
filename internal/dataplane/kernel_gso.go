package dataplane

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// gsoRestore gives a TCP GSO packet that the tunnel program encapsulated
// back the segment size it had. bpf_lwt_push_encap cuts a GSO packet's
// gso_size by the header it pushes (net/core/lwt_bpf.c, handle_gso_type),
// as if the inner segments had been sized for the link. They were not:
// the route's MTU already kept the 40 octets free (lwtEncap). Left alone,
// every segment of a tunnelled TCP stream is 40 octets short and each GSO
// packet leaves one runt more: a 2-segment packet of 1388-octet segments
// (inner MTU 1460) goes out as 1348 + 1348 + 80. Where the packet is cut
// (a NIC's TSO, a qdisc, a device without GSO) that costs about 6% of the
// link's goodput: measured on the demo network's 40 Mbit/s link, the share
// scenario's kernel downlink reached 93.3% of the single-TCP sum against
// the userspace backend's 97.0% (docs/lab-scenarios.md).
//
// The LWT program has no helper to set gso_size, so a tcx egress program
// on the tunnel's outer interface does it, after the outer packet has
// been routed: it grows the room after the outer header by 40 octets with
// the gso_size fixed (BPF_F_ADJ_ROOM_FIXED_GSO) and shrinks it by 40
// without, which raises gso_size by 40 and leaves the octets as they were.
// It does so only for a GSO packet that is IPv6 in IPv6 (RFC 2473) with
// TCP inside, whose outer source is one of this data plane's tunnel
// sources (a tunnel packet another node sent keeps the segments its
// sender chose), and whose restored segments fit the MTU of that source's
// link. What fails a check leaves as it came. The restored segments are
// no bigger than a single packet the route lets through (inner MTU + 40):
// like those, they assume the outer path carries the link's MTU (the
// route MTU is the link's, not a path MTU: see routeMTU). The path MTU
// helpers (bpf_fib_lookup, bpf_check_mtu) are for GPL programs only.
type gsoRestore struct {
	srcs  *ebpf.Map // outer source address -> its link's MTU (u32)
	prog  *ebpf.Program
	links map[int]link.Link // by interface index
	known map[netip.Addr]uint32
}

// Constants of the restore program (uapi/linux/bpf.h).
const (
	gsoProgramName = "monami_gso"
	maxGSOSources  = 4096
	bpfHdrStartNet = 1 // bpf_skb_load_bytes_relative
	bpfAdjRoomNet  = 0 // bpf_skb_adjust_room mode
	bpfAdjFixedGSO = 1 // BPF_F_ADJ_ROOM_FIXED_GSO
	tcxNext        = -1
	// gsoRestoredTag in the qdisc control block's cb[0] marks a packet
	// this program restored and sent to the egress again ("mona"). Left
	// there, a packet whose segments were shorter than the route allows
	// (a clamped MSS) would be grown a second time.
	gsoRestoredTag = 0x6d6f6e61
	tcxDrop        = 2
	tcpDataOffset  = 12 // RFC 9293 section 3.1: data offset, high 4 bits
	tunnelTCPHead  = 2*ipv6HeaderLen + tcpDataOffset + 1
	// gsoStackHdr: the headers read (outer, inner, TCP up to its data
	// offset) on the program's stack.
	gsoStackHdr = -96
)

// gsoRestoreProgram is the tcx egress program.
func gsoRestoreProgram(srcs *ebpf.Map) asm.Instructions {
	ins := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		// The second pass of a restored packet (see below): leave it.
		asm.LoadMem(asm.R1, asm.R6, skbCB0, asm.Word),
		asm.JEq.Imm(asm.R1, gsoRestoredTag, "again"),
		asm.LoadMem(asm.R7, asm.R6, skbGSOSize, asm.Word),
		asm.JEq.Imm(asm.R7, 0, "next"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, 0),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, gsoStackHdr),
		asm.Mov.Imm(asm.R4, tunnelTCPHead),
		asm.Mov.Imm(asm.R5, bpfHdrStartNet),
		asm.FnSkbLoadBytesRelative.Call(),
		asm.JNE.Imm(asm.R0, 0, "next"),
		asm.LoadMem(asm.R1, asm.RFP, gsoStackHdr, asm.Byte),
		asm.RSh.Imm(asm.R1, 4),
		asm.JNE.Imm(asm.R1, 6, "next"),
		asm.LoadMem(asm.R1, asm.RFP, gsoStackHdr+offNextHeader, asm.Byte),
		asm.JNE.Imm(asm.R1, protoIPv6, "next"),
		asm.LoadMem(asm.R1, asm.RFP, gsoStackHdr+ipv6HeaderLen+offNextHeader, asm.Byte),
		asm.JNE.Imm(asm.R1, unix.IPPROTO_TCP, "next"),
		asm.LoadMapPtr(asm.R1, srcs.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, gsoStackHdr+offSrc),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "next"),
		// A restored segment: outer and inner header, TCP header, and
		// gso_size + 40 octets of data.
		asm.LoadMem(asm.R1, asm.RFP, gsoStackHdr+2*ipv6HeaderLen+tcpDataOffset, asm.Byte),
		asm.RSh.Imm(asm.R1, 4),
		asm.LSh.Imm(asm.R1, 2),
		asm.Add.Reg(asm.R1, asm.R7),
		asm.Add.Imm(asm.R1, 3*ipv6HeaderLen),
		// No bigger than the outer link's MTU (the map's value).
		asm.LoadMem(asm.R2, asm.R0, 0, asm.Word),
		asm.JGT.Reg(asm.R1, asm.R2, "next"),
	}
	return append(ins,
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, lwtHeadroom),
		asm.Mov.Imm(asm.R3, bpfAdjRoomNet),
		asm.Mov.Imm(asm.R4, bpfAdjFixedGSO),
		asm.FnSkbAdjustRoom.Call(),
		asm.JNE.Imm(asm.R0, 0, "next"), // nothing changed
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Mov.Imm(asm.R2, -lwtHeadroom),
		asm.Mov.Imm(asm.R3, bpfAdjRoomNet),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnSkbAdjustRoom.Call(),
		// The grown room could not be taken out again: the packet
		// carries 40 stray octets, so it must not leave.
		asm.JNE.Imm(asm.R0, 0, "drop"),
		// The qdiscs would charge the packet by the length reckoned
		// before this program ran, from the shortened segments: one
		// header more for every segment cut short (qdisc_pkt_len_init),
		// 0.4% too much for a 64 KiB packet. A shaper at this egress
		// (the demo network's uplink) then lost about 2% of its rate.
		// Sent to the same egress again, the packet is reckoned anew,
		// and the tag in cb[0] lets it through this program.
		asm.Mov.Imm(asm.R1, gsoRestoredTag),
		asm.StoreMem(asm.R6, skbCB0, asm.R1, asm.Word), // the verifier refuses BPF_ST into the context
		asm.LoadMem(asm.R1, asm.R6, skbIfindex, asm.Word),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnRedirect.Call(), // TCX_REDIRECT (7)
		asm.Return(),
		asm.Mov.Imm(asm.R1, 0).WithSymbol("again"),
		asm.StoreMem(asm.R6, skbCB0, asm.R1, asm.Word),
		asm.Mov.Imm(asm.R0, tcxNext).WithSymbol("next"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, tcxDrop).WithSymbol("drop"),
		asm.Return(),
	)
}

// newGSORestore creates the map and loads the program.
func newGSORestore() (*gsoRestore, error) {
	g := &gsoRestore{links: map[int]link.Link{}, known: map[netip.Addr]uint32{}}
	var err error
	if g.srcs, err = ebpf.NewMap(&ebpf.MapSpec{Name: "monami_gso_src", Type: ebpf.Hash,
		KeySize: 16, ValueSize: 4, MaxEntries: maxGSOSources, Flags: unix.BPF_F_NO_PREALLOC}); err != nil {
		return nil, fmt.Errorf("GSO restore map: %w", err)
	}
	if g.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: gsoProgramName, Type: ebpf.SchedCLS,
		Instructions: gsoRestoreProgram(g.srcs), License: "Apache-2.0"}); err != nil {
		g.close()
		return nil, fmt.Errorf("GSO restore program: %w", err)
	}
	return g, nil
}

// hold makes sure the program runs at l's egress and knows src as a
// tunnel source with l's MTU. inNS runs a function in the data plane's namespace (tcx
// attaches by interface index there), only for a new interface. Sources stay known until close: there are few
// (the node's own addresses) and a stale one costs nothing.
func (g *gsoRestore) hold(l netlink.Link, src netip.Addr, inNS func(func() error) error) error {
	if mtu := uint32(l.Attrs().MTU); g.known[src] != mtu {
		a := src.As16()
		if err := g.srcs.Update(a[:], mtu, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("GSO restore: tunnel source %v: %w", src, err)
		}
		g.known[src] = mtu
	}
	idx := l.Attrs().Index
	if _, ok := g.links[idx]; ok {
		return nil
	}
	var tl link.Link
	err := inNS(func() (err error) {
		tl, err = link.AttachTCX(link.TCXOptions{Interface: idx, Program: g.prog, Attach: ebpf.AttachTCXEgress})
		return err
	})
	g.links[idx] = tl // nil after a failure: tried once per interface, logged once
	if err != nil {
		return fmt.Errorf("GSO restore: attach to %s egress: %w", l.Attrs().Name, err)
	}
	return nil
}

// close detaches the program everywhere and frees it and its map.
func (g *gsoRestore) close() error {
	var errs []error
	for _, l := range g.links {
		if l != nil {
			errs = append(errs, l.Close())
		}
	}
	clear(g.links)
	if g.prog != nil {
		errs = append(errs, g.prog.Close())
	}
	if g.srcs != nil {
		errs = append(errs, g.srcs.Close())
	}
	return errors.Join(errs...)
}
