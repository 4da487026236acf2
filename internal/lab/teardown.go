package lab

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// Teardown removes everything the named lab recorded in its state file:
// processes (also unrecorded ones still inside its namespaces), relays,
// host-side interfaces, nftables tables, root sysctls and namespaces, then
// the state directory. It works after the building process crashed and is
// idempotent: objects already gone are skipped.
func Teardown(name string) error {
	st, err := ReadState(name)
	if errors.Is(err, ErrNoLab) {
		// Killed between creating the directory and the first save:
		// nothing was created yet.
		if _, serr := os.Stat(StateDir(name)); serr == nil {
			return os.RemoveAll(StateDir(name))
		}
	}
	if err != nil {
		return err
	}
	_ = st.update(func(s *State) { s.Status = "tearing-down" })
	var errs []error

	// 1. Processes: recorded ones politely, then anything left in our namespaces.
	var procs []ProcRecord
	procs = append(procs, st.Processes...)
	procs = append(procs, st.Relays...)
	marker := labEnvKey + "=" + name + "\x00"
	for _, p := range procs {
		if processAlive(p.PID, marker) {
			syscall.Kill(p.PID, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, p := range procs {
		for processAlive(p.PID, marker) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processAlive(p.PID, marker) {
			syscall.Kill(p.PID, syscall.SIGKILL)
		}
	}
	for _, ns := range st.Namespaces {
		if !netnsExists(ns) {
			continue
		}
		for range 50 {
			pids := pidsInNetns(nsPath(ns))
			if len(pids) == 0 {
				break
			}
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// 2. Root-namespace objects.
	if len(st.HostLinks) > 0 {
		for _, n := range st.HostLinks {
			ln, err := netlink.LinkByName(n)
			if err != nil {
				continue // gone (or never created)
			}
			if ln.Type() != "veth" {
				errs = append(errs, fmt.Errorf("host interface %s is a %s, not a lab veth: left alone", n, ln.Type()))
				continue
			}
			if err := netlink.LinkDel(ln); err != nil {
				errs = append(errs, fmt.Errorf("delete host interface %s: %w", n, err))
			}
		}
	}
	if len(st.HostNft) > 0 {
		if c, err := nftables.New(); err == nil {
			for _, tn := range st.HostNft {
				if tableExists(c, tn) {
					c.DelTable(&nftables.Table{Name: tn, Family: nftables.TableFamilyNetdev})
					if err := c.Flush(); err != nil {
						errs = append(errs, fmt.Errorf("delete nftables table netdev %s: %w", tn, err))
					}
				}
			}
		} else {
			errs = append(errs, err)
		}
	}
	for i := len(st.HostSysctl) - 1; i >= 0; i-- {
		s := st.HostSysctl[i]
		if err := writeSysctl(s.Key, s.Value); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}

	// 3. Namespaces (their interfaces, routes and tables go with them).
	for i := len(st.Namespaces) - 1; i >= 0; i-- {
		if err := deleteNetns(st.Namespaces[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("lab %s teardown: %w (state kept in %s)", name, errors.Join(errs...), StateDir(name))
	}
	return os.RemoveAll(StateDir(name))
}

func tableExists(c *nftables.Conn, name string) bool {
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyNetdev)
	if err != nil {
		return false
	}
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}
