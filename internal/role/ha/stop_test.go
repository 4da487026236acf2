package ha

import (
	"path/filepath"
	"strings"
	"testing"
)

// detachingDP is a recording data plane that can detach, as the kernel
// backend can.
type detachingDP struct {
	*recordingDP
	detached bool
}

func (d *detachingDP) Detach() error { d.detached = true; return nil }

// TestStopModes: an upgrade stop detaches the data plane only with a
// durable store; a drain stop, or an upgrade stop on the memory store,
// closes it; a data plane that cannot detach is closed.
func TestStopModes(t *testing.T) {
	bolt := strings.Replace(haYAML, "store: {backend: memory}", "store: {backend: bolt, path: "+filepath.Join(t.TempDir(), "ha.db")+"}", 1)
	for _, c := range []struct {
		name       string
		yaml       string
		mode       StopMode
		canDetach  bool
		wantDetach bool
	}{
		{"upgrade-bolt", bolt, StopUpgrade, true, true},
		{"drain-bolt", bolt, StopDrain, true, false},
		{"upgrade-memory", haYAML, StopUpgrade, true, false},
		{"upgrade-no-detach", bolt, StopUpgrade, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecordingDP()
			dd := &detachingDP{recordingDP: rec}
			x := startConfig(t, c.yaml, func(o *Options) {
				o.Store = nil // the configured one
				o.DataPlane = rec
				if c.canDetach {
					o.DataPlane = dd
				}
			})
			x.h.SetStopMode(c.mode)
			x.stop()
			if dd.detached != c.wantDetach || rec.closed == c.wantDetach {
				t.Errorf("detached %v, closed %v; want detached %v", dd.detached, rec.closed, c.wantDetach)
			}
			rec.closed = true // the harness's check is for the drain
		})
	}
}
