package demo

import (
	"context"
	"strings"
	"testing"

	"monami/internal/testenv"
)

// TestClusterAcceptance is issue 13's Cluster acceptance with real
// processes: 3 `monami ha` nodes on one home link, 3 etcd members (`monami
// lab etcd`), a mobile node and a TCP stream to its home address. SIGKILL
// of the serving node: the stream survives and the probe gap stays under
// 3 s. SIGKILL of the etcd raft leader: no gap, a refresh is accepted, the
// same node serves. The serving node partitioned from etcd: it stops
// before the new leader starts, and sends no Binding Acknowledgement.
func TestClusterAcceptance(t *testing.T) {
	testenv.RequireRoot(t)
	s, closeLab := openScenarioOn(t, "mltcl", Options{}, clusterTopologyYAML)
	defer closeLab()
	defer func() {
		if t.Failed() {
			for _, n := range append(append([]string{}, haNodes...), "mn", "etcd1") {
				t.Logf("-- %s.log --\n%s", n, s.logTail(n))
			}
		}
	}()
	sum, err := s.clusterScenario(context.Background())
	if sum != nil {
		var b strings.Builder
		sum.WriteReport(&b)
		t.Log(b.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	// clusterScenario fails on sum.Failures(); the figures, once more:
	if sum.Takeover.GapMs >= 3000 || sum.EtcdLoss.GapMs >= etcdLossGapLimit || sum.Partition.SplitBrain || !sum.TCP.Intact {
		t.Errorf("acceptance: %+v", sum)
	}
	if !strings.HasPrefix(sum.Partition.HealthOld, "503") || sum.Partition.HealthNew != "200 serving" || sum.Partition.HealthStandbyFirst != "200 standby" {
		t.Errorf("/healthz: standby %q, cut-off node %q, new leader %q", sum.Partition.HealthStandbyFirst, sum.Partition.HealthOld, sum.Partition.HealthNew)
	}
}
