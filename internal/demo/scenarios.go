package demo

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Scenarios lists the lab scenarios of issues 11 and 14 that RunScenario
// runs.
var Scenarios = []string{"share", "bicast", "policy", "degraded"}

// RunScenario builds the demo network, runs one scenario (share, bicast,
// policy or degraded) with its policy: section in mn.yaml, judges it
// against the issues' thresholds, and removes everything. The report is returned whenever
// the scenario started, with the reason it stopped early in Error: a
// missing part (a daemon refusing the policy, a ctl command it does not
// have) is a failed scenario, never a passed one.
func RunScenario(ctx context.Context, name string, opt Options) (*ScenarioReport, error) {
	pol, err := scenarioPolicy(name)
	if err != nil {
		return nil, err
	}
	r := &ScenarioReport{Scenario: name, TimelineStepMs: ms(timelineStep)}
	err = inLab(ctx, opt, func(s *scenario) error { return s.runNamed(ctx, name, pol, r) })
	if err != nil && r.Error == "" {
		r.Error = err.Error()
	}
	if err == nil && !r.Passed() {
		err = fmt.Errorf("scenario %s failed: %s", name, r.failures())
	}
	return r, err
}

func (r *ScenarioReport) failures() string {
	var n []string
	for _, c := range r.Checks {
		if !c.Pass {
			n = append(n, c.Name)
		}
	}
	if len(n) == 0 {
		return "no check ran"
	}
	return fmt.Sprint(n)
}

func (s *scenario) runNamed(ctx context.Context, name, pol string, r *ScenarioReport) error {
	r.Backend, r.Transport = s.opt.Backend, s.opt.Transport
	s.mnExtra = pol
	if name == "share" {
		// The mobile node's share policy has no RFC 6089 form (a flow
		// binding naming several BIDs is bicast, RFC 6089 section
		// 4.1.1.3): the downlink is shared by the operator's rule, as an
		// operator who sells load sharing would configure it.
		s.haExtra = fmt.Sprintf(`flow_bindings:
  rules:
    - name: share-%[1]s
      match: {dst: "%[1]s"}
      mode: share
`, homeAddress)
	}
	if err := s.writeConfigs(); err != nil {
		return err
	}
	var base map[string]*Baseline
	if name == "share" {
		s.say("== references without monami: single TCP per link and MPTCP over both, each way")
		var err error
		if base, err = s.shareBaselines(ctx); err != nil {
			return err
		}
	}
	s.say("== starting monami ha and monami mn (backend %s, signalling %s, policy for %s)", s.opt.Backend, s.opt.Transport, name)
	for _, role := range []string{"ha", "mn"} {
		if err := s.startDaemon(ctx, role, role); err != nil {
			return err
		}
	}
	if err := s.waitBindings(ctx, 2, 20*time.Second); err != nil {
		return fmt.Errorf("%w (did monami mn accept its policy: section?)", err)
	}
	cs, err := startCounters(s.lab)
	if err != nil {
		return err
	}
	t0 := time.Now()
	defer func() {
		reads, cerr := cs.finish()
		r.Timeline = linkTimeline(reads, t0, time.Now(), timelineStep)
		if cerr != nil && r.Error == "" {
			r.Error = "link counters: " + cerr.Error()
		}
	}()
	s.say("== scenario %s", name)
	switch name {
	case "share":
		err = s.share(ctx, r, base, t0)
	case "bicast":
		err = s.bicast(ctx, r, t0)
	case "policy":
		err = s.policy(ctx, r, t0)
	case "degraded":
		err = s.degraded(ctx, r, t0)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w\n-- mn.log --\n%s", err, s.logTail("mn"))
	}
	return err
}
