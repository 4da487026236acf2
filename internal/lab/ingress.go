package lab

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Source-address filtering at an access router (BCP 38, RFC 2827; the
// ingress filtering of draft-ietf-monami6-mipv6-analysis section 6.1.5): an
// end with ingress_filter drops IPv6 packets arriving on it whose source is
// not on the link's prefixes, link-local or unspecified (DAD). The drops are
// counted (IngressFilterDrops).

// ingressChainPrefix names the filter chain of an interface in the lab's
// netdev table.
const ingressChainPrefix = "bcp38_"

// ipv6SrcOffset is the source address field in the IPv6 header (RFC 8200
// section 3).
const ipv6SrcOffset = 8

// filterPrefixes are the sources an end accepts: the prefixes of the
// link's addresses, link-local and the unspecified address.
func (lk *Link) filterPrefixes() []netip.Prefix {
	ps := []netip.Prefix{netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("::/128")}
	for _, e := range []End{lk.A, lk.B} {
		for _, a := range e.Addrs {
			if pf, err := parseIfAddr(a); err == nil && pf.Addr().Is6() {
				ps = append(ps, pf.Masked())
			}
		}
	}
	return ps
}

func (l *Lab) addIngressFilter(lk *Link, e End) error {
	ifn := l.ifName(e.Node, e.If)
	tname := nftTableName(l.st.Name)
	return l.withNft(l.nsOf(e.Node), func(c *nftables.Conn) error {
		table := c.AddTable(&nftables.Table{Name: tname, Family: nftables.TableFamilyNetdev})
		chain := c.AddChain(&nftables.Chain{
			Name: ingressChainPrefix + ifn, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityRef(*nftables.ChainPriorityFilter + 1),
			Device: ifn,
		})
		// Not IPv6 (ARP, IPv4): not this filter's business.
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, unix.ETH_P_IPV6)},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}})
		for _, p := range lk.filterPrefixes() {
			mask := netipMask(p)
			addr := p.Addr().As16()
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: ipv6SrcOffset, Len: 16},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16, Mask: mask, Xor: make([]byte, 16)},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
				&expr.Verdict{Kind: expr.VerdictAccept},
			}})
		}
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
		return c.Flush()
	})
}

func netipMask(p netip.Prefix) []byte {
	m := make([]byte, 16)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// IngressFilterDrops reads how many packets the source filter on a node's
// interface dropped (an end with ingress_filter).
func (l *Lab) IngressFilterDrops(node, ifname string) (uint64, error) {
	if l.st.Topology.node(node) == nil {
		return 0, fmt.Errorf("unknown node %q", node)
	}
	ifn := l.ifName(node, ifname)
	var total uint64
	err := l.withNft(l.nsOf(node), func(c *nftables.Conn) error {
		table := &nftables.Table{Name: nftTableName(l.st.Name), Family: nftables.TableFamilyNetdev}
		rules, err := c.GetRules(table, &nftables.Chain{Name: ingressChainPrefix + ifn, Table: table})
		if err != nil {
			return fmt.Errorf("%s:%s has no ingress filter: %w", node, ifname, err)
		}
		for _, r := range rules {
			for _, x := range r.Exprs {
				if ctr, ok := x.(*expr.Counter); ok {
					total += ctr.Packets
				}
			}
		}
		return nil
	})
	return total, err
}
