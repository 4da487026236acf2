package lab

import (
	"context"
	"testing"
)

func TestSmokeBasic(t *testing.T) {
	topo, err := Load("../../examples/lab/basic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	topo.Name = "mltsmk"
	l, err := Up(context.Background(), topo)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Down(); err != nil {
			t.Error(err)
		}
	}()
	out, err := l.MustNode("mn").Exec(context.Background(), "ping", "-c", "3", "-i", "0.2", "2001:db8:3::10")
	t.Logf("%s %v", out, err)
	out, err = l.MustNode("mn").Exec(context.Background(), "ping", "-c", "3", "-i", "0.2", "10.0.3.10")
	t.Logf("%s %v", out, err)
	s, _ := l.Status()
	t.Logf("%+v", s)
}
