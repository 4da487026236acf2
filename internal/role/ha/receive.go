package ha

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"monami/internal/binding"
	"monami/internal/dataplane"
	"monami/internal/transport"
	"monami/wire"
)

// handle processes one received Mobility Header message.
func (h *HomeAgent) handle(ctx context.Context, r received) {
	sig := &r.sig
	if len(sig.MH) < wire.HeaderLen {
		h.cnt.inc(&h.cnt.malformed)
		return
	}
	if t := wire.MHType(sig.MH[2]); t != wire.MHBindingUpdate {
		// A home agent answers an unknown MH type with Binding Error status 2
		// (RFC 6275 section 9.2); known types it has no use for are ignored.
		h.cnt.inc(&h.cnt.notBindingUpdate)
		h.log.Debug("ignoring mobility message", "type", t, "from", sig.Src)
		return
	}
	h.cnt.inc(&h.cnt.bindingUpdates)
	req, bs, err := h.decodeBindingUpdate(sig)
	if err != nil {
		h.cnt.inc(&h.cnt.malformed)
		h.log.Warn("malformed binding update", "from", sig.Src, "via", sig.Via, "err", err)
		return
	}
	auth, sa, why := h.sec.authenticate(h.bu.Bytes(), bs, sig.Src, req.HoA)
	req.Auth = auth
	if auth.Result == binding.AuthFailed {
		h.cnt.inc(&h.cnt.authFailures)
		h.log.Warn("binding update failed authentication", "hoa", req.HoA, "coa", sig.Src, "reason", why)
	}

	d := &h.dec
	h.pendingEncap = encapFor(sig, h.bu.Flags)
	h.cache.ProcessBindingUpdateTo(r.at, req, d)
	if d.Discard {
		h.cnt.inc(&h.cnt.discarded)
		h.log.Warn("binding update discarded", "hoa", req.HoA, "coa", sig.Src, "seq", req.Sequence, "reason", d.Reason, "auth", why)
		return
	}
	h.apply(d.Changes)
	if d.Status >= 128 {
		h.log.Warn("binding update rejected", "hoa", req.HoA, "coa", sig.Src, "seq", req.Sequence,
			"status", d.Status, "reason", d.Reason)
	}
	if !d.SendAck {
		return
	}
	if err := h.sendAck(ctx, &r, req, d, sa, bs.nai); err != nil {
		h.cnt.inc(&h.cnt.sendErrors)
		h.log.Error("sending binding acknowledgement", "to", sig.Src, "hoa", req.HoA, "err", err)
		return
	}
	h.cnt.inc(&h.cnt.acksSent)
	h.cnt.status(d.Status)
}

// decodeBindingUpdate walks the message once, without allocating for the
// common case, into h.view (reused).
func (h *HomeAgent) decodeBindingUpdate(sig *transport.Signal) (*binding.BindingUpdateRequest, *bindingUpdateSecurity, error) {
	hoa := netip.Addr{}
	if sig.Ext == transport.ExtHAO {
		hoa = sig.HomeAddress
	}
	// The transport verified the checksum (its Recv contract).
	src, dst := sig.ChecksumAddrs()
	if err := (wire.Parser{ChecksumVerified: true}).DecodeBindingUpdate(&h.bu, sig.MH, src, dst); err != nil {
		return nil, nil, err
	}
	req := &h.view
	*req = binding.BindingUpdateRequest{BIDs: req.BIDs[:0]}
	req.Source, req.HoA = sig.Src, hoa
	req.Sequence, req.Lifetime = h.bu.Sequence, h.bu.Lifetime
	f := h.bu.Flags
	req.Ack, req.Home, req.LinkLocal = f.Has(wire.BUFlagA), f.Has(wire.BUFlagH), f.Has(wire.BUFlagL)
	req.KeyMgmt, req.MobileRouter = f.Has(wire.BUFlagK), f.Has(wire.BUFlagR)

	var bs bindingUpdateSecurity
	it := h.bu.Options()
	for it.Next() {
		o := it.Option()
		if bs.hasAuth {
			// RFC 4285 section 5: the authentication option must be last.
			bs.authErr = errors.New("authentication option is not the last option")
		}
		switch o.Type {
		case wire.OptBindingIdentifier:
			b, err := wire.DecodeBindingIdentifier(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("option at %d: %w", o.Offset, err)
			}
			req.BIDs = append(req.BIDs, binding.BIDOption{BID: b.BindingID, Priority: b.Priority,
				CoA: b.CareOfAddress, SimultaneousHomeForeign: b.SimultaneousHomeAndForeign})
		case wire.OptAlternateCareOfAddress:
			a, err := wire.DecodeAlternateCareOfAddress(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("option at %d: %w", o.Offset, err)
			}
			req.AlternateCoA = a.CareOfAddress
		case wire.OptMobileNodeIdentifier:
			m, err := wire.DecodeMobileNodeIdentifier(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("option at %d: %w", o.Offset, err)
			}
			if m.Subtype == wire.MNIDNAI {
				bs.nai = m.Identifier
			}
		case wire.OptMobilityMessageReplay:
			r, err := wire.DecodeMobilityMessageReplayProtection(o.Data)
			if err != nil {
				return nil, nil, fmt.Errorf("option at %d: %w", o.Offset, err)
			}
			req.Timestamp, req.HasTimestamp = r.Timestamp, true
		case wire.OptMobilityMessageAuthentication:
			bs.authOpt, bs.hasAuth = o, true
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, err
	}
	return req, &bs, nil
}

// encapFor chooses how the data of a binding travels. RFC 5555 section 4.1:
// UDP encapsulation when the mobile node forces it (F flag) or reaches the
// home agent over IPv4 (NAT), plain IPv6-in-IPv6 (RFC 2473) otherwise, also
// for signalling that merely came over UDP.
func encapFor(sig *transport.Signal, f wire.BUFlags) dataplane.Encapsulation {
	if sig.Via == transport.ViaUDP && (f.Has(wire.BUFlagF) || sig.Peer.Addr().Unmap().Is4()) {
		return dataplane.EncapUDP
	}
	return dataplane.EncapIPv6
}
