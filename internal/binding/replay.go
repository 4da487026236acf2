package binding

import (
	"time"

	"monami/wire"
)

// RFC 4285 section 6: the Mobility Message Replay Protection option carries
// a 64-bit timestamp in NTP format (wire.NTPTimestamp). The home agent
// accepts a message only if its timestamp is within a window of the home
// agent's clock and newer than the last timestamp it accepted from that
// mobile node; otherwise it answers MIPV6-MESG-ID-REQD with its own current
// time in the option, so the mobile node can resynchronise.

// replayOK implements the RFC 4285 section 6 check for one message.
func (c *BindingCache) replayOK(ni int32, exists bool, ts uint64, now time.Time) bool {
	d := wire.MobilityMessageReplayProtection{Timestamp: ts}.Time().Sub(now)
	if d < 0 {
		d = -d
	}
	if d > c.cfg.ReplayWindow {
		return false
	}
	if exists {
		n := &c.nodes[ni]
		if n.flags&nodeHasTS != 0 && ts <= n.lastTS {
			return false
		}
	}
	return true
}
