package sample

import (
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"monami/internal/capture"
	"monami/internal/testenv"
	"monami/wire"
)

// decodeAll reads a capture file and counts frames, messages and errors
// (undecodable frames and messages with an Error or Malformed problem).
func decodeAll(t *testing.T, name string) (frames, msgs, errs int) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for {
		p, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		frames++
		for _, rec := range capture.Walk(p) {
			if rec.Err != nil || rec.Worst() >= wire.SeverityError {
				errs++
			} else {
				msgs++
			}
		}
	}
}

// TestFilesWrittenByWireshark decodes the sample after Wireshark's own
// writers rewrote it: pcapng from editcap (with its SHB and IDB options),
// and, for the Ethernet interface's frames, classic pcap with micro- and
// nanosecond timestamps from tshark.
func TestFilesWrittenByWireshark(t *testing.T) {
	for _, tool := range []string{"editcap", "tshark"} {
		testenv.RequireTool(t, tool)
	}
	b, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "sample.pcapng")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	ng := filepath.Join(dir, "editcap.pcapng")
	run("editcap", "-F", "pcapng", in, ng)
	if f, m, e := decodeAll(t, ng); f != 10 || m != 8 || e != 1 {
		t.Errorf("editcap pcapng: %d frames, %d messages, %d errors; want 10, 8, 1", f, m, e)
	}
	// Classic pcap holds one link type: keep the Ethernet frames (all but
	// frame 5, on the Linux cooked interface) in a one-interface pcapng
	// and let tshark convert that.
	eth := filepath.Join(dir, "ethernet.pcapng")
	ethOnly(t, in, eth)
	for _, format := range []string{"pcap", "nsecpcap"} {
		out := filepath.Join(dir, format+".pcap")
		run("tshark", "-r", eth, "-F", format, "-w", out)
		if f, m, e := decodeAll(t, out); f != 9 || m != 7 || e != 1 {
			t.Errorf("tshark %s: %d frames, %d messages, %d errors; want 9, 7, 1", format, f, m, e)
		}
	}
}

func ethOnly(t *testing.T, in, out string) {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w, err := capture.NewNGWriter(o, binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := w.AddInterface(capture.LinkTypeEthernet, 262144)
	for {
		p, err := r.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.LinkType == capture.LinkTypeEthernet {
			if err := w.WritePacket(id, p.Time, p.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
}
