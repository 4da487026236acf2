package wire

// Cross-check of our encoders against Wireshark: every golden packet of
// golden_test.go is written to one pcap file (LINKTYPE_RAW), tshark dissects
// them all in a single run (PDML output), and each packet must decode with no
// malformed mark, no expert entry of severity warning or higher, and exactly
// the field values we put in it. Every mip6.* field tshark shows must be
// covered by an expectation, so a field we forgot to compare fails the test.

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"monami/internal/testenv"
)

// Expert severities as tshark prints them in _ws.expert.severity
// (epan/proto.h PI_WARN, PI_ERROR).
const (
	expertSeverityWarn  = 0x00600000
	expertSeverityError = 0x00800000
)

// linktypeRaw is LINKTYPE_RAW: the packet starts with an IPv4 or IPv6 header.
const linktypeRaw = 101

// writePcap writes packets as a classic pcap file (microsecond timestamps,
// little endian) with link type LINKTYPE_RAW.
func writePcap(w io.Writer, packets [][]byte) error {
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], linktypeRaw)
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, p := range packets {
		ts := base.Add(time.Duration(i) * time.Millisecond)
		var rec [16]byte
		binary.LittleEndian.PutUint32(rec[0:], uint32(ts.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(p)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(p)))
		if _, err := w.Write(rec[:]); err != nil {
			return err
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// pdmlField is one <proto> or <field> element of tshark's PDML output,
// flattened in document order.
type pdmlField struct {
	Name     string
	Show     string
	Value    string
	ShowName string
	Proto    bool
}

type pdmlPacket struct {
	Fields []pdmlField
}

// values returns the show attribute of every field with that name, in order.
func (p pdmlPacket) values(name string) []string {
	var out []string
	for _, f := range p.Fields {
		if !f.Proto && f.Name == name {
			out = append(out, f.Show)
		}
	}
	return out
}

func (p pdmlPacket) hasProto(name string) bool {
	for _, f := range p.Fields {
		if f.Proto && f.Name == name {
			return true
		}
	}
	return false
}

// problems lists the malformed marks and the expert entries of severity
// warning or higher.
func (p pdmlPacket) problems() []string {
	var out []string
	var msg string
	for _, f := range p.Fields {
		switch f.Name {
		case "_ws.malformed":
			out = append(out, "malformed: "+f.ShowName)
		case "_ws.expert.message":
			msg = f.Show
		case "_ws.expert.severity":
			sev, err := strconv.Atoi(f.Show)
			if err != nil || sev >= expertSeverityWarn {
				out = append(out, fmt.Sprintf("expert severity %s: %s", f.Show, msg))
			}
		}
	}
	return out
}

// parsePDML flattens tshark -T pdml output into one pdmlPacket per packet.
func parsePDML(r io.Reader) ([]pdmlPacket, error) {
	dec := xml.NewDecoder(r)
	var pkts []pdmlPacket
	var cur *pdmlPacket
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "packet":
			pkts = append(pkts, pdmlPacket{})
			cur = &pkts[len(pkts)-1]
		case "proto", "field":
			if cur == nil {
				return nil, fmt.Errorf("pdml: %s outside packet", se.Name.Local)
			}
			f := pdmlField{Proto: se.Name.Local == "proto"}
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "name":
					f.Name = a.Value
				case "show":
					f.Show = a.Value
				case "value":
					f.Value = a.Value
				case "showname":
					f.ShowName = a.Value
				}
			}
			cur.Fields = append(cur.Fields, f)
		}
	}
	return pkts, nil
}

// requireTshark returns the tshark path; testenv skips the test without
// tshark, or fails it when MONAMI_REQUIRE_ROOT_TESTS is set (CI).
func requireTshark(t *testing.T) string {
	t.Helper()
	testenv.RequireTool(t, "tshark")
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// runTshark dissects packets in one tshark run and returns one pdmlPacket
// per input packet. UDP port 4191 (RFC 5555) is decoded as IPv6.
func runTshark(t *testing.T, packets [][]byte) []pdmlPacket {
	t.Helper()
	tshark := requireTshark(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "golden.pcap")
	var buf bytes.Buffer
	if err := writePcap(&buf, packets); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// stderr carries a harmless "Running as user root" notice; only the
	// exit status matters.
	cmd := exec.Command(tshark, "-n", "-r", file, "-T", "pdml",
		"-d", fmt.Sprintf("udp.port==%d,ipv6", UDPEncapsulationPort))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	pkts, err := parsePDML(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("parse tshark PDML: %v", err)
	}
	if len(pkts) != len(packets) {
		t.Fatalf("tshark returned %d packets, wrote %d", len(pkts), len(packets))
	}
	return pkts
}

// colonHex formats bytes the way PDML shows FT_BYTES / FT_NONE items.
func colonHex(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// tsharkOptionNames maps Mobility Option types to the abbreviation of the
// item tshark 4.0 adds for the whole option ("mip6.options.<abbrev>").
var tsharkOptionNames = map[uint8]string{
	0: "pad1", 1: "padn", 2: "bra", 3: "acoa", 4: "ni", 5: "bad_auth",
	6: "mnp", 7: "mhlla", 8: "mnid", 9: "auth", 10: "mseg_id", 20: "ssm",
	22: "hnp", 23: "hi", 24: "att", 25: "mnlli", 26: "lla", 27: "ts",
	28: "rc", 29: "ipv4ha", 30: "ipv4aa", 31: "natd", 32: "ipv4coa",
	33: "grek", 34: "mhipv6ap", 35: "bi", 36: "ipv4hareq", 37: "ipv4harep",
	38: "ipv4dra", 39: "ipv4dsm",
	// Dissected by tshark 4.0 but not implemented here (yet).
	11: "cgapr", 12: "cgar", 13: "sign", 14: "phkt", 15: "coti", 16: "cot",
	17: "dnsu", 18: "em", 19: "vsm", 21: "badff", 40: "cr", 46: "recap",
	47: "redir", 48: "load_inf", 49: "alt_ip4", 50: "mng", 51: "mag_ipv6",
	52: "acc_net_id", 55: "dmnp",
}

// tsharkDissectsOption: the option types tshark 4.0 dissects (0-41, 46-52,
// 55; see /work/shared/notes/kernel-dataplane.md).
func tsharkDissectsOption(t uint8) bool {
	return t <= 41 || (t >= 46 && t <= 52) || t == 55
}

// walkOptions splits the Mobility Options area of a whole Mobility Header
// (opts starts at the first option) into raw options, Pad1 and PadN
// included. It is written independently of the package's decoder on
// purpose.
func walkOptions(opts []byte) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < len(opts); {
		if opts[i] == 0 {
			out = append(out, opts[i:i+1])
			i++
			continue
		}
		if i+2 > len(opts) || i+2+int(opts[i+1]) > len(opts) {
			return nil, fmt.Errorf("option at %d overruns", i)
		}
		n := 2 + int(opts[i+1])
		out = append(out, opts[i:i+n])
		i += n
	}
	return out, nil
}

// checkTsharkFields compares tshark's mip6.* fields with want. Every mip6
// field tshark shows must be listed in want (or be one of the generic
// per-option items checked against optionItems); values must match in order.
func checkTsharkFields(t *testing.T, name string, pkt pdmlPacket, want map[string][]string, optionItems [][]byte) {
	t.Helper()
	for _, e := range tsharkFieldErrors(name, pkt, want, optionItems) {
		t.Error(e)
	}
}

func tsharkFieldErrors(name string, pkt pdmlPacket, want map[string][]string, optionItems [][]byte) []string {
	var errs []string
	errorf := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	// Generic per-option items: the whole option as colon hex.
	optWant := map[string][]string{}
	var optLens, undissected []string
	for _, o := range optionItems {
		if o[0] != 0 {
			optLens = append(optLens, strconv.Itoa(int(o[1])))
		}
		abbrev, ok := tsharkOptionNames[o[0]]
		if !ok {
			// Options tshark 4.0 does not dissect (e.g. RFC 6089 Flow
			// Identification and Flow Summary): it shows the type, the
			// length and a note-level "not dissected" item.
			optWant["mip6.mobility_opt"] = append(optWant["mip6.mobility_opt"], strconv.Itoa(int(o[0])))
			optWant["mip6.ie_not_dissected"] = append(optWant["mip6.ie_not_dissected"], "")
			undissected = append(undissected, fmt.Sprintf("%x", o))
			continue
		}
		optWant["mip6.options."+abbrev] = append(optWant["mip6.options."+abbrev], colonHex(o))
		if o[0] == 1 && len(o) > 2 { // PadN data
			optWant["mip6.padn"] = append(optWant["mip6.padn"], colonHex(o[2:]))
		}
	}
	seen := map[string]bool{}
	for _, f := range pkt.Fields {
		if f.Proto || !strings.HasPrefix(f.Name, "mip6.") || seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		got := pkt.values(f.Name)
		switch {
		case f.Name == "mip6.mobility_opt.len":
			// Not every option dissector adds the length item: the shown
			// lengths must be a subsequence of the option lengths. For
			// options it does not dissect, tshark 4.0 reads the length
			// item from the wrong offset (past the option), so those are
			// skipped; the option's extent is checked below instead.
			got = shownOptionLengths(pkt)
			if !isSubsequence(got, optLens) {
				errorf("%s: %s = %q, not a subsequence of option lengths %q", name, f.Name, got, optLens)
			}
		case optWant[f.Name] != nil:
			if !equalStrings(got, optWant[f.Name]) {
				errorf("%s: %s = %q, want %q", name, f.Name, got, optWant[f.Name])
			}
		case want[f.Name] != nil:
			if !equalStrings(got, want[f.Name]) {
				errorf("%s: %s = %q, want %q", name, f.Name, got, want[f.Name])
			}
		default:
			errorf("%s: tshark shows %s = %q, which the golden case does not check", name, f.Name, got)
		}
	}
	var missing []string
	for k := range want {
		if strings.HasPrefix(k, "mip6.") && !seen[k] {
			missing = append(missing, k)
		}
	}
	for k := range optWant {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	// Non-mip6 expectations (IPv6 extension headers, UDP) are compared
	// directly.
	for k, v := range want {
		if strings.HasPrefix(k, "mip6.") {
			continue
		}
		if got := pkt.values(k); !equalStrings(got, v) {
			errorf("%s: %s = %q, want %q", name, k, got, v)
		}
	}
	// The unnamed item tshark adds for each option it does not dissect
	// spans exactly that option.
	var shownUndissected []string
	for _, f := range pkt.Fields {
		if !f.Proto && f.Name == "" && strings.HasPrefix(f.Show, "Unknown (0x") {
			shownUndissected = append(shownUndissected, f.Value)
		}
	}
	if !equalStrings(shownUndissected, undissected) {
		errorf("%s: undissected options shown as %q, want %q", name, shownUndissected, undissected)
	}
	sort.Strings(missing)
	for _, k := range missing {
		errorf("%s: tshark does not show %s", name, k)
	}
	return errs
}

// shownOptionLengths returns the mip6.mobility_opt.len values except the
// one right after each mip6.mobility_opt (undissected option) item.
func shownOptionLengths(pkt pdmlPacket) []string {
	var out []string
	afterUnknown := false
	for _, f := range pkt.Fields {
		switch {
		case f.Proto:
		case f.Name == "mip6.mobility_opt":
			afterUnknown = true
		case f.Name == "mip6.mobility_opt.len":
			if !afterUnknown {
				out = append(out, f.Show)
			}
			afterUnknown = false
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isSubsequence(sub, seq []string) bool {
	j := 0
	for _, s := range sub {
		for j < len(seq) && seq[j] != s {
			j++
		}
		if j == len(seq) {
			return false
		}
		j++
	}
	return true
}

// TestTsharkFieldCheckCatchesMismatch makes sure the comparison fails on
// a wrong value, an unchecked field and a missing field.
func TestTsharkFieldCheckCatchesMismatch(t *testing.T) {
	pkt := pdmlPacket{Fields: []pdmlField{
		{Name: "mipv6", Proto: true},
		{Name: "mip6.bu.seqnr", Show: "5"},
		{Name: "mip6.bu.lifetime", Show: "9"},
	}}
	errs := tsharkFieldErrors("x", pkt, map[string][]string{"mip6.bu.seqnr": {"6"}, "mip6.hb.seqnr": {"1"}}, nil)
	if len(errs) != 3 {
		t.Fatalf("want 3 errors (wrong seqnr, unchecked lifetime, missing hb.seqnr), got %q", errs)
	}
	if errs := tsharkFieldErrors("x", pkt, map[string][]string{"mip6.bu.seqnr": {"5"}, "mip6.bu.lifetime": {"9"}}, nil); len(errs) != 0 {
		t.Fatalf("matching packet: %q", errs)
	}
}

func TestWritePcapFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := writePcap(&buf, [][]byte{{0x60, 1, 2}, {0x45}}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if len(b) != 24+16+3+16+1 {
		t.Fatalf("pcap length %d", len(b))
	}
	if binary.LittleEndian.Uint32(b[0:]) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != linktypeRaw {
		t.Fatalf("bad pcap global header % x", b[:24])
	}
	if got := binary.LittleEndian.Uint32(b[24+8:]); got != 3 {
		t.Fatalf("first record caplen %d", got)
	}
}

// TestTshark dissects every golden packet with tshark in one run.
func TestTshark(t *testing.T) {
	cases := goldenCases(t)
	packets := make([][]byte, len(cases))
	for i, c := range cases {
		packets[i] = c.packet
	}
	pkts := runTshark(t, packets)
	for i, c := range cases {
		pkt := pkts[i]
		if c.tsharkEarlyOptions != 0 {
			checkTsharkEarlyOptions(t, c, pkt)
			continue
		}
		for _, p := range pkt.problems() {
			t.Errorf("%s: tshark: %s", c.name, p)
		}
		if !pkt.hasProto("mipv6") {
			t.Errorf("%s: tshark did not dissect a Mobility Header", c.name)
			continue
		}
		checkTsharkFields(t, c.name, pkt, c.tsharkWant(t), c.optionItems(t))
	}
}

// checkTsharkEarlyOptions: for a message whose options Wireshark dissects
// from the wrong offset (goldenCase.tsharkEarlyOptions), the fields it
// reads right must match, and its fault must still show; when it no
// longer does, the case should be checked in full again.
func checkTsharkEarlyOptions(t *testing.T, c goldenCase, pkt pdmlPacket) {
	t.Helper()
	if !pkt.hasProto("mipv6") {
		t.Errorf("%s: tshark did not dissect a Mobility Header", c.name)
		return
	}
	for k, want := range c.tsharkWant(t) {
		if got := pkt.values(k); !equalStrings(got, want) {
			t.Errorf("%s: %s = %q, want %q", c.name, k, got, want)
		}
	}
	if len(pkt.problems()) == 0 {
		t.Errorf("%s: tshark no longer dissects the options %d octets early: check this case in full (drop tsharkEarlyOptions)",
			c.name, c.tsharkEarlyOptions)
	}
}
