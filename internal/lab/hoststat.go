package lab

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// LoadAvg is the machine's 1, 5 and 15 minute load averages, for the
// benches' reports (their figures mean something only on a quiet machine).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Meminfo is /proc/meminfo in KiB, with "used" as MemTotal - MemAvailable
// (what the kernel and the processes hold).
func Meminfo() map[string]float64 {
	m := map[string]float64{}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if f := strings.Fields(v); len(f) > 0 {
			if x, err := strconv.ParseFloat(f[0], 64); err == nil {
				m[k] = x
			}
		}
	}
	m["used"] = m["MemTotal"] - m["MemAvailable"]
	return m
}

// RSS is a process's resident set in KiB (pid 0: this one), 0 if unknown.
func RSS(pid int) float64 {
	path := "/proc/self/status"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				x, _ := strconv.ParseFloat(f[0], 64)
				return x
			}
		}
	}
	return 0
}

// ProcCPU is the CPU time (user and system) a process has spent (pid 0:
// this one), 0 if unknown: fields 14 and 15 of /proc/<pid>/stat, after the
// command name, which may hold spaces and parentheses.
func ProcCPU(pid int) time.Duration {
	path := "/proc/self/stat"
	if pid > 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+st) * time.Second / ClockTicks
}
