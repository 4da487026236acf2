package demo

import (
	"fmt"
	"io"
)

// WriteReport prints the cluster scenario's figures.
func (c *ClusterSummary) WriteReport(w io.Writer) {
	t, e, p := c.Takeover, c.EtcdLoss, c.Partition
	fmt.Fprintf(w, "\nfirst leader: %s; longest probe gap in the quiet second before the first failure: %.1f ms\n", c.FirstLeader, c.QuietGapMs)
	fmt.Fprintf(w, "\n1. SIGKILL of the serving node %s at +%.0f ms (and its home link cut: the node is gone)\n", t.Killed, t.KilledMs)
	fmt.Fprintf(w, "  %s serves %.0f ms after the kill; bindings kept: %v\n", t.NewLeader, t.ServingMs, t.BindingsKept)
	fmt.Fprintf(w, "  longest probe gap from the kill on: %.1f ms (target under 3000 ms; sender pause %.1f ms)\n", t.GapMs, t.SenderStallMs)
	fmt.Fprintf(w, "\n2. SIGKILL of etcd member %s (raft leader: %v) at +%.0f ms\n", e.Member, e.WasRaftLeader, e.KilledMs)
	fmt.Fprintf(w, "  longest probe gap from the kill on: %.1f ms (sender pause %.1f ms)\n", e.GapMs, e.SenderStallMs)
	fmt.Fprintf(w, "  a registration refresh accepted after it: %v (%.0f ms later); same leader, same term: %v\n", e.RefreshAccepted, e.RefreshMs, e.LeaderKept)
	fmt.Fprintf(w, "\n3. partition of the serving node %s from every etcd member at +%.0f ms (nftables drop on its etcd link)\n", p.Node, p.CutMs)
	fmt.Fprintf(w, "  %s stopped serving %.0f ms after the cut; %s started serving %.0f ms after it\n", p.Node, p.OldStoppedMs, p.NewLeader, p.NewServingMs)
	fmt.Fprintf(w, "  %s after the cut: %d Binding Updates read, %d answers made, %d messages held back (not leader)\n",
		p.Node, p.OldBindingUpdates, p.OldAcksSent, p.OldNotLeader)
	fmt.Fprintf(w, "  on the wire after the cut: %d Binding Acknowledgements from %s; first from %s at +%.0f ms\n",
		p.WireAcksFromOld, p.Node, p.NewLeader, p.WireFirstNewAckMs)
	fmt.Fprintf(w, "  refresh accepted by %s: %v; longest probe gap: %.1f ms (sender pause %.1f ms)\n", p.NewLeader, p.RefreshAccepted, p.GapMs, p.SenderStallMs)
	fmt.Fprintf(w, "  /healthz: standby before the cut %q, %s after %q, %s after %q\n", p.HealthStandbyFirst, p.Node, p.HealthOld, p.NewLeader, p.HealthNew)
	fmt.Fprintf(w, "  split brain: %v\n", p.SplitBrain)
	fmt.Fprintf(w, "\nTCP stream: %d bytes sent, %d received, intact: %v %s\n", c.TCP.Sent, c.TCP.Received, c.TCP.Intact, c.TCP.Error)
	fmt.Fprintf(w, "probes received: %d of %d (longest sender pause %.1f ms)\n", c.Probe.Received, c.Probe.Sent, c.Probe.SenderStallMs)
}
