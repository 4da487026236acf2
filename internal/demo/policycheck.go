package demo

import "fmt"

// policyChecks judges the policy scenario against issue 11's thresholds.
func (s *scenario) policyChecks(r *ScenarioReport, p *PinnedResult) {
	w, l := p.PinnedPerLink[activeIf], p.PinnedPerLink[backupIf]
	r.check("pinned flow on lte only", "0 packets on wlan0, some on lte0, each way (steady phase)",
		w.Down == 0 && w.Up == 0 && l.Down > 0 && l.Up > 0, "wlan0 %d down %d up, lte0 %d down %d up", w.Down, w.Up, l.Down, l.Up)
	bw, bl := p.BulkPerLink[activeIf], p.BulkPerLink[backupIf]
	for _, d := range []struct {
		name   string
		wl, lt uint64
	}{{"down", bw.Down, bl.Down}, {"up", bw.Up, bl.Up}} {
		frac := 0.0
		if d.wl+d.lt > 0 {
			frac = float64(d.wl) / float64(d.wl+d.lt)
		}
		r.check("bulk TCP on wlan "+d.name, fmt.Sprintf(">= %.0f%% of its packets on wlan0", 100*bulkFraction),
			frac >= bulkFraction, "%.1f%% (%d on wlan0, %d on lte0)", 100*frac, d.wl, d.lt)
	}
	for i, c := range p.Changes {
		for _, lc := range c.Change {
			name := fmt.Sprintf("%s: pinned flow %s %s->%s", c.What, lc.Direction, lc.From, lc.To)
			got := msOrNone(lc.ChangeMs)
			if lc.OnOldBefore == 0 {
				got += "; the flow was not on " + lc.From + " before"
			}
			if c.Error != "" {
				got += "; " + c.Error
			}
			if i == 1 { // lte back: the flow returns, no bound given
				r.check(name, "returns", lc.moved(1e9) && c.Error == "", "%s", got)
				continue
			}
			r.check(name, fmt.Sprintf("<= %d ms", moveBoundMs), c.Error == "" && lc.moved(moveBoundMs), "%s", got)
		}
		if i >= 2 {
			got := fmt.Sprintf("%d lost (%d retransmissions, %d of them reported duplicate by the receiver)", c.Lost, c.Retransmits, c.Spurious)
			if c.Error != "" {
				got += "; the move failed"
			}
			r.check(c.What+": no loss", "0 lost: every retransmission a duplicate (D-SACK), both senders, until the next change", c.Error == "" && c.Lost == 0, "%s", got)
		}
	}
	for i, st := range p.Streams {
		r.check("pinned TCP "+dirName(i == 1)+" intact", "every octet once, in order, connection open",
			st.Intact && st.Received > 0, "%d sent, %d received %s", st.Sent, st.Received, st.Error)
	}
}
