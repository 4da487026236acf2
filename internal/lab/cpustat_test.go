package lab

import (
	"testing"
	"time"
)

func TestParseHostStat(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 5 50 1000 7 3 2 1 40 4\ncpu0 50 2 25 500 3 1 1 0 20 2\n"
	busy, steal := ParseHostStat(stat)
	if want := 160 * time.Second / ClockTicks; busy != want {
		t.Errorf("busy %v, want %v (user+nice+system+irq+softirq, guest already in user)", busy, want)
	}
	if want := 1 * time.Second / ClockTicks; steal != want {
		t.Errorf("steal %v, want %v", steal, want)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 x 4 5 6", "cpu 1 2"} {
		if b, s := ParseHostStat(bad); b != 0 || s != 0 {
			t.Errorf("ParseHostStat(%q) = %v, %v, want 0", bad, b, s)
		}
	}
}

func TestParseProcessCPU(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	stat := "4242 (monami (ha) x) S 1 4242 4242 0 -1 4194560 900 0 3 0 250 50 0 0 20 0 9 0\n"
	if got, want := parseProcessCPU(stat), 300*time.Second/ClockTicks; got != want {
		t.Errorf("parseProcessCPU = %v, want %v (utime+stime)", got, want)
	}
	for _, bad := range []string{"", "4242 (x) S 1 2", "4242 (x) S 1 4242 4242 0 -1 0 0 0 0 0 u s"} {
		if got := parseProcessCPU(bad); got != 0 {
			t.Errorf("parseProcessCPU(%q) = %v, want 0", bad, got)
		}
	}
	if ProcessCPU(0) < 0 {
		t.Error("negative CPU time")
	}
}
