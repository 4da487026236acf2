package lab

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// An IPv4-only link (net.ipv6.conf.<if>.disable_ipv6 on both ends, one a
// router): IPv6 is off before the interfaces come up, so they never send
// an IPv6 packet (no MLD report, DAD or Router Solicitation leaks onto the
// link, as one did into an IPv4-only capture of the NAT demo).
const ipv4OnlyYAML = `
name: %s
nodes:
  - name: a
    sysctls: {net.ipv6.conf.eth0.disable_ipv6: "1"}
  - name: r
    kind: router
    sysctls: {net.ipv6.conf.eth0.disable_ipv6: "1"}
links:
  - a: {node: a, if: eth0, addrs: [10.77.9.2/24]}
    b: {node: r, if: eth0, addrs: [10.77.9.1/24]}
`

func TestIPv4OnlyLinkSendsNoIPv6(t *testing.T) {
	l := upLab(t, fmt.Sprintf(ipv4OnlyYAML, "mltv4"))
	for _, name := range []string{"a", "r"} {
		out, err := l.MustNode(name).Exec(context.Background(), "cat", "/proc/net/dev_snmp6/eth0")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 || (f[0] != "Ip6OutRequests" && f[0] != "Ip6OutMcastPkts") {
				continue
			}
			if n, _ := strconv.Atoi(f[1]); n != 0 {
				t.Errorf("%s eth0: %s %d, want no IPv6 packet sent", name, f[0], n)
			}
		}
	}
}
