package main

import "testing"

// The commands that configure the network ask for root; decode does not.
func TestCommandsThatNeedRoot(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"lab", "demo"}, true},
		{[]string{"lab", "bench", "ha"}, true},
		{[]string{"ha"}, true},
		{[]string{"mn"}, true},
		{[]string{"ctl"}, true},
		{[]string{"decode"}, false},
	} {
		cmd, _, err := root.Find(c.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := wantsRoot(cmd); got != c.want {
			t.Errorf("%v needs root: %v, want %v", c.args, got, c.want)
		}
	}
}
