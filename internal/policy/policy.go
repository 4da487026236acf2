// Package policy holds the mobile node's flow policy (the policy: section
// of mn.yaml): ordered rules, each a traffic selector with the RFC 6088
// fields and an action (interfaces in preference order, share with
// weights, bicast over a set, or drop), a default action, and
// per-interface preferences and weights. It parses and validates the
// policy, naming the key in every error, matches packets against it, and
// turns it into forwarding inputs. It is pure: no I/O.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"monami/internal/forwarding"
)

// Policy is the policy: section of mn.yaml.
type Policy struct {
	// Default is the action for traffic no rule matches; empty: every
	// interface in preference order (failover).
	Default Action `yaml:"default"`
	// Return is what shared flows do when a failed interface comes back:
	// return (default) or stay. An action may override it.
	Return string `yaml:"return"`
	// Interfaces gives per-interface preferences and weights.
	Interfaces []Interface `yaml:"interfaces"`
	// Rules are tried in order; the first match decides.
	Rules []Rule `yaml:"rules"`

	links []Link
	ret   forwarding.ReturnPolicy
}

// Interface is the preference and share weight of one access interface.
type Interface struct {
	Name string `yaml:"name"`
	// Preference orders interfaces where a list does not: lower first.
	// Default: the interface's priority in interfaces:.
	Preference *int `yaml:"preference"`
	// Weight is the share of new flows the interface takes under share
	// (1..1000, default 1).
	Weight *int `yaml:"weight"`
}

// Rule is a traffic selector and what to do with matching traffic.
type Rule struct {
	Name   string `yaml:"name"`
	Match  Match  `yaml:"match"`
	Action `yaml:",inline"`

	sel forwarding.Match
}

// Selector returns the validated selector.
func (r *Rule) Selector() forwarding.Match { return r.sel }

// Link is an access interface the policy may name, from the interfaces:
// section: its name, Binding ID and BID priority.
type Link struct {
	Name     string
	BID      uint16
	Priority uint8
}

// Parse decodes and validates a policy document (the contents of the
// policy: section) against the given interfaces; name is for messages.
// Unknown keys are errors.
func Parse(name string, data []byte, links []Link) (*Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	if probs := p.Validate("policy", links); len(probs) > 0 {
		return nil, fmt.Errorf("policy %s:\n  %s", name, strings.Join(probs, "\n  "))
	}
	return &p, nil
}

// Classify returns the index of the first rule a packet matches, or -1
// for the default. The policy must have been validated.
func (p *Policy) Classify(k *forwarding.FlowKey) int {
	for i := range p.Rules {
		if p.Rules[i].sel.Matches(k) {
			return i
		}
	}
	return -1
}
