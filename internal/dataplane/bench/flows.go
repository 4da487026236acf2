package bench

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"monami/internal/dataplane"
	"monami/internal/forwarding"
)

// The flow-rule variants of a tunnel case (Options.FlowRules).
const (
	flowsSpread = "flows-spread"
	flowsWorst  = "flows-worst"
)

// withFlowVariants adds, after every tunnel case, its two variants with
// flow routes.
func withFlowVariants(cases []Case) []Case {
	var out []Case
	for _, c := range cases {
		out = append(out, c)
		if c != Plain {
			out = append(out, c+"+"+flowsSpread, c+"+"+flowsWorst)
		}
	}
	return out
}

// flowVariant splits "kernel+flows-worst" into the case and the variant.
func flowVariant(c Case) (Case, string) {
	base, v, _ := strings.Cut(string(c), "+")
	return Case(base), v
}

// iperfPort is where the measured stream goes (iperf3's default).
const iperfPort = 5201

// installFlowRules installs n flow routes on the tunnel entry through the
// public API, so that the measured stream (TCP to iperfPort, routed by
// measured) is classified through them:
//
//   - spread: n/10 parents (the measured one and n/10-1 mobile nodes'
//     home addresses), ten TCP destination-port rules each; the measured
//     parent's last rule (by Order) matches the stream.
//   - worst: all n on the measured parent, the stream matching the last.
//
// All have Order 0, as the plain route has (a higher Order would put them
// after it, unreachable); among equally specific flows the key orders
// them, and "dport=10000".."dport=10998" come before "dport=5201".
//
// Every rule sends its packets into the measured tunnel (the other
// parents' into their mobile node's), so the stream's rate shows what
// classifying costs.
func installFlowRules(dp dataplane.DataPlane, variant string, n int, measured netip.Prefix, t dataplane.Tunnel, progress io.Writer) (dataplane.Selector, error) {
	start := time.Now()
	var ops []dataplane.Op
	rules := func(dst netip.Prefix, tun dataplane.Tunnel, count int, last uint16) {
		for j := range count {
			port := uint16(10000 + j)
			if j == count-1 {
				port = last
			}
			ops = append(ops, dataplane.Op{Kind: dataplane.OpAddRoute, Route: dataplane.Route{
				Selector: dataplane.Selector{Dst: dst, Flow: forwarding.Match{
					NextHeader: forwarding.Exact[uint8](6), DstPort: forwarding.Exact(port)}},
				Tunnel: tun}})
		}
	}
	switch variant {
	case flowsWorst:
		rules(measured, t, n, iperfPort)
	case flowsSpread:
		parents := max(n/10, 1)
		for i := range parents - 1 {
			coa, hoa := mobileNode(i)
			rules(netip.PrefixFrom(hoa, 128), dataplane.Tunnel{Local: t.Local, Remote: coa, Encap: t.Encap}, 10, 9999)
		}
		rules(measured, t, n-10*(parents-1), iperfPort)
	default:
		return dataplane.Selector{}, fmt.Errorf("unknown flow variant %q", variant)
	}
	if err := dataplane.Apply(dp, ops); err != nil {
		return dataplane.Selector{}, fmt.Errorf("%d flow routes (%s): %w", len(ops), variant, err)
	}
	if progress != nil {
		fmt.Fprintf(progress, "%s: %d flow routes installed in %.1f s\n", variant, len(ops), time.Since(start).Seconds())
	}
	return ops[len(ops)-1].Route.Selector, nil
}

// reportStreamRule prints what the measured stream's rule counted: proof
// that the stream was classified through the rules.
func reportStreamRule(dp dataplane.DataPlane, s dataplane.Selector, progress io.Writer) {
	fc, ok := dp.(dataplane.FlowCounterReader)
	if !ok || progress == nil {
		return
	}
	rcs, err := fc.RouteCounters()
	if err != nil {
		fmt.Fprintf(progress, "  route counters: %v\n", err)
		return
	}
	for _, rc := range rcs {
		if rc.Selector == s && len(rc.Paths) > 0 {
			fmt.Fprintf(progress, "  the stream's flow route (%v) carried %d packets, %d octets\n", s, rc.Paths[0].Packets, rc.Paths[0].Octets)
		}
	}
}
