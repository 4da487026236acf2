package lab

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Flow queuing behind a link's rate limit (Link.Qdisc "fq"): what
// fq_codel's scheduler does (RFC 8290 section 4: a queue per flow, by a
// hash of its headers, served round robin a quantum at a time), so a flow
// joining a busy link waits behind one frame of each other flow, not
// behind their standing queue. The stock kernel here has neither
// sch_fq_codel nor sch_sfq nor sch_cake, so it is built from what it has:
// the TBF root shapes as for "fifo"; its child, instead of the byte FIFO,
// is an HTB whose leaf classes never reach their rate (HTB then only
// schedules: deficit round robin over the backlogged leaves by quantum),
// one byte FIFO of the link's queue: limit per leaf, and a cls_bpf filter
// putting each packet in leaf hash % fqBuckets with the kernel's flow hash
// (skb_get_hash, the one fq_codel uses). Tunnelled flows stay apart: the
// hash dissects into an IPv6-in-IPv6 packet, or stops at an outer flow
// label, which monami's tunnel entry points set per inner flow (RFC 6438).
// No CoDel: each flow's own queue is tail-drop at queue:.
const (
	fqBuckets = 64
	fqMajor   = 0x10 // handle of the HTB under TBF's class 1:1
	fqRoot    = 1    // the HTB's root class; buckets are minors 2..fqBuckets+1
	fqProg    = "monami_fq"
)

// setFlowQueues installs (or resizes) the flow queues under the TBF root
// of interface ifn in namespace ns: limit octets per flow queue.
func setFlowQueues(ns, ifn string, bytesPerSec, limit uint64, mtu int) error {
	return inNs(ns, func() error {
		ln, err := netlink.LinkByName(ifn)
		if err != nil {
			return err
		}
		idx := ln.Attrs().Index
		have, err := hasFlowQueues(idx)
		if err != nil {
			return err
		}
		if !have {
			if err := addFlowScheduler(idx); err != nil {
				return err
			}
		}
		// Classes follow the rate (a change keeps their queues).
		if err := setFlowClasses(idx, bytesPerSec, mtu); err != nil {
			return err
		}
		// bfifo's change keeps what is queued: an impairment change
		// mid-run (lab link) loses nothing.
		for i := range fqBuckets {
			if err := setBfifo(idx, netlink.MakeHandle(fqMajor, uint16(fqRoot+1+i)), netlink.MakeHandle(uint16(0x100+i), 0), limit); err != nil {
				return fmt.Errorf("flow queue %d: %w", i, err)
			}
		}
		return nil
	})
}

// hasFlowQueues reports whether the HTB is already under the TBF root.
func hasFlowQueues(idx int) (bool, error) {
	qs, err := netlink.QdiscList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: idx}})
	if err != nil {
		return false, err
	}
	for _, q := range qs {
		if q.Type() == "htb" && q.Attrs().Handle == netlink.MakeHandle(fqMajor, 0) {
			return true, nil
		}
	}
	return false, nil
}

// addFlowScheduler puts the HTB and the hash filter under TBF's class 1:1
// (replacing TBF's byte FIFO).
func addFlowScheduler(idx int) error {
	htb := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: idx, Handle: netlink.MakeHandle(fqMajor, 0), Parent: netlink.MakeHandle(1, 1)})
	htb.Defcls = fqRoot + 1 // the filter classifies every packet; this is only a fallback
	if err := netlink.QdiscReplace(htb); err != nil {
		return fmt.Errorf("htb: %w", err)
	}
	prog, err := flowHashProgram()
	if err != nil {
		return err
	}
	defer prog.Close() // the filter holds its own reference
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(fqMajor, 0), Handle: 1, Priority: 1, Protocol: unix.ETH_P_ALL},
		Fd:          prog.FD(), Name: fqProg,
	}
	if err := netlink.FilterReplace(f); err != nil {
		return fmt.Errorf("cls_bpf: %w", err)
	}
	return nil
}

// setFlowClasses creates or changes the HTB's root class and one leaf
// class per flow queue. Their rate is four times the link's: TBF above
// lets through at most the rate (plus its burst), so no class ever waits
// for HTB's tokens, and HTB only takes turns by quantum, a full frame.
func setFlowClasses(idx int, bytesPerSec uint64, mtu int) error {
	// Tokens for 100 ms at the link's rate: more than TBF's burst.
	bits, buffer := 4*8*bytesPerSec, uint32(max(bytesPerSec/10, 64<<10))
	class := func(parent uint32, minor uint16) error {
		c := netlink.NewHtbClass(netlink.ClassAttrs{LinkIndex: idx, Parent: parent, Handle: netlink.MakeHandle(fqMajor, minor)},
			netlink.HtbClassAttrs{Rate: bits, Ceil: bits, Buffer: buffer, Cbuffer: buffer, Quantum: uint32(mtu + 14)})
		return netlink.ClassReplace(c)
	}
	if err := class(netlink.MakeHandle(fqMajor, 0), fqRoot); err != nil {
		return fmt.Errorf("htb root class: %w", err)
	}
	for i := range fqBuckets {
		if err := class(netlink.MakeHandle(fqMajor, fqRoot), uint16(fqRoot+1+i)); err != nil {
			return fmt.Errorf("htb class %d: %w", i, err)
		}
	}
	return nil
}

// flowHashProgram is a cls_bpf classifier (not direct action: it returns
// the class id) choosing leaf (skb_get_hash % fqBuckets) of the HTB.
func flowHashProgram() (*ebpf.Program, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: fqProg, Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			// r1 is the skb already.
			asm.FnGetHashRecalc.Call(),
			asm.Mod.Imm(asm.R0, fqBuckets),
			asm.Add.Imm(asm.R0, fqRoot+1),
			asm.Or.Imm(asm.R0, fqMajor<<16),
			asm.Return(),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("load flow hash program: %w", err)
	}
	return prog, nil
}

// setBfifo creates or changes a byte FIFO of limit octets at parent (the
// netlink package has no bfifo: struct tc_fifo_qopt is one u32).
func setBfifo(idx int, parent, handle uint32, limit uint64) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(idx), Handle: handle, Parent: parent})
	req.AddData(nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated("bfifo")))
	req.AddData(nl.NewRtAttr(nl.TCA_OPTIONS, binary.NativeEndian.AppendUint32(nil, uint32(min(limit, 1<<31)))))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// inNs runs fn in namespace ns, or here for the root node ("").
func inNs(ns string, fn func() error) error {
	if ns == "" {
		return fn()
	}
	return inNetns(nsPath(ns), fn)
}
