package demo

import "time"

// LinkChange is how a flow left one access link for another after an event
// (a control command, a link going down or up), in one direction, seen on
// the mobile node's access interfaces (captures with kernel timestamps,
// so the resolution is the flow's packet spacing).
type LinkChange struct {
	Direction string `json:"direction"` // down or up
	From      string `json:"from"`
	To        string `json:"to"`
	// FirstOnNewMs is when the first packet of the flow crossed the new
	// link after the event; LastOnOldMs when the last one crossed the old
	// link within the window (null: none did).
	FirstOnNewMs *float64 `json:"first_on_new_ms"`
	LastOnOldMs  *float64 `json:"last_on_old_ms"`
	// EnteredNewMs (downlink) is when the home agent sent the first
	// packet of the flow toward the new link: a tap on the access
	// router's home-side interface, where the packet joins the new link's
	// queue. FirstOnNewMs adds the new link's delay and that queue, which
	// other traffic on the link keeps (a bulk download keeps it full).
	EnteredNewMs *float64 `json:"entered_new_ms,omitempty"`
	// ChangeMs is when the flow changed link: EnteredNewMs for the
	// downlink, FirstOnNewMs for the uplink (the mobile node's own
	// interface). From then on new packets take the new link. What
	// crosses the old link later was already queued on it (the link's
	// rate limit holds a queue); LastOnOldMs says when that queue had
	// drained. Null when the flow never reached the new link.
	ChangeMs *float64 `json:"change_ms"`
	// OnOldBefore counts the flow's packets on the old link in the
	// changeLookback before the event: without them there was no change to
	// time (the flow was elsewhere already).
	OnOldBefore int `json:"packets_on_old_before"`
}

// changeLookback is how far before an event the flow must be seen on the
// link it leaves.
const changeLookback = 200 * time.Millisecond

// moved reports whether a change happened within bound ms.
func (c LinkChange) moved(boundMs float64) bool {
	return c.OnOldBefore > 0 && c.ChangeMs != nil && *c.ChangeMs <= boundMs
}

// tapPacket is one packet of the watched flow on an access link.
type tapPacket struct {
	at   time.Time
	flow string
	link string
	up   bool // sent by the mobile node
	// entry: seen where the downlink enters the access network (the
	// access router's home-side interface), not on the access link.
	entry bool
}

// linkChange finds the change of the flow's packets in one direction
// between from and to in [event, event+window).
// flow names the watched flow (tapPacket.flow).
func linkChange(pkts []tapPacket, flow string, up bool, from, to string, event time.Time, window time.Duration) LinkChange {
	c := LinkChange{Direction: dirName(up), From: from, To: to}
	end := event.Add(window)
	for _, p := range pkts {
		if p.flow != flow || p.up != up {
			continue
		}
		if p.link == from && !p.entry && p.at.Before(event) && !p.at.Before(event.Add(-changeLookback)) {
			c.OnOldBefore++
		}
		if p.at.Before(event) || !p.at.Before(end) {
			continue
		}
		v := ms(p.at.Sub(event))
		if p.entry {
			if p.link == to && c.EnteredNewMs == nil {
				c.EnteredNewMs = &v
			}
			continue
		}
		switch p.link {
		case to:
			if c.FirstOnNewMs == nil {
				c.FirstOnNewMs = &v
			}
		case from:
			c.LastOnOldMs = &v
		}
	}
	switch {
	case c.EnteredNewMs != nil && c.FirstOnNewMs != nil:
		v := *c.EnteredNewMs
		c.ChangeMs = &v
	case c.FirstOnNewMs != nil:
		v := *c.FirstOnNewMs
		c.ChangeMs = &v
	}
	return c
}

func dirName(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// packetsPerLink counts a flow's packets per link and direction in [from, to).
func packetsPerLink(pkts []tapPacket, flow string, from, to time.Time) map[string]Directed {
	out := map[string]Directed{}
	for _, p := range pkts {
		if p.flow != flow || p.entry || p.at.Before(from) || !p.at.Before(to) {
			continue
		}
		d := out[p.link]
		if p.up {
			d.Up++
		} else {
			d.Down++
		}
		out[p.link] = d
	}
	return out
}
