package dataplane

import (
	"errors"
	"fmt"
)

// OpKind says what an Op does.
type OpKind uint8

const (
	OpAddRoute OpKind = iota + 1
	OpDelRoute
	OpAddEndpoint
	OpDelEndpoint
	// OpAddDedup and OpDelDedup (Dedup; delete by its Match) exist only
	// in batches: a data plane without Batcher cannot drop duplicates.
	OpAddDedup
	OpDelDedup
)

// Op is one change of a batch: what AddRoute, DelRoute, AddEndpoint or
// DelEndpoint would do.
type Op struct {
	Kind     OpKind
	Route    Route    // OpAddRoute
	Selector Selector // OpDelRoute
	// Endpoint: OpAddEndpoint; OpDelEndpoint uses its Local, Peer and
	// Encap.
	Endpoint Endpoint
	Dedup    Dedup // OpAddDedup, OpDelDedup
}

func (o Op) String() string {
	switch o.Kind {
	case OpAddRoute:
		return "add route " + o.Route.Selector.String()
	case OpDelRoute:
		return "delete route " + o.Selector.String()
	case OpAddEndpoint:
		return "add endpoint " + o.Endpoint.String()
	case OpDelEndpoint:
		return "delete endpoint " + o.Endpoint.String()
	case OpAddDedup:
		return "add dedup" + o.Dedup.Match.Key()
	case OpDelDedup:
		return "delete dedup" + o.Dedup.Match.Key()
	}
	return fmt.Sprintf("op(%d)", o.Kind)
}

// Batcher is a data plane that applies many changes for less than they
// cost one by one (one nftables transaction, one netlink send): a home
// agent registering thousands of mobile nodes a second groups the changes
// of the Binding Updates waiting in its queue.
type Batcher interface {
	// Apply applies ops in order. Deleting what is not installed is not
	// an error here. On error, each op either took effect or did not
	// (the error names those that did not), and the data plane's own
	// bookkeeping says which: ops are idempotent, so the caller restores
	// the state it wants by applying it again.
	Apply(ops []Op) error
}

// ApplyEach is Apply for a data plane without batching: one call per op.
func ApplyEach(dp DataPlane, ops []Op) error {
	var errs []error
	for _, o := range ops {
		var err error
		switch o.Kind {
		case OpAddRoute:
			err = dp.AddRoute(o.Route)
		case OpDelRoute:
			err = dp.DelRoute(o.Selector)
		case OpAddEndpoint:
			err = dp.AddEndpoint(o.Endpoint)
		case OpDelEndpoint:
			err = dp.DelEndpoint(o.Endpoint.Local, o.Endpoint.Peer, o.Endpoint.Encap)
		case OpAddDedup, OpDelDedup:
			err = fmt.Errorf("%v: %w", o, ErrUnsupported)
		default:
			err = fmt.Errorf("%v: unknown operation", o)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Apply applies ops through dp's batching when it has it.
func Apply(dp DataPlane, ops []Op) error {
	if b, ok := dp.(Batcher); ok {
		return b.Apply(ops)
	}
	return ApplyEach(dp, ops)
}

// validate checks an op the way the single calls check their arguments.
func (o Op) validate() error {
	switch o.Kind {
	case OpAddRoute:
		return o.Route.validate()
	case OpDelRoute, OpDelEndpoint, OpDelDedup:
		return nil
	case OpAddDedup:
		return o.Dedup.validate()
	case OpAddEndpoint:
		return o.Endpoint.validate()
	}
	return fmt.Errorf("%v: unknown operation", o)
}

// delKey is the endpoint an OpDelEndpoint removes.
func (o Op) delKey() endpointKey {
	return endpointKey{o.Endpoint.Local, o.Endpoint.Peer, o.Endpoint.Encap}
}

// Validate checks an op as the backends do before applying it; fakes use
// it so that a role's bad input fails in tests as it would for real.
func Validate(o Op) error { return o.validate() }
