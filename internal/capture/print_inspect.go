package capture

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"

	"monami/wire"
)

// Printing of the lenient walk (wire.Inspect): options and sub-options
// come from Record.Inspection, so one that did not decode is shown as raw
// octets in its place, and each problem is printed under the structure it
// concerns, as "[Severity, offset N: text]" with N counted from the start
// of the frame (as in error lines). Padding is shown only when it carries
// a problem.

// problemText formats p with its offset in the frame.
func problemText(r Record, p wire.Problem) string {
	return fmt.Sprintf("[%s, offset %d: %s]", p.Severity, r.Offset+p.Offset, p.Text)
}

func writeProblem(b *strings.Builder, r Record, p wire.Problem, indent int) {
	fmt.Fprintf(b, "%s%s\n", pad(indent), problemText(r, p))
}

func hexOrEmpty(d []byte) string {
	if len(d) == 0 {
		return "(empty)"
	}
	return hex.EncodeToString(d)
}

// textMessage writes the message's fields, with the inspected options in
// place of its Options field.
func textMessage(b *strings.Builder, r Record, v reflect.Value, indent int) {
	textFields(b, v, indent, "Options")
	if hasOptions(v) {
		textOptions(b, r, indent)
	}
}

// hasOptions reports whether message v has an Options field (all
// registered types but those whose data has no options).
func hasOptions(v reflect.Value) bool {
	if v.Kind() != reflect.Struct {
		return false
	}
	_, ok := v.Type().FieldByName("Options")
	return ok
}

func shownOptions(r Record) []wire.InspectedOption {
	var out []wire.InspectedOption
	for _, o := range r.Inspection.Options {
		if !o.Padding() || len(o.Problems) > 0 {
			out = append(out, o)
		}
	}
	return out
}

func textOptions(b *strings.Builder, r Record, indent int) {
	opts := shownOptions(r)
	if len(opts) == 0 {
		fmt.Fprintf(b, "%sOptions: none\n", pad(indent))
		return
	}
	fmt.Fprintf(b, "%sOptions:\n", pad(indent))
	for _, o := range opts {
		in := indent + 4
		if o.Option != nil {
			fmt.Fprintf(b, "%s- %s\n", pad(indent+2), heading(reflect.ValueOf(o.Option)))
		} else {
			fmt.Fprintf(b, "%s- %s (option type %d)\n", pad(indent+2), o.Type, uint8(o.Type))
		}
		textItem(b, r, item{o.Length, o.Data, o.Option, o.Reserved, o.Problems, o.SubOptions != nil, o.Padding()}, in)
		if o.SubOptions != nil {
			textSubOptions(b, r, o.SubOptions, in)
		}
	}
}

// item is what options and sub-options have in common for printing.
type item struct {
	length   int
	data     []byte
	value    any // the decoded option or sub-option, nil when not decoded
	reserved []wire.ReservedField
	problems []wire.Problem
	hasSubs  bool // the sub-options are printed from the inspection
	padding  bool // Pad1 or PadN, shown only with a problem
}

func textItem(b *strings.Builder, r Record, it item, indent int) {
	if it.length >= 0 {
		fmt.Fprintf(b, "%sLength: %d\n", pad(indent), it.length)
	}
	switch {
	case it.value != nil && it.hasSubs:
		textFields(b, reflect.ValueOf(it.value), indent, "SubOptions")
	case it.value != nil:
		textValue(b, reflect.ValueOf(it.value), indent)
	case it.padding && it.length > 0:
		fmt.Fprintf(b, "%sData: %s\n", pad(indent), hex.EncodeToString(it.data))
	case it.length != 0 && !it.padding:
		fmt.Fprintf(b, "%sData (not decoded): %s\n", pad(indent), hexOrEmpty(it.data))
	}
	for _, f := range it.reserved {
		fmt.Fprintf(b, "%s%s: %d\n", pad(indent), f.Name, f.Value)
	}
	for _, p := range it.problems {
		writeProblem(b, r, p, indent)
	}
}

func textSubOptions(b *strings.Builder, r Record, subs []wire.InspectedSubOption, indent int) {
	var shown []wire.InspectedSubOption
	for _, s := range subs {
		if !s.Padding() || len(s.Problems) > 0 {
			shown = append(shown, s)
		}
	}
	if len(shown) == 0 {
		fmt.Fprintf(b, "%sSubOptions: none\n", pad(indent))
		return
	}
	fmt.Fprintf(b, "%sSubOptions:\n", pad(indent))
	for _, s := range shown {
		if s.SubOption != nil {
			fmt.Fprintf(b, "%s- %s\n", pad(indent+2), heading(reflect.ValueOf(s.SubOption)))
		} else {
			fmt.Fprintf(b, "%s- %s (sub-option type %d)\n", pad(indent+2), s.Type, uint8(s.Type))
		}
		textItem(b, r, item{s.Length, s.Data, subValue(s), s.Reserved, s.Problems, false, s.Padding()}, indent+4)
	}
}

// subValue avoids a typed nil in the item's interface.
func subValue(s wire.InspectedSubOption) any {
	if s.SubOption == nil {
		return nil
	}
	return s.SubOption
}

// JSON: a message's "Options" come from the inspection too; an option or
// sub-option that did not decode has "data" (hex) instead of fields.
// Every object has "length"; reserved fields are keys named after them;
// problems are listed once, at the top level, under "problems".

func jsonProblems(r Record) []any {
	var out []any
	for _, p := range r.AllProblems() {
		out = append(out, obj{{"severity", p.Severity.String()}, {"offset", r.Offset + p.Offset}, {"text", p.Text}})
	}
	return out
}

func jsonMessage(r Record) obj {
	m := reflect.ValueOf(r.Message)
	msg := typeKeys(m)
	fields, _ := jsonValue(m).(obj)
	for _, f := range fields {
		if f.k != "Options" {
			msg = append(msg, f)
		}
	}
	if hasOptions(m) {
		msg = append(msg, kv{"Options", jsonOptions(r)})
	}
	return msg
}

func jsonOptions(r Record) []any {
	out := []any{}
	for _, o := range shownOptions(r) {
		var v any
		if o.Option != nil {
			v = o.Option
		}
		j := jsonItem(obj{{"type", uint8(o.Type)}, {"type_name", o.Type.String()}},
			item{o.Length, o.Data, v, o.Reserved, nil, o.SubOptions != nil, o.Padding()})
		if o.SubOptions != nil {
			subs := []any{}
			for _, s := range o.SubOptions {
				if s.Padding() && len(s.Problems) == 0 {
					continue
				}
				subs = append(subs, jsonItem(obj{{"type", uint8(s.Type)}, {"type_name", s.Type.String()}},
					item{s.Length, s.Data, subValue(s), s.Reserved, nil, false, s.Padding()}))
			}
			j = append(j, kv{"SubOptions", subs})
		}
		out = append(out, j)
	}
	return out
}

func jsonItem(o obj, it item) obj {
	if it.length >= 0 {
		o = append(o, kv{"length", it.length})
	}
	if it.value != nil {
		switch f := jsonValue(reflect.ValueOf(it.value)).(type) {
		case obj:
			for _, e := range f {
				if !(it.hasSubs && e.k == "SubOptions") {
					o = append(o, e)
				}
			}
		default:
			o = append(o, kv{"value", f})
		}
	} else if it.length != 0 {
		o = append(o, kv{"data", hex.EncodeToString(it.data)})
	}
	for _, f := range it.reserved {
		o = append(o, kv{f.Name, f.Value})
	}
	return o
}
