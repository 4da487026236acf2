package ha

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system, every thread, the garbage
// collector's included) this process has used. A benchmark divides its
// work by it as well as by the wall clock: on a machine shared with other
// work the wall clock measures the share it got, the CPU time much less so.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
