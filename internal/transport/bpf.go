package transport

// The classic BPF filter of the AF_PACKET capture.

import (
	"golang.org/x/net/bpf"
)

// captureDepth is how many extension headers the filter walks before the
// Mobility Header; parsePacket accepts any number, but real signalling has
// at most hop-by-hop + routing + destination options.
const captureDepth = 4

// captureFilter returns a filter for AF_PACKET SOCK_DGRAM sockets (offset 0
// is the IPv6 header) that accepts IPv6 packets whose upper-layer header is
// a Mobility Header reached through hop-by-hop, routing or destination
// options headers, at least one of which is a destination options header or
// a type 2 routing header: the set the nftables rules drop (except their
// "local address" test, done in userspace).
func captureFilter() []bpf.Instruction {
	// Scratch: M[0] = saw dstopts/RH2, M[1] = next header value to examine.
	// X = offset of the header being examined.
	a := &asm{}
	a.ins(bpf.LoadAbsolute{Off: 0, Size: 1})
	a.ins(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	a.jeq(0x60, "", "reject")
	a.ins(bpf.LoadAbsolute{Off: 6, Size: 1})
	a.ins(bpf.StoreScratch{Src: bpf.RegA, N: 1})
	a.ins(bpf.LoadConstant{Dst: bpf.RegX, Val: ipv6HeaderLen})
	a.ins(bpf.LoadConstant{Dst: bpf.RegA, Val: 0})
	a.ins(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	for i := 0; i < captureDepth; i++ {
		adv, flag, rt := lbl("adv", i), lbl("flag", i), lbl("rt", i)
		a.ins(bpf.LoadScratch{Dst: bpf.RegA, N: 1})
		a.jeq(ProtoMH, "final", "")
		a.jeq(protoHopByHop, adv, "")
		a.jeq(protoDstOpts, flag, "")
		a.jeq(protoRouting, rt, "reject")
		a.label(rt)
		a.ins(bpf.LoadIndirect{Off: 2, Size: 1})
		a.jeq(routingType2, flag, adv)
		a.label(flag)
		a.ins(bpf.LoadConstant{Dst: bpf.RegA, Val: 1})
		a.ins(bpf.StoreScratch{Src: bpf.RegA, N: 0})
		a.label(adv)
		a.ins(bpf.LoadIndirect{Off: 0, Size: 1})
		a.ins(bpf.StoreScratch{Src: bpf.RegA, N: 1})
		a.ins(bpf.LoadIndirect{Off: 1, Size: 1})
		a.ins(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 1})
		a.ins(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 3})
		a.ins(bpf.ALUOpX{Op: bpf.ALUOpAdd})
		a.ins(bpf.TAX{})
	}
	a.ins(bpf.RetConstant{Val: 0})
	a.label("final")
	a.ins(bpf.LoadScratch{Dst: bpf.RegA, N: 0})
	a.jeq(0, "reject", "")
	a.ins(bpf.RetConstant{Val: 0xffff})
	a.label("reject")
	a.ins(bpf.RetConstant{Val: 0})
	return a.resolve()
}

func lbl(name string, i int) string { return name + string(rune('0'+i)) }

// asm is a tiny forward-jump assembler with labels.
type asm struct {
	prog   []bpf.Instruction
	labels map[string]int
	fix    []fixup
}

type fixup struct {
	at          int
	true, false string // "" = next instruction
}

func (a *asm) ins(i bpf.Instruction) { a.prog = append(a.prog, i) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.prog)
}

func (a *asm) jeq(v uint32, t, f string) {
	a.fix = append(a.fix, fixup{at: len(a.prog), true: t, false: f})
	a.prog = append(a.prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: v})
}

func (a *asm) resolve() []bpf.Instruction {
	skip := func(at int, l string) uint8 {
		if l == "" {
			return 0
		}
		to, ok := a.labels[l]
		if !ok || to <= at || to-at-1 > 255 {
			panic("transport: bad BPF label " + l) // programming error, not input
		}
		return uint8(to - at - 1)
	}
	for _, f := range a.fix {
		j := a.prog[f.at].(bpf.JumpIf)
		j.SkipTrue, j.SkipFalse = skip(f.at, f.true), skip(f.at, f.false)
		a.prog[f.at] = j
	}
	return a.prog
}
