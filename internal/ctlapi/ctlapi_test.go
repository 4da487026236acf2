package ctlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

type binding struct {
	HomeAddress   string `json:"home_address"`
	BindingID     uint16 `json:"bid"`
	CareOfAddress string `json:"care_of_address"`
	Lifetime      int    `json:"lifetime_s"`
}

type fakeRole struct{}

func (fakeRole) Role() string     { return "ha" }
func (fakeRole) Topics() []string { return []string{"bindings", "counters", "broken"} }
func (fakeRole) Snapshot(_ context.Context, topic string) (any, error) {
	switch topic {
	case "bindings":
		return []binding{
			{"2001:db8:1::10", 1, "2001:db8:a::10", 300},
			{"2001:db8:1::10", 2, "2001:db8:b::10", 120},
		}, nil
	case "counters":
		return map[string]uint64{"bu_received": 7}, nil
	case "broken":
		return nil, errors.New("state unavailable")
	}
	return nil, ErrUnknownTopic
}

func TestServeAndRender(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ha.sock")
	s, err := Listen(path, fakeRole{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Listen(path, fakeRole{}, nil); err == nil || !strings.Contains(err.Error(), "another daemon") {
		t.Fatalf("second listener on a live socket: got %v", err)
	}

	c := NewClient(path)
	ctx := context.Background()
	resp, data, err := c.Get(ctx, "bindings")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Role != "ha" || resp.Topic != "bindings" {
		t.Fatalf("envelope %+v", resp)
	}
	var got []binding
	if err := json.Unmarshal(data, &got); err != nil || len(got) != 2 || got[1].CareOfAddress != "2001:db8:b::10" {
		t.Fatalf("data %s (%v)", data, err)
	}
	var out bytes.Buffer
	if err := Render(&out, data); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "HOME_ADDRESS") || !strings.Contains(lines[0], "CARE_OF_ADDRESS") ||
		!strings.Contains(lines[2], "2001:db8:b::10") {
		t.Fatalf("table:\n%s", out.String())
	}

	if _, _, err := c.Get(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "unknown topic") {
		t.Fatalf("unknown topic: %v", err)
	}
	if _, _, err := c.Get(ctx, "broken"); err == nil || !strings.Contains(err.Error(), "state unavailable") {
		t.Fatalf("failing topic: %v", err)
	}
	_, data, err = c.Get(ctx, "topics")
	if err != nil || !strings.Contains(string(data), "counters") {
		t.Fatalf("topics: %s %v", data, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(ctx, "bindings"); err == nil || !strings.Contains(err.Error(), "is the daemon running") {
		t.Fatalf("closed daemon: %v", err)
	}
}

func TestRenderShapes(t *testing.T) {
	var out bytes.Buffer
	in := `{"role":"mn","paths":[{"if":"eth0","up":true},{"if":"eth1","up":false,"extra":[1,2]}],"n":3}`
	if err := Render(&out, json.RawMessage(in)); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"role:", "n:", "paths:", "EXTRA", "1,2", "eth1"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if err := Render(&out, json.RawMessage(`{"a":`)); err == nil {
		t.Error("truncated JSON rendered without error")
	}
}

func FuzzRender(f *testing.F) {
	f.Add([]byte(`[{"a":1},{"b":[{"c":null}]}]`))
	f.Add([]byte(`{"x":{"y":{"z":[1,"2",true]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		_ = Render(&out, data) // must not panic
	})
}
