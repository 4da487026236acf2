package config

import (
	"strings"
	"testing"
	"time"
)

func TestCluster(t *testing.T) {
	const ha = "address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsecurity: {insecure: true}\nmobile_nodes: [{id: a, home_addresses: [2001:db8::5]}]\n"
	const ok = "cluster: {etcd: ['http://[2001:db8::e1]:2379', 'http://10.0.0.2:2379'], election: ha1}\nstore: {backend: etcd}\n"
	for _, tc := range []struct {
		yaml string
		ttl  time.Duration
		want string
	}{
		{ok, 2 * time.Second, ""},
		{"cluster: {etcd: ['http://127.0.0.1:2379'], election: ha1, ttl: 5s}\nstore: {backend: etcd}\n", 5 * time.Second, ""},
		{"cluster: {etcd: ['127.0.0.1:2379'], election: ha1}\nstore: {backend: etcd}\n", 0, `cluster.etcd[0]: "127.0.0.1:2379" is not an etcd client URL`},
		{"cluster: {etcd: ['http://h'], election: ha1}\nstore: {backend: etcd}\n", 0, `cluster.etcd[0]: "http://h"`},
		{"cluster: {election: ha1}\nstore: {backend: etcd}\n", 0, "cluster.etcd: at least one etcd endpoint"},
		{"cluster: {etcd: ['http://h:1']}\nstore: {backend: etcd}\n", 0, `cluster.election: "" is not a name`},
		{"cluster: {etcd: ['http://h:1'], election: a/b}\nstore: {backend: etcd}\n", 0, `cluster.election: "a/b" is not a name`},
		{"cluster: {etcd: ['http://h:1'], election: a, ttl: 1s}\nstore: {backend: etcd}\n", 0, "cluster.ttl: 1s is not a whole number of seconds in 2s..1m"},
		{"cluster: {etcd: ['http://h:1'], election: a, ttl: 2500ms}\nstore: {backend: etcd}\n", 0, "cluster.ttl: 2.5s"},
		{"cluster: {etcd: ['http://h:1'], election: a}\n", 0, `store.backend: "bolt" with a cluster`},
		{"cluster: {etcd: ['http://h:1'], election: a}\nstore: {backend: etcd, path: /x}\n", 0, `store.path: "/x" is for backend bolt`},
		{"cluster: {etcd: ['http://h:1'], election: a, ttl: 2 seconds}\nstore: {backend: etcd}\n", 0, "cluster.ttl"},
	} {
		c, err := ParseHomeAgent("ha.yaml", []byte(ha+tc.yaml))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case tc.want == "" && c.Cluster.TTL.D() != tc.ttl:
			t.Errorf("%s: ttl %s, want %s", tc.yaml, c.Cluster.TTL.D(), tc.ttl)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
