package ctlapi

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A control_socket pointing at a file that is not a socket must leave it
// alone (the daemon runs as root) and say which path is wrong.
func TestListenRefusesNonSocket(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(regular, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sock")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{regular, link, dir} {
		s, err := Listen(path, fakeRole{}, nil)
		if err == nil {
			s.Close()
			t.Fatalf("%s: Listen succeeded over a non-socket", path)
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("%s: error does not name the path: %v", path, err)
		}
	}
	if b, err := os.ReadFile(regular); err != nil || string(b) != "keep me\n" {
		t.Fatalf("regular file damaged: %q %v", b, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("symlink damaged: %v %v", fi, err)
	}
}

// A socket left by a crashed daemon (nobody listening) is replaced.
func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ha.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	s, err := Listen(path, fakeRole{}, nil)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, _, err := NewClient(path).Get(t.Context(), "topics"); err != nil {
		t.Fatal(err)
	}
}

// The socket is 0600, a directory Listen creates is 0700, and the
// process umask is restored afterwards.
func TestListenModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "monami")
	path := filepath.Join(dir, "ha.sock")
	if err := os.Mkdir(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	before := syscall.Umask(0o022)
	syscall.Umask(before)
	s, err := Listen(path, fakeRole{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	after := syscall.Umask(before)
	if after != before {
		t.Errorf("umask %o after Listen, was %o", after, before)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v (%v), want socket 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory %s mode %v (%v), want 0700", dir, fi.Mode().Perm(), err)
	}
}

// A missing socket directory is created (as /run/monami is after a boot),
// private, and removed again at Close; a missing parent is an error and
// creates nothing; an existing directory is left in place.
func TestListenSocketDirectory(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "monami")
	path := filepath.Join(dir, "ha.sock")
	s, err := Listen(path, fakeRole{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created directory: %v %v", fi, err)
	}
	if _, _, err := NewClient(path).Get(t.Context(), "topics"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory created by Listen left behind after Close: %v", err)
	}

	deep := filepath.Join(base, "rnu", "monami", "ha.sock")
	if s, err := Listen(deep, fakeRole{}, nil); err == nil {
		s.Close()
		t.Fatal("Listen created a directory tree for a mistyped path")
	} else if !strings.Contains(err.Error(), deep) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error does not name the path: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "rnu")); !os.IsNotExist(err) {
		t.Errorf("mistyped path left %s/rnu: %v", base, err)
	}

	s, err = Listen(filepath.Join(base, "ha.sock"), fakeRole{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(base); err != nil {
		t.Errorf("existing directory removed: %v", err)
	}
}
