package dataplane

// retunePMTU installs again the routes with a path through one of keys,
// so that routeMTU sizes them by what Packet Too Big taught (see
// tunnelPMTU.retune). The kernel then answers an oversize inner packet
// with a Packet Too Big of the route's MTU: ip6_forward for forwarded
// packets, the sockets' own sizing for local ones (kernel_bpf.go).
func (k *kernelDP) retunePMTU(keys []tunnelKey, learn func() bool) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return 0
	}
	ops := k.routesThrough(keys)
	if len(ops) == 0 || (learn != nil && !learn()) {
		return 0
	}
	if err := k.applyLocked(ops, false); err != nil {
		k.log.Warn("routes not resized to the tunnel path MTU", "routes", len(ops), "err", err)
	}
	return len(ops)
}

// routesThrough is an add op for every installed route, plain or flow,
// with a path through one of keys. Called with k.mu held.
func (k *kernelDP) routesThrough(keys []tunnelKey) []Op {
	var ops []Op
	for _, kr := range k.routes {
		if pathThrough(kr.r, keys) {
			ops = append(ops, Op{Kind: OpAddRoute, Route: kr.r})
		}
	}
	for _, p := range k.flow.parents {
		for _, fr := range p.routes {
			if pathThrough(fr.r, keys) {
				ops = append(ops, Op{Kind: OpAddRoute, Route: fr.r})
			}
		}
	}
	return ops
}
