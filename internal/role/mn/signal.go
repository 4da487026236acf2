package mn

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"monami/internal/binding"
	"monami/internal/transport"
	"monami/wire"
)

// bindingAckDataLen: Status, flags+Reserved, Sequence #, Lifetime (RFC 6275
// section 6.1.8): where the BA's options start after the MH header.
const bindingAckDataLen = 6

var errNoTransport = errors.New("no transport for the source address")

// homeFor finds the home registration of hoa at ha: its home agent, or
// the one it is switching to or left (switch.go).
func (m *MobileNode) homeFor(ha, hoa netip.Addr) *homeRegistration {
	for _, h := range m.homes {
		if h.hoa == hoa && ha.IsValid() && (h.ha == ha || h.next == ha || h.prev == ha) {
			return h
		}
	}
	return nil
}

// sendBindingUpdate encodes and sends one Binding Update (RFC 6275 section
// 6.1.7) from its care-of address, with the Home Address option (RFC 6275
// section 6.3), over the transport configured for that care-of address's
// interface.
func (m *MobileNode) sendBindingUpdate(ctx context.Context, bu *binding.OutgoingBindingUpdate) error {
	h := m.homeFor(bu.HA, bu.HoA)
	if h == nil {
		return fmt.Errorf("binding update for unknown home address %v", bu.HoA)
	}
	f := m.ifaceByCoA(bu.Source)
	atHome := bu.Source == bu.HoA && bu.HoA.IsValid()
	if atHome {
		f = m.homeInterface(h)
		// The home address on the home link before the update leaves (again,
		// after a refusal or an expiry took it off): the answer may come
		// over the home link once the home agent stopped defending it.
		m.homeLinkOn(f)
	}
	if f == nil {
		// A deregistration of a care-of address already gone, with no other
		// left: try from it anyway; the kernel routes or refuses.
		for _, g := range m.ifs {
			if g.cfg.BID == firstBID(bu) {
				f = g
			}
		}
	}
	if f == nil {
		return fmt.Errorf("%w %v", errNoTransport, bu.Source)
	}
	tp := m.tps[f.cfg.Transport]
	if tp == nil {
		return fmt.Errorf("%w %v (%s)", errNoTransport, bu.Source, f.cfg.Transport)
	}
	// RFC 5555 section 3.1.3: the F flag asks the home agent to tunnel in
	// UDP too, which is what the udp transport of an interface means.
	var err error
	if m.buf, err = m.encodeBindingUpdate(m.buf[:0], h, bu, f.via() == transport.ViaUDP); err != nil {
		return err
	}
	sig := transport.Signal{Via: f.via(), Src: bu.Source, Dst: bu.HA, Ext: transport.ExtHAO, HomeAddress: bu.HoA,
		IfIndex: f.index, MH: m.buf}
	if atHome {
		// From the home link, the home address as source: no Home Address
		// option (RFC 6275 section 11.5.4; RFC 5648 section 5.6.3).
		sig.Ext, sig.HomeAddress = transport.ExtNone, netip.Addr{}
	}
	if f.outer != nil {
		// From a nested care-of address (an outer home address): the
		// kernel's routing puts it into that home address's reverse tunnel.
		sig.IfIndex = 0
	}
	if sig.Via == transport.ViaUDP {
		sig.Peer = netip.AddrPortFrom(bu.HA, transport.UDPPort)
		sig.Local = netip.AddrPortFrom(bu.Source, 0)
	}
	if bu.Source.Is4() {
		signalIPv4(&sig, h, bu.Source)
	}
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	return tp.Send(sctx, sig)
}

// encodeBindingUpdate appends the Mobility Header of bu to b: BID options,
// then, with RFC 4285 security, the MN Identifier, the replay protection
// timestamp and the MN-HA authentication option last. The checksum is left
// to the transport.
func (m *MobileNode) encodeBindingUpdate(b []byte, h *homeRegistration, bu *binding.OutgoingBindingUpdate, forceUDP bool) ([]byte, error) {
	msg := wire.BindingUpdate{Sequence: bu.Sequence, Lifetime: bu.Lifetime}
	for _, f := range []struct {
		on   bool
		flag wire.BUFlags
	}{{bu.Ack, wire.BUFlagA}, {bu.Home, wire.BUFlagH}, {bu.LinkLocal, wire.BUFlagL}, {bu.KeyMgmt, wire.BUFlagK},
		{bu.MobileRouter, wire.BUFlagR}, {forceUDP, wire.BUFlagF}} {
		if f.on {
			msg.Flags |= f.flag
		}
	}
	for _, o := range bu.BIDs {
		// RFC 5648 section 6.1, BID-PRI of RFC 6089 section 6.1.
		msg.Options = append(msg.Options, wire.BindingIdentifier{BindingID: o.BID, Priority: o.Priority,
			CareOfAddress: o.CoA, SimultaneousHomeAndForeign: o.SimultaneousHomeForeign})
	}
	if bu.Lifetime > 0 {
		msg.Options = append(msg.Options, m.flowOptions()...)
	}
	if h.auth != nil {
		// RFC 4285 section 5: the MN Identifier (RFC 4283, NAI) names the
		// mobility security association.
		msg.Options = append(msg.Options, wire.NAI(m.cfg.ID))
	}
	coa := bu.Source
	if coa.Is4() {
		// RFC 5555 section 4.1: the IPv4 care-of address travels in its
		// option; the IPv6 source, which the authenticator covers as the
		// care-of address, is the home address.
		msg.Options = append(msg.Options, wire.IPv4CareOfAddress{Address: coa})
		coa = bu.HoA
	}
	if bu.HasTimestamp {
		msg.Options = append(msg.Options, wire.MobilityMessageReplayProtection{Timestamp: bu.Timestamp})
	}
	var err error
	if h.auth != nil {
		// The MN-HA authenticator covers care-of address | home address |
		// MH data (RFC 4285 section 5.1); the option goes last.
		b, err = h.auth.AppendMessage(b, msg, h.spi, coa, bu.HoA, netip.Addr{}, netip.Addr{})
	} else {
		b, err = wire.AppendMessage(b, msg, netip.Addr{}, netip.Addr{})
	}
	if err != nil {
		return b, fmt.Errorf("encode binding update: %w", err)
	}
	return b, nil
}

func firstBID(bu *binding.OutgoingBindingUpdate) uint16 {
	if len(bu.BIDs) > 0 {
		return bu.BIDs[0].BID
	}
	return 0
}

// errUnauthenticated: a BA that does not carry a valid MN-HA authenticator
// for the home address's security association (RFC 4285 section 5.1).
var errUnauthenticated = errors.New("binding acknowledgement not authenticated")

// decodeBindingAck turns a received Binding Acknowledgement (RFC 6275
// section 6.1.8) into the Binding Update List's view, after checking its
// authenticator.
func (m *MobileNode) decodeBindingAck(sig *transport.Signal) (*binding.BindingAck, *homeRegistration, error) {
	src, dst := sig.ChecksumAddrs()
	msg, err := wire.Parser{ChecksumVerified: true, LaxAlignment: true}.Parse(sig.MH, src, dst)
	if err != nil {
		return nil, nil, err
	}
	ba, ok := msg.(wire.BindingAcknowledgement)
	if !ok {
		return nil, nil, fmt.Errorf("MH type %v is not a binding acknowledgement", msg.MHType())
	}
	// The home address is in the type 2 routing header (RFC 6275 section
	// 6.4); a BA without one was sent to the home address itself.
	hoa := sig.Dst
	if sig.Ext == transport.ExtRH2 {
		hoa = sig.HomeAddress
	}
	h := m.homeFor(sig.Src, hoa)
	if h == nil {
		return nil, nil, fmt.Errorf("binding acknowledgement from %v for %v: no such home registration", sig.Src, hoa)
	}
	out := &binding.BindingAck{HA: sig.Src, HoA: hoa, Status: ba.Status, Sequence: ba.Sequence, Lifetime: ba.Lifetime,
		KeyMgmt: ba.Flags.Has(wire.BAFlagK)}
	var fids []wire.FlowIdentification
	var nat *wire.NATDetection
	for _, o := range ba.Options {
		switch o := o.(type) {
		case wire.BindingIdentifier:
			out.BIDs = append(out.BIDs, binding.BIDStatus{BID: o.BindingID, Status: o.Status, CoA: o.CareOfAddress,
				SimultaneousHomeForeign: o.SimultaneousHomeAndForeign})
		case wire.BindingRefreshAdvice:
			out.RefreshInterval = o.RefreshInterval
		case wire.MobilityMessageReplayProtection:
			out.Timestamp, out.HasTimestamp = o.Timestamp, true
		case wire.FlowIdentification:
			fids = append(fids, o)
		case wire.NATDetection:
			nat = &o
		}
	}
	if h.auth != nil {
		if err := m.verifyAck(h, sig); err != nil {
			return out, h, err
		}
	}
	m.noteFlowStatuses(h, fids)
	if sig.Local.Addr().Is4() && out.Status < 128 {
		// An acknowledgement to an IPv4 care-of address without the
		// option: no NAT on that path (RFC 5555 section 4.2.2).
		var o wire.NATDetection
		if nat != nil {
			o = *nat
		} else {
			o.RefreshTime = 0xffffffff
		}
		m.noteNATDetection(sig.Local.Addr(), o)
	}
	return out, h, nil
}

// verifyAck checks the MN-HA authentication option, which must be the last
// option (RFC 4285 section 5), against the care-of address the BA was sent
// to and the home address.
func (m *MobileNode) verifyAck(h *homeRegistration, sig *transport.Signal) error {
	mh := sig.MH
	if len(mh) < 2 {
		return errUnauthenticated
	}
	hlen := (int(mh[1]) + 1) * 8
	off := wire.HeaderLen + bindingAckDataLen
	if hlen > len(mh) || off > hlen {
		return errUnauthenticated
	}
	last, ok := wire.LastOption(wire.NewOptionIterator(mh[off:hlen], off))
	if !ok || last.Type != wire.OptMobilityMessageAuthentication {
		return fmt.Errorf("%w: no authentication option", errUnauthenticated)
	}
	a, err := wire.DecodeMobilityMessageAuthentication(last.Data)
	if err != nil || a.SPI != h.spi {
		return fmt.Errorf("%w: SPI is not %d", errUnauthenticated, h.spi)
	}
	if err := h.auth.Verify(mh[:hlen], last, sig.Dst, h.hoa); err != nil {
		return fmt.Errorf("%w: %w", errUnauthenticated, err)
	}
	return nil
}
