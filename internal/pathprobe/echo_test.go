package pathprobe

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"monami/internal/testenv"
)

// A probe to the loopback address comes back as a Reply with its sequence
// number, local and peer addresses; another Echo's reply is not delivered.
func TestEchoRoundTrip(t *testing.T) {
	testenv.RequireRoot(t)
	lo := netip.MustParseAddr("::1")
	a, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ra, rb := make(chan Reply, 4), make(chan Reply, 4)
	done := make(chan struct{})
	go func() { a.Read(ctx, time.Now, ra); close(done) }()
	go b.Read(ctx, time.Now, rb)
	if err := a.Send(lo, lo, 0, 4242); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ra:
		if r.Seq != 4242 || r.Local != lo || r.Peer != lo {
			t.Errorf("reply %+v", r)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no reply")
	}
	select {
	case r := <-rb:
		t.Errorf("another sender's reply delivered: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	// Read ends with its context, the socket still open.
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Error("Read still running after its context ended")
	}
}
