package habench

import (
	"time"

	"monami/internal/lab"
)

// CPU is the processor time each party spent in a phase, in seconds: the
// bench client (this process: the simulated mobile nodes' HMAC, encoding
// and sockets), the home agent process, and the etcd members together.
// The bench client runs on the same cores as the home agent, so its share
// is capacity the home agent did not have.
type CPU struct {
	Client    float64 `json:"client_s"`
	HomeAgent float64 `json:"ha_s"`
	Etcd      float64 `json:"etcd_s,omitempty"`
}

// procs are the processes whose CPU time the phases account.
type procs struct {
	ha   int
	etcd []int
}

type cpuMark struct{ client, ha, etcd time.Duration }

func (p *procs) mark() cpuMark {
	if p == nil {
		return cpuMark{client: lab.ProcessCPU(0)}
	}
	m := cpuMark{client: lab.ProcessCPU(0), ha: lab.ProcessCPU(p.ha)}
	for _, pid := range p.etcd {
		m.etcd += lab.ProcessCPU(pid)
	}
	return m
}

// since is the CPU time spent from m to now.
func (p *procs) since(m cpuMark) CPU {
	n := p.mark()
	return CPU{Client: (n.client - m.client).Seconds(), HomeAgent: (n.ha - m.ha).Seconds(), Etcd: (n.etcd - m.etcd).Seconds()}
}

func (c *CPU) add(o CPU) {
	c.Client += o.Client
	c.HomeAgent += o.HomeAgent
	c.Etcd += o.Etcd
}
