package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleFile = "../../testdata/sample.pcapng"

// runDecode runs "monami decode args..." in-process and returns stdout.
func runDecode(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd, _, err := root.Find([]string{"decode"})
	if err != nil {
		t.Fatal(err)
	}
	// Flags keep their values between Execute calls: reset them.
	for _, name := range []string{"json", "mh"} {
		_ = cmd.Flags().Set(name, "false")
		cmd.Flags().Lookup(name).Changed = false
	}
	for _, name := range []string{"hex", "src", "dst"} {
		_ = cmd.Flags().Set(name, "")
		cmd.Flags().Lookup(name).Changed = false
	}
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"decode"}, args...))
	err = root.Execute()
	return out.String(), err
}

// The Binding Update of frame 2: three BIDs with IPv6 care-of addresses
// and different priorities, MN identifier, two Flow Identification options
// (IPv6 selector with ranges, IPv4 selector), replay protection and
// authentication.
var firstBUText = []string{
	"frame 2  2026-11-23T03:00:00.100000000Z  IPv6  2001:db8:a::100 > 2001:db8:1::1",
	"Home Address option: 2001:db8:1::100",
	"Mobility Header at offset 78: Binding Update (MH Type 5)",
	"Payload Proto: 59",
	"Header Len: 29 (240 octets)",
	"Checksum: 0x59f4 (ok, pseudo-header 2001:db8:1::100 > 2001:db8:1::1)",
	"Sequence: 1000",
	"Flags: A|H|K (0xd000)",
	"Lifetime: 150 (10m0s)",
	"- Binding Identifier (option type 35)",
	"BindingID: 1", "Priority: 1", "CareOfAddress: 2001:db8:a::100",
	"BindingID: 2", "Priority: 5", "CareOfAddress: 2001:db8:b::100",
	"BindingID: 3", "Priority: 9", "CareOfAddress: 2001:db8:c::100",
	"SimultaneousHomeAndForeign: true",
	"Status: Binding Update accepted (0)",
	"- Mobile Node Identifier (option type 8)",
	"Subtype: NAI (1)",
	`Identifier: "mn1@example.net"`,
	"- Flow Identification (option type 45)",
	"FID: 1", "Priority: 10", "Status: Flow binding successful (0)",
	"- Binding Reference (sub-option type 2)",
	"BIDs: [1, 2]",
	"- Traffic Selector (sub-option type 3)",
	"Selector: IPv6 Binary Traffic Selector (TS Format 2)",
	"Flags: A:StartSourceAddress|B:EndSourceAddress|G:StartFlowLabel|H:EndFlowLabel|K:StartDestinationPort|L:EndDestinationPort|O:StartNextHeader (0xc332)",
	"StartSourceAddress: 2001:db8:1::100",
	"EndSourceAddress: 2001:db8:1::1ff",
	"StartFlowLabel: 256",
	"EndFlowLabel: 511",
	"StartDestinationPort: 5000",
	"EndDestinationPort: 5100",
	"StartNextHeader: 17",
	"FID: 2", "Priority: 20", "BIDs: [3]",
	"Selector: IPv4 Binary Traffic Selector (TS Format 1)",
	"StartDestinationAddress: 198.51.100.0",
	"EndDestinationAddress: 198.51.100.255",
	"StartProtocol: 6",
	"- Mobility Message Replay Protection (option type 10)",
	"Time: 2026-11-23T03:00:00.000000000Z",
	"- Mobility Message Authentication (option type 9)",
	"Subtype: MN-HA (1)",
	"SPI: 256",
}

func frameText(t *testing.T, out string, frame string) string {
	t.Helper()
	i := strings.Index(out, "frame "+frame+" ")
	if i < 0 {
		t.Fatalf("no frame %s in output:\n%s", frame, out)
	}
	rest := out[i+1:]
	if j := strings.Index(rest, "\nframe "); j >= 0 {
		rest = rest[:j]
	}
	return "f" + rest
}

// frame10Text: the Binding Update whose Binding Identifier option runs
// past the message end is shown up to there, the option as raw octets and
// the problem under it, with its offset in the frame.
var frame10Text = []string{
	"Sequence: 1003",
	"Flags: A|H (0xc000)",
	"- Binding Identifier (option type 35)",
	"Length: 60",
	"Data (not decoded): 0001000120010db8000a00000000000000000100",
	"[Malformed, offset 97: Binding Identifier option (type 35): Length 60 runs past the message end, 20 octets left]",
}

// wantStatus2 checks that decode flagged problems: exit status 2.
func wantStatus2(t *testing.T, err error) {
	t.Helper()
	var st *exitStatus
	if !errors.As(err, &st) || st.code != 2 {
		t.Fatalf("error %v, want exit status 2", err)
	}
}

func TestDecodeSampleText(t *testing.T) {
	out, err := runDecode(t, sampleFile)
	wantStatus2(t, err)
	bad := frameText(t, out, "10")
	for _, want := range frame10Text {
		if !strings.Contains(bad, want) {
			t.Errorf("frame 10 lacks %q:\n%s", want, bad)
		}
	}
	bu := frameText(t, out, "2")
	for _, want := range firstBUText {
		if !strings.Contains(bu, want) {
			t.Errorf("frame 2 lacks %q", want)
		}
	}
	// Absent selector fields are not shown.
	for _, absent := range []string{"StartIPsecSPI", "StartTrafficClass", "EndNextHeader", "StartSourcePort"} {
		if strings.Contains(bu, absent+":") {
			t.Errorf("frame 2 shows absent field %s", absent)
		}
	}
	for _, want := range []string{
		"Type 2 Routing Header: 2001:db8:1::100",
		"- Flow Summary (option type 44)",
		"FIDs: [1, 2]",
		"UDP 4191 (RFC 5555)",
		"outer: IPv4 192.0.2.100 > 198.51.100.1 UDP 49152 > 4191",
		"Flags: A|H|P (0xc200)",
		"UDP 5436 (RFC 5844)",
		"Update Notification (MH Type 19)",
		"10 frames, 9 Mobility Header messages, 0 undecodable, 1 with problems (1 Malformed, 0 Error, 0 Warning)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "frame 1 ") {
		t.Error("the ICMPv6 echo (frame 1) is shown")
	}
}

func TestDecodeSampleJSON(t *testing.T) {
	out, err := runDecode(t, "--json", sampleFile)
	wantStatus2(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 9 {
		t.Fatalf("%d JSON lines, want 9 (9 messages, one malformed):\n%s", len(lines), out)
	}
	var bu map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &bu); err != nil {
		t.Fatal(err)
	}
	eq := func(path string, got, want any) {
		t.Helper()
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("%s = %s, want %s", path, gb, wb)
		}
	}
	eq("frame", bu["frame"], 2)
	eq("home_address_option", bu["home_address_option"], "2001:db8:1::100")
	mh := bu["mobility_header"].(map[string]any)
	eq("mh_type", mh["mh_type"], 5)
	eq("checksum_status", mh["checksum_status"], "ok")
	msg := bu["message"].(map[string]any)
	eq("type_name", msg["type_name"], "Binding Update")
	eq("Sequence", msg["Sequence"], 1000)
	eq("Flags", msg["Flags"], map[string]any{"value": 0xd000, "name": "A|H|K"})
	eq("Lifetime", msg["Lifetime"], 150)
	opts := msg["Options"].([]any)
	if len(opts) != 8 {
		t.Fatalf("%d options, want 8", len(opts))
	}
	for i, want := range []struct {
		id, pri int
		coa     string
		h       bool
	}{{1, 1, "2001:db8:a::100", false}, {2, 5, "2001:db8:b::100", false}, {3, 9, "2001:db8:c::100", true}} {
		eq("BID", opts[i], map[string]any{
			"type": 35, "type_name": "Binding Identifier", "length": 20, "BindingID": want.id,
			"Status":                     map[string]any{"value": 0, "name": "Binding Update accepted"},
			"SimultaneousHomeAndForeign": want.h, "Priority": want.pri, "CareOfAddress": want.coa,
		})
	}
	eq("MNID", opts[3], map[string]any{"type": 8, "type_name": "Mobile Node Identifier", "length": 16,
		"Subtype": map[string]any{"value": 1, "name": "NAI"}, "Identifier": "6d6e31406578616d706c652e6e6574"})
	eq("Flow Identification", opts[4], map[string]any{
		"type": 45, "type_name": "Flow Identification", "length": 65, "FID": 1, "Priority": 10,
		"Status":   map[string]any{"value": 0, "name": "Flow binding successful"},
		"Reserved": 0,
		"SubOptions": []any{
			map[string]any{"type": 2, "type_name": "Binding Reference", "length": 4, "BIDs": []any{1, 2}},
			map[string]any{"type": 3, "type_name": "Traffic Selector", "length": 51, "Reserved": 0, "SelectorReserved": 0, "Selector": map[string]any{
				"type": 2, "type_name": "IPv6 Binary Traffic Selector",
				"Flags":              map[string]any{"value": 0xc332, "name": "A:StartSourceAddress|B:EndSourceAddress|G:StartFlowLabel|H:EndFlowLabel|K:StartDestinationPort|L:EndDestinationPort|O:StartNextHeader"},
				"StartSourceAddress": "2001:db8:1::100", "EndSourceAddress": "2001:db8:1::1ff",
				"StartFlowLabel": 256, "EndFlowLabel": 511,
				"StartDestinationPort": 5000, "EndDestinationPort": 5100, "StartNextHeader": 17,
			}},
		},
	})
	eq("replay type", opts[6].(map[string]any)["type_name"], "Mobility Message Replay Protection")
	eq("auth SPI", opts[7].(map[string]any)["SPI"], 256)

	var bad map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &bad); err != nil {
		t.Fatal(err)
	}
	eq("malformed frame", bad["frame"], 10)
	eq("problems", bad["problems"], []any{map[string]any{"severity": "Malformed", "offset": 97,
		"text": "Binding Identifier option (type 35): Length 60 runs past the message end, 20 octets left"}})
	eq("undecoded option", bad["message"].(map[string]any)["Options"], []any{map[string]any{
		"type": 35, "type_name": "Binding Identifier", "length": 60, "data": "0001000120010db8000a00000000000000000100"}})
}

func TestDecodeHex(t *testing.T) {
	// Frame 3 of the sample (the BA) as a raw IPv6 packet: take it from a
	// JSON-free route, re-encoding is the wire package's business; here a
	// minimal Binding Refresh Request: IPv6 header + 8-octet MH.
	pkt := "6000000000088740" +
		"20010db8000100000000000000000001" + "20010db8000100000000000000000100" +
		"3b000000" + "0000" + "0000"
	out, err := runDecode(t, "--hex", pkt)
	wantStatus2(t, err)
	if !strings.Contains(out, "Binding Refresh Request (MH Type 0)") || !strings.Contains(out, "(bad, ") ||
		!strings.Contains(out, "[Error, offset 44: checksum 0x0000 is wrong, 0x67fb expected") {
		t.Errorf("unexpected output:\n%s", out)
	}
	out, err = runDecode(t, "--hex", "3b 00 00 00 00 00 00 00", "--mh")
	if err != nil || !strings.Contains(out, "Binding Refresh Request") || !strings.Contains(out, "not verified") {
		t.Errorf("--mh: %v\n%s", err, out)
	}
	if _, err := runDecode(t, "--hex", "zz"); err == nil {
		t.Error("bad hex accepted")
	}
}

func TestDecodeBadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := runDecode(t, filepath.Join(dir, "missing.pcap")); err == nil {
		t.Error("missing file: no error")
	}
	text := filepath.Join(dir, "text.pcap")
	if err := os.WriteFile(text, []byte("not a capture at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runDecode(t, text); err == nil {
		t.Error("text file: no error")
	}
	// A capture cut short: the frames before the cut are printed, then
	// the command fails.
	b, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcapng")
	if err := os.WriteFile(cut, b[:len(b)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runDecode(t, cut)
	if err == nil || !strings.Contains(err.Error(), "damaged after frame 9") || !strings.Contains(out, "frame 9 ") {
		t.Errorf("cut file: %v\n%s", err, out)
	}
}

// Hand-built Mobility Headers given with --hex --mh (no pseudo-header, so
// the checksum is not verified): what decode shows of each.
func TestDecodeMalformedHex(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		clean     bool // exit status 0
		want      []string
	}{
		{"misaligned option", "3b 02 05 00 0000 | 0001 8000 0001 | 00 23 04 0001 0000 | 01 03 000000", false, []string{
			"- Binding Identifier (option type 35)",
			"BindingID: 1",
			"[Warning, offset 13: Binding Identifier option (type 35) not aligned to 2n+0 as RFC 6275 section 6.2 asks]",
		}},
		{"Payload Proto not 59", "06 00 00 00 0000 | 0000", false, []string{
			"Binding Refresh Request (MH Type 0)",
			"[Error, offset 0: Payload Proto 6, RFC 6275 section 6.1.1 asks for 59 (no next header); receivers discard it]",
		}},
		{"PadN not zero and an unknown option", "3b 02 05 00 0000 | 0001 8000 0001 | c8 02 abcd | 01 06 00ff00000000", false, []string{
			"- option type 200 (option type 200)",
			"Data: abcd",
			"- PadN (option type 1)",
			"Data: 00ff00000000",
			"[Warning, offset 18: PadN option carries non-zero octets, RFC 6275 section 6.2.3 asks for zeros]",
		}},
		{"Header Len too small for the type", "3b 00 05 00 0000 | 0001", false, []string{
			"Message Data (not decoded): 0001",
			"[Malformed, offset 1: Binding Update needs 6 octets of message data, Header Len 0 leaves 2 (RFC 6275 section 9.2)]",
		}},
		{"Flow Identification, every field", "3b 05 05 00 0000 | 0001 8000 0001 | 2c 02 0001 | " +
			"2d 1a 0001 000a 00 00 | 02 02 0001 | 03 0e 01 00 3000 0000 c6336400 c63364ff | 01 02 0000", true, []string{
			"- Flow Summary (option type 44)", "FIDs: [1]",
			"- Flow Identification (option type 45)", "Length: 26", "FID: 1", "Priority: 10",
			"Status: Flow binding successful (0)", "Reserved: 0",
			"- Binding Reference (sub-option type 2)", "BIDs: [1]",
			"- Traffic Selector (sub-option type 3)", "Length: 14",
			"Selector: IPv4 Binary Traffic Selector (TS Format 1)",
			"Flags: C:StartDestinationAddress|D:EndDestinationAddress (0x3000)",
			"StartDestinationAddress: 198.51.100.0", "EndDestinationAddress: 198.51.100.255",
			"SelectorReservedFlags: 0", "SelectorReserved: 0",
		}},
		{"Flow Identification with bad fields", "3b 05 05 00 0000 | 0001 8000 0001 | " +
			"2d 1b 0000 000a 55 00 | 02 03 000100 | 03 0e 01 07 3003 0101 c6336400 c63364ff | 01 05 0000000000", false, []string{
			"FID: 0", "Reserved: 85",
			"[Error, offset 14: Flow Identification option (type 45): FID 0 is reserved (RFC 6089 section 4.1)]",
			"[Warning, offset 18: Flow Identification option (type 45): Reserved is 85, should be zero]",
			"- Binding Reference (sub-option type 2)", "Data (not decoded): 000100",
			"[Malformed, offset 22: Binding Reference sub-option (length 3, want a positive multiple of 2): bad length]",
			"StartDestinationAddress: 198.51.100.0", "SelectorReservedFlags: 3", "SelectorReserved: 257",
			"[Warning, offset 28: Traffic Selector sub-option (type 3): Reserved is 7, should be zero]",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runDecode(t, "--mh", "--hex", strings.ReplaceAll(tc.hex, "|", ""))
			if tc.clean && err != nil {
				t.Fatalf("clean message: %v\n%s", err, out)
			}
			if !tc.clean {
				wantStatus2(t, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// A Home Agent Switch (RFC 5142) as ha1 of the drain test sends it, signed:
// every field printed, the checksum verified with the pseudo-header.
func TestDecodeHomeAgentSwitch(t *testing.T) {
	mh := "3b050c00d88d010020010db8000100000000000000000012010300000009110100000100e3b80ccca24ed0539c6042bf"
	out, err := runDecode(t, "--mh", "--src", "2001:db8:1::11", "--dst", "2001:db8:1::10", "--hex", mh)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"Home Agent Switch (MH Type 12)", "Checksum: 0xd88d (ok", "Reserved: 0",
		"HomeAgentAddresses: [2001:db8:1::12]", "Mobility Message Authentication", "SPI: 256",
		"AuthenticationData: e3b80ccca24ed0539c6042bf"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
