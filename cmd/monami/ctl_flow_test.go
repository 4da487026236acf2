package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"monami/internal/ctlapi"
	"monami/internal/role/mn"
)

// fakeMN answers commands as a mobile node would, recording them.
type fakeMN struct {
	got  []string
	body []mn.FlowMove
}

func (f *fakeMN) Role() string     { return "mn" }
func (f *fakeMN) Topics() []string { return []string{"flows"} }
func (f *fakeMN) Snapshot(context.Context, string) (any, error) {
	return []mn.FlowView{{Rule: "voice", Interfaces: []string{"wwan0"}, Counters: "data plane", Packets: 7}}, nil
}
func (f *fakeMN) Commands() []string { return []string{"flow/move", "flow/clear"} }
func (f *fakeMN) Command(_ context.Context, name string, body json.RawMessage) (any, error) {
	f.got = append(f.got, name)
	if name == "flow/move" {
		var req mn.FlowMove
		if err := ctlapi.DecodeBody(body, &req); err != nil {
			return nil, err
		}
		f.body = append(f.body, req)
		if req.Rule == "nope" {
			return nil, ctlapi.ErrBadRequest
		}
	}
	return []mn.FlowView{}, nil
}

func runCtl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(args)
	defer root.SetArgs(nil)
	// Flags keep their values between in-process runs.
	defer resetFlags(root)
	err := root.Execute()
	return out.String(), err
}

func resetFlags(c *cobra.Command) {
	reset := func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			sv.Replace(nil)
		} else {
			f.Value.Set(f.DefValue)
		}
		f.Changed = false
	}
	c.Flags().VisitAll(reset)
	c.PersistentFlags().VisitAll(reset)
	for _, s := range c.Commands() {
		resetFlags(s)
	}
}

// flow move and clear reach the daemon's commands with the flags as
// given; flows is a topic like any other.
func TestCtlFlowCommands(t *testing.T) {
	f := &fakeMN{}
	sock := filepath.Join(t.TempDir(), "mn.sock")
	srv, err := ctlapi.Listen(sock, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := runCtl(t, "ctl", "--socket", sock, "flow", "move", "--match", "{next_header: tcp, dst_port: 5201}",
		"--to", "wwan0,wlan0", "--mode", "share"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCtl(t, "ctl", "--socket", sock, "flow", "move", "--rule", "voice", "--to", "wlan0", "--mode", "interfaces"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCtl(t, "ctl", "--socket", sock, "flow", "clear"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.got, " ") != "flow/move flow/move flow/clear" || len(f.body) != 2 {
		t.Fatalf("daemon got %v %+v", f.got, f.body)
	}
	if b := f.body[0]; b.Match != "{next_header: tcp, dst_port: 5201}" || strings.Join(b.To, ",") != "wwan0,wlan0" || b.Mode != "share" {
		t.Errorf("first move %+v", b)
	}
	if b := f.body[1]; b.Rule != "voice" || strings.Join(b.To, ",") != "wlan0" || b.Match != "" {
		t.Errorf("second move %+v", b)
	}
	if _, err := runCtl(t, "ctl", "--socket", sock, "flow", "move", "--rule", "nope", "--to", "wlan0"); err == nil ||
		!strings.Contains(err.Error(), "bad request") {
		t.Errorf("refused move: %v", err)
	}
	out, err := runCtl(t, "ctl", "--socket", sock, "flows", "--json")
	if err != nil || !strings.Contains(out, `"rule":"voice"`) || !strings.Contains(out, `"counters":"data plane"`) {
		t.Errorf("flows: %v %s", err, out)
	}
}

// Bad flags fail before any connection, naming the flag or the key.
func TestCtlFlowMoveErrors(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "wlan0"}, "give --match SELECTOR or --rule NAME"},
		{[]string{"--rule", "voice", "--match", "{dst_port: 1}", "--to", "wlan0"}, "give --match or --rule, not both"},
		{[]string{"--rule", "voice"}, "--to: name at least one interface"},
		{[]string{"--rule", "voice", "--to", "wlan0", "--mode", "spray"}, `--mode: "spray" is not interfaces, share or bicast`},
		{[]string{"--match", "{dport: 5201}", "--to", "wlan0"}, "--match.dport: unknown key"},
		{[]string{"--match", "{dst_port: 70000}", "--to", "wlan0"}, `--match.dst_port: "70000" is not a port`},
		{[]string{"--match", "{next_header: tcp}", "--to", "wlan0"}, "control socket " + sock},
	} {
		_, err := runCtl(t, append([]string{"ctl", "--socket", sock, "flow", "move"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
