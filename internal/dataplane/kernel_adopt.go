package dataplane

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Adoption and detaching (docs/ha-persistence.md, "Upgrade stop"): the
// kernel backend's forwarding is kernel state (routes, the BPF program
// they hold, the nftables table, the decapsulation routes), which outlives
// the process. A data plane that Detaches leaves all of it forwarding; one
// started with Config.Adopt takes it over instead of resetting it:
//   - it keeps the detour and segmentation veths, so the predecessor's
//     tunnel routes (whose device is the detour) stay;
//   - its own program and maps are new: each route the role installs
//     replaces the predecessor's route in one netlink message (the old
//     program runs until then, the new one after);
//   - its nftables table replaces the predecessor's in the first
//     transaction, together with the endpoints of that transaction;
//   - the predecessor's decapsulation routes stay until Settle, because
//     its table rewrites to them until then;
//   - Settle removes what no change since the start claimed: the routes of
//     bindings that expired or are no longer served.
//
// The userspace backend's forwarding is its process (the TUN device goes
// with it), so it neither detaches nor adopts.

// adoptVethPair returns the veth pair name-peer a predecessor left, with
// the largest MTU, or ok false when there is none to adopt.
func (k *kernelDP) adoptVethPair(name, peer string) (near, far netlink.Link, ok bool) {
	near, err := k.h.LinkByName(name)
	if err != nil {
		return nil, nil, false
	}
	if _, isVeth := near.(*netlink.Veth); !isVeth {
		return nil, nil, false
	}
	if far, err = k.h.LinkByName(peer); err != nil || far.Attrs().ParentIndex != near.Attrs().Index {
		return nil, nil, false
	}
	for _, l := range []netlink.Link{near, far} {
		if l.Attrs().MTU != 65535 {
			if err := k.h.LinkSetMTU(l, 65535); err != nil {
				return nil, nil, false
			}
		}
	}
	return near, far, true
}

// sameRule reports whether the listed rule r is the rule w that the data
// plane installs.
func sameRule(w, r *netlink.Rule) bool {
	return w.Table == r.Table && w.Priority == r.Priority && w.IifName == r.IifName && r.OifName == "" &&
		r.Src == nil && r.Dst == nil && r.Mark == 0
}

// Settle implements Settler.
func (k *kernelDP) Settle() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	if !k.adopting {
		return nil
	}
	// No change since the start (nothing to restore): the new table
	// replaces the predecessor's now.
	if k.nft.pending {
		if err := k.nft.flush(); err != nil {
			return fmt.Errorf("nftables: create table %s: %w", k.nft.table.Name, err)
		}
	}
	k.adopting = false
	removed, err := k.sweep(k.claimedRoutes())
	clear(k.staleDecap)
	k.log.Info("data plane settled: what the predecessor installed and no binding claimed is removed", "routes_removed", removed)
	return err
}

// sweep deletes the routes of the data plane's configuration that claimed
// does not hold. Called with k.mu held.
func (k *kernelDP) sweep(claimed map[routeKey]bool) (int, error) {
	tables := []int{k.routeTable()}
	if k.encap == nil {
		tables = append(tables, k.cfg.Table+1)
	}
	var errs []error
	removed := 0
	for _, table := range tables {
		listed, err := k.rt.list(table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range listed {
			if claimed[r.key()] || !k.ownsRoute(r) {
				continue
			}
			if err := k.rt.delete(r.rtRoute); err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
			k.log.Debug("predecessor's route removed", "route", r.rtRoute)
		}
	}
	return removed, errors.Join(errs...)
}

// ownsRoute reports whether a listed route is one a data plane of this
// configuration installs: in the local table (with BPF) a route by the
// detour or a decapsulation route; without BPF anything static in its
// two tables.
func (k *kernelDP) ownsRoute(r listedRoute) bool {
	if r.proto != unix.RTPROT_STATIC {
		return false
	}
	if k.encap == nil {
		return r.table == k.cfg.Table || r.table == k.cfg.Table+1
	}
	internal := r.dst.Bits() == 128 && k.cfg.InternalPrefix.Contains(r.dst.Addr())
	return r.table == k.routeTable() && (r.oif == k.detour.Attrs().Index || internal)
}

// routeKey identifies a kernel route as a replace does.
type routeKey struct {
	table    int
	dst, src netip.Prefix
}

func (r rtRoute) key() routeKey { return routeKey{r.table, r.dst.Masked(), r.src.Masked()} }

// claimedRoutes is every kernel route the data plane's bookkeeping says
// it installed. Called with k.mu held.
func (k *kernelDP) claimedRoutes() map[routeKey]bool {
	m := map[routeKey]bool{}
	for _, kr := range k.routes {
		m[kr.rt.key()] = true
		if kr.encRt.table != 0 {
			m[kr.encRt.key()] = true
		}
	}
	for _, p := range k.flow.parents {
		if p.rt.table != 0 {
			m[p.rt.key()] = true
		}
	}
	if k.flow.base {
		m[routeKey{k.routeTable(), netip.PrefixFrom(replicaAddr, 128), netip.Prefix{}}] = true
	}
	for _, a := range k.decap {
		m[routeKey{k.routeTable(), netip.PrefixFrom(a, 128), netip.Prefix{}}] = true
	}
	return m
}

// Detach implements Detacher.
func (k *kernelDP) Detach() error {
	k.pmtu.close()
	k.counters.close()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	var errs []error
	if k.gso != nil {
		// Detached: the successor attaches its own as it claims the
		// routes, and two would raise a GSO packet's size twice (the
		// second is refused only where the link's MTU stops it).
		errs = append(errs, k.gso.close())
	}
	if k.encap != nil {
		// Only the descriptors: the routes hold the program, and the
		// program its maps.
		errs = append(errs, k.encap.close())
	}
	if k.nft != nil {
		_ = k.nft.conn.CloseLasting() // what is staged is dropped
	}
	if k.h != nil {
		k.h.Close()
	}
	k.rt.close()
	if k.ns > 0 {
		k.ns.Close()
	}
	k.log.Info("data plane detached: its routes, BPF program, nftables table and decapsulation routes keep forwarding",
		"routes", len(k.routes), "endpoints", len(k.endpoints))
	return errors.Join(errs...)
}

// listedRoute is a route as a dump reports it.
type listedRoute struct {
	rtRoute
	proto uint8
}

// list dumps the IPv6 routes of table. (vishvananda/netlink's route list
// does not report a route's source prefix, RTA_SRC, which a route's
// identity includes.)
func (s *routeSock) list(table int) ([]listedRoute, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETROUTE, unix.NLM_F_DUMP)
	req.AddData(&nl.RtMsg{RtMsg: unix.RtMsg{Family: unix.AF_INET6}})
	if s != nil {
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: s.sh}
	}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWROUTE)
	if err != nil {
		return nil, fmt.Errorf("list routes of table %d: %w", table, err)
	}
	var out []listedRoute
	for _, m := range msgs {
		rm := nl.DeserializeRtMsg(m)
		if rm.Family != unix.AF_INET6 {
			continue
		}
		attrs, err := nl.ParseRouteAttr(m[rm.Len():])
		if err != nil {
			return nil, fmt.Errorf("list routes of table %d: %w", table, err)
		}
		r := listedRoute{rtRoute: rtRoute{table: int(rm.Table), dst: netip.PrefixFrom(netip.IPv6Unspecified(), int(rm.Dst_len))}, proto: rm.Protocol}
		for _, a := range attrs {
			switch a.Attr.Type {
			case unix.RTA_TABLE:
				r.table = int(nl.NativeEndian().Uint32(a.Value))
			case unix.RTA_OIF:
				r.oif = int(nl.NativeEndian().Uint32(a.Value))
			case unix.RTA_DST:
				if ip, ok := netip.AddrFromSlice(a.Value); ok {
					r.dst = netip.PrefixFrom(ip, int(rm.Dst_len))
				}
			case unix.RTA_SRC:
				if ip, ok := netip.AddrFromSlice(a.Value); ok {
					r.src = netip.PrefixFrom(ip, int(rm.Src_len))
				}
			}
		}
		if r.table == table {
			out = append(out, r)
		}
	}
	return out, nil
}
