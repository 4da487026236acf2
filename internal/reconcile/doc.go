// Package reconcile makes a data plane match desired state, the way
// Tailscale's wgengine/router Set(cfg) does: a role computes what each
// home address needs (routes, tunnel endpoints, duplicate suppression),
// from its bindings, flow bindings and policy through internal/forwarding,
// and hands it to a Reconciler, which sends the data plane the difference
// from what it installed before, in one batch. The role keeps no copy of
// what is installed.
//
// A failed batch leaves the homes it touched "unsure": the data plane
// applied some of it. The next Set of such a home re-sends everything it
// wants and deletes everything either state held, so a failed install is
// retried without the role tracking it.
package reconcile
