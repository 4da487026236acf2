// Package config loads and validates the YAML configuration of the monami
// daemons. Validation happens once, at start, and names the offending key,
// so a daemon never runs half-configured.
package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeStrict parses YAML into v, rejecting unknown keys (a misspelt key
// silently ignored is the classic way to run with a default one did not want).
func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty configuration")
		}
		return errors.New(strings.Join(nameKeys(data, err), "\n  "))
	}
	return nil
}

func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return data, nil
}

// errs collects validation errors so one run reports all of them.
type errs []string

func (e *errs) add(format string, a ...any) { *e = append(*e, fmt.Sprintf(format, a...)) }

func (e errs) err(file string) error {
	if len(e) == 0 {
		return nil
	}
	return fmt.Errorf("config %s:\n  %s", file, strings.Join(e, "\n  "))
}

// Duration is a time.Duration written as "300s", "5m" or a plain number of seconds.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if v, err := time.ParseDuration(s); err == nil {
		if v < 0 {
			return fmt.Errorf("line %d: %q is negative", n.Line, s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%g", &secs); err == nil && secs >= 0 && fmt.Sprint(secs) == strings.TrimSpace(s) {
		*d = Duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	return fmt.Errorf("line %d: %q is not a duration (e.g. 300s, 5m)", n.Line, s)
}

func (d Duration) D() time.Duration { return time.Duration(d) }

// Key is shared secret material, written "hex:00112233..." or
// "text:a passphrase" in the file or in key_file.
type Key []byte

// looksHex matches a value a user most likely meant as hex digits.
var looksHex = regexp.MustCompile(`^(0[xX])?[0-9a-fA-F]{16,}$`)

func parseKey(s string) (Key, error) {
	if h, ok := strings.CutPrefix(s, "hex:"); ok {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil {
			return nil, fmt.Errorf("bad hex key: %w", err)
		}
		return b, nil
	}
	if t, ok := strings.CutPrefix(s, "text:"); ok {
		return Key(t), nil
	}
	// A bare value used to be taken as text: 40 hex digits became a
	// 40-octet ASCII key and a peer given the same digits as hex failed
	// authentication with no hint. Refuse what looks like hex.
	if looksHex.MatchString(s) {
		return nil, fmt.Errorf("%d characters that look like hex digits: write hex:%s for %d octets, or text:%s to use the characters themselves",
			len(s), strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), len(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))/2, s)
	}
	return Key(s), nil
}

// SecurityAssociation is an RFC 4285 mobility SPI with its MN-HA key.
type SecurityAssociation struct {
	SPI     uint32 `yaml:"spi"`
	Key     string `yaml:"key"`
	KeyFile string `yaml:"key_file"`

	key Key
}

// Secret returns the resolved key.
func (sa SecurityAssociation) Secret() Key { return sa.key }

func (sa *SecurityAssociation) resolve(where string, e *errs) {
	switch {
	case sa.Key != "" && sa.KeyFile != "":
		e.add("%s: give key or key_file, not both", where)
	case sa.KeyFile != "":
		b, err := os.ReadFile(sa.KeyFile)
		if err != nil {
			e.add("%s.key_file: %v", where, err)
			return
		}
		k, err := parseKey(strings.TrimSpace(string(b)))
		if err != nil {
			e.add("%s.key_file: %v", where, err)
			return
		}
		sa.key = k
	case sa.Key != "":
		k, err := parseKey(sa.Key)
		if err != nil {
			e.add("%s.key: %v", where, err)
			return
		}
		sa.key = k
	default:
		e.add("%s: key or key_file is required (or insecure: true)", where)
		return
	}
	if len(sa.key) < 16 {
		e.add("%s: key is %d bytes; use at least 16", where, len(sa.key))
	}
	// RFC 4285 section 5.1: SPI values 0-255 are reserved.
	if sa.SPI < 256 {
		e.add("%s.spi: %d is reserved (RFC 4285 section 5.1); use 256 or more", where, sa.SPI)
	}
}

func parseAddr(where, s string, e *errs) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		e.add("%s: %q is not an IP address", where, s)
		return netip.Addr{}
	}
	return a
}

func parsePrefix(where, s string, e *errs) netip.Prefix {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		e.add("%s: %q is not a prefix (e.g. 2001:db8:1::/64)", where, s)
		return netip.Prefix{}
	}
	if p.Masked() != p {
		e.add("%s: %s has host bits set (did you mean %s?)", where, s, p.Masked())
	}
	return p
}

// unicastGlobal reports whether a can be a home agent, home or care-of address.
func unicastGlobal(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() && !a.IsLinkLocalUnicast()
}
