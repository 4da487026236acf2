package ctlapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// value is a JSON value that keeps object keys in the order the daemon
// wrote them (struct field order), which map decoding would lose.
type value struct {
	obj  []member // object, when isObj
	arr  []value  // array, when isArr
	lit  any      // scalar: string, json.Number, bool, nil
	kind byte     // 'o', 'a', 's'
}

type member struct {
	key string
	val value
}

func parseOrdered(data []byte) (value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return value{}, fmt.Errorf("control API: bad data: %w", err)
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (value, error) {
	tok, err := dec.Token()
	if err != nil {
		return value{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := value{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return value{}, err
				}
				k, _ := kt.(string)
				mv, err := parseValue(dec)
				if err != nil {
					return value{}, err
				}
				v.obj = append(v.obj, member{k, mv})
			}
			_, err := dec.Token()
			return v, err
		case '[':
			v := value{kind: 'a'}
			for dec.More() {
				e, err := parseValue(dec)
				if err != nil {
					return value{}, err
				}
				v.arr = append(v.arr, e)
			}
			_, err := dec.Token()
			return v, err
		}
		return value{}, fmt.Errorf("unexpected %v", t)
	default:
		return value{kind: 's', lit: t}, nil
	}
}

// inline prints a value on one line: scalars as they are, arrays of scalars
// comma-separated, anything deeper as compact key=value groups.
func (v value) inline() string {
	switch v.kind {
	case 's':
		if v.lit == nil {
			return "-"
		}
		return fmt.Sprint(v.lit)
	case 'a':
		parts := make([]string, len(v.arr))
		for i, e := range v.arr {
			parts[i] = e.inline()
		}
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ",")
	default:
		parts := make([]string, len(v.obj))
		for i, m := range v.obj {
			parts[i] = m.key + "=" + m.val.inline()
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
}

func (v value) isTable() bool {
	if v.kind != 'a' {
		return false
	}
	for _, e := range v.arr {
		if e.kind != 'o' {
			return false
		}
	}
	return true
}

// Render writes data for people: an array of objects as a table, an object
// as "key: value" lines with nested tables under their key.
func Render(w io.Writer, data json.RawMessage) error {
	v, err := parseOrdered(data)
	if err != nil {
		return err
	}
	return render(w, v, "")
}

func render(w io.Writer, v value, indent string) error {
	switch {
	case v.isTable():
		return renderTable(w, v.arr, indent)
	case v.kind == 'o':
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		var nested []member
		for _, m := range v.obj {
			if m.val.isTable() && len(m.val.arr) > 0 || m.val.kind == 'o' && len(m.val.obj) > 3 {
				nested = append(nested, m)
				continue
			}
			fmt.Fprintf(tw, "%s%s:\t%s\n", indent, m.key, m.val.inline())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, m := range nested {
			fmt.Fprintf(w, "%s%s:\n", indent, m.key)
			if err := render(w, m.val, indent+"  "); err != nil {
				return err
			}
		}
		return nil
	default:
		_, err := fmt.Fprintf(w, "%s%s\n", indent, v.inline())
		return err
	}
}

func renderTable(w io.Writer, rows []value, indent string) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "%s(none)\n", indent)
		return err
	}
	var cols []string
	seen := map[string]bool{}
	for _, r := range rows {
		for _, m := range r.obj {
			if !seen[m.key] {
				seen[m.key] = true
				cols = append(cols, m.key)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s%s\n", indent, strings.ToUpper(strings.Join(cols, "\t")))
	for _, r := range rows {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = "-"
			for _, m := range r.obj {
				if m.key == c {
					cells[i] = m.val.inline()
					break
				}
			}
		}
		fmt.Fprintf(tw, "%s%s\n", indent, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
