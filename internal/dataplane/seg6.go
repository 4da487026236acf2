package dataplane

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// seg6ModeEncapRed is SEG6_IPTUN_MODE_ENCAP_RED from linux/seg6_iptunnel.h
// (inline 0, encap 1, l2encap 2, encap.red 3). vishvananda/netlink has no
// name for it. With one segment, reduced encapsulation writes no routing
// header: the result is a plain RFC 2473 IPv6-in-IPv6 packet.
const seg6ModeEncapRed = 3

// seg6Headroom is what the kernel reserves for a one-segment seg6 route
// (lwtunnel headroom: IPv6 header + an 8-byte SRH + one 16-byte segment)
// even in reduced mode, which puts only the 40-byte IPv6 header on the wire.
// Measured on 6.18: route MTU M gives an inner path MTU of M-64.
const seg6Headroom = ipv6HeaderLen + 8 + 16

// Generic netlink "SEG6" family (linux/seg6_genl.h).
const (
	seg6GenlName       = "SEG6"
	seg6GenlVersion    = 1
	seg6CmdSetTunsrc   = 3
	seg6CmdGetTunsrc   = 4
	seg6AttrDst        = 1
	seg6LocalActionDT6 = nl.SEG6_LOCAL_ACTION_END_DT6
)

func seg6EncapRed(remote netip.Addr) *netlink.SEG6Encap {
	return &netlink.SEG6Encap{Mode: seg6ModeEncapRed, Segments: []net.IP{net.IP(remote.AsSlice())}}
}

// seg6LocalDT6 decapsulates and looks the inner packet up with the full
// policy routing (table 0): locally addressed packets are delivered,
// others forwarded. A fixed table 255 would only deliver locally; main
// would never deliver locally.
func seg6LocalDT6() *netlink.SEG6LocalEncap {
	e := &netlink.SEG6LocalEncap{Action: seg6LocalActionDT6, Table: 0}
	e.Flags[nl.SEG6_LOCAL_TABLE] = true
	return e
}

func seg6Genl(cmd uint8, addr *netip.Addr) ([][]byte, error) {
	fam, err := netlink.GenlFamilyGet(seg6GenlName)
	if err != nil {
		return nil, fmt.Errorf("generic netlink family %s: %w", seg6GenlName, err)
	}
	req := nl.NewNetlinkRequest(int(fam.ID), unix.NLM_F_ACK)
	req.AddData(&nl.Genlmsg{Command: cmd, Version: seg6GenlVersion})
	if addr != nil {
		a := addr.As16()
		req.AddData(nl.NewRtAttr(seg6AttrDst, a[:]))
	}
	return req.Execute(unix.NETLINK_GENERIC, 0)
}

// getTunsrc is "ip sr tunsrc show": the namespace-wide outer source of
// seg6 encapsulation (:: means: source address selection on the route's
// device).
func getTunsrc() (netip.Addr, error) {
	msgs, err := seg6Genl(seg6CmdGetTunsrc, nil)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("get seg6 tunsrc: %w", err)
	}
	for _, m := range msgs {
		if len(m) < nl.SizeofGenlmsg {
			continue
		}
		attrs, err := nl.ParseRouteAttr(m[nl.SizeofGenlmsg:])
		if err != nil {
			return netip.Addr{}, fmt.Errorf("get seg6 tunsrc: %w", err)
		}
		for _, a := range attrs {
			if a.Attr.Type == seg6AttrDst && len(a.Value) == 16 {
				return netip.AddrFrom16([16]byte(a.Value)), nil
			}
		}
	}
	return netip.Addr{}, errors.New("get seg6 tunsrc: no address in reply")
}

// setTunsrc is "ip sr tunsrc set".
func setTunsrc(a netip.Addr) error {
	if _, err := seg6Genl(seg6CmdSetTunsrc, &a); err != nil {
		return fmt.Errorf("set seg6 tunsrc %v: %w", a, err)
	}
	return nil
}
