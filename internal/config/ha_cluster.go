package config

import (
	"net/url"
	"regexp"
	"time"
)

// Cluster makes the home agent one node of an active/standby cluster on
// etcd (docs/ha-cluster.md): the nodes that share an election name serve
// one home agent address; only the elected one answers.
type Cluster struct {
	// Etcd are the client URLs of the etcd members, e.g.
	// http://10.0.0.1:2379.
	Etcd []string `yaml:"etcd"`
	// Election names the cluster: its key prefix in etcd and its election.
	Election string `yaml:"election"`
	// TTL is the leader's etcd session lease: a leader that dies is replaced
	// within it (default 2s; etcd's minimum is 2s with its default timers).
	TTL Duration `yaml:"ttl"`
}

// Enabled reports whether the cluster section is set.
func (c *Cluster) Enabled() bool { return len(c.Etcd) > 0 || c.Election != "" }

// DefaultClusterTTL is cluster.ttl when none is given.
const DefaultClusterTTL = 2 * time.Second

var electionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (c *Cluster) validate(backend string, e *errs) {
	if !c.Enabled() {
		if backend == "etcd" {
			e.add("store.backend: etcd needs the cluster section (cluster.etcd, cluster.election)")
		}
		return
	}
	if len(c.Etcd) == 0 {
		e.add("cluster.etcd: at least one etcd endpoint is required")
	}
	for i, s := range c.Etcd {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() == "" {
			e.add("cluster.etcd[%d]: %q is not an etcd client URL like http://[2001:db8::1]:2379", i, s)
		}
	}
	if !electionName.MatchString(c.Election) {
		e.add("cluster.election: %q is not a name of 1-63 letters, digits, '.', '_' or '-'", c.Election)
	}
	switch d := c.TTL.D(); {
	case d == 0:
		c.TTL = Duration(DefaultClusterTTL)
	case d < 2*time.Second || d > time.Minute || d%time.Second != 0:
		e.add("cluster.ttl: %s is not a whole number of seconds in 2s..1m (an etcd lease counts seconds)", d)
	}
	if backend != "etcd" {
		e.add("store.backend: %q with a cluster; the nodes share their bindings only through backend etcd", backend)
	}
}
