package sample

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/sample.pcapng")

// File is the sample's path from this package's directory.
var File = filepath.Join("..", "..", "..", "testdata", "sample.pcapng")

// TestSampleFile keeps the committed sample equal to what Build makes.
func TestSampleFile(t *testing.T) {
	b, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(File), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(File, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(File)
	if err != nil {
		t.Fatalf("%v (run: go test ./internal/capture/sample -run TestSampleFile -update)", err)
	}
	if !bytes.Equal(got, b) {
		t.Fatalf("%s differs from Build(); run: go test ./internal/capture/sample -run TestSampleFile -update", File)
	}
}
