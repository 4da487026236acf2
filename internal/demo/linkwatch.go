package demo

import (
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkNotes records when the kernel of a node reported its interface's
// state (RTM_NEWLINK), as the mobile node's link monitor hears it. Taking a
// veth down silences it at once but is reported only once done, after
// rtnl and an RCU grace period, which a busy machine stretches to hundreds
// of ms: the mobile node cannot react before, so the flap scenario tells
// that time apart from its own.
type linkNotes struct {
	mu    sync.Mutex
	notes []linkNote
	done  chan struct{}
}

type linkNote struct {
	at time.Time
	up bool // administratively up with carrier (IFF_UP and IFF_RUNNING)
}

// watchLink must run inside the node's namespace.
func watchLink(ifname string) (*linkNotes, error) {
	ch := make(chan netlink.LinkUpdate, 256)
	w := &linkNotes{done: make(chan struct{})}
	if err := netlink.LinkSubscribe(ch, w.done); err != nil {
		return nil, err
	}
	go func() {
		for u := range ch {
			if u.Attrs().Name != ifname {
				continue
			}
			up := u.IfInfomsg.Flags&unix.IFF_UP != 0 && u.IfInfomsg.Flags&unix.IFF_RUNNING != 0
			w.mu.Lock()
			w.notes = append(w.notes, linkNote{at: time.Now(), up: up})
			w.mu.Unlock()
		}
	}()
	return w, nil
}

func (w *linkNotes) stop() []linkNote {
	close(w.done)
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]linkNote(nil), w.notes...)
}

// heard is the first report at or after asked of the state up, or zero.
func heard(notes []linkNote, asked time.Time, up bool) time.Time {
	for _, n := range notes {
		if !n.at.Before(asked) && n.up == up {
			return n.at
		}
	}
	return time.Time{}
}
