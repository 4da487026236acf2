package demo

import "time"

// fail takes the active access network away: the interface goes down, or
// with Options.Silent the access router silently drops everything through
// it while the link stays up.
func (s *scenario) fail(events *[]Event, t0 time.Time) error {
	if s.opt.Silent {
		*events = append(*events, Event{At: time.Since(t0), What: "access router drops all traffic of " + activeIf + " (link stays up)"})
		return s.lab.SetBlackhole("ar", activeIf, true)
	}
	*events = append(*events, Event{At: time.Since(t0), What: "link " + activeIf + " down (mobile node interface)"})
	return s.lab.SetLink("mn", activeIf, false)
}

// restore undoes fail.
func (s *scenario) restore(events *[]Event, t0 time.Time) error {
	if s.opt.Silent {
		*events = append(*events, Event{At: time.Since(t0), What: "access router forwards " + activeIf + " again"})
		return s.lab.SetBlackhole("ar", activeIf, false)
	}
	*events = append(*events, Event{At: time.Since(t0), What: "link " + activeIf + " up"})
	return s.lab.SetLink("mn", activeIf, true)
}
