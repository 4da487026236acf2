package forwarding

import (
	"slices"
	"strconv"
)

// Op is what a Change does.
type Op uint8

const (
	Add Op = iota
	Update
	Remove
)

func (o Op) String() string {
	switch o {
	case Add:
		return "add"
	case Update:
		return "update"
	case Remove:
		return "remove"
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// Change is one difference between two tables. Old is nil for Add, New is
// nil for Remove.
type Change struct {
	Op       Op
	Old, New *Entry
}

// Entry returns the entry the change is about: New, or Old for Remove.
func (c Change) Entry() *Entry {
	if c.New != nil {
		return c.New
	}
	return c.Old
}

// Diff lists what turns old into new, so a data plane applies only what
// changed (Tailscale's router.Set does the same from a whole config).
// Removals come first, then updates and additions, each in home address
// and precedence order, so the result is deterministic. A nil table is
// empty. It compares entries once each: O(entries) comparisons, and the
// data plane's work is O(changes).
func Diff(old, new *Table) []Change {
	var out []Change
	if old != nil {
		for k, o := range old.entries {
			if new == nil {
				out = append(out, Change{Op: Remove, Old: o})
				continue
			}
			if _, ok := new.entries[k]; !ok {
				out = append(out, Change{Op: Remove, Old: o})
			}
		}
	}
	if new != nil {
		for k, n := range new.entries {
			var o *Entry
			if old != nil {
				o = old.entries[k]
			}
			switch {
			case o == nil:
				out = append(out, Change{Op: Add, New: n})
			case o != n && !o.Equal(n):
				out = append(out, Change{Op: Update, Old: o, New: n})
			}
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		if (a.Op == Remove) != (b.Op == Remove) {
			if a.Op == Remove {
				return -1
			}
			return 1
		}
		ea, eb := a.Entry(), b.Entry()
		if c := ea.HoA.Compare(eb.HoA); c != 0 {
			return c
		}
		return compareEntries(ea, eb)
	})
	return out
}
