package lab

import (
	"os"
	"strings"
	"testing"
)

// examples/lab/basic.yaml says the mobile node's traffic takes the fast
// wlan link and lte is the backup: the kernel must agree. (An unmarked
// IPv6 route has metric 1024, so an lte metric of 200 used to win.)
func TestBasicExampleUsesWLAN(t *testing.T) {
	b, err := os.ReadFile("../../examples/lab/basic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yml := strings.Replace(string(b), "name: basic ", "name: mltbasic ", 1)
	l := upLab(t, yml)
	mn := l.MustNode("mn")
	for _, dst := range []string{"2001:db8:3::10", "10.0.3.10"} {
		out, err := mn.Command(t.Context(), "ip", "route", "get", dst).CombinedOutput()
		if err != nil {
			t.Fatalf("ip route get %s: %v\n%s", dst, err, out)
		}
		if !strings.Contains(string(out), " dev wlan0 ") {
			t.Errorf("mn routes %s not over wlan0: %s", dst, out)
		}
	}
}
