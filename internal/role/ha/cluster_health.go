package ha

import (
	"context"
	"sync/atomic"
	"time"
)

// etcdHealth is what the node last learnt about its way to etcd, for the
// status topic and /healthz: a standby that cannot reach a quorum could not
// take over, and says so.
type etcdHealth struct {
	// err is the last check's failure ("" when it succeeded); nil before
	// the first check.
	err atomic.Pointer[string]
}

// watchEtcd checks etcd every ttl/2 until ctx ends (the node's client
// closes), each check bounded by ttl/2: a node partitioned from etcd reports
// it within a TTL, when its term (if any) has ended too.
func (c *clusterNode) watchEtcd(ctx context.Context, ttl time.Duration) {
	every := ttl / 2
	for {
		cctx, cancel := context.WithTimeout(ctx, every)
		err := c.node.Check(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		c.health.err.Store(&msg)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// etcdStatus is "ok", "unknown" before the first check, or why the last
// check failed.
func (c *clusterNode) etcdStatus() string {
	switch p := c.health.err.Load(); {
	case p == nil:
		return "unknown"
	case *p == "":
		return "ok"
	default:
		return *p
	}
}
