package demo

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// traffic is what the failover and flap scenarios run through the mobile
// node: a TCP stream from the correspondent to the home address, the 1 kHz
// probe each way (kernel receive timestamps, probe.go), and the tunnelled
// bytes per access link (AF_PACKET meters).
type traffic struct {
	rx         *receiver
	tx         *sender
	prx, uprx  *probeReceiver
	ptx, uptx  *probeSender
	meters     map[string]*meter
	stopTx     chan struct{}
	stopMeters chan struct{}
	t0         time.Time
}

// startTraffic opens every socket, then starts the senders; t0 is their start.
func (s *scenario) startTraffic() (*traffic, error) {
	mn, cn := s.lab.MustNode("mn"), s.lab.MustNode("cn")
	tr := &traffic{meters: map[string]*meter{}, stopTx: make(chan struct{}), stopMeters: make(chan struct{})}
	if err := mn.Do(func() error {
		var err error
		if tr.rx, err = listen(net.JoinHostPort(homeAddress, strconv.Itoa(streamPort))); err != nil {
			return err
		}
		if tr.prx, err = listenProbe(net.JoinHostPort(homeAddress, strconv.Itoa(probePort))); err != nil {
			return err
		}
		for _, ifn := range []string{activeIf, backupIf} {
			if tr.meters[ifn], err = openMeter(ifn); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		tr.closeMeters()
		return nil, fmt.Errorf("mobile node application: %w", err)
	}
	for _, m := range tr.meters {
		go m.run(tr.stopMeters)
	}
	if err := cn.Do(func() error {
		var err error
		// The uplink probe: the same 1 kHz stream from the home address
		// to the correspondent, for the gap of the other direction.
		if tr.uprx, err = listenProbe(net.JoinHostPort(correspondent, strconv.Itoa(uplinkProbePort))); err != nil {
			return err
		}
		if tr.ptx, err = dialProbe(net.JoinHostPort(homeAddress, strconv.Itoa(probePort))); err != nil {
			return err
		}
		tr.tx, err = dial(net.JoinHostPort(homeAddress, strconv.Itoa(streamPort)), s.opt.Congestion)
		return err
	}); err != nil {
		tr.closeMeters()
		return nil, fmt.Errorf("%w: correspondent cannot connect to the home address: %v\n-- ha.log --\n%s\n-- mn.log --\n%s",
			errBroken, err, s.logTail("ha"), s.logTail("mn"))
	}
	if err := mn.Do(func() error {
		var err error
		// Bound to the home address, as the stream's own socket is.
		tr.uptx, err = dialProbeFrom(&net.UDPAddr{IP: net.ParseIP(homeAddress)}, net.JoinHostPort(correspondent, strconv.Itoa(uplinkProbePort)))
		return err
	}); err != nil {
		tr.closeMeters()
		return nil, fmt.Errorf("mobile node uplink probe: %w", err)
	}
	tr.t0 = time.Now()
	go tr.tx.run(tr.stopTx)
	go tr.ptx.run(tr.stopTx)
	go tr.uptx.run(tr.stopTx)
	return tr, nil
}

// closeMeters stops and closes the link meters (once).
func (tr *traffic) closeMeters() {
	if tr.stopMeters == nil {
		return
	}
	close(tr.stopMeters)
	tr.stopMeters = nil
	for _, m := range tr.meters {
		m.close()
	}
}

// trafficResult is what the receivers got once the senders stopped.
type trafficResult struct {
	probes, upProbes []arrival
	probesGot, upGot int
	reads            []arrival
	tcpTotal         int64
	tcp              TCPResult
}

// stop stops the senders, lets the last probes in flight arrive and the
// TCP receiver finish, and collects the arrivals. The meters keep running
// until closeMeters.
func (tr *traffic) stop() (*trafficResult, error) {
	close(tr.stopTx)
	<-tr.tx.done
	<-tr.ptx.done
	<-tr.uptx.done
	time.Sleep(100 * time.Millisecond) // the last probes in flight
	r := &trafficResult{}
	var err error
	if r.probes, r.probesGot, err = tr.prx.stop(); err != nil {
		tr.uprx.stop()
		return nil, err
	}
	if r.upProbes, r.upGot, err = tr.uprx.stop(); err != nil {
		return nil, err
	}
	select {
	case <-tr.rx.done:
	case <-time.After(15 * time.Second):
	}
	r.reads, r.tcpTotal = tr.rx.snapshot()
	r.tcp = TCPResult{Sent: tr.tx.total, Received: r.tcpTotal, Intact: tr.tx.err == nil && tr.rx.err == nil && tr.tx.total == r.tcpTotal}
	if tr.tx.err != nil {
		r.tcp.Error = tr.tx.err.Error()
	} else if tr.rx.err != nil {
		r.tcp.Error = tr.rx.err.Error()
	}
	return r, nil
}
