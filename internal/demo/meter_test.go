package demo

import "testing"

// The meters count IPv6 in UDP in IPv4 on an IPv4-only link (RFC 5555),
// and its inner packet is found after the IPv4 and UDP headers.
func TestTunnelledIPv4UDP(t *testing.T) {
	p := make([]byte, 20+8+40)
	p[0], p[9] = 0x45, 17
	p[20], p[21] = 0x10, 0x5f // source port 4191
	p[28] = 0x60
	if !tunnelled(p) {
		t.Fatal("IPv4/UDP 4191 not counted")
	}
	if in := innerPacket(p); len(in) != 40 || in[0] != 0x60 {
		t.Fatalf("inner packet %x", in)
	}
	p[20], p[21] = 0, 53
	if tunnelled(p) {
		t.Fatal("IPv4/UDP 53 counted")
	}
	p[9] = 6
	if tunnelled(p) {
		t.Fatal("IPv4/TCP counted")
	}
}
