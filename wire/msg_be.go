package wire

import "net/netip"

// bindingErrorDataLen: Status, Reserved, Home Address (RFC 6275 section 6.1.9).
const bindingErrorDataLen = 18

func init() { registerMessage(MHBindingError, bindingErrorDataLen, parseBindingError) }

// BindingError is RFC 6275 section 6.1.9. HomeAddress is the home address
// from the offending packet's Home Address option, or the unspecified
// address (::) when it had none.
type BindingError struct {
	Status      BindingErrorStatus
	HomeAddress netip.Addr
	Options     []Option
}

func (BindingError) MHType() MHType              { return MHBindingError }
func (m BindingError) MobilityOptions() []Option { return m.Options }
func (m BindingError) AppendBody(b []byte) ([]byte, error) {
	b = append(b, byte(m.Status), 0)
	hoa := m.HomeAddress
	if !hoa.IsValid() {
		hoa = netip.IPv6Unspecified()
	}
	return appendAddr16(b, hoa, "Binding Error Home Address")
}

func parseBindingError(d []byte, opts []Option) (Message, error) {
	return BindingError{Status: BindingErrorStatus(d[0]), HomeAddress: addr16(d[2:]), Options: opts}, nil
}
