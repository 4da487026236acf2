package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// labEnvKey marks every process a lab starts (MONAMI_LAB=<lab name>), so
// teardown never kills a process that merely reused a recorded PID.
const labEnvKey = "MONAMI_LAB"

// Re-exec entry points: a binary that links this package turns into a
// namespace launcher or a delay relay when started with these first
// arguments. This works in `monami` and in any test binary alike.
const (
	argNsExec = "__monami_lab_nsexec"
	argRelay  = "__monami_lab_relay"
)

func init() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case argNsExec:
		os.Exit(nsExecMain(os.Args[2:]))
	case argRelay:
		os.Exit(relayMain(os.Args[2:]))
	}
}

// nsExecMain: <netns path> <program> [args...]: enter the namespace, then execve.
func nsExecMain(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "monami lab nsexec: need <netns path> <program> [args...]")
		return 2
	}
	runtime.LockOSThread()
	if args[0] != "" {
		h, err := netns.GetFromPath(args[0])
		if err != nil {
			fmt.Fprintf(os.Stderr, "monami lab: open netns %s: %v\n", args[0], err)
			return 126
		}
		if err := netns.Set(h); err != nil {
			fmt.Fprintf(os.Stderr, "monami lab: enter netns %s: %v\n", args[0], err)
			return 126
		}
	}
	prog, err := exec.LookPath(args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "monami lab: %v\n", err)
		return 127
	}
	err = syscall.Exec(prog, args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "monami lab: exec %s: %v\n", prog, err)
	return 126
}

func selfExe() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own executable for re-exec: %w", err)
	}
	return p, nil
}

// NodeNS is a handle on a running node: run commands and Go code in its
// network namespace.
type NodeNS struct {
	lab  *Lab
	name string
	ns   string // "" for the root node
}

// Node returns the running node called name.
func (l *Lab) Node(name string) (*NodeNS, error) {
	n := l.st.Topology.node(name)
	if n == nil {
		var have []string
		for _, x := range l.st.Topology.Nodes {
			have = append(have, x.Name)
		}
		return nil, fmt.Errorf("lab %s has no node %q (nodes: %s)", l.st.Name, name, strings.Join(have, ", "))
	}
	return &NodeNS{lab: l, name: name, ns: l.nsOf(name)}, nil
}

// MustNode is Node for tests and examples with fixed names; it panics on an
// unknown node.
func (l *Lab) MustNode(name string) *NodeNS {
	n, err := l.Node(name)
	if err != nil {
		panic(err)
	}
	return n
}

// Name is the node name.
func (n *NodeNS) Name() string { return n.name }

// NetnsPath is the namespace's bind mount (/run/netns/<lab>-<node>), or ""
// for the root node.
func (n *NodeNS) NetnsPath() string {
	if n.ns == "" {
		return ""
	}
	return nsPath(n.ns)
}

// IfName is the kernel name of the node's interface (prefixed on the root node).
func (n *NodeNS) IfName(ifname string) string { return n.lab.ifName(n.name, ifname) }

// Netlink returns a netlink handle bound to the node's namespace (owned by
// the Lab; do not close it).
func (n *NodeNS) Netlink() (*netlink.Handle, error) { return n.lab.handle(n.ns) }

// Command returns an exec.Cmd that runs program inside the node's network
// namespace (the mount namespace is shared, so /sys shows the root
// namespace, unlike `ip netns exec`). It re-executes the current binary,
// which enters the namespace and then execve's program.
func (n *NodeNS) Command(ctx context.Context, program string, args ...string) *exec.Cmd {
	if n.ns == "" {
		return exec.CommandContext(ctx, program, args...)
	}
	self, err := selfExe()
	if err != nil {
		c := exec.CommandContext(ctx, program, args...)
		c.Err = err
		return c
	}
	return exec.CommandContext(ctx, self, append([]string{argNsExec, nsPath(n.ns), program}, args...)...)
}

// Exec runs program in the node and returns its combined output; a failure
// carries the output in the error.
func (n *NodeNS) Exec(ctx context.Context, program string, args ...string) ([]byte, error) {
	var buf bytes.Buffer
	c := n.Command(ctx, program, args...)
	c.Stdout, c.Stderr = &buf, &buf
	if err := c.Run(); err != nil {
		return buf.Bytes(), fmt.Errorf("%s: %s %s: %w: %s", n.name, program, strings.Join(args, " "), err, strings.TrimSpace(buf.String()))
	}
	return buf.Bytes(), nil
}

// Do runs fn on an OS thread inside the node's namespace. Sockets opened by
// fn stay in the namespace and may be used from any goroutine afterwards;
// goroutines started by fn do NOT run in the namespace.
func (n *NodeNS) Do(fn func() error) error {
	if n.ns == "" {
		return fn()
	}
	return inNetns(nsPath(n.ns), fn)
}

// startDetached starts argv in namespace ns (re-exec launcher), detached in
// its own session with output to logPath. The PID is recorded via record
// before this returns.
func startDetached(lab, ns string, argv []string, env map[string]string, logPath string) (*exec.Cmd, error) {
	self, err := selfExe()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p := ""
	if ns != "" {
		p = nsPath(ns)
	}
	c := exec.Command(self, append([]string{argNsExec, p}, argv...)...)
	c.Env = append(os.Environ(), labEnvKey+"="+lab)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.Env = append(c.Env, k+"="+env[k])
	}
	c.Stdout, c.Stderr = logf, logf
	c.Dir = filepath.Dir(logPath)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return nil, err
	}
	// Reap it if it exits while we live (library use); after we exit, init does.
	go c.Wait()
	return c, nil
}

func (l *Lab) startProcess(p Process) error {
	// The node shares our mount namespace and PATH: a missing program is
	// found here, with a clear error, rather than as exit 127 in a log.
	if _, err := exec.LookPath(p.Command); err != nil {
		return fmt.Errorf("on node %s: %w", p.Node, err)
	}
	logPath := filepath.Join(l.StateDir(), p.Name+".log")
	argv := append([]string{p.Command}, p.Args...)
	rec := ProcRecord{Name: p.Name, Node: p.Node, Ns: l.nsOf(p.Node), Log: logPath, Argv: argv}
	idx := -1
	if err := l.st.update(func(s *State) { s.Processes = append(s.Processes, rec); idx = len(s.Processes) - 1 }); err != nil {
		return err
	}
	c, err := startDetached(l.st.Name, rec.Ns, argv, p.Env, logPath)
	if err != nil {
		return err
	}
	return l.st.update(func(s *State) { s.Processes[idx].PID = c.Process.Pid })
}

// pidState returns the state letter of /proc/<pid>/stat ('Z' for zombies).
func pidState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}
