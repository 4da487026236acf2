package binding

import "time"

// RFC 4285 section 6: the Mobility Message Replay Protection option carries
// a 64-bit timestamp in NTP format (seconds since 1900 in the high 32 bits,
// fraction in the low 32). The home agent accepts a message only if its
// timestamp is within a window of the home agent's clock and newer than the
// last timestamp it accepted from that mobile node; otherwise it answers
// MIPV6-MESG-ID-REQD with its own current time in the option, so the
// mobile node can resynchronise.

// ntpEpochOffset is the number of seconds from 1900-01-01 to 1970-01-01.
const ntpEpochOffset = 2208988800

// NTPTimestamp converts t to the 64-bit NTP format used by RFC 4285.
func NTPTimestamp(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := (uint64(t.Nanosecond()) << 32) / 1e9
	return secs<<32 | frac
}

// TimeFromNTP converts a 64-bit NTP timestamp back to a time.Time (era 0).
func TimeFromNTP(ts uint64) time.Time {
	secs := int64(ts>>32) - ntpEpochOffset
	nsec := int64(((ts & 0xffffffff) * 1e9) >> 32)
	return time.Unix(secs, nsec)
}

// replayOK implements the RFC 4285 section 6 check for one message.
func (c *BindingCache) replayOK(ni int32, exists bool, ts uint64, now time.Time) bool {
	d := TimeFromNTP(ts).Sub(now)
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
