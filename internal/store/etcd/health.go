package etcd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Check asks etcd for one linearizable read of the election, the kind of
// request a term and a campaign need: it fails when this node cannot reach
// a quorum (a partition, or the cluster lost it), not only when one member
// is down.
func (n *Node) Check(ctx context.Context) error {
	if _, err := n.c.Get(ctx, n.prefix+"election", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		return fmt.Errorf("etcd %v: %w", n.c.Endpoints(), err)
	}
	return nil
}

// Terms is how many terms this node has won.
func (n *Node) Terms() uint64 { return n.terms.Load() }
