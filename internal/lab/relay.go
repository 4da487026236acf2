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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The delay relay forwards Ethernet frames between two veths in a middle
// namespace (AF_PACKET sockets), holding each frame until arrival + delay
// ± jitter. One reader and one writer goroutine per direction: the reader
// stamps the due time and queues, the writer sleeps until the head is due
// and sends; so the delay does not grow with the packet rate and both
// directions are independent. Frames keep their order (a jittered due time
// never precedes the previous one), like a real link.

const relayReadyMsg = "relay ready"

// relayQueueLen bounds frames in flight per direction (tail drop beyond).
const relayQueueLen = 1 << 16

// relaySpin is how long before a frame is due the writer stops sleeping and spins.
const relaySpin = 200 * time.Microsecond

type relayFrame struct {
	due time.Time
	buf []byte
}

type relayDir struct {
	name     string
	in, out  int
	q        chan relayFrame
	params   *atomic.Pointer[relayParams]
	pool     *sync.Pool
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
		fmt.Fprintf(os.Stderr, "%s relay params: delay=%v jitter=%v\n", time.Now().Format(time.RFC3339Nano), p.Delay, p.Jitter)
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
	pool := &sync.Pool{New: func() any { return make([]byte, 65536+64) }}
	dirs := []*relayDir{
		{name: args[0] + "->" + args[1], in: fa, out: fb, params: &params, pool: pool, q: make(chan relayFrame, relayQueueLen)},
		{name: args[1] + "->" + args[0], in: fb, out: fa, params: &params, pool: pool, q: make(chan relayFrame, relayQueueLen)},
	}
	for _, d := range dirs {
		go d.read()
		go d.write()
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

func (d *relayDir) read() {
	var last time.Time
	for {
		buf := d.pool.Get().([]byte)
		n, err := unix.Read(d.in, buf)
		if err != nil || n <= 0 {
			d.pool.Put(buf)
			if err == unix.EINTR || err == unix.EAGAIN || err == unix.ENETDOWN || n == 0 {
				continue
			}
			fmt.Fprintf(os.Stderr, "relay %s: read: %v\n", d.name, err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		now := time.Now()
		p := d.params.Load()
		delay := time.Duration(p.Delay)
		if p.Jitter > 0 {
			j := int64(p.Jitter)
			delay += time.Duration(rand.Int64N(2*j+1) - j)
		}
		due := now.Add(delay)
		if due.Before(last) {
			due = last
		}
		last = due
		select {
		case d.q <- relayFrame{due: due, buf: buf[:n]}:
		default:
			d.drp.Add(1)
			d.pool.Put(buf[:cap(buf)])
		}
	}
}

func (d *relayDir) write() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for f := range d.q {
		// Timers overshoot by tens to hundreds of microseconds: sleep to
		// just before the due time, then spin the last stretch.
		if w := time.Until(f.due); w > relaySpin {
			timer.Reset(w - relaySpin)
			<-timer.C
		}
		for time.Now().Before(f.due) {
			runtime.Gosched()
		}
		if _, err := unix.Write(d.out, f.buf); err != nil {
			// The far end may be down (lab link down): the frame is lost, as on a cut link.
			d.drp.Add(1)
		} else {
			d.fwd.Add(1)
		}
		d.pool.Put(f.buf[:cap(f.buf)])
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
