package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"monami/internal/capture"
	"monami/wire"
)

func init() {
	var (
		hexInput string
		mhOnly   bool
		asJSON   bool
		src, dst string
	)
	cmd := &cobra.Command{
		Use:   "decode [FILE]",
		Short: "Print every Mobility Header message in a capture (pcap, pcapng) or a hex string",
		Long: `decode prints every field of every Mobility Header message, option and sub-option
in a capture file: pcap (either byte order, micro- or nanosecond) or pcapng (any
number of interfaces and link types), detected from the file's magic number.
"-" reads standard input. Mobility Headers are found in IPv6 (next header 135,
through Home Address options and type 2 routing headers), in IPv6 packets inside
UDP port 4191 (RFC 5555) and directly in UDP port 5436 (RFC 5844), and inside
IP-in-IP tunnels.

--hex decodes one packet given as hex instead: a raw IPv6 or IPv4 packet (told
apart by the version nibble), or with --mh the bare Mobility Header, whose checksum
is verified when --src and --dst give the pseudo-header addresses.

A Mobility Header that breaks the RFCs is shown as far as it goes, as
Wireshark's expert info does: each problem is printed under the field or
option it concerns, as "[Severity, offset O: what]" (offsets count from the
start of the frame), an option or sub-option that cannot be decoded is shown
as raw hex in its place, and decoding goes on with the next one while the
lengths allow. Severities:
  Malformed  a length does not fit (an option running past the message end,
             Header Len longer than the packet or too short for the MH Type)
  Error      a value breaks a MUST: bad checksum, Payload Proto not 59, a
             reserved FID or TS Format; monami's daemons discard such messages
  Warning    decodes, but not as the RFCs ask: an option not at its xn+y
             alignment (RFC 6275 section 6.2), non-zero padding or reserved
             fields, octets after Header Len's end
Reserved fields of the flow binding options (RFC 6089, RFC 6088) are printed
with the other fields. A packet whose IP headers cannot be walked gets one line
"frame N: error at offset O: ..." and decoding goes on.

Exit status: 0 when every message decoded without a problem; 2 when at least
one problem was flagged or a frame could not be decoded (everything was still
printed; the summary line, and a line on standard error, count them); 1 when
the file cannot be opened or is not a capture file, or its structure is
damaged (for example cut short): the messages before the damage are printed.
With --json there is no summary line on standard output; each record with
problems has a "problems" list.`,
		Example: `  monami decode testdata/sample.pcapng
  monami decode --json capture.pcap | jq .message.type_name
  monami decode --hex 6000000000180...
  monami decode --hex --mh 3b0105000000... --src 2001:db8::1 --dst 2001:db8::2`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			emit := func(r capture.Record) error {
				if asJSON {
					b, err := capture.MarshalRecordJSON(r)
					if err != nil {
						return err
					}
					_, err = out.Write(append(b, '\n'))
					return err
				}
				return capture.WriteText(out, r)
			}
			if cmd.Flags().Changed("hex") {
				if len(args) != 0 {
					return errors.New("give either FILE or --hex, not both")
				}
				return decodeHex(hexInput, mhOnly, src, dst, emit)
			}
			if mhOnly || src != "" || dst != "" {
				return errors.New("--mh, --src and --dst go with --hex")
			}
			if len(args) != 1 {
				return errors.New("give a capture FILE (or --hex HEX)")
			}
			return decodeFile(args[0], cmd.InOrStdin(), out, emit, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&hexInput, "hex", "", "decode this hex string (spaces, colons and a 0x prefix are ignored) instead of a file")
	f.BoolVar(&mhOnly, "mh", false, "with --hex: the bytes are a bare Mobility Header, not an IP packet")
	f.StringVar(&src, "src", "", "with --mh: checksum pseudo-header source address (the home address when a Home Address option was sent)")
	f.StringVar(&dst, "dst", "", "with --mh: checksum pseudo-header destination address")
	f.BoolVar(&asJSON, "json", false, "one JSON object per Mobility Header message (or per undecodable packet)")
	root.AddCommand(cmd)
}

func decodeFile(name string, stdin io.Reader, out io.Writer, emit func(capture.Record) error, asJSON bool) error {
	var in io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	r, err := capture.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var frames int
	var t tally
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: damaged after frame %d: %w", name, frames, err)
		}
		frames++
		for _, rec := range capture.Walk(p) {
			t.add(rec)
			if err := emit(rec); err != nil {
				return err
			}
		}
	}
	if !asJSON {
		fmt.Fprintf(out, "%s (%s): %d frames, %s\n", name, r.Format(), frames, t)
	}
	return t.status(name)
}

// tally counts records for the summary line and the exit status.
type tally struct {
	messages, failed, flagged int
	bySeverity                [wire.SeverityMalformed + 1]int
}

func (t *tally) add(r capture.Record) {
	if r.Err != nil {
		t.failed++
		return
	}
	t.messages++
	ps := r.AllProblems()
	if len(ps) > 0 {
		t.flagged++
	}
	for _, p := range ps {
		if p.Severity <= wire.SeverityMalformed {
			t.bySeverity[p.Severity]++
		}
	}
}

func (t tally) String() string {
	s := fmt.Sprintf("%d Mobility Header messages, %d undecodable", t.messages, t.failed)
	if t.flagged > 0 {
		s += fmt.Sprintf(", %d with problems (%d Malformed, %d Error, %d Warning)", t.flagged,
			t.bySeverity[wire.SeverityMalformed], t.bySeverity[wire.SeverityError], t.bySeverity[wire.SeverityWarning])
	}
	return s
}

// status is nil for a clean decode, else exit status 2 with the summary.
func (t tally) status(name string) error {
	if t.failed == 0 && t.flagged == 0 {
		return nil
	}
	return &exitStatus{code: 2, msg: name + ": problems flagged: " + t.String()}
}

func decodeHex(s string, mhOnly bool, src, dst string, emit func(capture.Record) error) error {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	s = strings.NewReplacer(" ", "", ":", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("--hex: %w", err)
	}
	if len(b) == 0 {
		return errors.New("--hex: no bytes")
	}
	if mhOnly {
		var sa, da netip.Addr
		if src != "" || dst != "" {
			if sa, err = netip.ParseAddr(src); err != nil {
				return fmt.Errorf("--src: %w", err)
			}
			if da, err = netip.ParseAddr(dst); err != nil {
				return fmt.Errorf("--dst: %w", err)
			}
		}
		rec := capture.DecodeMobilityHeader(b, sa, da)
		var t tally
		t.add(rec)
		if err := emit(rec); err != nil {
			return err
		}
		return t.status("--hex")
	}
	if src != "" || dst != "" {
		return errors.New("--src and --dst go with --mh (an IP packet carries its own addresses)")
	}
	recs := capture.Walk(capture.Packet{Number: 1, LinkType: capture.LinkTypeRaw, Data: b, OrigLen: len(b)})
	if len(recs) == 0 {
		return errors.New("--hex: the packet carries no Mobility Header")
	}
	var t tally
	for _, r := range recs {
		t.add(r)
		if err := emit(r); err != nil {
			return err
		}
	}
	return t.status("--hex")
}
