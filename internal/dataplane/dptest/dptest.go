// Package dptest is a fake data plane for role tests: it keeps what it is
// asked to install in maps, fails on demand, and counts calls. It checks
// its input as the real backends do (Validate), so a role that builds a
// bad route fails here too.
package dptest

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"monami/internal/dataplane"
	"monami/internal/forwarding"
)

// Fake is a recording dataplane.DataPlane and dataplane.Batcher.
type Fake struct {
	mu        sync.Mutex
	Routes    map[dataplane.Selector]dataplane.Route
	Endpoints map[EndpointKey]dataplane.Endpoint
	Dedups    map[forwarding.Match]dataplane.Dedup
	// Fail, when set, is called for each op; a non-nil error fails it.
	Fail func(dataplane.Op) error
	// Applies counts Apply calls, Ops the ops they carried.
	Applies, Ops int
}

// EndpointKey names an endpoint as DelEndpoint does.
type EndpointKey struct {
	Local, Peer netip.Addr
	Encap       dataplane.Encapsulation
}

// New returns an empty fake.
func New() *Fake {
	return &Fake{Routes: map[dataplane.Selector]dataplane.Route{},
		Endpoints: map[EndpointKey]dataplane.Endpoint{}, Dedups: map[forwarding.Match]dataplane.Dedup{}}
}

func (f *Fake) Backend() dataplane.Backend { return "fake" }

func (f *Fake) AddRoute(r dataplane.Route) error {
	return f.one(dataplane.Op{Kind: dataplane.OpAddRoute, Route: r}, true)
}

func (f *Fake) DelRoute(s dataplane.Selector) error {
	return f.one(dataplane.Op{Kind: dataplane.OpDelRoute, Selector: s}, true)
}

func (f *Fake) AddEndpoint(e dataplane.Endpoint) error {
	return f.one(dataplane.Op{Kind: dataplane.OpAddEndpoint, Endpoint: e}, true)
}

func (f *Fake) DelEndpoint(local, peer netip.Addr, encap dataplane.Encapsulation) error {
	e := dataplane.Endpoint{Local: local, Peer: peer, Encap: encap}
	return f.one(dataplane.Op{Kind: dataplane.OpDelEndpoint, Endpoint: e}, true)
}

func (f *Fake) Counters() (dataplane.Counters, error) { return dataplane.Counters{}, nil }
func (f *Fake) Close() error                          { return nil }

// Apply applies ops in order, going on after a failure as the backends
// do, and joins the errors.
func (f *Fake) Apply(ops []dataplane.Op) error {
	f.mu.Lock()
	f.Applies++
	f.mu.Unlock()
	var errs []error
	for _, o := range ops {
		if err := f.one(o, false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *Fake) one(o dataplane.Op, strict bool) error {
	if err := dataplane.Validate(o); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Ops++
	if f.Fail != nil {
		if err := f.Fail(o); err != nil {
			return fmt.Errorf("%v: %w", o, err)
		}
	}
	var found bool
	switch o.Kind {
	case dataplane.OpAddRoute:
		f.Routes[o.Route.Selector], found = o.Route, true
	case dataplane.OpDelRoute:
		_, found = f.Routes[o.Selector]
		delete(f.Routes, o.Selector)
	case dataplane.OpAddEndpoint:
		f.Endpoints[key(o.Endpoint)], found = o.Endpoint, true
	case dataplane.OpDelEndpoint:
		_, found = f.Endpoints[key(o.Endpoint)]
		delete(f.Endpoints, key(o.Endpoint))
	case dataplane.OpAddDedup:
		f.Dedups[o.Dedup.Match], found = o.Dedup, true
	case dataplane.OpDelDedup:
		_, found = f.Dedups[o.Dedup.Match]
		delete(f.Dedups, o.Dedup.Match)
	}
	if !found && strict {
		return dataplane.ErrNotFound
	}
	return nil
}

func key(e dataplane.Endpoint) EndpointKey { return EndpointKey{e.Local, e.Peer, e.Encap} }

// Route returns the route of a selector.
func (f *Fake) Route(s dataplane.Selector) (dataplane.Route, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.Routes[s]
	return r, ok
}

// Len returns how many routes, endpoints and dedups are installed.
func (f *Fake) Len() (routes, endpoints, dedups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.Routes), len(f.Endpoints), len(f.Dedups)
}
