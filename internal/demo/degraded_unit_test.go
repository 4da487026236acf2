package demo

import (
	"testing"
	"time"
)

// ctlLoss reads the polls: the first degraded one after the loss began,
// the highest loss while lossy, the first good one after it ended.
func TestCtlLoss(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	v := func(ms int, deg bool, loss float64) ctlView {
		return ctlView{at(ms), pathFigures{ok: true, degraded: deg, loss: loss, srtt: 20}}
	}
	vs := []ctlView{v(0, true, 50), v(3100, false, 5), v(3400, true, 12.5), v(3500, true, 40), v(8100, true, 30), v(9900, false, 2.5)}
	c := ctlLoss("mn", vs, at(3000), at(8000))
	if c.DegradedAtMs == nil || *c.DegradedAtMs != 400 || c.LossAtDegradedPct != 12.5 || c.MaxLossPct != 40 {
		t.Errorf("%+v", c)
	}
	if c.GoodAtMs == nil || *c.GoodAtMs != 1900 || c.Polls != 6 {
		t.Errorf("good again %v, polls %d", c.GoodAtMs, c.Polls)
	}
	if got := shareOn(map[string]Directed{"lte0": {Down: 95, Up: 1}, "wlan0": {Down: 5, Up: 1}}, "lte0", false); got != 0.95 {
		t.Errorf("share on lte0 %v", got)
	}
}
