package paths

import "time"

// NextChange is the earliest of the state changes Tick will make at a
// known time unless something arrives first: a busy path's unanswered
// probes making it suspect (or a silent suspect one down), a suspect path
// going down (false: none pending). Unlike Deadline it holds no probe
// times and no condition Tick might not act on, so a role can arm a timer
// on it: a silent failure is then judged when due, not at the next poll.
func (t *Table) NextChange() (time.Time, bool) {
	var d time.Time
	for _, p := range t.paths {
		at, ok := t.nextChange(p)
		if ok && (d.IsZero() || at.Before(d)) {
			d = at
		}
	}
	return d, !d.IsZero()
}

func (t *Table) nextChange(p *path) (time.Time, bool) {
	switch p.state {
	case Up:
		return t.unansweredAt(p)
	case Suspect:
		down := t.downAt(p)
		if at, ok := t.bothSilentAt(p); ok && at.Before(down) {
			return at, true
		}
		return down, true
	}
	return time.Time{}, false
}
