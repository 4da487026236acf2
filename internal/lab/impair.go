package lab

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// lossModulus is the resolution of the random drop: 1e-6.
const lossModulus = 1_000_000

// nftTableName is the netdev table holding a lab's loss rules in a namespace.
func nftTableName(lab string) string { return "monami_" + lab }

// applyImpairment sets rate (TBF on each end's egress), loss (nftables on
// each end's ingress) and delay (relay) of a link, per direction.
func (l *Lab) applyImpairment(lk *Link, d DirImpairment) error {
	if d.delayed() && !lk.needsRelay() {
		return fmt.Errorf("link %s was built without a delay relay: declare a delay (or relay: true) in the topology to change delay later", lk.Name)
	}
	for _, im := range []Impairment{d.AtoB, d.BtoA} {
		if im.Jitter > im.Delay {
			return fmt.Errorf("jitter %v larger than delay %v", im.Jitter, im.Delay)
		}
	}
	mtu := lk.MTU
	if mtu == 0 {
		mtu = 1500
	}
	ends := []struct {
		e               End
		egress, ingress Impairment
	}{{lk.A, d.AtoB, d.BtoA}, {lk.B, d.BtoA, d.AtoB}}
	for _, x := range ends {
		ns, ifn := l.nsOf(x.e.Node), l.ifName(x.e.Node, x.e.If)
		if !d.AtoB.Zero() || !d.BtoA.Zero() || lk.needsRelay() {
			// One dropped 64 KB TSO/GSO packet would be dozens of lost
			// segments; the relay needs finished checksums on its frames;
			// and a rate-limited link should carry wire-sized frames, as a
			// real one does (interface counters then count real frames).
			if err := setOffloads(ns, ifn, false); err != nil {
				return fmt.Errorf("%s:%s: %w", x.e.Node, x.e.If, err)
			}
		}
		if err := l.setRate(ns, ifn, x.egress.Rate, mtu, lk.queue(), lk.Qdisc); err != nil {
			return fmt.Errorf("%s:%s: rate: %w", x.e.Node, x.e.If, err)
		}
		if err := l.setLoss(ns, ifn, x.ingress.Loss); err != nil {
			return fmt.Errorf("%s:%s: loss: %w", x.e.Node, x.e.If, err)
		}
	}
	if lk.needsRelay() {
		if err := l.writeRelayParams(lk, d); err != nil {
			return err
		}
		for _, r := range l.st.Relays {
			if r.Name == lk.Name && processAlive(r.PID, labEnvKey+"="+l.st.Name+"\x00") {
				syscall.Kill(r.PID, syscall.SIGHUP)
			}
		}
	}
	return l.st.update(func(s *State) { s.Impair[lk.Name] = d })
}

// queue is the link's queue limit in time at its rate.
func (lk *Link) queue() time.Duration {
	if lk.Queue > 0 {
		return time.Duration(lk.Queue)
	}
	return DefaultQueue
}

// setRate installs a TBF root qdisc limiting egress to rate bit/s (0
// removes it), queueing at most queue's worth of the rate: in one FIFO, or
// with qdisc "fq" that much per flow (fq.go).
func (l *Lab) setRate(ns, ifn string, rate Rate, mtu int, queue time.Duration, qdisc string) error {
	h, err := l.handle(ns)
	if err != nil {
		return err
	}
	ln, err := h.LinkByName(ifn)
	if err != nil {
		return err
	}
	attrs := netlink.QdiscAttrs{LinkIndex: ln.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}
	if rate == 0 {
		err := h.QdiscDel(&netlink.Tbf{QdiscAttrs: attrs})
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
			return err
		}
		return nil
	}
	bytesPerSec := uint64(rate) / 8
	// Burst: 4 ms worth of tokens, at least two full frames, so the rate
	// holds over short windows; queue: at least a few frames.
	burst := max(bytesPerSec*4/1000, uint64(2*(mtu+14)), 4096)
	limit := max(uint64(float64(bytesPerSec)*queue.Seconds()), burst+uint64(4*(mtu+14)))
	tbf := &netlink.Tbf{
		QdiscAttrs: attrs,
		Rate:       bytesPerSec,
		Limit:      uint32(min(limit, 1<<31)),
		Buffer:     netlink.Xmittime(bytesPerSec, uint32(burst)),
	}
	if err := h.QdiscReplace(tbf); err != nil {
		return err
	}
	if qdisc == QdiscFQ {
		return setFlowQueues(ns, ifn, bytesPerSec, limit, mtu)
	}
	return nil
}

// setLoss makes the interface's ingress drop a fraction p of packets, via
// an nftables netdev ingress chain: numgen random mod 1e6 < p*1e6 drop.
// The chain sits on the receiving end, so each direction loses p.
func (l *Lab) setLoss(ns, ifn string, p Loss) error {
	tname := nftTableName(l.st.Name)
	if ns == "" && p > 0 {
		if err := l.st.update(func(s *State) { s.HostNft = appendUniq(s.HostNft, tname) }); err != nil {
			return err
		}
	}
	return l.withNft(ns, func(c *nftables.Conn) error { return setLossRule(c, tname, ifn, p) })
}

// withNft runs fn with an nftables connection in namespace ns.
func (l *Lab) withNft(ns string, fn func(*nftables.Conn) error) error {
	var opts []nftables.ConnOption
	if ns != "" {
		h, err := netns.GetFromPath(nsPath(ns))
		if err != nil {
			return err
		}
		defer h.Close()
		opts = append(opts, nftables.WithNetNSFd(int(h)))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	return fn(c)
}

func setLossRule(c *nftables.Conn, tname, ifn string, p Loss) error {
	table := &nftables.Table{Name: tname, Family: nftables.TableFamilyNetdev}
	chainName := "loss_" + ifn
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyNetdev)
	if err != nil {
		return err
	}
	have := false
	for _, ch := range chains {
		if ch.Table.Name == tname && ch.Name == chainName {
			have = true
		}
	}
	if p == 0 && !have {
		return nil
	}
	c.AddTable(table)
	chain := &nftables.Chain{
		Name: chainName, Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookIngress, Priority: nftables.ChainPriorityFilter,
		Device: ifn,
	}
	if have {
		c.FlushChain(chain)
		c.DelChain(chain)
	}
	if p > 0 {
		c.AddChain(chain)
		n := uint32(float64(p)*lossModulus + 0.5)
		c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: []expr.Any{
			&expr.Numgen{Register: 1, Modulus: lossModulus, Type: unix.NFT_NG_RANDOM},
			// numgen writes host byte order; cmp compares bytes, so
			// convert to network order first (as nft itself does).
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
			&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binary.BigEndian.AppendUint32(nil, n)},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	return c.Flush()
}

// Legacy ethtool commands (linux/ethtool.h).
const (
	ethtoolSTXCSUM = 0x17
	ethtoolSTSO    = 0x1f
	ethtoolSGSO    = 0x24
	ethtoolSGRO    = 0x2c
)

type ethtoolValue struct {
	cmd  uint32
	data uint32
}

type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte
}

// setOffloads switches checksum offload, TSO, GSO and GRO of an interface
// (like `ethtool -K IF tx off tso off gso off gro off`) through the
// SIOCETHTOOL ioctl in the interface's namespace.
func setOffloads(ns, ifn string, on bool) error {
	do := func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		v := uint32(0)
		if on {
			v = 1
		}
		// TSO needs tx checksumming: turn TSO/GSO off before tx.
		for _, cmd := range []uint32{ethtoolSTSO, ethtoolSGSO, ethtoolSGRO, ethtoolSTXCSUM} {
			ev := ethtoolValue{cmd: cmd, data: v}
			var ifr ifreqData
			copy(ifr.name[:], ifn)
			ifr.data = uintptr(unsafe.Pointer(&ev))
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); e != 0 {
				return fmt.Errorf("ethtool %s cmd %#x: %w", ifn, cmd, e)
			}
		}
		return nil
	}
	if ns == "" {
		return do()
	}
	return inNetns(nsPath(ns), do)
}

// relayParams is what a relay reads at start and on SIGHUP.
type relayParams struct {
	AtoB relayDirParams `json:"a_to_b"` // frames arriving on the relay's A-side veth
	BtoA relayDirParams `json:"b_to_a"`
}

type relayDirParams struct {
	Delay  Duration `json:"delay"`
	Jitter Duration `json:"jitter"`
}

func (l *Lab) relayParamsPath(link string) string {
	return filepath.Join(l.StateDir(), "relay-"+link+".json")
}

func (l *Lab) writeRelayParams(lk *Link, d DirImpairment) error {
	b, err := json.Marshal(relayParams{
		AtoB: relayDirParams{Delay: d.AtoB.Delay, Jitter: d.AtoB.Jitter},
		BtoA: relayDirParams{Delay: d.BtoA.Delay, Jitter: d.BtoA.Jitter},
	})
	if err != nil {
		return err
	}
	p := l.relayParamsPath(lk.Name)
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

func (l *Lab) startRelay(lk *Link) error {
	rns := relayNsName(l.st.Name, lk.Name)
	if err := l.writeRelayParams(lk, lk.Directions()); err != nil {
		return err
	}
	logPath := filepath.Join(l.StateDir(), "relay-"+lk.Name+".log")
	rec := ProcRecord{Name: lk.Name, Ns: rns, Log: logPath}
	idx := -1
	if err := l.st.update(func(s *State) { s.Relays = append(s.Relays, rec); idx = len(s.Relays) - 1 }); err != nil {
		return err
	}
	self, err := selfExe()
	if err != nil {
		return err
	}
	// The launcher enters the relay namespace, then execs the relay.
	argv := []string{self, argRelay, relayIfA, relayIfB, l.relayParamsPath(lk.Name)}
	c, err := startDetached(l.st.Name, rns, argv, nil, logPath)
	if err != nil {
		return err
	}
	if err := l.st.update(func(s *State) { s.Relays[idx].PID = c.Process.Pid; s.Relays[idx].Argv = argv }); err != nil {
		return err
	}
	return waitRelayReady(logPath, c.Process.Pid)
}
