package dataplane

// retunePMTU installs again the routes with a path through one of keys,
// so that newUserPath sizes them by what Packet Too Big taught (see
// tunnelPMTU.retune): their kernel route into the TUN device takes the
// lower MTU (local sockets size their packets by it, forwarded packets
// draw the kernel's Packet Too Big), and the send loop answers what still
// comes too big with its own (userspace_io.go).
func (u *userDP) retunePMTU(keys []tunnelKey, learn func() bool) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return 0
	}
	var through []Route
	for _, ur := range u.routes {
		if pathThrough(ur.r, keys) {
			through = append(through, ur.r)
		}
	}
	if len(through) == 0 || (learn != nil && !learn()) {
		return 0
	}
	for _, r := range through {
		if err := u.addRouteLocked(r); err != nil {
			u.log.Warn("route not resized to the tunnel path MTU", "selector", r.Selector.String(), "err", err)
		}
	}
	return len(through)
}
