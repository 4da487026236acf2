package capture

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"monami/wire"
)

// The printers walk the wire package's exported value structs with
// reflect, so every field of every message, option, sub-option and
// traffic selector is shown, including types added after this file was
// written. Conventions:
//   - an integer type with a String method (MH types, statuses, flags)
//     prints as its name followed by the number;
//   - netip.Addr prints as text and is left out when zero (absent);
//   - []byte prints as hex;
//   - a struct with a FieldPresent(name string) bool method (traffic
//     selectors) shows only the fields it says are present;
//   - values in slices of interfaces (options, sub-options) and interface
//     fields (selectors) get a heading naming their type.

// WriteText writes a human-readable description of one record. An error
// record is one line: "frame N: offset O: what: cause".
func WriteText(w io.Writer, r Record) error {
	var b strings.Builder
	if r.Err != nil {
		fmt.Fprintf(&b, "frame %d: error at %v\n", r.Frame, r.Err)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "frame %d  ", r.Frame)
	if !r.Time.IsZero() {
		fmt.Fprintf(&b, "%s  ", r.Time.UTC().Format(timeFormat))
	}
	b.WriteString(string(r.Transport))
	if r.Src.IsValid() {
		fmt.Fprintf(&b, "  %s > %s", r.Src, r.Dst)
	}
	if r.SrcPort != 0 || r.DstPort != 0 {
		fmt.Fprintf(&b, "  UDP %d > %d", r.SrcPort, r.DstPort)
	}
	b.WriteString("\n")
	for _, t := range r.Tunnel {
		fmt.Fprintf(&b, "  outer: %s\n", t)
	}
	if r.HomeAddress.IsValid() {
		fmt.Fprintf(&b, "  Home Address option: %s\n", r.HomeAddress)
	}
	if r.RoutingHomeAddress.IsValid() {
		fmt.Fprintf(&b, "  Type 2 Routing Header: %s\n", r.RoutingHomeAddress)
	}
	h := r.Header
	fmt.Fprintf(&b, "  Mobility Header at offset %d: %s (MH Type %d)\n", r.Offset, h.Type, uint8(h.Type))
	fmt.Fprintf(&b, "    Payload Proto: %d\n    Header Len: %d (%d octets)\n    Reserved: %d\n", h.PayloadProto, h.HeaderLen, h.Len(), h.Reserved)
	fmt.Fprintf(&b, "    Checksum: 0x%04x (%s", h.Checksum, r.Checksum)
	if r.ChecksumSrc.IsValid() {
		fmt.Fprintf(&b, ", pseudo-header %s > %s", r.ChecksumSrc, r.ChecksumDst)
	}
	b.WriteString(")\n")
	for _, p := range r.Problems {
		writeProblem(&b, r, p, 4)
	}
	switch {
	case r.Unknown:
		fmt.Fprintf(&b, "    Message Data (no decoder for this MH Type): %s\n", hex.EncodeToString(r.MH[wire.HeaderLen:]))
	case r.Message != nil:
		textMessage(&b, r, reflect.ValueOf(r.Message), 4)
	default:
		fmt.Fprintf(&b, "    Message Data (not decoded): %s\n", hexOrEmpty(r.Inspection.Fixed))
		if len(r.Inspection.Options) > 0 {
			textOptions(&b, r, 4)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// timeFormat is RFC 3339 with a fixed nanosecond fraction, so columns line up.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

var (
	addrType = reflect.TypeFor[netip.Addr]()
	timeType = reflect.TypeFor[time.Time]()
)

// textValue writes the fields of struct v, one per line, at indent.
func textValue(b *strings.Builder, v reflect.Value, indent int) {
	textFields(b, v, indent, "")
}

// textFields is textValue without the field named skip.
func textFields(b *strings.Builder, v reflect.Value, indent int, skip string) {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		fmt.Fprintf(b, "%s%s\n", pad(indent), scalar(v))
		return
	}
	present := presence(v)
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || !present(f.Name) || f.Name == skip {
			continue
		}
		fv := v.Field(i)
		switch {
		case fv.Type() == addrType:
			if a := fv.Interface().(netip.Addr); a.IsValid() {
				fmt.Fprintf(b, "%s%s: %s\n", pad(indent), f.Name, a)
			}
		case fv.Kind() == reflect.Interface:
			if fv.IsNil() {
				fmt.Fprintf(b, "%s%s: none\n", pad(indent), f.Name)
				continue
			}
			fmt.Fprintf(b, "%s%s: %s\n", pad(indent), f.Name, heading(fv.Elem()))
			textValue(b, fv.Elem(), indent+2)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Interface:
			if fv.Len() == 0 {
				fmt.Fprintf(b, "%s%s: none\n", pad(indent), f.Name)
				continue
			}
			fmt.Fprintf(b, "%s%s:\n", pad(indent), f.Name)
			for j := range fv.Len() {
				e := fv.Index(j)
				fmt.Fprintf(b, "%s- %s\n", pad(indent+2), heading(e.Elem()))
				textValue(b, e.Elem(), indent+4)
			}
		case expandable(fv):
			fmt.Fprintf(b, "%s%s:\n", pad(indent), f.Name)
			textValue(b, fv, indent+2)
		default:
			extra := ""
			if f.Name == "Lifetime" {
				if d, ok := lifetime(v); ok {
					extra = " (" + d + ")"
				}
			}
			fmt.Fprintf(b, "%s%s: %s%s\n", pad(indent), f.Name, scalar(fv), extra)
		}
	}
	if t, ok := asTime(v); ok {
		fmt.Fprintf(b, "%sTime: %s\n", pad(indent), t)
	}
}

// expandable tells structs to print field by field from values that print
// as one string (netip.Prefix, time.Time: no exported fields).
func expandable(v reflect.Value) bool {
	if v.Kind() != reflect.Struct {
		return false
	}
	for i := range v.NumField() {
		if v.Type().Field(i).IsExported() {
			return true
		}
	}
	return false
}

// asTime and lifetime give values computed by the wire types' own methods
// where they say more than the raw fields: NTP or RFC 5213 timestamps as
// times, lifetimes as durations.
func asTime(v reflect.Value) (string, bool) {
	if x, ok := v.Interface().(interface{ Time() time.Time }); ok {
		return x.Time().UTC().Format(timeFormat), true
	}
	return "", false
}

func lifetime(v reflect.Value) (string, bool) {
	if x, ok := v.Interface().(interface{ LifetimeDuration() time.Duration }); ok {
		return x.LifetimeDuration().String(), true
	}
	return "", false
}

// heading names the type of an option, sub-option, selector or message.
func heading(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case wire.Option:
		return fmt.Sprintf("%s (option type %d)", x.OptionType(), uint8(x.OptionType()))
	case wire.FlowSubOption:
		return fmt.Sprintf("%s (sub-option type %d)", x.FlowSubOptionType(), uint8(x.FlowSubOptionType()))
	case wire.TrafficSelector:
		return fmt.Sprintf("%s (TS Format %d)", x.TSFormat(), uint8(x.TSFormat()))
	case wire.Message:
		return fmt.Sprintf("%s (MH Type %d)", x.MHType(), uint8(x.MHType()))
	}
	return v.Type().Name()
}

func presence(v reflect.Value) func(string) bool {
	if p, ok := v.Interface().(interface{ FieldPresent(string) bool }); ok {
		return p.FieldPresent
	}
	return func(string) bool { return true }
}

func isStringer(v reflect.Value) bool {
	_, ok := v.Interface().(fmt.Stringer)
	return ok
}

func pad(n int) string { return strings.Repeat(" ", n) }

// scalar formats a field value that is not a struct to expand.
func scalar(v reflect.Value) string {
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
		if v.Len() == 0 {
			return "(empty)"
		}
		if printable(v.Bytes()) {
			return strconv.Quote(string(v.Bytes())) + " (" + hex.EncodeToString(v.Bytes()) + ")"
		}
		return hex.EncodeToString(v.Bytes())
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		name := s.String()
		if n, ok := number(v); ok {
			if name == "" {
				name = "none"
			}
			if name == n {
				return n
			}
			if isFlags(v) {
				return fmt.Sprintf("%s (0x%0*x)", name, int(v.Type().Size())*2, v.Uint())
			}
			return fmt.Sprintf("%s (%s)", name, n)
		}
		return name
	}
	if v.Kind() == reflect.Slice {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = scalar(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	if v.Kind() == reflect.Bool {
		return strconv.FormatBool(v.Bool())
	}
	return fmt.Sprint(v.Interface())
}

// printable reports whether b is plain ASCII text (an NAI, a name).
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func number(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true
	}
	return "", false
}

// isFlags tells flag sets (printed with a hex value) from enums.
func isFlags(v reflect.Value) bool {
	n := v.Type().Name()
	return strings.HasSuffix(n, "Flags")
}

// JSON form: one object per record. Metadata keys are lower snake case;
// protocol fields keep the wire package's Go names (the RFCs' words).
// Integer enums and flag sets become {"value": n, "name": "..."};
// addresses are strings, byte slices hex strings; absent addresses and
// absent traffic selector fields are left out. Options, sub-options and
// selectors carry "type" and "type_name" keys.

// obj is a JSON object that keeps its key order.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalRecordJSON encodes one record as a JSON object (no newline).
func MarshalRecordJSON(r Record) ([]byte, error) {
	o := obj{{"frame", r.Frame}}
	if !r.Time.IsZero() { // zero for --hex input and Simple Packet Blocks
		o = append(o, kv{"time", r.Time.UTC().Format(timeFormat)})
	}
	if r.Transport != TransportMHOnly {
		o = append(o, kv{"interface", r.Interface}, kv{"link_type", r.LinkType.String()})
	}
	if r.Err != nil {
		off, msg := r.Offset, r.Err.Error()
		var fe *FrameError
		if errors.As(r.Err, &fe) {
			off = fe.Offset
			msg = strings.TrimPrefix(msg, "offset "+strconv.Itoa(off)+": ")
		}
		o = append(o, kv{"offset", off}, kv{"error", msg})
		return json.Marshal(o)
	}
	o = append(o, kv{"transport", string(r.Transport)})
	if len(r.Tunnel) > 0 {
		o = append(o, kv{"outer", r.Tunnel})
	}
	if r.Src.IsValid() {
		o = append(o, kv{"src", r.Src.String()}, kv{"dst", r.Dst.String()})
	}
	if r.SrcPort != 0 || r.DstPort != 0 {
		o = append(o, kv{"src_port", r.SrcPort}, kv{"dst_port", r.DstPort})
	}
	if r.HomeAddress.IsValid() {
		o = append(o, kv{"home_address_option", r.HomeAddress.String()})
	}
	if r.RoutingHomeAddress.IsValid() {
		o = append(o, kv{"type2_routing_header", r.RoutingHomeAddress.String()})
	}
	h := r.Header
	mh := obj{
		{"offset", r.Offset},
		{"payload_proto", h.PayloadProto},
		{"header_len", h.HeaderLen},
		{"length", h.Len()},
		{"mh_type", uint8(h.Type)},
		{"mh_type_name", h.Type.String()},
		{"reserved", h.Reserved},
		{"checksum", fmt.Sprintf("0x%04x", h.Checksum)},
		{"checksum_status", string(r.Checksum)},
	}
	if r.ChecksumSrc.IsValid() {
		mh = append(mh, kv{"checksum_src", r.ChecksumSrc.String()}, kv{"checksum_dst", r.ChecksumDst.String()})
	}
	o = append(o, kv{"mobility_header", mh})
	switch {
	case r.Unknown:
		o = append(o, kv{"message_data", hex.EncodeToString(r.MH[wire.HeaderLen:])})
	case r.Message != nil:
		o = append(o, kv{"message", jsonMessage(r)})
	default:
		o = append(o, kv{"message_data", hex.EncodeToString(r.Inspection.Fixed)})
		if len(r.Inspection.Options) > 0 {
			o = append(o, kv{"options", jsonOptions(r)})
		}
	}
	if ps := jsonProblems(r); len(ps) > 0 {
		o = append(o, kv{"problems", ps})
	}
	return json.Marshal(o)
}

func jsonValue(v reflect.Value) any {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		e := v.Elem()
		o := typeKeys(e)
		if inner, ok := jsonValue(e).(obj); ok {
			return append(o, inner...)
		}
		return append(o, kv{"value", jsonValue(e)})
	}
	switch {
	case v.Type() == addrType:
		return v.Interface().(netip.Addr).String()
	case v.Type() == timeType:
		return v.Interface().(time.Time).UTC().Format(time.RFC3339Nano)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		return hex.EncodeToString(v.Bytes())
	case v.Kind() == reflect.Slice:
		a := make([]any, v.Len())
		for i := range a {
			a[i] = jsonValue(v.Index(i))
		}
		return a
	case expandable(v):
		present := presence(v)
		var o obj
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || !present(f.Name) {
				continue
			}
			fv := v.Field(i)
			if fv.Type() == addrType && !fv.Interface().(netip.Addr).IsValid() {
				continue
			}
			o = append(o, kv{f.Name, jsonValue(fv)})
		}
		if d, ok := lifetime(v); ok {
			o = append(o, kv{"LifetimeDuration", d})
		}
		if t, ok := asTime(v); ok {
			o = append(o, kv{"Time", t})
		}
		if o == nil {
			o = obj{}
		}
		return o
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	if s, ok := v.Interface().(fmt.Stringer); ok {
		if n, ok := number(v); ok {
			return obj{{"value", json.Number(n)}, {"name", s.String()}}
		}
		return s.String()
	}
	return v.Interface()
}

// typeKeys gives the "type"/"type_name" keys of an interface value.
func typeKeys(v reflect.Value) obj {
	switch x := v.Interface().(type) {
	case wire.Option:
		return obj{{"type", uint8(x.OptionType())}, {"type_name", x.OptionType().String()}}
	case wire.FlowSubOption:
		return obj{{"type", uint8(x.FlowSubOptionType())}, {"type_name", x.FlowSubOptionType().String()}}
	case wire.TrafficSelector:
		return obj{{"type", uint8(x.TSFormat())}, {"type_name", x.TSFormat().String()}}
	case wire.Message:
		return obj{{"type", uint8(x.MHType())}, {"type_name", x.MHType().String()}}
	}
	return obj{{"type_name", v.Type().Name()}}
}
