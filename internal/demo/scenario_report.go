package demo

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Check is one acceptance point of issue 11 as a scenario measured it.
type Check struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Pass bool   `json:"pass"`
}

// Checks are a scenario's checks against its acceptance thresholds.
type Checks []Check

// allPass reports whether there are checks and every one passed.
func (c Checks) allPass() bool {
	for _, x := range c {
		if !x.Pass {
			return false
		}
	}
	return len(c) > 0
}

func (c *Checks) add(name, want string, pass bool, got string, a ...any) {
	*c = append(*c, Check{Name: name, Want: want, Got: fmt.Sprintf(got, a...), Pass: pass})
}

// ScenarioReport is what `monami lab demo --scenario share|bicast|policy`
// measured: the checks against the acceptance thresholds, the figures
// behind them, the events and the per-link timeline.
type ScenarioReport struct {
	Scenario  string `json:"scenario"`
	Backend   string `json:"backend"`
	Transport string `json:"transport"`
	// Congestion is the TCP congestion control of each TCP sender, read
	// from its socket ("none" when the scenario has no TCP).
	Congestion  []string        `json:"congestion_control"`
	Checks      Checks          `json:"checks"`
	Aggregation []*Aggregation  `json:"aggregation,omitempty"`
	Bicast      []BicastCase    `json:"bicast,omitempty"`
	Pinned      *PinnedResult   `json:"pinned,omitempty"`
	Degraded    *DegradedResult `json:"degraded,omitempty"`
	Events      []Event         `json:"events"`
	// Timeline is bytes per TimelineStepMs on each access link of the
	// mobile node, both ways, from its interface counters.
	TimelineStepMs float64    `json:"timeline_step_ms"`
	Timeline       []LinkSlot `json:"timeline"`
	// Error says why the scenario stopped before its end.
	Error string `json:"error,omitempty"`
}

// Passed reports whether the scenario ran to its end and every check passed.
func (r *ScenarioReport) Passed() bool { return r.Error == "" && r.Checks.allPass() }

func (r *ScenarioReport) check(name, want string, pass bool, got string, a ...any) {
	r.Checks.add(name, want, pass, got, a...)
}

func (r *ScenarioReport) addCongestion(cc string) {
	for _, c := range r.Congestion {
		if c == cc {
			return
		}
	}
	r.Congestion = append(r.Congestion, cc)
}

// WriteReport prints the timeline (kB per step on each link, down/up),
// the events between its rows, the figures and the checks.
func (r *ScenarioReport) WriteReport(w io.Writer) {
	fmt.Fprintf(w, "\n== scenario %s (backend %s, signalling %s)\n", r.Scenario, r.Backend, r.Transport)
	r.writeTimeline(w)
	fmt.Fprintf(w, "\nTCP congestion control (read from the senders' sockets): %s\n", strings.Join(r.Congestion, ", "))
	for _, a := range r.Aggregation {
		a.write(w)
	}
	for _, b := range r.Bicast {
		b.write(w)
	}
	if r.Pinned != nil {
		r.Pinned.write(w)
	}
	if r.Degraded != nil {
		r.Degraded.write(w)
	}
	fmt.Fprintln(w)
	for _, c := range r.Checks {
		v := "PASS"
		if !c.Pass {
			v = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s: %s (want %s)\n", v, c.Name, c.Got, c.Want)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "FAIL  scenario stopped: %s\n", r.Error)
	}
}

func (r *ScenarioReport) writeTimeline(w io.Writer) {
	if len(r.Timeline) == 0 {
		return
	}
	var links []string
	for k := range r.Timeline[0].Link {
		links = append(links, k)
	}
	sort.Strings(links)
	fmt.Fprintf(w, "\n%8s", "t")
	for _, l := range links {
		fmt.Fprintf(w, "  %-17s", l+" kB down/up")
	}
	fmt.Fprintln(w)
	ev := 0
	for _, s := range r.Timeline {
		for ev < len(r.Events) && ms(r.Events[ev].At) < s.AtMs+r.TimelineStepMs {
			fmt.Fprintf(w, "%7.3fs  ** %s\n", r.Events[ev].At.Seconds(), r.Events[ev].What)
			ev++
		}
		fmt.Fprintf(w, "%7.1fs", s.AtMs/1000)
		for _, l := range links {
			d := s.Link[l]
			fmt.Fprintf(w, "  %7.1f %-9.1f", float64(d.Down)/1000, float64(d.Up)/1000)
		}
		fmt.Fprintln(w)
	}
	for ; ev < len(r.Events); ev++ {
		fmt.Fprintf(w, "%7.3fs  ** %s\n", r.Events[ev].At.Seconds(), r.Events[ev].What)
	}
}

// msOrNone prints an optional time.
func msOrNone(v *float64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprintf("%.1f ms", *v)
}
