package config

import (
	"strings"
	"testing"
)

const (
	minimalHA = "address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nmobile_nodes:\n - id: a\n   home_addresses: [2001:db8::5]\n   spi: 300\n   key: text:0123456789abcdef\n"
	minimalMN = "id: mn\nhome_addresses:\n - address: 2001:db8::10\n   home_agent: 2001:db8::1\n   spi: 300\n   key: text:0123456789abcdef\ninterfaces:\n - name: eth0\n"
)

func TestPathsMaxLoss(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want float64
		err  string
	}{
		{"", DefaultMaxLoss, ""},
		{"paths: {max_loss: 20%}", 0.2, ""},
		{"paths: {max_loss: \"0.05\"}", 0.05, ""},
		{"paths: {max_loss: 0%}", 0, "paths.max_loss: 0% is outside 1%..99%"},
		{"paths: {max_loss: 100%}", 0, "paths.max_loss: 100% is outside 1%..99%"},
		{"paths: {max_loss: NaN}", 0, "paths.max_loss: NaN is outside"},
		{"paths: {max_loss: lots}", 0, "paths.max_loss: \"lots\" is not a share"},
		{"paths: {max_los: 1%}", 0, "field max_los not found"},
	} {
		for _, role := range []string{"ha", "mn"} {
			checkMaxLoss(t, role, tc.yaml, tc.want, tc.err)
		}
	}
}

func checkMaxLoss(t *testing.T, role, yaml string, want float64, wantErr string) {
	t.Helper()
	var p *Paths
	var err error
	if role == "ha" {
		var c *HomeAgent
		if c, err = ParseHomeAgent("ha.yaml", []byte(minimalHA+yaml)); err == nil {
			p = &c.Paths
		}
	} else {
		var c *MobileNode
		if c, err = ParseMobileNode("mn.yaml", []byte(minimalMN+yaml)); err == nil {
			p = &c.Paths
		}
	}
	switch {
	case wantErr != "":
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s %q: error %v, want %q", role, yaml, err, wantErr)
		}
	case err != nil:
		t.Errorf("%s %q: %v", role, yaml, err)
	case p.MaxLossRatio() != want:
		t.Errorf("%s %q: max loss %v, want %v", role, yaml, p.MaxLossRatio(), want)
	}
}
