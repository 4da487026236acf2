// Package testenv is the test suite's policy on privileges and tools. Tests
// that need root (network namespaces) or an external program skip on a
// developer's machine without them, but fail when MONAMI_REQUIRE_ROOT_TESTS
// is set, as scripts/test.sh and CI do, so they can never silently skip there.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Required reports whether skipping is forbidden (MONAMI_REQUIRE_ROOT_TESTS).
func Required() bool { return os.Getenv("MONAMI_REQUIRE_ROOT_TESTS") != "" }

// RequireRoot skips t without root, or fails it when skipping is forbidden.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if Required() {
		t.Fatal("root is required for network namespaces (MONAMI_REQUIRE_ROOT_TESTS is set)")
	}
	t.Skip("needs root for network namespaces")
}

// RequireTool skips t when program is not installed, or fails it when
// skipping is forbidden (scripts/test.sh installs what the tests use).
func RequireTool(t testing.TB, program string) {
	t.Helper()
	if _, err := exec.LookPath(program); err == nil {
		return
	}
	if Required() {
		t.Fatalf("%s is required (MONAMI_REQUIRE_ROOT_TESTS is set; scripts/test.sh installs it)", program)
	}
	t.Skipf("%s not installed", program)
}
