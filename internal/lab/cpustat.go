package lab

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"
)

// HostBusy is the CPU time all CPUs have spent busy since boot, and the
// time the hypervisor stole from them (see ParseHostStat); 0 if unknown.
func HostBusy() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	return ParseHostStat(string(b))
}

// ParseHostStat reads the "cpu" line: busy is user, nice, system, irq and
// softirq time (guest time is already in user); steal, the time the
// hypervisor ran something else while this machine wanted the CPU, is
// returned apart: it is not this machine's work, but a run with much of it
// measured a machine that was not all there.
func ParseHostStat(stat string) (busy, steal time.Duration) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0
	}
	var b, st uint64
	for i, x := range f[1:] {
		v, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return 0, 0
		}
		switch {
		case i == 3 || i == 4: // idle, iowait
		case i == 7:
			st = v
		case i < 7:
			b += v
		}
	}
	return time.Duration(b) * time.Second / ClockTicks, time.Duration(st) * time.Second / ClockTicks
}

// ClockTicks is USER_HZ, the unit of /proc/stat (100 on Linux).
const ClockTicks = 100

// WaitQuiet waits until the machine has spent at most maxBusy cores
// (busy plus stolen time) over a whole window, or until limit has passed,
// and returns the last window's figure. A timing measurement started
// right after heavy work measures that work too: the kernel tears down a
// previous lab's namespaces on a workqueue, seconds after `ip netns del`
// returned, and a waiting timer or a signalling answer queues behind it.
func WaitQuiet(ctx context.Context, maxBusy float64, window, limit time.Duration) (cores float64, quiet bool) {
	end := time.Now().Add(limit)
	for {
		b0, s0 := HostBusy()
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return cores, false
		case <-time.After(window):
		}
		b1, s1 := HostBusy()
		cores = float64((b1-b0)+(s1-s0)) / float64(time.Since(t0))
		if b0 == 0 || cores <= maxBusy {
			return cores, b0 != 0
		}
		if time.Now().After(end) {
			return cores, false
		}
	}
}

// ProcessCPU is the CPU time (user and system) a process has used so far
// (pid 0: this one), 0 if unknown: a bench divides the work it asked of a
// daemon by it, a figure that does not depend on the share of the
// machine the load generator beside it took.
func ProcessCPU(pid int) time.Duration {
	path := "/proc/self/stat"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return parseProcessCPU(string(b))
}

// parseProcessCPU reads utime and stime, fields 14 and 15 of
// /proc/<pid>/stat (proc(5)), counted after the command name, which may
// hold spaces and parentheses.
func parseProcessCPU(stat string) time.Duration {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+s) * time.Second / ClockTicks
}
