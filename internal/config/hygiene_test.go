package config

import (
	"strings"
	"testing"
)

// A type error names the line and the key, and says what is wrong in
// words (yaml alone says "cannot unmarshal !!int `-1` into uint32").
func TestTypeErrorsNameTheKey(t *testing.T) {
	const ha = "address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\n"
	const mn = "   home_addresses: [2001:db8::5]\n"
	for _, tc := range []struct{ yaml, want string }{
		{ha + "binding: {max_lifetime: 5 minutes}", `line 3: binding.max_lifetime: "5 minutes" is not a duration`},
		{ha + "binding:\n  refresh_fraction: 0.5\n  max_lifetime: 5 minutes", `line 5: binding.max_lifetime: "5 minutes" is not a duration`},
		{ha + "mobile_nodes:\n - id: a\n" + mn + "   spi: -1\n   key: text:0123456789abcdef", "line 6: mobile_nodes[0].spi: -1 is negative; use 0..4294967295"},
		{ha + "security: {insecure: true}\nmobile_nodes:\n - id: a\n" + mn + "   priorities: {1: -3}", "line 7: mobile_nodes[0].priorities.1: -3 is negative; use 0..255"},
		{ha + "mobile_nodes:\n - id: a\n" + mn + "   spi: 99999999999\n   key: text:0123456789abcdef", "line 6: mobile_nodes[0].spi: 99999999999 is out of range 0..4294967295"},
		{ha + "signalling: {native: true, udp_port: 70000}", "line 3: signalling.udp_port: 70000 is out of range 0..65535"},
		{ha + "dataplane: {table: x}", "line 3: dataplane.table: x is not an integer"},
	} {
		_, err := ParseHomeAgent("ha.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
	base := "id: mn\nhome_addresses:\n - {address: 2001:db8::10, home_agent: 2001:db8::1, spi: 300, key: text:0123456789abcdef}\ninterfaces:\n - name: eth0\n"
	for _, tc := range []struct{ yaml, want string }{
		{base + "lifetime: 5 minutes", `line 6: lifetime: "5 minutes" is not a duration`},
		{base + "   priority: -1", "line 6: interfaces[0].priority: -1 is negative; use 0..255"},
		{strings.Replace(base, "spi: 300", "spi: 4294967296", 1), "line 3: home_addresses[0].spi: 4294967296 is out of range 0..4294967295"},
	} {
		_, err := ParseMobileNode("mn.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}

// A bare key made of hex digits is refused with the explicit forms to
// choose from; hex:, text: and a bare passphrase work.
func TestKeyForms(t *testing.T) {
	for _, tc := range []struct {
		key     string
		want    string // error substring, or "" for success
		wantLen int
	}{
		{"000102030405060708090a0b0c0d0e0f10111213", "write hex:000102030405060708090a0b0c0d0e0f10111213 for 20 octets, or text:", 0},
		{"0x00112233445566778899AABBCCDDEEFF", "write hex:00112233445566778899AABBCCDDEEFF for 16 octets", 0},
		{"hex:000102030405060708090a0b0c0d0e0f10111213", "", 20},
		{"text:000102030405060708090a0b0c0d0e0f10111213", "", 40},
		{"correct horse battery staple", "", 28},
	} {
		y := "id: mn\nhome_addresses:\n - {address: 2001:db8::10, home_agent: 2001:db8::1, spi: 300, key: \"" + tc.key + "\"}\ninterfaces:\n - name: eth0\n"
		c, err := ParseMobileNode("mn.yaml", []byte(y))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.key, err)
		case tc.want == "" && len(c.HomeAddresses[0].Security.Secret()) != tc.wantLen:
			t.Errorf("%s: %d octets, want %d", tc.key, len(c.HomeAddresses[0].Security.Secret()), tc.wantLen)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "home_addresses[0].key: ") || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.key, err, tc.want)
		}
	}
}

func TestMetricsListen(t *testing.T) {
	const ha = "address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsecurity: {insecure: true}\nmobile_nodes: [{id: a, home_addresses: [2001:db8::5]}]\n"
	for _, tc := range []struct{ listen, want string }{
		{`"[::1]:9190"`, ""},
		{`":9190"`, ""},
		{`9190`, "metrics.listen: \"9190\" is not host:port"},
		{`"[::1]:99999"`, "metrics.listen: port \"99999\" is not 1..65535"},
		{`"localhost:9190"`, "metrics.listen: host \"localhost\" is not an IP address"},
	} {
		c, err := ParseHomeAgent("ha.yaml", []byte(ha+"metrics: {listen: "+tc.listen+"}\n"))
		switch {
		case tc.want == "" && (err != nil || c.Metrics.Listen == ""):
			t.Errorf("%s: %v", tc.listen, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.listen, err, tc.want)
		}
	}
}

func TestStore(t *testing.T) {
	const ha = "address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsecurity: {insecure: true}\nmobile_nodes: [{id: a, home_addresses: [2001:db8::5]}]\n"
	for _, tc := range []struct{ store, backend, path, want string }{
		{"", "bolt", DefaultStorePath, ""},
		{"{backend: bolt}", "bolt", DefaultStorePath, ""},
		{"{path: /srv/ha.db}", "bolt", "/srv/ha.db", ""},
		{"{backend: memory}", "memory", "", ""},
		{"{backend: etcd}", "", "", `store.backend: etcd needs the cluster section`},
		{"{backend: magic}", "", "", `store.backend: "magic" is not bolt, memory or etcd`},
		{"{backend: memory, path: /srv/ha.db}", "", "", `store.path: "/srv/ha.db" is for backend bolt`},
		{"{path: ha.db}", "", "", `store.path: "ha.db" is not an absolute path`},
		{"{path: /srv/}", "", "", `store.path: "/srv/" names a directory`},
		{"{paht: /srv/ha.db}", "", "", "paht"},
	} {
		y := ha
		if tc.store != "" {
			y += "store: " + tc.store + "\n"
		}
		c, err := ParseHomeAgent("ha.yaml", []byte(y))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.store, err)
		case tc.want == "" && (c.Store.Backend != tc.backend || c.Store.Path != tc.path):
			t.Errorf("%s: backend %q path %q, want %q %q", tc.store, c.Store.Backend, c.Store.Path, tc.backend, tc.path)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.store, err, tc.want)
		}
	}
}
