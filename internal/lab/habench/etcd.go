package habench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"monami/internal/ctlapi"
	"monami/internal/lab"
)

// The etcd cluster of --store etcd: three members (`monami lab etcd`, the
// etcd server embedded), each in its own namespace on a switch with the
// home agent, as docs/ha-cluster.md deploys them. The home agent is then a
// one-node cluster: it leads its election and commits every binding to
// etcd before it acknowledges it.
var etcdMembers = []string{"etcd1", "etcd2", "etcd3"}

func etcdAddr(i int) string { return fmt.Sprintf("2001:db8:ee::%d", i+1) }

func etcdURL(i, port int) string { return fmt.Sprintf("http://[%s]:%d", etcdAddr(i), port) }

// haEtcdAddr is the home agent's address on the etcd switch.
const haEtcdAddr = "2001:db8:ee::100"

// addEtcd adds the members and their switch to the bench's topology.
func addEtcd(t *lab.Topology) {
	sw := lab.Switch{Name: "etcd", Ports: []lab.End{{Node: "ha", If: "e0", Addrs: []string{haEtcdAddr + "/64"}}}}
	for i, n := range etcdMembers {
		t.Nodes = append(t.Nodes, lab.Node{Name: n})
		sw.Ports = append(sw.Ports, lab.End{Node: n, If: "eth0", Addrs: []string{etcdAddr(i) + "/64"}})
	}
	t.Switches = append(t.Switches, sw)
}

// startEtcd starts the members and waits until each answers.
func startEtcd(ctx context.Context, l *lab.Lab, o Options) ([]*exec.Cmd, error) {
	var initial []string
	for i := range etcdMembers {
		initial = append(initial, fmt.Sprintf("e%d=%s", i+1, etcdURL(i, 2380)))
	}
	var cmds []*exec.Cmd
	stop := func() { stopEtcd(cmds) }
	for i, n := range etcdMembers {
		logf, err := os.Create(filepath.Join(l.StateDir(), n+".log"))
		if err != nil {
			stop()
			return nil, err
		}
		cmd := l.MustNode(n).Command(context.WithoutCancel(ctx), o.Binary, "lab", "etcd", "--name", fmt.Sprintf("e%d", i+1),
			"--data-dir", filepath.Join(l.StateDir(), n+".data"), "--peer-url", etcdURL(i, 2380), "--client-url", etcdURL(i, 2379),
			"--initial-cluster", strings.Join(initial, ","))
		cmd.Stdout, cmd.Stderr = logf, logf
		err = cmd.Start()
		logf.Close()
		if err != nil {
			stop()
			return nil, fmt.Errorf("starting etcd member %s: %w", n, err)
		}
		cmds = append(cmds, cmd)
	}
	for i, n := range etcdMembers {
		if err := waitEtcdMember(ctx, l.MustNode("ha"), etcdURL(i, 2379)); err != nil {
			stop()
			return nil, fmt.Errorf("etcd member %s: %w", n, err)
		}
	}
	return cmds, nil
}

// waitEtcdMember polls a member's status from the home agent's namespace.
func waitEtcdMember(ctx context.Context, from *lab.NodeNS, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, err := from.HTTP(ctx, "POST", url+"/v3/maintenance/status", "{}")
		if err == nil && code == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("no answer after 30 s (%v, HTTP %d)", err, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func stopEtcd(cmds []*exec.Cmd) {
	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
	}
}

// etcdClusterConfig is the home agent's store and cluster keys for etcd.
func etcdClusterConfig(name string) string {
	var eps []string
	for i := range etcdMembers {
		eps = append(eps, `"`+etcdURL(i, 2379)+`"`)
	}
	return fmt.Sprintf("{backend: etcd}\nhome_link: eth1\ncluster: {etcd: [%s], election: %s}", strings.Join(eps, ", "), name)
}

// waitLeading waits until the one-node cluster leads its election (a node
// that does not lead answers no Binding Update).
func (p *haProcess) waitLeading(ctx context.Context) error {
	c := ctlapi.NewClient(filepath.Join(p.dir, "ha.sock"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st struct {
			Cluster struct {
				Leading bool `json:"leading"`
			} `json:"cluster"`
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, body, err := c.Get(cctx, "status")
		cancel()
		if err == nil && json.Unmarshal(body, &st) == nil && st.Cluster.Leading {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the home agent does not lead its etcd election after 30 s (%v)\n-- ha.log --\n%s", err, p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
