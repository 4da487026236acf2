// Package etcdtest starts a real etcd cluster inside the test process: n
// members of the etcd server (go.etcd.io/etcd/server/v3/embed) on loopback
// ports, each in its own temporary directory, speaking raft to each other
// over TCP as separate etcd processes would.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/pkg/v3/proxy"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// MaxTxnOps is the members' --max-txn-ops: a home agent batch (up to 256
// Binding Updates, each with its bindings) must fit one transaction.
const MaxTxnOps = 4096

// Cluster is a running etcd cluster.
type Cluster struct {
	Members []*embed.Etcd
	// Endpoints are the client URLs, one per member.
	Endpoints []string
	stopped   map[int]bool
}

// Start starts n members and waits until they serve; they stop at the end
// of the test.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	cfgs := make([]*embed.Config, n)
	var initial []string
	c := &Cluster{stopped: map[int]bool{}}
	for i := range cfgs {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = t.TempDir()
		peer, client := freeURL(t), freeURL(t)
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
		cfg.InitialClusterToken = "monami-test"
		cfg.MaxTxnOps = MaxTxnOps
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		initial = append(initial, cfg.Name+"="+peer.String())
		c.Endpoints = append(c.Endpoints, client.String())
		cfgs[i] = cfg
	}
	for _, cfg := range cfgs {
		cfg.InitialCluster = strings.Join(initial, ",")
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			c.stop()
			t.Fatalf("etcd member %s: %v", cfg.Name, err)
		}
		c.Members = append(c.Members, e)
	}
	t.Cleanup(c.stop)
	for _, e := range c.Members {
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			t.Fatalf("etcd member %s: %v", e.Config().Name, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("etcd member %s not ready after 30 s", e.Config().Name)
		}
	}
	return c
}

// Stop stops member i (as a crash would, from the others' view).
func (c *Cluster) Stop(i int) {
	if !c.stopped[i] {
		c.stopped[i] = true
		c.Members[i].Close()
	}
}

func (c *Cluster) stop() {
	for i := range c.Members {
		c.Stop(i)
	}
}

// freeURL returns http://127.0.0.1:port for a port free now.
func freeURL(t testing.TB) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

// Partitionable is a way to the cluster that a test can cut: one TCP proxy
// per member (go.etcd.io/etcd/pkg/v3/proxy, as etcd's own partition tests
// use).
type Partitionable struct {
	// Endpoints are the proxies' client URLs.
	Endpoints []string
	proxies   []proxy.Server
}

// Via returns proxies to every member; they close at the end of the test.
func (c *Cluster) Via(t testing.TB) *Partitionable {
	t.Helper()
	p := &Partitionable{}
	for _, e := range c.Endpoints {
		to, err := url.Parse(e)
		if err != nil {
			t.Fatal(err)
		}
		from := freeURL(t)
		s := proxy.NewServer(proxy.ServerConfig{Logger: zap.NewNop(), From: from, To: *to})
		select {
		case <-s.Ready():
		case err := <-s.Error():
			t.Fatalf("proxy to %s: %v", e, err)
		}
		t.Cleanup(func() { s.Close() })
		p.proxies = append(p.proxies, s)
		p.Endpoints = append(p.Endpoints, from.String())
	}
	return p
}

// Cut drops everything both ways on every proxy: whoever uses them is
// partitioned from the cluster, with its connections still open.
func (p *Partitionable) Cut() {
	for _, s := range p.proxies {
		s.BlackholeTx()
		s.BlackholeRx()
	}
}

// Heal ends the partition.
func (p *Partitionable) Heal() {
	for _, s := range p.proxies {
		s.UnblackholeTx()
		s.UnblackholeRx()
	}
}
