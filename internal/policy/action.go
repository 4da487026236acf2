package policy

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"monami/internal/forwarding"
)

// Action says where matching traffic goes. Exactly one of Interfaces,
// Share, Bicast and Drop is given (none, in the default: failover over
// every interface).
type Action struct {
	// Interfaces in preference order: the first usable one carries the
	// traffic.
	Interfaces []string `yaml:"interfaces"`
	// Share spreads flows over interfaces by weight, one flow per
	// interface.
	Share Share `yaml:"share"`
	// Bicast sends every packet over every listed interface.
	Bicast []string `yaml:"bicast"`
	// Drop discards the traffic.
	Drop bool `yaml:"drop"`
	// Return overrides the policy's return: for this share action.
	Return string `yaml:"return"`

	act forwarding.Action
}

// Share is a list of interface names (weights from policy.interfaces) or
// a mapping of interface name to weight.
type Share struct {
	Items []ShareItem
	// Line is where the share key's value starts, for messages.
	Line int
}

// ShareItem is one interface of a share action; Weight 0 means the
// interface's weight from policy.interfaces.
type ShareItem struct {
	Interface string
	Weight    int
	weightRaw string
}

// UnmarshalYAML accepts [wlan0, wwan0] or {wlan0: 3, wwan0: 1}.
func (s *Share) UnmarshalYAML(n *yaml.Node) error {
	s.Line = n.Line
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: share: each item is an interface name", c.Line)
			}
			s.Items = append(s.Items, ShareItem{Interface: c.Value})
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: share: write interface: weight", k.Line)
			}
			s.Items = append(s.Items, ShareItem{Interface: k.Value, weightRaw: v.Value})
		}
	default:
		return fmt.Errorf("line %d: share: a list of interfaces or a mapping of interface to weight", n.Line)
	}
	if len(s.Items) == 0 {
		// Keep an empty share distinguishable from an absent one.
		s.Line = -n.Line - 1
	}
	return nil
}

// given reports whether share: was written.
func (s *Share) given() bool { return s.Line != 0 }

// Forwarding returns the validated action.
func (a *Action) Forwarding() forwarding.Action { return a.act }
