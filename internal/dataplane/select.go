package dataplane

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// New starts a data plane with the backend cfg asks for; with BackendAuto
// it probes the kernel and prefers the kernel backend.
func New(cfg Config) (DataPlane, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	backend := cfg.Backend
	if backend == BackendAuto {
		if err := ProbeKernel(cfg); err != nil {
			cfg.Logger.Info("kernel data plane unavailable, using userspace", "reason", err)
			backend = BackendUserspace
		} else {
			backend = BackendKernel
		}
	}
	ns := netns.None()
	if cfg.NetNS > 0 {
		fd, err := unix.FcntlInt(uintptr(cfg.NetNS), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("dataplane: duplicate netns handle: %w", err)
		}
		ns = netns.NsHandle(fd)
	}
	var (
		dp  DataPlane
		err error
	)
	switch backend {
	case BackendKernel:
		dp, err = newKernel(cfg, ns)
	default:
		dp, err = newUserspace(cfg, ns)
	}
	if err != nil && ns > 0 {
		ns.Close()
	}
	return dp, err
}

// probePrefix is the RFC 6666 discard-only prefix: routes to it never carry
// real traffic.
var probePrefix = netip.MustParsePrefix("100::/64")

// ProbeKernel checks that the kernel accepts what the kernel backend
// installs: a seg6 encap.red route, a seg6local End.DT6 route and the SEG6
// generic netlink family. It adds them to cfg.Table under the RFC 6666
// discard prefix and removes them again.
func ProbeKernel(cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	return inNetNS(cfg.NetNS, func() error {
		if _, err := getTunsrc(); err != nil {
			return fmt.Errorf("seg6 generic netlink: %w", err)
		}
		lo, err := loIndex()
		if err != nil {
			return err
		}
		enc := rtRoute{table: cfg.Table, dst: netip.PrefixFrom(probePrefix.Addr().Next(), 128), oif: lo,
			encap: seg6EncapRed(probePrefix.Addr().Next().Next())}
		dec := rtRoute{table: cfg.Table, dst: netip.PrefixFrom(enc.dst.Addr().Next().Next(), 128), oif: lo, encap: seg6LocalDT6()}
		var errs []error
		if err := replaceRoute(enc); err != nil {
			errs = append(errs, fmt.Errorf("seg6 encap.red: %w", err))
		} else {
			errs = append(errs, deleteRoute(enc))
		}
		if err := replaceRoute(dec); err != nil {
			errs = append(errs, fmt.Errorf("seg6local End.DT6: %w", err))
		} else {
			errs = append(errs, deleteRoute(dec))
		}
		return errors.Join(errs...)
	})
}

func loIndex() (int, error) {
	ifi, err := netInterfaceByName("lo")
	if err != nil {
		return 0, fmt.Errorf("loopback: %w", err)
	}
	return ifi, nil
}
