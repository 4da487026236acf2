package mn

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// inNS runs f on an OS thread switched into ns (the caller's namespace when
// ns is not open). Sockets f opens stay in ns; raw netlink requests f makes
// act on ns.
func inNS(ns netns.NsHandle, f func() error) error {
	if !ns.IsOpen() {
		return f()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace: %w", err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// Keep the thread locked: it dies with the goroutine rather than
		// run other goroutines in the wrong namespace.
		return fmt.Errorf("restore network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}
