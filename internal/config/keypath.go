package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// scalarAt is one scalar value of the document with its key path.
type scalarAt struct {
	line  int
	path  string
	value string
}

// scalars lists every scalar value of the document with its key path
// (mobile_nodes[0].spi), so a decoding error that only gives a line can
// name the key.
func scalars(n *yaml.Node, path string, out *[]scalarAt) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			scalars(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if path != "" {
				k = path + "." + k
			}
			scalars(n.Content[i+1], k, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			scalars(c, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case yaml.ScalarNode:
		*out = append(*out, scalarAt{n.Line, path, n.Value})
	}
}

var (
	lineMsg   = regexp.MustCompile(`^line (\d+): (.*)$`)
	typeMsg   = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\w+)$")
	intRanges = map[string][2]float64{
		"uint8": {0, math.MaxUint8}, "uint16": {0, math.MaxUint16}, "uint32": {0, math.MaxUint32},
		"uint64": {0, math.MaxUint64}, "uint": {0, math.MaxUint64},
		"int8": {math.MinInt8, math.MaxInt8}, "int16": {math.MinInt16, math.MaxInt16},
		"int32": {math.MinInt32, math.MaxInt32}, "int64": {math.MinInt64, math.MaxInt64}, "int": {math.MinInt64, math.MaxInt64},
	}
)

// nameKeys rewrites the "line N: ..." messages of a yaml decoding error
// into "line N: key.path: ..." with a plain-words reason.
func nameKeys(data []byte, err error) []string {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var doc yaml.Node
	var all []scalarAt
	if yaml.Unmarshal(data, &doc) == nil {
		scalars(&doc, "", &all)
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		g := lineMsg.FindStringSubmatch(m)
		if g == nil {
			out = append(out, m)
			continue
		}
		line, _ := strconv.Atoi(g[1])
		if s, ok := keyAt(all, line, g[2]); ok {
			out = append(out, fmt.Sprintf("line %d: %s: %s", line, s.path, plainReason(g[2], s.value)))
		} else {
			out = append(out, fmt.Sprintf("line %d: %s", line, plainReason(g[2], "")))
		}
	}
	return out
}

// keyAt picks the key of the scalar on line whose value the message
// quotes (a flow mapping puts several on one line); yaml shortens long
// values to their first 7 characters and "...".
func keyAt(all []scalarAt, line int, msg string) (scalarAt, bool) {
	var onLine []scalarAt
	for _, s := range all {
		if s.line == line {
			onLine = append(onLine, s)
		}
	}
	if len(onLine) == 1 {
		return onLine[0], true
	}
	for _, s := range onLine {
		v := s.value
		if len(v) > 10 {
			v = v[:7]
		}
		if v != "" && (strings.Contains(msg, "`"+v) || strings.Contains(msg, strconv.Quote(s.value))) {
			return s, true
		}
	}
	return scalarAt{}, false
}

// plainReason turns yaml's "cannot unmarshal !!int `-1` into uint32" into
// what the user did wrong; full is the value unshortened, when known.
func plainReason(msg, full string) string {
	g := typeMsg.FindStringSubmatch(msg)
	if g == nil {
		return msg
	}
	tag, val, goType := g[1], g[2], g[3]
	if full != "" {
		val = full
	}
	r, isInt := intRanges[goType]
	switch {
	case isInt && tag == "int" && strings.HasPrefix(val, "-") && r[0] == 0:
		return fmt.Sprintf("%s is negative; use 0..%.0f", val, r[1])
	case isInt && tag == "int":
		return fmt.Sprintf("%s is out of range %.0f..%.0f", val, r[0], r[1])
	case isInt:
		return fmt.Sprintf("%s is not an integer", val)
	case goType == "bool":
		return fmt.Sprintf("%s is not true or false", val)
	case strings.HasPrefix(goType, "float"):
		return fmt.Sprintf("%s is not a number", val)
	}
	return fmt.Sprintf("%s has the wrong type (want %s)", val, goType)
}
