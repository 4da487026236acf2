package config

import (
	"fmt"
	"time"
)

// lifetimeUnit is the Binding Update and Acknowledgement lifetime unit
// (RFC 6275 section 6.1.7: 4 seconds).
const lifetimeUnit = 4 * time.Second

// roundNote tells the user a configured lifetime goes on the wire
// rounded down to 4-second units, or "" when it is a multiple.
func roundNote(key string, d time.Duration) string {
	sent := d / lifetimeUnit * lifetimeUnit
	if sent == d {
		return ""
	}
	return fmt.Sprintf("%s: %s is sent as %s (4-second units, RFC 6275 section 6.1.7)", key, d, sent)
}

// Notes lists what the daemon will do differently from what the file says,
// for --check to print and the daemon to log at start.
func (c *MobileNode) Notes() []string {
	return nonEmpty(roundNote("lifetime", c.Lifetime.D()))
}

// Notes lists what the daemon will do differently from what the file says.
func (c *HomeAgent) Notes() []string {
	return nonEmpty(roundNote("binding.max_lifetime", c.Binding.MaxLifetime.D()))
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
