package lab

import (
	"os"
	"testing"
)

// FuzzParse: any input gives a topology or an error, never a panic, and a
// topology that parsed validates again unchanged.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../../examples/lab/basic.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(goodYAML))
	f.Add([]byte(crashYAML))
	f.Add([]byte("name: t\nnodes: [{name: a, kind: root}, {name: b}]\nlinks: [{a: {node: a, if: x, addrs: [10.0.0.1/31]}, b: {node: b, if: y, addrs: [10.0.0.0/31]}}]\n"))
	f.Add([]byte("name: t\nnodes: [{name: a, routes: [{dst: default, via: 'fe80::1'}]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		topo, err := Parse(b)
		if err != nil {
			return
		}
		if err := topo.Validate(); err != nil {
			t.Fatalf("parsed topology fails validation again: %v", err)
		}
	})
}

// FuzzParseImpairment: CLI settings never panic and never yield jitter > delay.
func FuzzParseImpairment(f *testing.F) {
	for _, s := range []string{"rate=10mbit", "delay=10ms", "jitter=1ms", "loss=1%", "loss=0.5", "rate=none", "x", "delay=1e9"} {
		f.Add(s, "delay=20ms")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		im, err := ParseImpairment(Impairment{}, []string{a, b})
		if err == nil && im.Jitter > im.Delay {
			t.Fatalf("jitter %v > delay %v accepted", im.Jitter, im.Delay)
		}
		if err == nil && (im.Loss < 0 || im.Loss > 1) {
			t.Fatalf("loss %v accepted", im.Loss)
		}
	})
}
