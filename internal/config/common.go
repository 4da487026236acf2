package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Log selects the daemon's log output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

func (l *Log) validate(e *errs) {
	switch l.Level {
	case "":
		l.Level = "info"
	case "debug", "info", "warn", "error":
	default:
		e.add("log.level: %q is not debug, info, warn or error", l.Level)
	}
	switch l.Format {
	case "":
		l.Format = "text"
	case "text", "json":
	default:
		e.add("log.format: %q is not text or json", l.Format)
	}
}

// Dataplane chooses the tunnel backend.
type Dataplane struct {
	// Backend is auto (kernel when it offers SRv6, else userspace), kernel or userspace.
	Backend string `yaml:"backend"`
	// Table is the first policy-routing table number monami may use.
	Table int `yaml:"table"`
	// BPF lets the kernel backend add the outer header in a BPF program on
	// each tunnel route (default true). false: seg6 routes behind a veth
	// detour, slower, for kernels or policies without BPF.
	BPF *bool `yaml:"bpf"`
}

// NoBPF reports whether bpf: false was configured.
func (d *Dataplane) NoBPF() bool { return d.BPF != nil && !*d.BPF }

func (d *Dataplane) validate(e *errs) {
	switch d.Backend {
	case "":
		d.Backend = "auto"
	case "auto", "kernel", "userspace":
	default:
		e.add("dataplane.backend: %q is not auto, kernel or userspace", d.Backend)
	}
	if d.Table == 0 {
		d.Table = 4190
	}
	// 253-255 are the kernel's default, main and local tables.
	if d.Table < 1 || d.Table >= 253 && d.Table <= 255 || d.Table > 1<<31-1 {
		e.add("dataplane.table: %d is reserved or out of range", d.Table)
	}
}

// Transport names a signalling transport.
type Transport string

const (
	// TransportNative is the Mobility Header over IPv6 (next header 135).
	TransportNative Transport = "native"
	// TransportUDP is RFC 5555 UDP encapsulation on port 4191.
	TransportUDP Transport = "udp"
)

func (t *Transport) validate(where string, e *errs) {
	switch *t {
	case "":
		*t = TransportNative
	case TransportNative, TransportUDP:
	default:
		e.add("%s: %q is not native or udp", where, string(*t))
	}
}

func fieldf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// Metrics configures the Prometheus endpoint (/metrics and /healthz).
type Metrics struct {
	// Listen is host:port for the HTTP endpoint, e.g. "[::1]:9190";
	// empty turns it off.
	Listen string `yaml:"listen"`
}

func (m *Metrics) validate(e *errs) {
	if m.Listen == "" {
		return
	}
	host, port, err := net.SplitHostPort(m.Listen)
	if err != nil {
		e.add("metrics.listen: %q is not host:port (e.g. \"[::1]:9190\" or \":9190\")", m.Listen)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		e.add("metrics.listen: port %q is not 1..65535", port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			e.add("metrics.listen: host %q is not an IP address (names are not resolved)", host)
		}
	}
}
