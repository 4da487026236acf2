package transport

import (
	"crypto/rand"
	"encoding/hex"
	"monami/internal/testenv"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"

	"github.com/google/nftables"
)

func TestDefaultNFTTableIsPerProcess(t *testing.T) {
	if want := "monami_mh_" + strconv.Itoa(os.Getpid()); DefaultNFTTable != want {
		t.Fatalf("DefaultNFTTable %q, want %q", DefaultNFTTable, want)
	}
	for _, tc := range []struct {
		name   string
		prefix string
		pid    int
		ok     bool
	}{
		{"monami_mh_123", "monami_mh", 123, true},
		{"monami_mh", "", 0, false},
		{"monami_mh_", "", 0, false},
		{"monami_mh_12a", "", 0, false},
		{"monami_mh_0", "", 0, false},
		{"_5", "", 0, false},
		{"x_+5", "", 0, false},
	} {
		p, pid, ok := splitPIDTableName(tc.name)
		if p != tc.prefix || pid != tc.pid || ok != tc.ok {
			t.Errorf("split %q = %q %d %v", tc.name, p, pid, ok)
		}
	}
}

// mfxNS creates a network namespace with this helper's "mfx" prefix.
func mfxNS(t *testing.T) *testNS {
	t.Helper()
	testenv.RequireRoot(t)
	id := make([]byte, 3)
	rand.Read(id)
	return newNS(t, "mfx"+hex.EncodeToString(id))
}

func nsTables(t *testing.T, n *testNS) []string {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(int(n.h)))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv6)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		out = append(out, tb.Name)
	}
	slices.Sort(out)
	return out
}

func addTables(t *testing.T, n *testNS, names ...string) {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(int(n.h)))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		conn.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv6})
	}
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
}

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// livePID starts a process that lives until the test ends.
func livePID(t *testing.T) int {
	t.Helper()
	c := exec.Command("sleep", "300")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c.Process.Pid
}

// Two daemons in one namespace: each has its own table, installing one
// keeps the other's, closing one keeps the other's; tables of dead
// processes with the same prefix are swept, nothing else is.
func TestDropTablesTwoProcessesOneNamespace(t *testing.T) {
	n := mfxNS(t)
	dead, live := deadPID(t), livePID(t)
	peer := pidTableName(NFTTablePrefix, live)
	stale := pidTableName(NFTTablePrefix, dead)
	otherPrefix := pidTableName("mfx_other", dead)
	addTables(t, n, peer, stale, otherPrefix, NFTTablePrefix)

	ours, err := installDropTable(DefaultNFTTable, int(n.h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ours.remove() })
	got := nsTables(t, n)
	want := []string{DefaultNFTTable, NFTTablePrefix, peer, otherPrefix}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("after install: tables %v, want %v (dead %s swept, live peer kept)", got, want, stale)
	}

	// The peer (re)installs its table: ours stays.
	theirs, err := installDropTable(peer, int(n.h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { theirs.remove() })
	if got := nsTables(t, n); !slices.Contains(got, DefaultNFTTable) || !slices.Contains(got, peer) {
		t.Fatalf("after the peer's install: %v", got)
	}
	// Closing ours leaves the peer's, and the other way round.
	if err := ours.remove(); err != nil {
		t.Fatal(err)
	}
	if got := nsTables(t, n); slices.Contains(got, DefaultNFTTable) || !slices.Contains(got, peer) {
		t.Fatalf("after our close: %v", got)
	}
	if err := theirs.remove(); err != nil {
		t.Fatal(err)
	}
	if got := nsTables(t, n); slices.Contains(got, peer) {
		t.Fatalf("after the peer's close: %v", got)
	}
}

// Two native transports in one namespace, one with the default table: the
// first Close removes only its own table.
func TestTwoNativeTransportsOneNamespace(t *testing.T) {
	n := mfxNS(t)
	peer := pidTableName(NFTTablePrefix, livePID(t))
	var a, b *Native
	n.do(t, func() {
		var err error
		if a, err = OpenNative(NativeConfig{}); err != nil {
			t.Fatalf("OpenNative default: %v", err)
		}
		t.Cleanup(func() { a.Close() })
		if b, err = OpenNative(NativeConfig{NFTTable: peer}); err != nil {
			t.Fatalf("OpenNative %s: %v", peer, err)
		}
		t.Cleanup(func() { b.Close() })
	})
	if got := nsTables(t, n); !slices.Contains(got, DefaultNFTTable) || !slices.Contains(got, peer) {
		t.Fatalf("both open: %v", got)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got := nsTables(t, n); slices.Contains(got, DefaultNFTTable) || !slices.Contains(got, peer) {
		t.Fatalf("after closing the default transport: %v", got)
	}
}
