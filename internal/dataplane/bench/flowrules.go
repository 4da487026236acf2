package bench

import (
	"fmt"

	"monami/internal/dataplane"
	"monami/internal/forwarding"
)

// iperfPort is iperf3's default port, which the measured traffic uses.
const iperfPort = 5201

// installFlowRules adds n flow routes to the measured tunnel's
// destination on dp (Options.FlowRules): n-1 on other destination ports,
// then the one the iperf3 traffic takes, ranked after all of them (a
// higher Order), then the zero-Flow route again, last; so every packet
// is classified among n rules.
func installFlowRules(dp dataplane.DataPlane, dst dataplane.Selector, tun dataplane.Tunnel, n int) error {
	ops := make([]dataplane.Op, 0, n)
	for i := range n - 1 {
		s := dst
		s.Flow = forwarding.Match{NextHeader: forwarding.Exact[uint8](6), DstPort: forwarding.Exact(uint16(10000 + i))}
		ops = append(ops, dataplane.Op{Kind: dataplane.OpAddRoute, Route: dataplane.Route{Selector: s, Tunnel: tun}})
	}
	s := dst
	s.Flow = forwarding.Match{NextHeader: forwarding.Exact[uint8](6), DstPort: forwarding.Exact[uint16](iperfPort)}
	ops = append(ops, dataplane.Op{Kind: dataplane.OpAddRoute, Route: dataplane.Route{Selector: s, Tunnel: tun, Order: 1}},
		dataplane.Op{Kind: dataplane.OpAddRoute, Route: dataplane.Route{Selector: dst, Tunnel: tun, Order: 2}})
	if err := dataplane.Apply(dp, ops); err != nil {
		return fmt.Errorf("%d flow rules: %w", n, err)
	}
	return nil
}
