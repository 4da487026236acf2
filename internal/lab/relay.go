package lab

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The delay relay forwards Ethernet frames between two veths in a middle
// namespace (AF_PACKET sockets), holding each frame in a per-direction
// release queue until arrival + delay ± jitter: the delay does not grow
// with the packet rate, and both directions are independent. Frames keep
// their order (a jittered due time never precedes the previous one), like
// a real link; after the delay is lowered, new frames wait behind those
// already in flight.

const relayReadyMsg = "relay ready"

// relayQueueLen bounds frames in flight per direction (tail drop beyond).
const relayQueueLen = 1 << 16

// relayRTPriority is the SCHED_FIFO priority of the relay loops (1..99).
const relayRTPriority = 10

type relayFrame struct {
	due time.Time
	buf []byte
}

// relayDir is one direction of the relay. It runs as a single loop on a
// locked OS thread: ppoll with a nanosecond timeout until the head frame is
// due or a frame arrives, read what is there, send what is due. No
// goroutine hand-offs, and the thread's timer slack is 1 ns, so frames
// leave within tens of microseconds of their due time.
type relayDir struct {
	name     string
	in, out  int
	params   *atomic.Pointer[relayParams]
	dir      func(*relayParams) relayDirParams
	fwd, drp atomic.Uint64
}

func relayMain(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "relay: need <ifA> <ifB> <params.json>")
		return 2
	}
	var params atomic.Pointer[relayParams]
	load := func() error {
		b, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		var p relayParams
		if err := json.Unmarshal(b, &p); err != nil {
			return fmt.Errorf("%s: %w", args[2], err)
		}
		params.Store(&p)
		fmt.Fprintf(os.Stderr, "%s relay params: a->b delay=%v jitter=%v, b->a delay=%v jitter=%v\n", time.Now().Format(time.RFC3339Nano),
			p.AtoB.Delay, p.AtoB.Jitter, p.BtoA.Delay, p.BtoA.Jitter)
		return nil
	}
	if err := load(); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	fa, err := openPacketSocket(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	fb, err := openPacketSocket(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		return 1
	}
	// Two locked loop threads plus signal handling: keep a P free for each.
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 4))
	dirs := []*relayDir{
		{name: args[0] + "->" + args[1], in: fa, out: fb, params: &params, dir: func(p *relayParams) relayDirParams { return p.AtoB }},
		{name: args[1] + "->" + args[0], in: fb, out: fa, params: &params, dir: func(p *relayParams) relayDirParams { return p.BtoA }},
	}
	for _, d := range dirs {
		go d.run()
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	fmt.Fprintf(os.Stderr, "%s %s pid=%d %s<->%s\n", time.Now().Format(time.RFC3339Nano), relayReadyMsg, os.Getpid(), args[0], args[1])
	for s := range sig {
		switch s {
		case syscall.SIGHUP:
			if err := load(); err != nil {
				fmt.Fprintln(os.Stderr, "relay: reload:", err)
			}
		case syscall.SIGUSR1:
			for _, d := range dirs {
				fmt.Fprintf(os.Stderr, "relay %s: forwarded %d dropped %d\n", d.name, d.fwd.Load(), d.drp.Load())
			}
		default:
			for _, d := range dirs {
				fmt.Fprintf(os.Stderr, "relay %s: forwarded %d dropped %d; exiting on %v\n", d.name, d.fwd.Load(), d.drp.Load(), s)
			}
			return 0
		}
	}
	return 0
}

func openPacketSocket(ifname string) (int, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return -1, err
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w", err)
	}
	// Our own transmissions on this interface must not loop back to us.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("PACKET_IGNORE_OUTGOING: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 16<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", ifname, err)
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (d *relayDir) run() {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	// Real-time priority: on a busy machine a normal thread can wait
	// milliseconds for a CPU, which would show up as delay. The loop
	// blocks in ppoll and does bounded work per wake-up, and the kernel's
	// RT throttling keeps some CPU for everyone else.
	// Without RT throttling (sched_rt_runtime_us = -1) a saturated relay
	// could monopolise a CPU: stay a normal thread then.
	if b, _ := os.ReadFile("/proc/sys/kernel/sched_rt_runtime_us"); strings.TrimSpace(string(b)) == "-1" {
		fmt.Fprintf(os.Stderr, "relay %s: RT throttling is off, staying at normal priority: delays may stretch under CPU load\n", d.name)
	} else if err := unix.SchedSetAttr(0, &unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: relayRTPriority}, 0); err != nil {
		fmt.Fprintf(os.Stderr, "relay %s: no real-time priority (%v): delays may stretch under CPU load\n", d.name, err)
	}
	var (
		q    []relayFrame // FIFO: q[head:]
		head int
		last time.Time
		free [][]byte
	)
	fds := []unix.PollFd{{Fd: int32(d.in), Events: unix.POLLIN}}
	for {
		var ts *unix.Timespec
		if head < len(q) {
			w := max(time.Until(q[head].due), 0)
			t := unix.NsecToTimespec(int64(w))
			ts = &t
		}
		n, err := unix.Ppoll(fds, ts, nil)
		if err != nil && err != unix.EINTR {
			fmt.Fprintf(os.Stderr, "relay %s: poll: %v\n", d.name, err)
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			// A packet socket reports ENETDOWN when its interface goes
			// down (lab link down). Reading SO_ERROR clears it; without
			// that, ppoll would return at once forever (a busy loop at
			// real-time priority).
			if fds[0].Revents&unix.POLLNVAL != 0 {
				fmt.Fprintf(os.Stderr, "relay %s: socket closed\n", d.name)
				os.Exit(1)
			}
			_, _ = unix.GetsockoptInt(d.in, unix.SOL_SOCKET, unix.SO_ERROR)
			if fds[0].Revents&unix.POLLIN == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		if n > 0 && fds[0].Revents&unix.POLLIN != 0 {
			p := d.dir(d.params.Load())
			for range 256 { // bounded, so due frames are not starved
				var buf []byte
				if k := len(free); k > 0 {
					buf, free = free[k-1], free[:k-1]
				} else {
					buf = make([]byte, 65536+64)
				}
				k, _, err := unix.Recvfrom(d.in, buf, unix.MSG_DONTWAIT)
				if err != nil || k <= 0 {
					free = append(free, buf)
					break
				}
				if len(q)-head >= relayQueueLen {
					d.drp.Add(1)
					free = append(free, buf)
					continue
				}
				delay := time.Duration(p.Delay)
				if p.Jitter > 0 {
					j := int64(p.Jitter)
					delay += time.Duration(rand.Int64N(2*j+1) - j)
				}
				due := time.Now().Add(delay)
				if due.Before(last) {
					due = last // keep order, as a real link does
				}
				last = due
				q = append(q, relayFrame{due: due, buf: buf[:k]})
			}
		}
		now := time.Now()
		for head < len(q) && !q[head].due.After(now) {
			f := q[head]
			q[head] = relayFrame{}
			head++
			if _, err := unix.Write(d.out, f.buf); err != nil {
				// The far end may be down (lab link down): the frame is lost, as on a cut link.
				d.drp.Add(1)
			} else {
				d.fwd.Add(1)
			}
			free = append(free, f.buf[:cap(f.buf)])
		}
		if head == len(q) {
			q, head = q[:0], 0
		} else if head > 4096 && head > len(q)/2 {
			q, head = append(q[:0], q[head:]...), 0
		}
		if len(free) > 1024 {
			free = free[:1024]
		}
	}
}

// waitRelayReady waits until the relay logged that its sockets are open.
func waitRelayReady(logPath string, pid int) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), relayReadyMsg) {
			return nil
		}
		if pidState(pid) == 'Z' || pidState(pid) == 0 {
			return fmt.Errorf("relay exited: %s", strings.TrimSpace(string(b)))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("relay did not start within 10s (log %s)", logPath)
}
