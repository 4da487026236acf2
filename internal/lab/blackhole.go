package lab

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// blackholeTable holds a lab's silent-failure rules in a namespace.
func blackholeTable(lab string) string { return "monami_" + lab + "_blackhole" }

// SetBlackhole makes node (a router) drop every packet it forwards from or
// to ifname, in both directions, while the link, its carrier and neighbour
// discovery with the router itself stay up: an access network that fails
// silently (an associated Wi-Fi with a dead backhaul, a stalled bearer).
// Nothing on the mobile node's side notices but missing traffic.
func (l *Lab) SetBlackhole(node, ifname string, on bool) error {
	if _, err := l.FindLink(node + ":" + ifname); err != nil {
		return err
	}
	ifn := l.ifName(node, ifname)
	table := &nftables.Table{Name: blackholeTable(l.st.Name), Family: nftables.TableFamilyIPv6}
	chain := &nftables.Chain{Name: "blackhole_" + ifn, Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter}
	err := l.withNft(l.nsOf(node), func(c *nftables.Conn) error {
		c.AddTable(table)
		c.AddChain(chain) // create, so the delete below always finds it
		c.DelChain(chain)
		if on {
			c.AddChain(chain)
			for _, key := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
				c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
					&expr.Meta{Key: key, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameBytes(ifn)},
					&expr.Counter{},
					&expr.Verdict{Kind: expr.VerdictDrop},
				}})
			}
		}
		return c.Flush()
	})
	if err != nil {
		return fmt.Errorf("%s:%s: blackhole %v: %w", node, ifname, on, err)
	}
	return nil
}

// ifnameBytes is an interface name as the kernel compares it (IFNAMSIZ,
// NUL padded).
func ifnameBytes(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}
