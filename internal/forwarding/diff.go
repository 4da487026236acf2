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
// empty. Home addresses whose entries a table shares with the other
// (see Table.With) are skipped unread, so diffing after With costs one
// pointer comparison per home address plus the changed home's entries.
func Diff(old, new *Table) []Change {
	var out []Change
	if old != nil {
		for a, oh := range old.homes {
			var nh *homeTable
			if new != nil {
				nh = new.homes[a]
			}
			if nh != oh {
				out = diffHome(out, oh, nh)
			}
		}
	}
	if new != nil {
		for a, nh := range new.homes {
			if old == nil || old.homes[a] == nil {
				out = diffHome(out, nil, nh)
			}
		}
	}
	sortChanges(out)
	return out
}

// sortChanges puts removals first, then the rest, each by home address
// and precedence.
func sortChanges(out []Change) {
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
}

// diffHome appends the changes of one home address; either side may be
// nil.
func diffHome(out []Change, old, new *homeTable) []Change {
	if old != nil {
		for k, o := range old.entries {
			if new == nil || new.entries[k] == nil {
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
	return out
}
