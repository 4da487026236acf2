package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// NAT44 at an access router: an end with masquerade rewrites the source of
// the IPv4 packets leaving through it to the interface's own address
// (nftables masquerade, the usual home or carrier-grade NAT), and the
// conntrack entry maps the answers back. A mobile node behind it has a
// private IPv4 care-of address and reaches its home agent over UDP (RFC
// 5555).

// natChainPrefix names the masquerade chain of an interface.
const natChainPrefix = "nat44_"

func (l *Lab) addMasquerade(e End) error {
	ifn := l.ifName(e.Node, e.If)
	return l.withNft(l.nsOf(e.Node), func(c *nftables.Conn) error {
		table := c.AddTable(&nftables.Table{Name: nftTableName(l.st.Name), Family: nftables.TableFamilyIPv4})
		chain := c.AddChain(&nftables.Chain{
			Name: natChainPrefix + ifn, Table: table, Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
		})
		name := make([]byte, 16) // IFNAMSIZ, NUL-padded as the kernel compares it
		copy(name, ifn)
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
			&expr.Counter{},
			&expr.Masq{},
		}})
		return c.Flush()
	})
}

// SetUDPTimeout sets how long node's conntrack (its NAT) keeps an idle UDP
// mapping (net.netfilter.nf_conntrack_udp_timeout; the kernel's default is
// 30 s, a mapping that saw traffic both ways gets the _stream timeout,
// 120 s). Both are set, so any idle mapping expires after d.
func (l *Lab) SetUDPTimeout(node string, d time.Duration) error {
	n, err := l.Node(node)
	if err != nil {
		return err
	}
	s := strconv.Itoa(int(d / time.Second))
	return n.Do(func() error {
		for _, k := range []string{"nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"} {
			p := filepath.Join("/proc/sys/net/netfilter", k)
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				return fmt.Errorf("%s on %s: %w", k, node, err)
			}
		}
		return nil
	})
}
