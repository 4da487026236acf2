package ha

import (
	"fmt"
	"net/netip"

	"monami/internal/binding"
	"monami/internal/config"
	"monami/wire"
)

// securityAssociation is one mobile node's RFC 4285 MN-HA association.
type securityAssociation struct {
	id   string
	spi  uint32
	auth *wire.Authenticator
	hoas []netip.Addr
}

type securityAssociations struct {
	insecure bool
	byNAI    map[string]*securityAssociation
	byHoA    map[netip.Addr]*securityAssociation
}

func newSecurityAssociations(cfg *config.HomeAgent) (*securityAssociations, error) {
	s := &securityAssociations{
		insecure: cfg.Security.Insecure,
		byNAI:    map[string]*securityAssociation{},
		byHoA:    map[netip.Addr]*securityAssociation{},
	}
	for _, m := range cfg.MobileNodes {
		sa := &securityAssociation{id: m.ID, spi: m.Security.SPI, hoas: m.HomeAddrs()}
		if !s.insecure {
			if len(m.Security.Secret()) == 0 {
				return nil, fmt.Errorf("mobile node %s: no key", m.ID)
			}
			sa.auth = wire.NewAuthenticator(m.Security.Secret())
		}
		s.byNAI[m.ID] = sa
		for _, a := range sa.hoas {
			s.byHoA[a] = sa
		}
	}
	return s, nil
}

// bindingUpdateSecurity is what the option walk found that matters for
// authentication.
type bindingUpdateSecurity struct {
	nai     []byte // MN Identifier (NAI subtype), nil if absent
	authOpt wire.RawOption
	hasAuth bool
	authErr error // the authentication option was not the last one, etc.
}

// authenticate applies RFC 4285: the MN Identifier names the association,
// the SPI must be its SPI, and the MN-HA authenticator must verify over
// care-of address | home address | MH data (section 5.1). It returns the
// verdict for the binding cache and the association to sign the answer with.
func (s *securityAssociations) authenticate(mh []byte, bs *bindingUpdateSecurity, coa, hoa netip.Addr) (binding.Auth, *securityAssociation, string) {
	if s.insecure {
		// Trusted as if protected by IPsec (RFC 6275 section 10.3.1); a
		// configured home address stays reserved to its mobile node.
		a := binding.Auth{Result: binding.AuthIPsec}
		if sa := s.byHoA[hoa]; sa != nil {
			a.Identity, a.AuthorizedHoAs = sa.id, sa.hoas
		}
		return a, nil, ""
	}
	if !bs.hasAuth {
		return binding.Auth{Result: binding.AuthNone}, nil, "no authentication option"
	}
	if bs.authErr != nil {
		return binding.Auth{Result: binding.AuthFailed}, nil, bs.authErr.Error()
	}
	// The association is named by the MN Identifier (RFC 4283) when there
	// is one, else by the home address; either way the SPI must be its own.
	var sa *securityAssociation
	if bs.nai != nil {
		if sa = s.byNAI[string(bs.nai)]; sa == nil {
			return binding.Auth{Result: binding.AuthUnknownIdentity, Identity: string(bs.nai)}, nil, "unknown mobile node identifier"
		}
	} else if sa = s.byHoA[hoa]; sa == nil {
		return binding.Auth{Result: binding.AuthUnknownIdentity}, nil, "no security association for this home address"
	}
	d := bs.authOpt.Data
	if len(d) < 5 || spiOf(d) != sa.spi {
		return binding.Auth{Result: binding.AuthFailed, Identity: sa.id}, nil, "SPI does not match the mobile node's association"
	}
	if err := sa.auth.Verify(mh, bs.authOpt, coa, hoa); err != nil {
		return binding.Auth{Result: binding.AuthFailed, Identity: sa.id}, nil, "authenticator does not verify"
	}
	return binding.Auth{Result: binding.AuthOK, Identity: sa.id, AuthorizedHoAs: sa.hoas}, sa, ""
}

// spiOf reads the Mobility SPI that follows the subtype octet (RFC 4285
// section 5).
func spiOf(d []byte) uint32 {
	return uint32(d[1])<<24 | uint32(d[2])<<16 | uint32(d[3])<<8 | uint32(d[4])
}
