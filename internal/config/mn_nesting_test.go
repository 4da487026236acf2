package config

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// nestedYAML is an mn.yaml with one home address per entry of via: the
// key is the home address's last group (addr1 = 2001:db8:1::10 on home
// agent 2001:db8:1::1), the value the home address it goes through ("" for
// the access interfaces).
func nestedYAML(homes ...[2]string) string {
	var b strings.Builder
	b.WriteString("id: mn\nhome_addresses:\n")
	for i, h := range homes {
		fmt.Fprintf(&b, " - address: 2001:db8:%s::10\n   home_agent: 2001:db8:%s::1\n   spi: %d\n   key: text:0123456789abcdef\n", h[0], h[0], 300+i)
		if h[1] != "" {
			fmt.Fprintf(&b, "   care_of: {via_home_address: \"2001:db8:%s::10\"}\n", h[1])
		}
	}
	b.WriteString("interfaces:\n - name: wlan0\n - name: lte0\n")
	return b.String()
}

// The example of draft-montavont-mobileip-multihoming-pb-statement-04
// section 6.2.2, as the mobile node's own configuration: addr1 via addr2
// is refused when addr2 goes via addr3 and addr3 via addr1, with an error
// naming the key and the loop; accepted when addr3 is served directly.
func TestNestingCircularSeedExample(t *testing.T) {
	_, err := ParseMobileNode("mn.yaml", []byte(nestedYAML([2]string{"1", "2"}, [2]string{"2", "3"}, [2]string{"3", "1"})))
	if err == nil {
		t.Fatal("circular nesting accepted")
	}
	for _, want := range []string{
		"home_addresses[0].care_of.via_home_address: circular reference 2001:db8:1::10 -> 2001:db8:2::10 -> 2001:db8:3::10 -> 2001:db8:1::10",
		"home_addresses[1].care_of.via_home_address: circular reference 2001:db8:2::10 -> 2001:db8:3::10 -> 2001:db8:1::10 -> 2001:db8:2::10",
		"home_addresses[2].care_of.via_home_address: circular reference 2001:db8:3::10 -> 2001:db8:1::10 -> 2001:db8:2::10 -> 2001:db8:3::10",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	c, err := ParseMobileNode("mn.yaml", []byte(nestedYAML([2]string{"1", "2"}, [2]string{"2", "3"}, [2]string{"3", ""})))
	if err != nil {
		t.Fatalf("addr1 via addr2 via addr3 (served by the interfaces): %v", err)
	}
	h := c.HomeAddresses
	if h[0].CareOf.Via() != h[1].Addr() || h[1].CareOf.Via() != h[2].Addr() || h[2].CareOf.Via().IsValid() {
		t.Errorf("via: %v %v %v", h[0].CareOf.Via(), h[1].CareOf.Via(), h[2].CareOf.Via())
	}
	// A nested home address takes no access interface's address.
	if h[0].CareOf.Allows("wlan0", netip.MustParseAddr("2001:db8:a::10")) || !h[2].CareOf.Allows("wlan0", netip.MustParseAddr("2001:db8:a::10")) {
		t.Error("Allows: a nested home address must refuse access interfaces, the outer one take them")
	}
}

func TestNestingErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{nestedYAML([2]string{"1", "1"}),
			"home_addresses[0].care_of.via_home_address: circular reference 2001:db8:1::10 -> 2001:db8:1::10"},
		{nestedYAML([2]string{"1", "2"}, [2]string{"2", "1"}),
			"home_addresses[1].care_of.via_home_address: circular reference 2001:db8:2::10 -> 2001:db8:1::10 -> 2001:db8:2::10"},
		{nestedYAML([2]string{"1", "9"}, [2]string{"2", ""}),
			"home_addresses[0].care_of.via_home_address: 2001:db8:9::10 is not one of the home_addresses"},
		{strings.Replace(nestedYAML([2]string{"1", "2"}, [2]string{"2", ""}), "care_of: {", "care_of: {interfaces: [wlan0], ", 1),
			"home_addresses[0].care_of.via_home_address: 2001:db8:2::10 is the only care-of address of a nested home address"},
		{strings.Replace(nestedYAML([2]string{"1", "2"}, [2]string{"2", ""}), `"2001:db8:2::10"`, "home2", 1),
			`home_addresses[0].care_of.via_home_address: "home2" is not an IP address`},
	} {
		_, err := ParseMobileNode("mn.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\ngot %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}

// FuzzParseMobileNode: whatever mn.yaml says, parsing returns a
// configuration or an error, never a panic, and a nesting loop never
// hangs validation.
func FuzzParseMobileNode(f *testing.F) {
	f.Add([]byte(nestedYAML([2]string{"1", "2"}, [2]string{"2", "3"}, [2]string{"3", "1"})))
	f.Add([]byte(nestedYAML([2]string{"1", "2"}, [2]string{"2", ""})))
	f.Add([]byte("id: mn\nhome_addresses: [{address: 2001:db8::10, home_agent: 2001:db8::1, care_of: {via_home_address: 2001:db8::10}}]\ninterfaces: [{name: eth0}]\nsecurity: {insecure: true}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseMobileNode("mn.yaml", data)
		if err == nil && c == nil {
			t.Fatal("nil configuration without an error")
		}
	})
}

// The kernel data plane cannot nest tunnels: refused by name; auto is fine
// (the mobile node then takes userspace).
func TestNestingNeedsUserspace(t *testing.T) {
	y := nestedYAML([2]string{"1", "2"}, [2]string{"2", ""})
	if _, err := ParseMobileNode("mn.yaml", []byte(y+"dataplane: {backend: kernel}\n")); err == nil || !strings.Contains(err.Error(), "dataplane.backend: kernel cannot nest tunnels") {
		t.Errorf("kernel backend with nesting: %v", err)
	}
	c, err := ParseMobileNode("mn.yaml", []byte(y))
	if err != nil || !c.NestedHomes() {
		t.Errorf("auto backend with nesting: %v, nested %v", err, c != nil && c.NestedHomes())
	}
}
