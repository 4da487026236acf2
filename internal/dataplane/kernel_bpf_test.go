package dataplane

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"monami/internal/testenv"
)

// The egress program run by the kernel on hand-made frames
// (BPF_PROG_TEST_RUN): the exact outer header, counters, and what it leaves
// alone.
func TestEgressEncapProgram(t *testing.T) {
	testenv.RequireRoot(t)
	peerMAC := [6]byte{0x02, 0, 0, 0, 0, 0x99}
	tunnels, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: tunnelValueLen, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer tunnels.Close()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.SchedCLS, Instructions: egressEncapProgram(tunnels, peerMAC), License: "Apache-2.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	e := &egressEncap{tunnels: tunnels}
	tun := Tunnel{Local: netip.MustParseAddr("2001:db8:1::1"), Remote: netip.MustParseAddr("2001:db8:2::2")}
	if err := e.put(7, tun, 1); err != nil {
		t.Fatal(err)
	}

	frame := func(dstMAC [6]byte, ethType uint16) []byte {
		b := append([]byte{}, dstMAC[:]...)
		b = append(b, 0x02, 0, 0, 0, 0, 0x01)
		b = binary.BigEndian.AppendUint16(b, ethType)
		// Inner IPv6: traffic class 0xb8, flow label 0x12345, UDP, 4 payload octets.
		b = append(b, 0x6b, 0x81, 0x23, 0x45, 0, 12, 17, 63)
		s, d := netip.MustParseAddr("2001:db8:5::2").As16(), netip.MustParseAddr("2001:db8:b::1").As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
		return append(b, 0x30, 0x39, 0x30, 0x39, 0, 12, 0, 0, 'p', 'i', 'n', 'g')
	}
	// (A frame shorter than its IPv6 header cannot be tested: the test
	// run refuses it before the program sees it.)
	run := func(t *testing.T, in []byte) (uint32, []byte) {
		t.Helper()
		out := make([]byte, len(in)+ipv6HeaderLen+64)
		ret, err := prog.Run(&ebpf.RunOptions{Data: in, DataOut: out})
		if err != nil {
			t.Fatalf("test run: %v", err)
		}
		// DataOut is resliced to what the program left.
		return ret, out
	}
	const tcActRedirect = 7

	t.Run("encapsulates", func(t *testing.T) {
		in := frame(tunnelMAC(7), 0x86dd)
		ret, out := run(t, in)
		if ret != tcActRedirect {
			t.Fatalf("return %d, want TC_ACT_REDIRECT", int32(ret))
		}
		outer := out[ethHeaderLen : ethHeaderLen+ipv6HeaderLen]
		s, d := tun.Local.As16(), tun.Remote.As16()
		want := append([]byte{0x6b, 0x81, 0x23, 0x45, 0, byte(len(in) - ethHeaderLen), protoIPv6, outerHopLimit}, s[:]...)
		want = append(want, d[:]...)
		if !bytes.Equal(outer, want) {
			t.Errorf("outer header\n got %x\nwant %x", outer, want)
		}
		if !bytes.Equal(out[:ethHeaderLen], in[:ethHeaderLen]) {
			t.Errorf("MAC header changed: %x", out[:ethHeaderLen])
		}
		if inner := out[ethHeaderLen+ipv6HeaderLen : len(in)+ipv6HeaderLen]; !bytes.Equal(inner, in[ethHeaderLen:]) {
			t.Errorf("inner packet changed:\n got %x\nwant %x", inner, in[ethHeaderLen:])
		}
		c, err := e.counters()
		if err != nil || c.packets != 1 || c.bytes != uint64(len(in)-ethHeaderLen) || c.errors != 0 || c.fallback != 0 {
			t.Errorf("counters %+v, %v", c, err)
		}
	})
	t.Run("unlabelled-gets-flow-label", func(t *testing.T) {
		// RFC 6438 section 3: an inner packet without a flow label gets
		// one from the flow's hash; the traffic class is still copied.
		in := frame(tunnelMAC(7), 0x86dd)
		in[ethHeaderLen+1], in[ethHeaderLen+2], in[ethHeaderLen+3] = 0x80, 0, 0
		ret, out := run(t, in)
		if ret != tcActRedirect {
			t.Fatalf("return %d, want TC_ACT_REDIRECT", int32(ret))
		}
		w := binary.BigEndian.Uint32(out[ethHeaderLen:])
		if w>>20 != 0x6b8 || w&0xfffff == 0 {
			t.Errorf("outer version/class/label %08x: want 6, b8 and a label", w)
		}
	})
	t.Run("unknown-tunnel-to-veth-peer", func(t *testing.T) {
		in := frame(tunnelMAC(8), 0x86dd)
		ret, out := run(t, in)
		if int32(ret) != tcxNext {
			t.Fatalf("return %d, want TCX_NEXT", int32(ret))
		}
		if !bytes.Equal(out[:6], peerMAC[:]) || !bytes.Equal(out[6:len(in)], in[6:]) {
			t.Errorf("want only the destination MAC rewritten to the peer's: %x", out[:len(in)])
		}
	})
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"other-mac", frame([6]byte{0x02, 0, 0, 0, 0, 7}, 0x86dd)},
		{"ipv4", frame(tunnelMAC(7), 0x0800)},
	} {
		t.Run("ignores-"+c.name, func(t *testing.T) {
			ret, out := run(t, c.in)
			if int32(ret) != tcxNext || !bytes.Equal(out[:len(c.in)], c.in) {
				t.Errorf("return %d, frame %x: want TCX_NEXT and no change", int32(ret), out[:len(c.in)])
			}
		})
	}
}
