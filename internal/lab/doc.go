// Package lab builds test networks out of Linux network namespaces, for
// monami's integration tests, benchmarks and demos.
//
// A Topology (YAML, see examples/lab/basic.yaml) names nodes (hosts,
// routers, or the machine's own "root" namespace), point-to-point links
// between them (veth pairs) with addresses, per-node routes and sysctls,
// per-link impairments, and processes to start.
//
//	topo, err := lab.Load("examples/lab/basic.yaml") // or lab.Parse(yamlBytes)
//	l, err := lab.Up(ctx, topo)                      // builds it; l.Down() removes it
//	defer l.Down()
//	mn, err := l.Node("mn")
//	out, err := mn.Exec(ctx, "ip", "-6", "route")    // or mn.Command(ctx, ...) for an *exec.Cmd
//	err = mn.Do(func() error { ...open sockets in mn's namespace... })
//	err = l.SetLink("mn", "wlan0", false)            // link down: mn loses the link, the peer its carrier
//	err = l.SetImpairment("wlan", lab.Impairment{Rate: 10e6, Delay: lab.Duration(20 * time.Millisecond)})
//	err = l.SetEgressImpairment("mn", "lte0", lab.Impairment{Rate: 2e6}) // one direction only
//	err = lab.Teardown("basic")                      // by name, from any process (also after a crash)
//
// Everything is done through netlink (vishvananda/netlink), nftables
// (google/nftables) and ioctls; nothing shells out to ip, tc or ethtool.
//
// Naming: node N of lab L lives in namespace /run/netns/L-N; interfaces
// keep their topology names inside namespaces, and get the prefix "L-" on
// the root node. A link with delay gets a middle namespace L-relay-LINK. So
// two labs with different names run side by side.
//
// Impairments apply to each direction of a link independently (YAML
// impair: for both, a_to_b: / b_to_a: for one; DirImpairment in Go):
//   - Rate: a TBF qdisc on each end's egress (Ethernet frame bytes count),
//     queueing at most the link's queue: (default 100 ms at the rate).
//   - Loss: an nftables netdev ingress chain on each end, "numgen random mod
//     1000000 < p*1e6 drop", in table monami_L.
//   - Links with any impairment run without TSO/GSO/GRO and tx checksum
//     offload (set by SIOCETHTOOL): one drop is one packet, frames are
//     wire-sized, and the relay gets finished checksums.
//   - Delay and jitter: ONE-WAY delay per direction (a round trip takes
//     2×Delay); jitter is uniform in ±Jitter and never reorders frames. No
//     kernel qdisc can delay on this kernel (no netem), so the link runs
//     through a userspace relay: a detached process in the middle namespace
//     that moves Ethernet frames between two veths with AF_PACKET sockets
//     and releases each one from a per-direction queue at its due time.
//     Delay can only be changed later on links built with a relay (declare
//     a delay, or relay: true).
//
// State: /run/monami/lab/L/state.json records every namespace, host-side
// interface, nftables table, root sysctl, relay and process BEFORE it is
// created, so Teardown(L) (`monami lab down L`) removes all of it, also after
// the building process was SIGKILLed. Teardown also kills any process still
// inside the lab's namespaces. Process output goes to /run/monami/lab/L/NAME.log.
//
// Re-exec: Node.Command and the relay re-execute the current binary with a
// marker argument, handled by this package's init, which enters the target
// namespace and execs the real program. Any binary that imports lab (monami,
// test binaries) can therefore start processes in nodes.
//
// Fresh namespaces get net.ipv6.conf.{all,default}.accept_dad=0 (addresses
// usable at once) and keep_addr_on_down=1 (SetLink down/up keeps them);
// routers get IPv6 and IPv4 forwarding. Node sysctls override these.
package lab
