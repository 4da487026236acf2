package wire_test

import (
	"fmt"
	"net/netip"

	"monami/wire"
)

// A home agent's receive path: decode a Binding Update without allocating,
// check its MN-HA authenticator, read its Binding Identifiers, and answer.
func ExampleParser_DecodeBindingUpdate() {
	key := []byte("0123456789abcdef")
	coa := netip.MustParseAddr("2001:db8:1::100")
	hoa := netip.MustParseAddr("2001:db8:2::100")
	ha := netip.MustParseAddr("2001:db8:2::1")

	// What the mobile node sends (with a Home Address option, so the
	// checksum pseudo-header source is the home address).
	mn := wire.NewAuthenticator(key)
	bu := wire.BindingUpdate{Sequence: 7, Flags: wire.BUFlagA | wire.BUFlagH, Lifetime: 15, Options: []wire.Option{
		wire.BindingIdentifier{BindingID: 1, Priority: 1, CareOfAddress: coa},
		wire.BindingIdentifier{BindingID: 2, Priority: 2, CareOfAddress: netip.MustParseAddr("2001:db8:3::100")},
		wire.NAI("mn@example.net"),
	}}
	mh, _ := mn.AppendMessage(nil, bu, 0x100, coa, hoa, hoa, ha)

	// The home agent.
	var v wire.BindingUpdateView
	if err := (wire.Parser{}).DecodeBindingUpdate(&v, mh, hoa, ha); err != nil {
		fmt.Println(err)
		return
	}
	auth, ok := wire.LastOption(v.Options())
	if !ok || wire.NewAuthenticator(key).Verify(v.Bytes(), auth, coa, hoa) != nil {
		fmt.Println("status", wire.StatusMIPv6AuthFail)
		return
	}
	var buf [8]wire.BindingIdentifier
	bids, _ := v.BindingIdentifiers(buf[:0])
	fmt.Println(v.Sequence, v.Flags, len(bids), bids[1].CareOfAddress)
	// Output: 7 A|H 2 2001:db8:3::100
}
