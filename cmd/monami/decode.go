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

A packet that cannot be decoded gets one line "frame N: error at offset O: ..."
and decoding goes on. The exit status is 0 unless the file cannot be opened or
is not a capture file, or its structure is damaged (for example cut short),
in which case the messages before the damage are printed and the status is 1.`,
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
	var frames, messages, failed int
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
			if rec.Err != nil {
				failed++
			} else {
				messages++
			}
			if err := emit(rec); err != nil {
				return err
			}
		}
	}
	if !asJSON {
		fmt.Fprintf(out, "%s (%s): %d frames, %d Mobility Header messages, %d undecodable\n", name, r.Format(), frames, messages, failed)
	}
	return nil
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
		return emit(capture.DecodeMobilityHeader(b, sa, da))
	}
	if src != "" || dst != "" {
		return errors.New("--src and --dst go with --mh (an IP packet carries its own addresses)")
	}
	recs := capture.Walk(capture.Packet{Number: 1, LinkType: capture.LinkTypeRaw, Data: b, OrigLen: len(b)})
	if len(recs) == 0 {
		return errors.New("--hex: the packet carries no Mobility Header")
	}
	for _, r := range recs {
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}
