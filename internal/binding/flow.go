package binding

import (
	"net/netip"
	"slices"
	"time"

	"monami/wire"
)

// Flow bindings (RFC 6089): a mobile node binds flows, described by RFC
// 6088 traffic selectors, to one or more of its registered Binding IDs.
// The home agent keeps them per home address, beside that address's
// bindings in the BindingCache, and the role keeps the two in step: flows
// are decided after the bindings of the same Binding Update, and every
// change of bindings is passed to BindingsChanged.

// FlowBinding is one entry of a home address's flow binding list (RFC
// 6089 section 3, "Flow binding"; section 5): FID, FID-PRI, the BIDs it
// references and its traffic selector.
type FlowBinding struct {
	HoA netip.Addr
	FID uint16
	// Priority is FID-PRI: when selectors of several flows match a packet,
	// the lowest value wins (RFC 6089 section 4.1).
	Priority uint16
	// BIDs are the BID Reference, in the mobile node's order: traffic goes
	// to every one of them (RFC 6089 section 4.1.1.3; several is bicast).
	BIDs []uint16
	// Active are the BIDs of BIDs that have a binding now. When none does,
	// the flow is kept but its traffic follows the home address's regular
	// bindings (RFC 6089 section 5; see BindingsChanged).
	Active     []uint16
	Selector   wire.TrafficSelector
	Registered time.Time
	Refreshed  time.Time
}

// Orphaned reports whether none of the flow's BIDs has a binding.
func (f *FlowBinding) Orphaned() bool { return len(f.Active) == 0 }

// FlowOption is one decoded Flow Identification option of a Binding Update
// (RFC 6089 section 4.1).
type FlowOption struct {
	FID      uint16
	Priority uint16
	// BIDs is the BID Reference sub-option; nil when there is none.
	BIDs []uint16
	// Selector is the Traffic Selector sub-option; nil when there is none.
	Selector wire.TrafficSelector
	// Malformed, when not empty, says why the option cannot be used: it is
	// answered with status 130 (RFC 6089 section 4.1).
	Malformed string
}

// FlowRequest is the flow part of one Binding Update: its Flow
// Identification options in order and the FIDs of its Flow Summary options
// (RFC 6089 section 4.2).
type FlowRequest struct {
	Options []FlowOption
	Summary []uint16
	// Raw, when the caller keeps them, are the wire bytes of the flow
	// options (each option's type, length and data, in the update's
	// order): Process then remembers its answer for Repeat.
	Raw []byte
}

// Empty reports whether the Binding Update carried no flow option at all.
func (r *FlowRequest) Empty() bool { return len(r.Options) == 0 && len(r.Summary) == 0 }

// FlowResult is one Flow Identification option for the Binding
// Acknowledgement (RFC 6089 section 4.1, Status).
type FlowResult struct {
	FID      uint16
	Priority uint16
	Status   wire.FIDStatus
	Reason   string // for logs
}

// FlowChangeKind says what the data plane must do with a flow.
type FlowChangeKind uint8

const (
	FlowAdded    FlowChangeKind = iota + 1
	FlowModified                // priority, BIDs or selector changed
	FlowRemoved
	// FlowPathsChanged: the flow's Active BIDs changed because a binding
	// came or went; the flow binding itself is unchanged.
	FlowPathsChanged
)

func (k FlowChangeKind) String() string {
	switch k {
	case FlowAdded:
		return "added"
	case FlowModified:
		return "modified"
	case FlowRemoved:
		return "removed"
	case FlowPathsChanged:
		return "paths"
	}
	return "unknown"
}

// FlowCause is why a flow changed, for logs.
type FlowCause uint8

const (
	FlowCauseSignalled FlowCause = iota + 1 // a Flow Identification option
	FlowCauseOmitted                        // left out of a Binding Update that carried flow options
	FlowCauseBindings                       // a referenced binding came or went
	FlowCauseNoBinding                      // the home address has no binding left
)

func (c FlowCause) String() string {
	switch c {
	case FlowCauseSignalled:
		return "signalled"
	case FlowCauseOmitted:
		return "omitted"
	case FlowCauseBindings:
		return "bindings"
	case FlowCauseNoBinding:
		return "no-binding"
	}
	return "unknown"
}

// FlowChange is one flow change, not yet applied to the data plane.
type FlowChange struct {
	Kind  FlowChangeKind
	Cause FlowCause
	Flow  FlowBinding
}

// FlowConfig is the home agent's policy for flow bindings.
type FlowConfig struct {
	// Disabled answers every flow with 128, administratively prohibited.
	Disabled bool
	// MaxFlowsPerNode limits the flows of one home address; beyond it a
	// new flow gets 129. Zero means DefaultMaxFlowsPerNode.
	MaxFlowsPerNode int
	// CheckSelector, if set, validates a selector of a supported format
	// (for example that ranges do not run backwards); an error is 130.
	CheckSelector func(wire.TrafficSelector) error
	// Prohibited, if set, is operator policy: a flow it refuses gets 128.
	Prohibited func(hoa netip.Addr, o *FlowOption) bool
}

// DefaultMaxFlowsPerNode is the flow limit per home address when none is
// configured.
const DefaultMaxFlowsPerNode = 64

// FlowTable is the home agent's flow binding list of every home address.
// Not safe for concurrent use: the event loop that owns the BindingCache
// owns it.
type FlowTable struct {
	cfg   FlowConfig
	nodes map[netip.Addr][]*FlowBinding // sorted by FID
	n     int
	seen  map[uint16]bool // scratch for Process
	// memo: per home address, the last update that changed no flow
	// (flow_repeat.go); refreshed and asked are Process's scratch for it.
	memo      map[netip.Addr]*flowMemo
	refreshed []*FlowBinding
	asked     []bidAnswer
}

// NewFlowTable returns an empty table.
func NewFlowTable(cfg FlowConfig) *FlowTable {
	if cfg.MaxFlowsPerNode <= 0 {
		cfg.MaxFlowsPerNode = DefaultMaxFlowsPerNode
	}
	return &FlowTable{cfg: cfg, nodes: map[netip.Addr][]*FlowBinding{}, memo: map[netip.Addr]*flowMemo{}}
}

// Len is the number of flow bindings of all home addresses.
func (t *FlowTable) Len() int { return t.n }

// Lookup returns copies of the flow bindings of hoa, lowest FID-PRI first.
func (t *FlowTable) Lookup(hoa netip.Addr) []FlowBinding {
	fs := t.nodes[hoa]
	out := make([]FlowBinding, 0, len(fs))
	for _, f := range fs {
		out = append(out, copyFlow(f))
	}
	slices.SortFunc(out, func(a, b FlowBinding) int { return int(a.Priority) - int(b.Priority) })
	return out
}

// All calls f for every flow binding, home address by home address (in
// address order), lowest FID-PRI first, until f returns false.
func (t *FlowTable) All(f func(FlowBinding) bool) {
	hoas := make([]netip.Addr, 0, len(t.nodes))
	for h := range t.nodes {
		hoas = append(hoas, h)
	}
	slices.SortFunc(hoas, netip.Addr.Compare)
	for _, h := range hoas {
		for _, fb := range t.Lookup(h) {
			if !f(fb) {
				return
			}
		}
	}
}

func copyFlow(f *FlowBinding) FlowBinding {
	c := *f
	c.BIDs = slices.Clone(f.BIDs)
	c.Active = slices.Clone(f.Active)
	return c
}

func (t *FlowTable) find(hoa netip.Addr, fid uint16) *FlowBinding {
	fs := t.nodes[hoa]
	if i, ok := slices.BinarySearchFunc(fs, fid, cmpFID); ok {
		return fs[i]
	}
	return nil
}

func cmpFID(f *FlowBinding, fid uint16) int { return int(f.FID) - int(fid) }

func (t *FlowTable) insert(f *FlowBinding) {
	fs := t.nodes[f.HoA]
	i, _ := slices.BinarySearchFunc(fs, f.FID, cmpFID)
	t.nodes[f.HoA] = slices.Insert(fs, i, f)
	t.n++
	t.forget(f.HoA)
}

func (t *FlowTable) remove(hoa netip.Addr, fid uint16) {
	fs := t.nodes[hoa]
	i, ok := slices.BinarySearchFunc(fs, fid, cmpFID)
	if !ok {
		return
	}
	fs = slices.Delete(fs, i, i+1)
	t.n--
	t.forget(hoa)
	if len(fs) == 0 {
		delete(t.nodes, hoa)
		return
	}
	t.nodes[hoa] = fs
}

// Reject answers every Flow Identification option of a Binding Update the
// binding cache did not accept: nothing about its flows is changed, and
// each gets 129, rejected (RFC 6089 section 4.1).
func (t *FlowTable) Reject(req *FlowRequest) []FlowResult {
	var out []FlowResult
	for i := range req.Options {
		o := &req.Options[i]
		out = append(out, FlowResult{FID: o.FID, Priority: o.Priority, Status: wire.FIDStatusRejected,
			Reason: "binding update not accepted"})
	}
	return out
}
