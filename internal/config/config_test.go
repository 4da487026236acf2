package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExamplesLoad(t *testing.T) {
	ha, err := LoadHomeAgent("../../examples/ha.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if ha.Addr().String() != "2001:db8:1::1" || len(ha.Prefixes()) != 1 || !ha.NativeSignalling() ||
		ha.UDPPort() != 4191 || ha.Binding.MaxLifetime.D() != 5*time.Minute {
		t.Errorf("ha: %+v", ha)
	}
	m := ha.MobileNodes[0]
	if m.Security.SPI != 256 || len(m.Security.Secret()) != 20 || m.HomeAddrs()[0].String() != "2001:db8:1::10" || m.Priorities[2] != 5 {
		t.Errorf("mobile node entry: %+v", m)
	}
	mn, err := LoadMobileNode("../../examples/mn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if mn.Interfaces[0].GatewayAddr().String() != "fe80::1" || mn.Interfaces[1].GatewayAddr().IsValid() {
		t.Errorf("mn gateways: %+v", mn.Interfaces)
	}
	if len(mn.Interfaces) != 2 || mn.Interfaces[1].Transport != TransportUDP || mn.HomeAddresses[0].Prefix().String() != "2001:db8:1::10/64" {
		t.Errorf("mn: %+v", mn)
	}
	if rules, def := mn.Policy.Forwarding(); len(rules) != 3 || rules[0].Name != "voice" || rules[0].Action.Paths[0].ID != 2 ||
		def.Mode.String() != "share" || def.Paths[0].Weight != 2 {
		t.Errorf("mn policy: rules %+v, default %+v", rules, def)
	}
	if ha.Dataplane.NoBPF() || mn.Dataplane.NoBPF() {
		t.Errorf("examples say bpf: true, NoBPF() is %v, %v", ha.Dataplane.NoBPF(), mn.Dataplane.NoBPF())
	}
}

func TestDataplaneBPF(t *testing.T) {
	f, no := false, (&Dataplane{}).NoBPF()
	if no || !(&Dataplane{BPF: &f}).NoBPF() {
		t.Errorf("unset: NoBPF %v (want false); bpf: false: want true", no)
	}
}

func TestHomeAgentErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"", "empty configuration"},
		{"adress: x", "field adress not found"},
		{"address: fe80::1\nhome_prefixes: [2001:db8::/64]\nmobile_nodes: []", "global IPv6 unicast"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::1/64]", "host bits set"},
		{"address: 2001:db8::1\nhome_prefixes: [10.0.0.0/8]", "not IPv6"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nhome_link: \"eth 0\"", "home_link: \"eth 0\" is not a valid interface name"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nmobile_nodes:\n - id: a\n   home_addresses: [2001:db9::1]\n   spi: 300\n   key: text:0123456789abcdef", "in no home prefix"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nmobile_nodes:\n - id: a\n   home_addresses: [2001:db8::5]\n   spi: 3\n   key: text:0123456789abcdef", "reserved (RFC 4285"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nmobile_nodes:\n - id: a\n   home_addresses: [2001:db8::5]\n   spi: 300", "key or key_file is required"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nmobile_nodes:\n - id: a\n   home_addresses: [2001:db8::5]\n   spi: 300\n   key: short", "use at least 16"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsecurity: {insecure: true}\nmobile_nodes:\n - id: a\n   home_addresses: [2001:db8::5]\n - id: b\n   home_addresses: [2001:db8::5]", "also given to a"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nbinding: {max_lifetime: 1s}", "outside 4s"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nbinding: {max_lifetime: soon}", "not a duration"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\ndataplane: {backend: magic}", "not auto, kernel or userspace"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsignalling: {native: false, udp_port: 0}", "both transports are off"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsignalling: {nat_keepalive: 1500ms}", "signalling.nat_keepalive: 1.5s must be whole seconds"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsecurity: {replay_window: 1s}", "below 3s"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsecurity: {replay_window: -9s}", "is negative"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nbinding: {max_bindings: -1}", "is negative"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nhome_interface: eth0", "field home_interface not found"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nalternate_home_agents: [2001:db8::1]", "alternate_home_agents[0]: 2001:db8::1 is this home agent's own address"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nalternate_home_agents: [2001:db8::2, 2001:db8::2]", "alternate_home_agents[1]: 2001:db8::2 appears twice"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nalternate_home_agents: [fe80::2]", "alternate_home_agents[0]: fe80::2 must be a global IPv6 unicast address"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nalternate_home_agents: [192.0.2.1]", "alternate_home_agents[0]: 192.0.2.1 must be a global"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nalternate_home_agents: [nope]", "alternate_home_agents[0]"},
		{"address: 2001:db8::1\nhome_prefixes: [2001:db8::/64]\nsecurity: {insecure: true}\nmobile_nodes:\n - id: a\n   home_addresses: [2001:db8::5]\n   priorities: {1: 200}", "priorities 1..127"},
	} {
		_, err := ParseHomeAgent("ha.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestMobileNodeErrors(t *testing.T) {
	base := "id: mn\nhome_addresses:\n - address: 2001:db8::10\n   home_agent: 2001:db8::1\n   spi: 300\n   key: text:0123456789abcdef\n"
	for _, tc := range []struct{ yaml, want string }{
		{base, "at least one access interface"},
		{base + "interfaces:\n - name: eth0\n - name: eth0", "appears twice"},
		{base + "interfaces:\n - name: eth0\n   bid: 3\n - name: eth1\n   bid: 3", "bid: 3 appears twice"},
		{base + "interfaces:\n - name: monami0", "is the home interface"},
		{base + "interfaces:\n - name: a-name-far-too-long-for-linux", "not a valid interface name"},
		{base + "interfaces:\n - name: eth0\n   transport: carrier-pigeon", "not native or udp"},
		{strings.Replace(base, "2001:db8::1\n", "ff02::1\n", 1) + "interfaces:\n - name: eth0", "global IPv6 unicast"},
		{base + "interfaces:\n - name: eth0\n   gateway: nowhere", "not an IP address"},
		{base + "interfaces:\n - name: eth0\n   priority: 128", "7-bit BID-PRI"},
		{strings.Replace(base, "   spi: 300", "   care_of: {interfaces: [lte0]}\n   spi: 300", 1) + "interfaces:\n - name: eth0",
			`home_addresses[0].care_of.interfaces[0]: "lte0" is not one of the access interfaces`},
		{strings.Replace(base, "   spi: 300", "   care_of: {prefixes: [2001:db8:a::1/48]}\n   spi: 300", 1) + "interfaces:\n - name: eth0",
			"home_addresses[0].care_of.prefixes[0]: 2001:db8:a::1/48 has host bits set"},
		{strings.Replace(base, "   spi: 300", "   care_of: {ifaces: [eth0]}\n   spi: 300", 1) + "interfaces:\n - name: eth0", "field ifaces not found"},
		{base + "interfaces:\n - name: eth0\n   gateway: ff02::2", "must be an IPv6 unicast address"},
		{strings.Replace(base, "   spi: 300", "   home_agent_ipv4: 2001:db8::1\n   spi: 300", 1) + "interfaces:\n - name: eth0",
			"home_addresses[0].home_agent_ipv4: 2001:db8::1 must be a unicast IPv4 address"},
		{strings.Replace(base, "   spi: 300", "   home_agent_ipv4: 192.0.2\n   spi: 300", 1) + "interfaces:\n - name: eth0",
			`home_addresses[0].home_agent_ipv4: "192.0.2" is not an IP address`},
		{base + "interfaces:\n - name: eth0\n   gateway: 10.0.0.1", "must be an IPv6 unicast address"},
		{base + "interfaces:\n - name: eth0\n   transport: udp\ndataplane: {backend: kernel}", "backend kernel cannot do"},
		{base + "interfaces:\n - name: eth0\npolicy:\n  rules:\n   - {match: {dst_port: 1}, drop: true}\n   - {match: {dst_port: 2}, drop: true}\n   - {match: {dst_port: 70000}, drop: true}", `policy.rules[2].match.dst_port: "70000" is not a port`},
		{base + "interfaces:\n - name: eth0\npolicy:\n  default: {interfaces: [wlan0]}", `policy.default.interfaces[0]: "wlan0" is not one of the interfaces: section`},
		{base + "interfaces:\n - name: eth0\npolicy:\n  rules: [{match: {dst_port: 1}, drop: true, bicast: [eth0]}]", "policy.rules[0]: give one of"},
		{base + "interfaces:\n - name: eth0\npolicy:\n  rulez: []", "field rulez not found"},
	} {
		_, err := ParseMobileNode("mn.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	kf := filepath.Join(dir, "k")
	if err := os.WriteFile(kf, []byte("hex:00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := "id: mn\nhome_addresses:\n - address: 2001:db8::10\n   home_agent: 2001:db8::1\n   spi: 300\n   key_file: " + kf + "\ninterfaces:\n - name: eth0\n"
	c, err := ParseMobileNode("mn.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if k := c.HomeAddresses[0].Security.Secret(); len(k) != 16 || k[15] != 0xff {
		t.Errorf("key %x", k)
	}
	if _, err := ParseMobileNode("mn.yaml", []byte(strings.Replace(y, kf, kf+"-missing", 1))); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing key file: %v", err)
	}
}

// Draft-ietf-monami6-mipv6-analysis section 6.3.2: which care-of addresses
// a home address takes.
func TestCareOfRule(t *testing.T) {
	y := "id: mn\nhome_addresses:\n - address: 2001:db8::10\n   home_agent: 2001:db8::1\n   spi: 300\n   key: text:0123456789abcdef\n" +
		"   care_of: {interfaces: [wlan0, eth0], prefixes: [2001:db8:a::/48, 192.0.2.0/24]}\n" +
		" - address: 2001:db8:2::10\n   home_agent: 2001:db8:2::1\n   spi: 301\n   key: text:0123456789abcdef\n" +
		"interfaces:\n - name: wlan0\n - name: eth0\n - name: lte0\n"
	c, err := ParseMobileNode("mn.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	r, any := c.HomeAddresses[0].CareOf, c.HomeAddresses[1].CareOf
	for _, tc := range []struct {
		ifn, coa string
		want     bool
	}{
		{"wlan0", "2001:db8:a:1::5", true},
		{"eth0", "192.0.2.7", true},
		{"lte0", "2001:db8:a:1::5", false}, // interface not listed
		{"wlan0", "2001:db8:b::5", false},  // prefix not listed
	} {
		if got := r.Allows(tc.ifn, netip.MustParseAddr(tc.coa)); got != tc.want {
			t.Errorf("rule allows %s on %s: %v, want %v", tc.coa, tc.ifn, got, tc.want)
		}
	}
	if !any.Allows("lte0", netip.MustParseAddr("2001:db8:b::5")) {
		t.Error("no rule must allow every care-of address")
	}
}
