package demo

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The TCP congestion control algorithms the demo can ask for. The machine's
// default (net.ipv4.tcp_congestion_control) is what a sender gets when it
// asks for nothing; new namespaces inherit it from the root namespace.
const (
	CUBIC = "cubic"
	BBR   = "bbr"
)

// availablePath lists the algorithms the kernel has registered (loaded
// modules and built-ins), space-separated. A variable for tests.
var availablePath = "/proc/sys/net/ipv4/tcp_available_congestion_control"

// CheckCongestion accepts "" (the namespace's default) and an algorithm the
// kernel already has. It never loads a module: setting TCP_CONGESTION to an
// unregistered name would make a privileged process call request_module, so
// the name is checked against the available list first.
func CheckCongestion(name string) error {
	if name == "" {
		return nil
	}
	if name != CUBIC && name != BBR {
		return fmt.Errorf("congestion %q: want %s or %s", name, CUBIC, BBR)
	}
	b, err := os.ReadFile(availablePath)
	if err != nil {
		return fmt.Errorf("congestion %s: %w", name, err)
	}
	have := strings.Fields(string(b))
	for _, h := range have {
		if h == name {
			return nil
		}
	}
	return fmt.Errorf("congestion %s: not available in this kernel (%s lists %s); load it first, e.g. modprobe tcp_%s",
		name, availablePath, strings.Join(have, " "), name)
}

// setCongestion is a net.Dialer / net.ListenConfig Control function that
// sets TCP_CONGESTION on the socket before it connects; "" leaves the
// namespace's default.
func setCongestion(name string) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		if name == "" {
			return nil
		}
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, name)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("TCP_CONGESTION %s: %w", name, serr)
		}
		return nil
	}
}

// congestionOf reads the algorithm a connected socket really uses.
func congestionOf(c syscall.Conn) (string, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return "", err
	}
	var name string
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		name, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	}); err != nil {
		return "", err
	}
	if gerr != nil {
		return "", fmt.Errorf("getsockopt TCP_CONGESTION: %w", gerr)
	}
	return strings.TrimRight(name, "\x00"), nil
}
