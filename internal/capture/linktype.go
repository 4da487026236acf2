package capture

import "fmt"

// LinkType is a LINKTYPE_ value from the tcpdump.org link-layer header
// types registry (also used by pcapng, draft-ietf-opsawg-pcaplinktype).
type LinkType uint32

// Link types the walker understands.
const (
	LinkTypeNull      LinkType = 0   // BSD loopback, host-byte-order address family
	LinkTypeEthernet  LinkType = 1   // IEEE 802.3 Ethernet
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6
	LinkTypeLoop      LinkType = 108 // OpenBSD loopback, network-byte-order address family
	LinkTypeLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkTypeIPv4      LinkType = 228 // raw IPv4
	LinkTypeIPv6      LinkType = 229 // raw IPv6
	LinkTypeLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

var linkTypeNames = map[LinkType]string{
	LinkTypeNull:      "NULL",
	LinkTypeEthernet:  "ETHERNET",
	LinkTypeRaw:       "RAW",
	LinkTypeLoop:      "LOOP",
	LinkTypeLinuxSLL:  "LINUX_SLL",
	LinkTypeIPv4:      "IPV4",
	LinkTypeIPv6:      "IPV6",
	LinkTypeLinuxSLL2: "LINUX_SLL2",
}

func (t LinkType) String() string {
	if s, ok := linkTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("LINKTYPE(%d)", uint32(t))
}
