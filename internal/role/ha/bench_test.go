package ha

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"monami/internal/config"
	"monami/internal/dataplane"
	"monami/internal/transport"
	"monami/wire"
)

// discardTransport swallows Binding Acknowledgements.
type discardTransport struct{}

func (discardTransport) Send(context.Context, transport.Signal) error { return nil }
func (discardTransport) Recv(ctx context.Context) (transport.Signal, error) {
	<-ctx.Done()
	return transport.Signal{}, ctx.Err()
}
func (discardTransport) Close() error { return nil }

// stubDP is the stubbed data plane: it accepts everything and keeps nothing.
type stubDP struct{ recordingDP }

func newStubDP() *stubDP { return &stubDP{} }

func (*stubDP) AddRoute(dataplane.Route) error                               { return nil }
func (*stubDP) DelRoute(dataplane.Selector) error                            { return nil }
func (*stubDP) AddEndpoint(dataplane.Endpoint) error                         { return nil }
func (*stubDP) DelEndpoint(_, _ netip.Addr, _ dataplane.Encapsulation) error { return nil }
func (*stubDP) Apply([]dataplane.Op) error                                   { return nil }

// benchAgent builds a home agent serving nodes mobile nodes, mobile node i
// with home address 2001:db8:1::/64 + i and NAI mn<i>@bench.
func benchAgent(b *testing.B, nodes int) *HomeAgent {
	b.Helper()
	var y strings.Builder
	y.WriteString("address: 2001:db8:1::1\nhome_prefixes: [2001:db8:1::/64]\nbinding: {max_lifetime: 1h}\nstore: {backend: memory}\nmobile_nodes:\n")
	for i := 0; i < nodes; i++ {
		fmt.Fprintf(&y, "  - {id: mn%d@bench, home_addresses: [\"%s\"], spi: %d, key: \"text:0123456789abcdef%04x\"}\n",
			i, benchHoA(i), 256+i, i&0xffff)
	}
	cfg, err := config.ParseHomeAgent("bench.yaml", []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(cfg, Options{Transports: []transport.Transport{discardTransport{}}, DataPlane: newStubDP(), NoControlSocket: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func benchHoA(i int) netip.Addr {
	a := haAddr.As16()
	a[12], a[13], a[14], a[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)+2
	return netip.AddrFrom16(a)
}

func benchCoA(i, bid int) netip.Addr {
	a := netip.MustParseAddr("2001:db8:c000::").As16()
	a[5] = byte(bid)
	a[12], a[13], a[14], a[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return netip.AddrFrom16(a)
}

// benchBU is mobile node i's authenticated Binding Update registering 4
// care-of addresses (bulk registration), as the benchmark in wire measures.
func benchBU(i int, seq uint16, auth *wire.Authenticator) received {
	return benchFlowBU(i, seq, auth, 0)
}

// benchFlowBU is benchBU with flows Flow Identification options (RFC
// 6089), each with a BID Reference and an IPv6 Traffic Selector.
func benchFlowBU(i int, seq uint16, auth *wire.Authenticator, flows int) received {
	hoa, src := benchHoA(i), benchCoA(i, 1)
	bu := wire.BindingUpdate{Sequence: seq, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 900}
	for bid := 1; bid <= 4; bid++ {
		bu.Options = append(bu.Options, wire.BindingIdentifier{BindingID: uint16(bid), Priority: uint8(bid), CareOfAddress: benchCoA(i, bid)})
	}
	for f := 1; f <= flows; f++ {
		ts := wire.IPv6TrafficSelector{Flags: wire.IPv6TSStartDestinationPort | wire.IPv6TSStartNextHeader,
			StartDestinationPort: uint16(5000 + f), StartNextHeader: 17}
		bu.Options = append(bu.Options, fid(uint16(f), uint16(f), []uint16{uint16(1 + f%4)}, ts))
	}
	bu.Options = append(bu.Options, wire.NAI(fmt.Sprintf("mn%d@bench", i)),
		wire.MobilityMessageReplayProtection{Timestamp: wire.NTPTimestamp(time.Now())})
	mh, err := auth.AppendMessage(nil, bu, uint32(256+i), src, hoa, hoa, haAddr)
	if err != nil {
		panic(err)
	}
	return received{sig: transport.Signal{Via: transport.ViaMH, Src: src, Dst: haAddr, Ext: transport.ExtHAO, HomeAddress: hoa, MH: mh},
		tp: discardTransport{}, at: time.Now()}
}

func keyOf(i int) []byte { return []byte(fmt.Sprintf("0123456789abcdef%04x", i&0xffff)) }

// The home agent benchmarks are in-process figures: decode, authenticator
// check, binding cache and the signed BA's encoding, with the data plane and
// the sockets stubbed, so no kernel work and no kernel memory is counted.

// BenchmarkHomeAgentRefresh: one authenticated bulk Binding Update (4 BIDs,
// MN-ID, replay, MN-HA auth) refreshing the registration of one of 1024
// mobile nodes, all registered before the timer starts. A refresh leaves
// the bindings' care-of addresses as they were, so it makes no data plane
// call at all.
func BenchmarkHomeAgentRefresh(b *testing.B) { benchRefresh(b, 0) }

// BenchmarkHomeAgentRefreshFlows: the refresh with 8 Flow Identification
// options as well (issue 11: 4 BIDs and 8 flows per update); every flow is
// refreshed, none changes. Compare its updates/s with
// BenchmarkHomeAgentRefresh's in the same run.
func BenchmarkHomeAgentRefreshFlows(b *testing.B) { benchRefresh(b, 8) }

func benchRefresh(b *testing.B, flows int) {
	const nodes = 1024
	h := benchAgent(b, nodes)
	ctx := context.Background()
	auths := make([]*wire.Authenticator, nodes)
	for i := range auths {
		auths[i] = wire.NewAuthenticator(keyOf(i))
		h.handle(ctx, benchFlowBU(i, 1, auths[i], flows)) // the first registrations, untimed
	}
	seq := uint16(2)
	batch := make([]received, 0, 4*nodes)
	refill := func() {
		batch = batch[:0]
		for r := 0; r < 4; r++ {
			for i := 0; i < nodes; i++ {
				batch = append(batch, benchFlowBU(i, seq, auths[i], flows))
			}
			seq++
		}
	}
	refill()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	var cpu time.Duration
	for n, j := 0, 0; n < b.N; n, j = n+1, j+1 {
		if j == len(batch) {
			b.StopTimer()
			elapsed := time.Since(start)
			cpu += processCPU() - cpu0
			refill()
			j = 0
			start, cpu0 = time.Now().Add(-elapsed), processCPU()
			b.StartTimer()
		}
		r := batch[j]
		r.at = time.Now()
		h.handle(ctx, r)
	}
	b.StopTimer()
	cpu += processCPU() - cpu0
	if want := uint64(nodes + b.N); h.cnt.acksSent != want || h.cnt.byStatus[wire.StatusAccepted] != want {
		b.Fatalf("acks %d, accepted %d, of %d updates", h.cnt.acksSent, h.cnt.byStatus[wire.StatusAccepted], want)
	}
	if h.flows.Len() != nodes*flows {
		b.Fatalf("%d flow bindings, want %d", h.flows.Len(), nodes*flows)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "updates/s")
	// Per second of CPU time: what a busy machine does not halve.
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "updates/cpu-s")
}

// BenchmarkHomeAgentFirstRegistration: the same Binding Update from a
// mobile node the agent holds no binding for: 4 bindings created, and the
// (stubbed) data plane called for each. A fresh agent of 4096 mobile nodes
// is built, untimed, whenever every node of the last one registered.
func BenchmarkHomeAgentFirstRegistration(b *testing.B) {
	const nodes = 4096
	ctx := context.Background()
	var h *HomeAgent
	var acks, accepted uint64
	batch := make([]received, 0, nodes)
	fresh := func() {
		if h != nil {
			acks, accepted = acks+h.cnt.acksSent, accepted+h.cnt.byStatus[wire.StatusAccepted]
		}
		h = benchAgent(b, nodes)
		batch = batch[:0]
		for i := 0; i < nodes; i++ {
			batch = append(batch, benchBU(i, 1, h.sec.byNAI[fmt.Sprintf("mn%d@bench", i)].auth))
		}
	}
	fresh()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for n, j := 0, 0; n < b.N; n, j = n+1, j+1 {
		if j == len(batch) {
			b.StopTimer()
			elapsed := time.Since(start)
			fresh()
			j = 0
			start = time.Now().Add(-elapsed)
			b.StartTimer()
		}
		r := batch[j]
		r.at = time.Now()
		h.handle(ctx, r)
	}
	b.StopTimer()
	fresh()
	if acks != uint64(b.N) || accepted != uint64(b.N) {
		b.Fatalf("acks %d, accepted %d, of %d first registrations", acks, accepted, b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "registrations/s")
}

// BenchmarkBaselineHMAC is the floor the update path is compared with: one
// HMAC-SHA1 over a Binding Update of the same size (the home agent computes
// two: verify the BU, sign the BA).
func BenchmarkBaselineHMAC(b *testing.B) {
	r := benchBU(0, 1, wire.NewAuthenticator(keyOf(0)))
	mac := hmac.New(sha1.New, keyOf(0))
	var sum [sha1.Size]byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mac.Reset()
		mac.Write(r.sig.MH)
		mac.Sum(sum[:0])
	}
}

// BenchmarkHomeAgentMemory1M registers 250,000 mobile nodes x 4 care-of
// addresses through the real receive path and reports the live heap per
// binding, including the agent's security associations and data plane
// bookkeeping. In-process: the data plane is stubbed, so the kernel memory
// of the tunnels (about 4 KiB of locked memory per tunnel program,
// BenchmarkTunnelProgram) is not in the figure. Run with -benchtime=1x.
func BenchmarkHomeAgentMemory1M(b *testing.B) {
	const nodes = 250_000
	for n := 0; n < b.N; n++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		h := benchAgent(b, nodes)
		ctx := context.Background()
		for i := 0; i < nodes; i++ {
			h.handle(ctx, benchBU(i, 1, h.sec.byNAI[fmt.Sprintf("mn%d@bench", i)].auth))
		}
		if got := h.cache.Len(); got != 4*nodes {
			b.Fatalf("%d bindings, want %d", got, 4*nodes)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(heap/float64(4*nodes), "heap-bytes/binding")
		b.ReportMetric(heap/(1<<20), "heap-MiB")
		runtime.KeepAlive(h)
	}
}
