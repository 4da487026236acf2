package ha

import (
	"sync"

	"monami/wire"
)

// counters are touched by the event loop and read by snapshots (also from
// the loop), plus queueFull from the readers: one mutex keeps it simple.
type counters struct {
	mu               sync.Mutex
	bindingUpdates   uint64
	malformed        uint64
	notBindingUpdate uint64
	discarded        uint64
	authFailures     uint64
	acksSent         uint64
	sendErrors       uint64
	dataplaneErrors  uint64
	// dataplaneRefusals: updates answered 130 because the data plane
	// could not install them.
	dataplaneRefusals uint64
	queueFull         uint64
	// storeErrors: store writes that failed; storeRefusals: updates
	// answered 130 because the store could not keep them.
	storeErrors   uint64
	storeRefusals uint64
	// parameterProblems: ICMPv6 Parameter Problems sent (RFC 6275 9.2)
	parameterProblems uint64
	// notLeader: messages dropped because this cluster node does not lead.
	notLeader uint64
	// switchesSent: Home Agent Switch messages sent (RFC 5142, drain).
	switchesSent uint64
	byStatus     map[wire.Status]uint64
}

func (c *counters) inc(p *uint64) {
	c.mu.Lock()
	*p++
	c.mu.Unlock()
}

func (c *counters) status(s wire.Status) {
	c.mu.Lock()
	if c.byStatus == nil {
		c.byStatus = map[wire.Status]uint64{}
	}
	c.byStatus[s]++
	c.mu.Unlock()
}

// Counters is the control API view.
type Counters struct {
	BindingUpdates    uint64            `json:"binding_updates"`
	Malformed         uint64            `json:"malformed"`
	NotBindingUpdate  uint64            `json:"other_messages"`
	Discarded         uint64            `json:"discarded"`
	AuthFailures      uint64            `json:"auth_failures"`
	AcksSent          uint64            `json:"acks_sent"`
	SendErrors        uint64            `json:"send_errors"`
	DataplaneErrors   uint64            `json:"dataplane_errors"`
	DataplaneRefused  uint64            `json:"dataplane_refusals"`
	QueueFull         uint64            `json:"queue_full"`
	ParameterProblems uint64            `json:"parameter_problems"`
	AcksByStatus      map[string]uint64 `json:"acks_by_status"`
	StoreErrors       uint64            `json:"store_errors"`
	StoreRefused      uint64            `json:"store_refusals"`
	NotLeader         uint64            `json:"not_leader"`
	SwitchesSent      uint64            `json:"home_agent_switches_sent"`
}

func (c *counters) view() Counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := Counters{c.bindingUpdates, c.malformed, c.notBindingUpdate, c.discarded, c.authFailures,
		c.acksSent, c.sendErrors, c.dataplaneErrors, c.dataplaneRefusals, c.queueFull, c.parameterProblems, map[string]uint64{},
		c.storeErrors, c.storeRefusals, c.notLeader, c.switchesSent}
	for s, n := range c.byStatus {
		v.AcksByStatus[s.String()] = n
	}
	return v
}
