package metrics

import (
	"context"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"monami/internal/ctlapi"
	"monami/wire"
)

// dataplaneCounters mirrors dataplane.Counters as the snapshots encode it.
// The data plane keeps totals over all its tunnels today; per-tunnel
// figures need counters per tunnel there first.
type dataplaneCounters struct {
	PacketsOut, BytesOut uint64
	PacketsIn, BytesIn   uint64
	Drops                map[string]uint64
}

var (
	descUp = prometheus.NewDesc("monami_up", "1 when the role's event loop answered this scrape.", []string{"role"}, nil)

	descBindings   = prometheus.NewDesc("monami_ha_bindings", "Binding cache entries (RFC 5648: one per home address and binding ID).", nil, nil)
	descPrimary    = prometheus.NewDesc("monami_ha_home_addresses_bound", "Home addresses with at least one binding.", nil, nil)
	descNodes      = prometheus.NewDesc("monami_ha_mobile_nodes_registered", "Mobile nodes with at least one binding.", nil, nil)
	descBURecv     = prometheus.NewDesc("monami_ha_binding_updates_received_total", "Binding Updates received (before authentication).", nil, nil)
	descBAByStatus = prometheus.NewDesc("monami_binding_acks_total", "Binding Acknowledgements by status (RFC 6275 section 6.1.8), sent by a home agent, received by a mobile node.", []string{"role", "code", "status"}, nil)
	descLeader     = prometheus.NewDesc("monami_ha_cluster_leader", "1 while this home agent leads its etcd cluster and serves, 0 as a standby (absent without a cluster).", nil, nil)
	descTerms      = prometheus.NewDesc("monami_ha_cluster_terms_total", "Terms this home agent has won in its etcd cluster's election (absent without a cluster).", nil, nil)
	descHAEvents   = prometheus.NewDesc("monami_ha_signalling_events_total", "Signalling events of the home agent by kind.", []string{"event"}, nil)

	descBUSent   = prometheus.NewDesc("monami_mn_binding_updates_sent_total", "Binding Updates sent, retransmissions included.", nil, nil)
	descMNEvents = prometheus.NewDesc("monami_mn_events_total", "Mobile node events by kind.", []string{"event"}, nil)
	descBUL      = prometheus.NewDesc("monami_mn_binding_update_list_entries", "Binding Update List entries by state.", []string{"state"}, nil)
	descPaths    = prometheus.NewDesc("monami_mn_usable_paths", "Access interfaces with a usable care-of address.", nil, nil)

	descDPPackets = prometheus.NewDesc("monami_dataplane_packets_total", "Inner packets into (out) and out of (in) the tunnels, all tunnels together.", []string{"role", "direction"}, nil)
	descDPBytes   = prometheus.NewDesc("monami_dataplane_bytes_total", "Inner packet bytes into (out) and out of (in) the tunnels.", []string{"role", "direction"}, nil)
	descDPDrops   = prometheus.NewDesc("monami_dataplane_drops_total", "Packets the data plane dropped, by reason.", []string{"role", "reason"}, nil)
)

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v int, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
}

func collectDataplane(ch chan<- prometheus.Metric, role string, c *dataplaneCounters) {
	if c == nil {
		return
	}
	counter(ch, descDPPackets, c.PacketsOut, role, "out")
	counter(ch, descDPPackets, c.PacketsIn, role, "in")
	counter(ch, descDPBytes, c.BytesOut, role, "out")
	counter(ch, descDPBytes, c.BytesIn, role, "in")
	for r, n := range c.Drops {
		counter(ch, descDPDrops, n, role, r)
	}
}

// haCollector reads the home agent's bindings, status and counters topics.
type haCollector struct{ p ctlapi.Provider }

// Describe sends nothing: an unchecked collector. DescribeByCollect
// would take a snapshot at registration, before the role's event loop
// runs, and hold up the daemon's start until that snapshot times out.
func (c *haCollector) Describe(chan<- *prometheus.Desc) {}

func (c *haCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	var bindings []struct {
		HomeAddress string `json:"home_address"`
	}
	var status struct {
		Nodes   int `json:"mobile_nodes_registered"`
		Cluster *struct {
			Leading bool   `json:"leading"`
			Terms   uint64 `json:"terms"`
		} `json:"cluster"`
	}
	var cnt struct {
		Signalling struct {
			BindingUpdates   uint64            `json:"binding_updates"`
			Malformed        uint64            `json:"malformed"`
			NotBindingUpdate uint64            `json:"other_messages"`
			Discarded        uint64            `json:"discarded"`
			AuthFailures     uint64            `json:"auth_failures"`
			AcksSent         uint64            `json:"acks_sent"`
			SendErrors       uint64            `json:"send_errors"`
			DataplaneErrors  uint64            `json:"dataplane_errors"`
			QueueFull        uint64            `json:"queue_full"`
			NotLeader        uint64            `json:"not_leader"`
			SwitchesSent     uint64            `json:"home_agent_switches_sent"`
			AcksByStatus     map[string]uint64 `json:"acks_by_status"`
		} `json:"signalling"`
		Dataplane *dataplaneCounters `json:"dataplane"`
	}
	if snapshot(ctx, c.p, "bindings", &bindings) != nil || snapshot(ctx, c.p, "status", &status) != nil ||
		snapshot(ctx, c.p, "counters", &cnt) != nil {
		gauge(ch, descUp, 0, "ha")
		return
	}
	gauge(ch, descUp, 1, "ha")
	hoas := map[string]bool{}
	for _, b := range bindings {
		hoas[b.HomeAddress] = true
	}
	gauge(ch, descBindings, len(bindings))
	gauge(ch, descPrimary, len(hoas))
	gauge(ch, descNodes, status.Nodes)
	if c := status.Cluster; c != nil {
		gauge(ch, descLeader, map[bool]int{true: 1}[c.Leading])
		counter(ch, descTerms, c.Terms)
	}
	s := cnt.Signalling
	counter(ch, descBURecv, s.BindingUpdates)
	for st, n := range s.AcksByStatus {
		code, name := statusLabels(st)
		counter(ch, descBAByStatus, n, "ha", code, name)
	}
	for ev, n := range map[string]uint64{
		"malformed": s.Malformed, "other_message": s.NotBindingUpdate, "discarded": s.Discarded,
		"auth_failure": s.AuthFailures, "ack_sent": s.AcksSent, "send_error": s.SendErrors,
		"dataplane_error": s.DataplaneErrors, "queue_full": s.QueueFull, "not_leader": s.NotLeader,
		"home_agent_switch_sent": s.SwitchesSent, // RFC 5142, drain
	} {
		counter(ch, descHAEvents, n, ev)
	}
	collectDataplane(ch, "ha", cnt.Dataplane)
}

// mnCollector reads the mobile node's bul, status and counters topics.
type mnCollector struct{ p ctlapi.Provider }

// Describe sends nothing: an unchecked collector. DescribeByCollect
// would take a snapshot at registration, before the role's event loop
// runs, and hold up the daemon's start until that snapshot times out.
func (c *mnCollector) Describe(chan<- *prometheus.Desc) {}

func (c *mnCollector) Collect(ch chan<- prometheus.Metric) {
	ctx := context.Background()
	var bul []struct {
		State string `json:"state"`
	}
	var status struct {
		Paths int `json:"usable_paths"`
	}
	var cnt struct {
		BUSent          uint64             `json:"binding_updates_sent"`
		Retransmissions uint64             `json:"retransmissions"`
		SendErrors      uint64             `json:"send_errors"`
		Acks            map[string]uint64  `json:"binding_acks"`
		Unauthenticated uint64             `json:"unauthenticated_acks"`
		Malformed       uint64             `json:"malformed"`
		BindingErrors   uint64             `json:"binding_errors"`
		Registered      uint64             `json:"registered"`
		Failed          uint64             `json:"failed"`
		Expired         uint64             `json:"expired"`
		LinkEvents      uint64             `json:"link_events"`
		TunnelMoves     uint64             `json:"tunnel_moves"`
		Dataplane       *dataplaneCounters `json:"dataplane"`
	}
	if snapshot(ctx, c.p, "bul", &bul) != nil || snapshot(ctx, c.p, "status", &status) != nil ||
		snapshot(ctx, c.p, "counters", &cnt) != nil {
		gauge(ch, descUp, 0, "mn")
		return
	}
	gauge(ch, descUp, 1, "mn")
	states := map[string]int{}
	for _, e := range bul {
		states[e.State]++
	}
	for st, n := range states {
		gauge(ch, descBUL, n, st)
	}
	gauge(ch, descPaths, status.Paths)
	counter(ch, descBUSent, cnt.BUSent)
	for st, n := range cnt.Acks {
		code, name := statusLabels(st)
		counter(ch, descBAByStatus, n, "mn", code, name)
	}
	for ev, n := range map[string]uint64{
		"retransmission": cnt.Retransmissions, "send_error": cnt.SendErrors, "unauthenticated_ack": cnt.Unauthenticated,
		"malformed": cnt.Malformed, "binding_error": cnt.BindingErrors, "registered": cnt.Registered,
		"failed": cnt.Failed, "expired": cnt.Expired, "link_event": cnt.LinkEvents, "tunnel_move": cnt.TunnelMoves,
	} {
		counter(ch, descMNEvents, n, ev)
	}
	collectDataplane(ch, "mn", cnt.Dataplane)
}

// statusNames maps the home agent's status names back to their codes.
var statusNames = func() map[string]string {
	m := map[string]string{}
	for i := range 256 {
		m[wire.Status(i).String()] = strconv.Itoa(i)
	}
	return m
}()

// statusLabels gives the code and name of a status as the roles write it:
// the mobile node "0 Binding Update accepted", the home agent the name
// alone. The code is the stable label to alert on.
func statusLabels(s string) (code, name string) {
	if c, rest, ok := strings.Cut(s, " "); ok {
		if _, err := strconv.Atoi(c); err == nil {
			return c, rest
		}
	}
	if c, ok := statusNames[s]; ok {
		return c, s
	}
	return "", s
}
