package demo

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"monami/internal/testenv"
)

// ingressTopology is the demo network with source-address filtering (BCP
// 38) on the access router's ends of both access links.
func ingressTopology() []byte {
	t := string(topologyYAML)
	for _, ifn := range []string{"wlan0", "lte0"} {
		old := "b: {node: ar, if: " + ifn + ","
		t = strings.Replace(t, old, "b: {node: ar, ingress_filter: true, if: "+ifn+",", 1)
	}
	return []byte(t)
}

// Draft-ietf-monami6-mipv6-analysis section 6.1.5: the mobile node sends
// nothing an access network's ingress filter would drop, signalling or
// data, through failovers and fail-backs of both links while a TCP echo
// stream runs both ways.
func TestNoIngressFilterDrops(t *testing.T) {
	testenv.RequireRoot(t)
	s, closeLab := openScenarioOn(t, "bcp", Options{}, ingressTopology())
	t.Cleanup(closeLab)
	if err := s.writeConfigs(); err != nil {
		t.Fatal(err)
	}
	s.start(t, "ha", "mn")
	ctx := context.Background()
	if err := s.waitBindings(ctx, 2, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	if err := s.lab.MustNode("mn").Do(func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(homeAddress, "5004"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	var conn net.Conn
	if err := s.lab.MustNode("cn").Do(func() (err error) {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(homeAddress, "5004"), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	echoed := make(chan error, 1)
	stop := make(chan struct{})
	go func() { echoed <- echo(conn, stop) }()

	// Two failovers (wlan, then lte) and the fail-backs after each.
	for _, ifn := range []string{activeIf, backupIf, activeIf} {
		time.Sleep(1500 * time.Millisecond)
		if err := s.lab.SetLink("mn", ifn, false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if err := s.lab.SetLink("mn", ifn, true); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	if err := <-echoed; err != nil {
		t.Fatalf("TCP echo through the failovers: %v", err)
	}
	for _, ifn := range []string{activeIf, backupIf} {
		n, err := s.lab.IngressFilterDrops("ar", ifn)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ingress filter ar:%s dropped %d packets", ifn, n)
		if n != 0 {
			t.Errorf("the access router's source filter on %s dropped %d packets from the mobile node\n-- mn.log --\n%s", ifn, n, s.logTail("mn"))
		}
	}
	// The filter does count: lte0's care-of address sent out of wlan0.
	if err := s.lab.MustNode("mn").Do(func() error {
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("2001:db8:b::10")}, Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.BindToDevice(int(fd), activeIf) })
			return errors.Join(err, serr)
		}}
		c, err := d.Dial("udp", "[2001:db8:c::10]:9")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("spoofed"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n, err := s.lab.IngressFilterDrops("ar", activeIf); err != nil || n != 1 {
		t.Fatalf("a packet from the wrong prefix: the filter counted %d drops (%v), want 1", n, err)
	}
}

// echo writes a line every 20 ms and reads it back until stop.
func echo(c net.Conn, stop chan struct{}) error {
	line := []byte("0123456789abcdef\n")
	buf := make([]byte, len(line))
	for {
		select {
		case <-stop:
			return nil
		case <-time.After(20 * time.Millisecond):
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(line); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
	}
}
