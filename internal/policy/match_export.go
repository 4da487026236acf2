package policy

import (
	"fmt"

	"monami/internal/forwarding"
)

// Selector validates m outside a mobile node policy (for example an
// operator rule in ha.yaml): the selector, and one problem per bad field,
// each naming where+"."+field.
func (m *Match) Selector(where string) (forwarding.Match, []string) {
	var probs []string
	f := m.parse(where, func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) })
	return f, probs
}

// Empty reports whether no field is given (the rule matches everything).
func (m *Match) Empty() bool { return m.empty() }
