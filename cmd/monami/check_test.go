package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCheck runs "monami ROLE --check -c file" in-process.
func runCheck(t *testing.T, role, yaml string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), role+".yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{role, "--check", "-c", file})
	defer root.SetArgs(nil)
	if err := root.Execute(); err != nil {
		t.Fatalf("%s --check: %v", role, err)
	}
	return out.String()
}

// A lifetime that is no multiple of 4 s is rounded down on the wire
// (RFC 6275 section 6.1.7); --check says so, and so does the start.
func TestCheckNotesLifetimeRounding(t *testing.T) {
	mn := "id: mn\nlifetime: 10s\nhome_addresses:\n - {address: 2001:db8::10, home_agent: 2001:db8::1, spi: 300, key: text:0123456789abcdef}\ninterfaces:\n - name: eth0\n"
	if out := runCheck(t, "mn", mn); !strings.Contains(out, "note: lifetime: 10s is sent as 8s (4-second units") {
		t.Errorf("mn --check:\n%s", out)
	}
	if out := runCheck(t, "mn", strings.Replace(mn, "10s", "12s", 1)); strings.Contains(out, "note:") {
		t.Errorf("mn --check with a multiple of 4 s notes something:\n%s", out)
	}
	ha := "address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nbinding: {max_lifetime: 61s}\nsecurity: {insecure: true}\nmobile_nodes: [{id: a, home_addresses: [2001:db8::5]}]\n"
	if out := runCheck(t, "ha", ha); !strings.Contains(out, "note: binding.max_lifetime: 1m1s is sent as 1m0s") {
		t.Errorf("ha --check:\n%s", out)
	}
}
