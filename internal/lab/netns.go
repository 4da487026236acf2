package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named namespaces are bind-mounted, as `ip netns` does.
const netnsDir = "/run/netns"

func nsPath(name string) string { return filepath.Join(netnsDir, name) }

// inNetns runs fn on an OS thread switched into the namespace at path. The
// thread is restored afterwards; if restoring fails it is left locked so the
// runtime discards it instead of reusing a thread in the wrong namespace.
func inNetns(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return // thread stays locked and is discarded
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// createNetns creates the named namespace /run/netns/<name> like `ip netns add`.
func createNetns(name string) error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return err
	}
	p := nsPath(name)
	f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("netns %s already exists (another lab with the same name? run `monami lab down`)", name)
		}
		return err
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread unshares into the new namespace and is never unlocked:
		// the runtime kills it when this goroutine ends.
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare netns: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, p, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind-mount netns %s: %w", p, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(p)
		return err
	}
	return nil
}

// deleteNetns removes a named namespace; missing is not an error.
func deleteNetns(name string) error {
	p := nsPath(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", p, err)
	}
	err := os.Remove(p)
	if errors.Is(err, unix.EBUSY) {
		err = removeCoveredNetns(p)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// removeCoveredNetns removes a namespace file whose bind mount is hidden
// under a later mount of /run/netns on itself (what `ip netns add` does
// when /run/netns is not yet a mount point). Unmounting the path only
// removes the copy in the upper mount and unlink fails with EBUSY, because
// the file is still a mount point in the covered one, out of reach by
// path. In a private mount namespace of our own the upper mount and the
// copy of the covered one can be detached; the file is then no mount point
// there and unlink succeeds, and the kernel detaches the mounts on the
// unlinked file in every namespace (vfs_unlink, detach_mounts), which
// frees the network namespace. The thread is never unlocked: the runtime
// discards it with its mount namespace.
func removeCoveredNetns(p string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("remove %s: unshare mount namespace: %w", p, err)
			return
		}
		// Nothing done here may propagate back to the host.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("remove %s: private mounts: %w", p, err)
			return
		}
		for range 16 {
			err := unix.Unlink(p)
			if !errors.Is(err, unix.EBUSY) {
				errc <- err
				return
			}
			// Peel one layer: the namespace file's own mount if the
			// path shows one, else the mount of /run/netns above it.
			if err := unix.Unmount(p, unix.MNT_DETACH); errors.Is(err, unix.EINVAL) {
				if err := unix.Unmount(netnsDir, unix.MNT_DETACH); err != nil {
					errc <- fmt.Errorf("remove %s: unmount %s in a private mount namespace: %w", p, netnsDir, err)
					return
				}
			}
		}
		errc <- fmt.Errorf("remove %s: still busy after unmounting every layer", p)
	}()
	if err := <-errc; err != nil {
		return &os.PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}

// netnsExists reports whether /run/netns/<name> is a mounted namespace.
func netnsExists(name string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(nsPath(name), &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// netnsInode returns the inode identifying the namespace at path.
func netnsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// pidsInNetns lists processes whose threads live in the namespace at path,
// like `ip netns pids`. It catches processes the state file missed (a crash
// between starting one and recording its PID).
func pidsInNetns(path string) []int {
	ino, err := netnsInode(path)
	if err != nil {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, t := range tasks {
			var st unix.Stat_t
			if unix.Stat(fmt.Sprintf("/proc/%d/task/%s/ns/net", pid, t.Name()), &st) == nil && st.Ino == ino {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// processAlive reports whether pid exists and runs the expected program
// (its /proc/<pid>/environ or cmdline contains marker), so a recycled PID
// is never killed.
func processAlive(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	if st := pidState(pid); st == 'Z' || st == 'X' || st == 0 {
		return false
	}
	if marker == "" {
		return true
	}
	for _, f := range []string{"environ", "cmdline"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
		if err == nil && strings.Contains(string(b), marker) {
			return true
		}
	}
	return false
}
