package transport

// The nftables table that keeps a kernel without CONFIG_IPV6_MIP6 from
// answering HAO and RH2 signalling with ICMPv6 Parameter Problem.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// NFTTablePrefix starts the name of the default table.
const NFTTablePrefix = "monami_mh"

// DefaultNFTTable is the name of the ip6 table OpenNative installs by
// default: NFTTablePrefix_<pid>. Two daemons in one network namespace (a
// home agent and a test peer) then each install and remove their own
// table instead of replacing and deleting a shared one.
var DefaultNFTTable = pidTableName(NFTTablePrefix, os.Getpid())

func pidTableName(prefix string, pid int) string {
	return prefix + "_" + strconv.Itoa(pid)
}

// splitPIDTableName splits "<prefix>_<pid>".
func splitPIDTableName(name string) (prefix string, pid int, ok bool) {
	i := strings.LastIndexByte(name, '_')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	pid, err := strconv.Atoi(name[i+1:])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return name[:i], pid, true
}

// processAlive reports whether pid names a process (in this PID
// namespace); EPERM means it exists but is not ours.
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// mhDropTable is the installed table; the zero value is "not installed".
type mhDropTable struct {
	conn  *nftables.Conn
	table *nftables.Table
}

// installDropTable creates table ip6 <name> with a prerouting chain at raw
// priority (-300: before conntrack and before the IPv6 stack parses
// extension headers) that drops locally addressed Mobility Header packets
// carrying a destination options header or a type 2 routing header. The
// AF_PACKET capture has already copied them by then. nftables cannot look
// inside destination options, so any destination options header with an MH
// matches; the capture side delivers exactly the same set.
//
// A table of the same name left by a crashed process is replaced. When
// name is <prefix>_<our pid> (the default), tables <prefix>_<pid> of
// processes that no longer exist are removed too: that is how the table of
// a crashed daemon goes, now that every process has its own.
// netnsFd selects the network namespace (the one the transport was opened
// in); the connection is lasting so that Close, whatever OS thread it runs
// on, talks to that namespace.
func installDropTable(name string, netnsFd int) (*mhDropTable, error) {
	conn, err := nftables.New(nftables.WithNetNSFd(netnsFd), nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("transport: nftables: %w", err)
	}
	t := &nftables.Table{Name: name, Family: nftables.TableFamilyIPv6}

	// Remove a stale table; ENOENT is the normal case.
	conn.DelTable(t)
	if err := conn.Flush(); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOENT) {
		_ = conn.CloseLasting()
		return nil, fmt.Errorf("transport: nftables: delete stale table %s: %w", name, err)
	}
	if err := removeDeadPIDTables(conn, name); err != nil {
		_ = conn.CloseLasting()
		return nil, err
	}

	conn.AddTable(t)
	policy := nftables.ChainPolicyAccept
	c := conn.AddChain(&nftables.Chain{
		Name:     "prerouting",
		Table:    t,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookPrerouting,
		Priority: nftables.ChainPriorityRaw,
		Policy:   &policy,
	})
	// meta l4proto 135 exthdr dst exists fib daddr type local counter drop
	conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: dropExprs(
		&expr.Exthdr{DestRegister: 1, Type: protoDstOpts, Offset: 0, Len: 1,
			Flags: unix.NFT_EXTHDR_F_PRESENT, Op: expr.ExthdrOpIpv6},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1}},
	)})
	// meta l4proto 135 rt type 2 fib daddr type local counter drop
	conn.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: dropExprs(
		&expr.Exthdr{DestRegister: 1, Type: protoRouting, Offset: 2, Len: 1, Op: expr.ExthdrOpIpv6},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{routingType2}},
	)})
	if err := conn.Flush(); err != nil {
		_ = conn.CloseLasting()
		return nil, fmt.Errorf("transport: nftables: install table ip6 %s: %w", name, err)
	}
	return &mhDropTable{conn: conn, table: t}, nil
}

// removeDeadPIDTables deletes the ip6 tables <prefix>_<pid> whose process
// is gone, if name is <prefix>_<our pid>.
func removeDeadPIDTables(conn *nftables.Conn, name string) error {
	prefix, pid, ok := splitPIDTableName(name)
	if !ok || pid != os.Getpid() {
		return nil
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv6)
	if err != nil {
		return fmt.Errorf("transport: nftables: list tables: %w", err)
	}
	for _, tb := range tables {
		p, other, ok := splitPIDTableName(tb.Name)
		if !ok || p != prefix || other == pid || processAlive(other) {
			continue
		}
		// One flush per table: another daemon sweeping at the same time
		// may have deleted it already (ENOENT), which must not undo the rest.
		conn.DelTable(&nftables.Table{Name: tb.Name, Family: nftables.TableFamilyIPv6})
		if err := conn.Flush(); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("transport: nftables: delete table ip6 %s of dead process %d: %w", tb.Name, other, err)
		}
	}
	return nil
}

func dropExprs(match ...expr.Any) []expr.Any {
	e := []expr.Any{
		// meta l4proto 135: the kernel walks the extension headers for us.
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{ProtoMH}},
	}
	e = append(e, match...)
	return append(e,
		// fib daddr type local: packets we would forward are none of our
		// business (the capture side checks the same in userspace).
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Counter{},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
}

// remove deletes the table. It is idempotent.
func (d *mhDropTable) remove() error {
	if d == nil || d.conn == nil {
		return nil
	}
	d.conn.DelTable(d.table)
	err := d.conn.Flush()
	_ = d.conn.CloseLasting()
	d.conn = nil
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("transport: nftables: delete table ip6 %s: %w", d.table.Name, err)
	}
	return nil
}
