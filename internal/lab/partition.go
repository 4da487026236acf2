package lab

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// partitionTable holds a lab's partition rules in a node's namespace.
func partitionTable(lab string) string { return "monami_" + lab + "_partition" }

// SetPartition cuts node off from everything it reaches through ifname:
// nftables rules in the node's namespace drop every packet it receives on
// or sends from that interface (IPv6 and IPv4), while the link stays up.
// Open connections stay open and simply hear nothing: a network partition,
// not a failure anyone is told about.
func (l *Lab) SetPartition(node, ifname string, on bool) error {
	n, err := l.Node(node)
	if err != nil {
		return err
	}
	h, err := n.Netlink()
	if err != nil {
		return err
	}
	ifn := l.ifName(node, ifname)
	if _, err := h.LinkByName(ifn); err != nil {
		return fmt.Errorf("%s:%s: %w", node, ifname, err)
	}
	table := &nftables.Table{Name: partitionTable(l.st.Name), Family: nftables.TableFamilyINet}
	chains := []struct {
		hook *nftables.ChainHook
		key  expr.MetaKey
	}{{nftables.ChainHookInput, expr.MetaKeyIIFNAME}, {nftables.ChainHookOutput, expr.MetaKeyOIFNAME},
		{nftables.ChainHookForward, expr.MetaKeyIIFNAME}, {nftables.ChainHookForward, expr.MetaKeyOIFNAME}}
	err = l.withNft(l.nsOf(node), func(c *nftables.Conn) error {
		c.AddTable(table)
		for i, x := range chains {
			ch := &nftables.Chain{Name: fmt.Sprintf("cut_%s_%d", ifn, i), Table: table, Type: nftables.ChainTypeFilter,
				Hooknum: x.hook, Priority: nftables.ChainPriorityFilter}
			c.AddChain(ch) // create, so the delete below always finds it
			c.DelChain(ch)
			if !on {
				continue
			}
			c.AddChain(ch)
			c.AddRule(&nftables.Rule{Table: table, Chain: ch, Exprs: []expr.Any{
				&expr.Meta{Key: x.key, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameBytes(ifn)},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
		return c.Flush()
	})
	if err != nil {
		return fmt.Errorf("%s:%s: partition %v: %w", node, ifname, on, err)
	}
	return nil
}
