package bench

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"monami/internal/dataplane"
	"monami/internal/lab"
)

// Scale is what installing many mobile nodes cost one case: each mobile
// node is what a home agent installs for it, an endpoint accepting its
// home address from its care-of address and its home address's route
// into the tunnel, on both tunnel ends.
type Scale struct {
	Round     int  `json:"round"`
	Case      Case `json:"case"`
	Endpoints int  `json:"endpoints"` // per data plane
	// InstallSec is the time to install all of them on both data planes,
	// PerSecond the mobile nodes installed per second per data plane.
	InstallSec float64     `json:"install_s"`
	PerSecond  float64     `json:"mobile_nodes_per_s"`
	At         []Milestone `json:"at"`
	// Memory the installation took, both data planes together: MemUsed
	// is the machine's (MemTotal - MemAvailable: kernel and processes),
	// Slab and Percpu the kernel's allocators, RSS this process's.
	MemUsedMiB float64 `json:"mem_used_mib"`
	SlabMiB    float64 `json:"kernel_slab_mib"`
	PercpuMiB  float64 `json:"kernel_percpu_mib"`
	RSSMiB     float64 `json:"process_rss_mib"`
	Error      string  `json:"error,omitempty"`
}

// Milestone is the cost of one change with Installed mobile nodes in
// place: the median of milestoneProbe removals and re-additions.
type Milestone struct {
	Installed int     `json:"installed"`
	AddUS     float64 `json:"add_us"`
	RemoveUS  float64 `json:"remove_us"`
}

// milestones are where the per-change cost is measured (and at the end).
var milestones = []int{1000, 10000, 100000}

const milestoneProbe = 200

// mobileNode i's addresses; outside every address of the lab.
func mobileNode(i int) (coa, hoa netip.Addr) {
	c := netip.MustParseAddr("2001:db8:c0a::").As16()
	h := netip.MustParseAddr("2001:db8:f0::").As16()
	c[13], c[14], c[15] = byte(i>>16), byte(i>>8), byte(i)
	h[13], h[14], h[15] = byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(c), netip.AddrFrom16(h)
}

// installMany installs n mobile nodes on each data plane (dps[i] has the
// local tunnel address locals[i]) and measures as it goes.
func installMany(dps []dataplane.DataPlane, locals []netip.Addr, encap dataplane.Encapsulation, n int, progress io.Writer) (Scale, error) {
	s := Scale{Endpoints: n}
	mem0, rss0 := lab.Meminfo(), lab.RSS(0)
	start := time.Now()
	var spent time.Duration // install time, without the milestone probes
	next := 0
	for i := 0; i < n; i++ {
		t0 := time.Now()
		for j, dp := range dps {
			if err := addMobileNode(dp, locals[j], encap, i); err != nil {
				return s, fmt.Errorf("mobile node %d: %w", i, err)
			}
		}
		spent += time.Since(t0)
		if done := i + 1; done == n || (next < len(milestones) && done == milestones[next]) {
			if next < len(milestones) && done == milestones[next] {
				next++
			}
			m, err := probeChanges(dps, locals, encap, done)
			if err != nil {
				return s, err
			}
			s.At = append(s.At, m)
			if progress != nil {
				fmt.Fprintf(progress, "  %7d mobile nodes installed (%.0f s): a change costs %.0f us to add, %.0f us to remove\n",
					done, time.Since(start).Seconds(), m.AddUS, m.RemoveUS)
			}
		}
	}
	s.InstallSec = spent.Seconds()
	s.PerSecond = float64(n) / spent.Seconds()
	mem1, rss1 := lab.Meminfo(), lab.RSS(0)
	s.MemUsedMiB = (mem1["used"] - mem0["used"]) / 1024
	s.SlabMiB = (mem1["Slab"] - mem0["Slab"]) / 1024
	s.PercpuMiB = (mem1["Percpu"] - mem0["Percpu"]) / 1024
	s.RSSMiB = (rss1 - rss0) / 1024
	return s, nil
}

func addMobileNode(dp dataplane.DataPlane, local netip.Addr, encap dataplane.Encapsulation, i int) error {
	coa, hoa := mobileNode(i)
	err := dp.AddEndpoint(dataplane.Endpoint{Local: local, Peer: coa, Encap: encap, InnerSrc: []netip.Prefix{netip.PrefixFrom(hoa, 128)}})
	if err == nil {
		err = dp.AddRoute(dataplane.Route{Selector: dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)},
			Tunnel: dataplane.Tunnel{Local: local, Remote: coa, Encap: encap}})
	}
	return err
}

func removeMobileNode(dp dataplane.DataPlane, local netip.Addr, encap dataplane.Encapsulation, i int) error {
	coa, hoa := mobileNode(i)
	err := dp.DelRoute(dataplane.Selector{Dst: netip.PrefixFrom(hoa, 128)})
	if err == nil {
		err = dp.DelEndpoint(local, coa, encap)
	}
	return err
}

// probeChanges removes the last milestoneProbe mobile nodes of the first
// data plane one by one and adds them back, timing each.
func probeChanges(dps []dataplane.DataPlane, locals []netip.Addr, encap dataplane.Encapsulation, installed int) (Milestone, error) {
	k := min(milestoneProbe, installed)
	rm, add := make([]float64, 0, k), make([]float64, 0, k)
	for i := installed - k; i < installed; i++ {
		t0 := time.Now()
		if err := removeMobileNode(dps[0], locals[0], encap, i); err != nil {
			return Milestone{}, fmt.Errorf("remove mobile node %d: %w", i, err)
		}
		rm = append(rm, float64(time.Since(t0).Microseconds()))
	}
	for i := installed - k; i < installed; i++ {
		t0 := time.Now()
		if err := addMobileNode(dps[0], locals[0], encap, i); err != nil {
			return Milestone{}, fmt.Errorf("add mobile node %d: %w", i, err)
		}
		add = append(add, float64(time.Since(t0).Microseconds()))
	}
	return Milestone{Installed: installed, AddUS: median(add), RemoveUS: median(rm)}, nil
}
