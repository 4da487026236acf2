package transport

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"monami/internal/testenv"
	"monami/wire"
)

// TestNativeReplacesStaleTable: a table left by a crashed process (same
// name) is replaced at open and removed at Close.
func TestNativeReplacesStaleTable(t *testing.T) {
	testenv.RequireRoot(t)
	ns := newNS(t, newTag()+"st")
	ns.exec(t, "nft", "add table ip6 mtr_mh; add chain ip6 mtr_mh stale { type filter hook input priority 0; }")
	tr := openNative(t, ns)
	out := ns.exec(t, "nft", "list", "table", "ip6", "mtr_mh")
	if strings.Contains(out, "stale") || !strings.Contains(out, "prerouting") {
		t.Fatalf("table after open:\n%s", out)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if out := ns.exec(t, "nft", "list", "tables"); strings.Contains(out, "mtr_mh") {
		t.Fatalf("table left: %s", out)
	}
}

// TestNativeForwardedNotIntercepted: a router running the transport must
// neither deliver nor drop HAO signalling it merely forwards (the nftables
// rule and the capture both test "destination is local").
func TestNativeForwardedNotIntercepted(t *testing.T) {
	testenv.RequireRoot(t)
	tag := newTag()
	mnNS, rtNS, cnNS := newNS(t, tag+"mn"), newNS(t, tag+"rt"), newNS(t, tag+"cn")
	coa, rtA := netip.MustParseAddr("2001:db8:1::2"), netip.MustParseAddr("2001:db8:1::1")
	rtB, cn := netip.MustParseAddr("2001:db8:2::1"), netip.MustParseAddr("2001:db8:2::2")
	hoa := netip.MustParseAddr("2001:db8:40e::100")
	veth(t, mnNS, rtNS, tag+"m", tag+"a", []netip.Prefix{netip.PrefixFrom(coa, 64)}, []netip.Prefix{netip.PrefixFrom(rtA, 64)})
	veth(t, rtNS, cnNS, tag+"b", tag+"c", []netip.Prefix{netip.PrefixFrom(rtB, 64)}, []netip.Prefix{netip.PrefixFrom(cn, 64)})
	rtNS.exec(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	mnNS.exec(t, "ip", "-6", "route", "add", "default", "via", rtA.String())
	cnNS.exec(t, "ip", "-6", "route", "add", "default", "via", rtB.String())

	mn, rt, cnT := openNative(t, mnNS), openNative(t, rtNS), openNative(t, cnNS)
	rtPP := rtNS.snmp6(t, "Icmp6OutParmProblems")
	bu := Signal{Src: coa, Dst: cn, Ext: ExtHAO, HomeAddress: hoa}
	bu.MH = mustMarshal(t, wire.BindingUpdate{Sequence: 77}, bu)
	if err := mn.Send(ctxT(t, time.Second), bu); err != nil {
		t.Fatal(err)
	}
	got := recvSignal(t, cnT)
	if got.Src != coa || got.HomeAddress != hoa || got.Dst != cn {
		t.Fatalf("CN got %+v", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for rt.Stats().NotLocal == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := rt.Stats(); st.NotLocal != 1 || st.Received != 0 {
		t.Fatalf("router stats %+v, want NotLocal 1, Received 0", st)
	}
	if v := rtNS.snmp6(t, "Icmp6OutParmProblems"); v != rtPP {
		t.Fatalf("router sent %d Parameter Problems", v-rtPP)
	}
}
