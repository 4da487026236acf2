package wire

import "encoding/binary"

// Return routability and refresh messages, RFC 6275 sections 6.1.2-6.1.6.

func init() {
	registerMessage(MHBindingRefreshRequest, 2, parseBindingRefreshRequest)
	registerMessage(MHHomeTestInit, 10, parseHomeTestInit)
	registerMessage(MHCareOfTestInit, 10, parseCareOfTestInit)
	registerMessage(MHHomeTest, 18, parseHomeTest)
	registerMessage(MHCareOfTest, 18, parseCareOfTest)
}

// BindingRefreshRequest is RFC 6275 section 6.1.2.
type BindingRefreshRequest struct {
	Options []Option
}

func (BindingRefreshRequest) MHType() MHType              { return MHBindingRefreshRequest }
func (m BindingRefreshRequest) MobilityOptions() []Option { return m.Options }
func (BindingRefreshRequest) AppendBody(b []byte) ([]byte, error) {
	return append(b, 0, 0), nil // Reserved
}

func parseBindingRefreshRequest(_ []byte, opts []Option) (Message, error) {
	return BindingRefreshRequest{Options: opts}, nil
}

// HomeTestInit is RFC 6275 section 6.1.3.
type HomeTestInit struct {
	HomeInitCookie uint64
	Options        []Option
}

func (HomeTestInit) MHType() MHType              { return MHHomeTestInit }
func (m HomeTestInit) MobilityOptions() []Option { return m.Options }
func (m HomeTestInit) AppendBody(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint64(append(b, 0, 0), m.HomeInitCookie), nil
}

func parseHomeTestInit(d []byte, opts []Option) (Message, error) {
	return HomeTestInit{HomeInitCookie: binary.BigEndian.Uint64(d[2:]), Options: opts}, nil
}

// CareOfTestInit is RFC 6275 section 6.1.4.
type CareOfTestInit struct {
	CareOfInitCookie uint64
	Options          []Option
}

func (CareOfTestInit) MHType() MHType              { return MHCareOfTestInit }
func (m CareOfTestInit) MobilityOptions() []Option { return m.Options }
func (m CareOfTestInit) AppendBody(b []byte) ([]byte, error) {
	return binary.BigEndian.AppendUint64(append(b, 0, 0), m.CareOfInitCookie), nil
}

func parseCareOfTestInit(d []byte, opts []Option) (Message, error) {
	return CareOfTestInit{CareOfInitCookie: binary.BigEndian.Uint64(d[2:]), Options: opts}, nil
}

// HomeTest is RFC 6275 section 6.1.5.
type HomeTest struct {
	HomeNonceIndex  uint16
	HomeInitCookie  uint64
	HomeKeygenToken uint64
	Options         []Option
}

func (HomeTest) MHType() MHType              { return MHHomeTest }
func (m HomeTest) MobilityOptions() []Option { return m.Options }
func (m HomeTest) AppendBody(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, m.HomeNonceIndex)
	b = binary.BigEndian.AppendUint64(b, m.HomeInitCookie)
	return binary.BigEndian.AppendUint64(b, m.HomeKeygenToken), nil
}

func parseHomeTest(d []byte, opts []Option) (Message, error) {
	return HomeTest{
		HomeNonceIndex:  binary.BigEndian.Uint16(d),
		HomeInitCookie:  binary.BigEndian.Uint64(d[2:]),
		HomeKeygenToken: binary.BigEndian.Uint64(d[10:]),
		Options:         opts,
	}, nil
}

// CareOfTest is RFC 6275 section 6.1.6.
type CareOfTest struct {
	CareOfNonceIndex  uint16
	CareOfInitCookie  uint64
	CareOfKeygenToken uint64
	Options           []Option
}

func (CareOfTest) MHType() MHType              { return MHCareOfTest }
func (m CareOfTest) MobilityOptions() []Option { return m.Options }
func (m CareOfTest) AppendBody(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, m.CareOfNonceIndex)
	b = binary.BigEndian.AppendUint64(b, m.CareOfInitCookie)
	return binary.BigEndian.AppendUint64(b, m.CareOfKeygenToken), nil
}

func parseCareOfTest(d []byte, opts []Option) (Message, error) {
	return CareOfTest{
		CareOfNonceIndex:  binary.BigEndian.Uint16(d),
		CareOfInitCookie:  binary.BigEndian.Uint64(d[2:]),
		CareOfKeygenToken: binary.BigEndian.Uint64(d[10:]),
		Options:           opts,
	}, nil
}
