package campaigns

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// The loader decodes YAML by hand from goccy/go-yaml's syntax tree instead of
// with struct tags: that is what lets every error carry a line and a column
// (yaml.v3 reports some syntax errors with no line at all, and its KnownFields
// stops at the first unknown key), and lets one run list every error.

type nodeKind int

const (
	nullNode nodeKind = iota
	scalarNode
	mapNode
	seqNode
)

var leadingZeroRe = regexp.MustCompile(`^0[0-9]{1,17}$`)

// dupKeyRe matches goccy/go-yaml's duplicate-key message.
var dupKeyRe = regexp.MustCompile(`^mapping key "(.*)" already defined at \[(\d+):(\d+)\]$`)

// node is a YAML value with its position, reduced to what the loader needs.
type node struct {
	kind   nodeKind
	pos    Pos
	value  string // scalars: the text as written
	scalar any    // scalars: string, int64, float64 or bool
	pairs  []pair // mappings, in file order
	items  []*node
}

type pair struct {
	key *node
	val *node
}

func (n *node) describe() string {
	switch n.kind {
	case nullNode:
		return "nothing"
	case mapNode:
		return "a mapping"
	case seqNode:
		return "a list"
	}
	switch n.scalar.(type) {
	case int64, float64:
		return "the number " + n.value
	case bool:
		return "the boolean " + n.value
	}
	return fmt.Sprintf("the string %q", n.value)
}

// parseYAML parses one file holding one YAML document. A syntax error comes
// back as a positioned *Error.
func parseYAML(file string, src []byte) (*node, *Error) {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		var se *yaml.SyntaxError
		if errors.As(err, &se) && se.Token != nil {
			pos := Pos{file, se.Token.Position.Line, se.Token.Position.Column}
			if m := dupKeyRe.FindStringSubmatch(se.Message); m != nil {
				return nil, &Error{Pos: pos, Msg: fmt.Sprintf("duplicate key %q", m[1]), Hint: fmt.Sprintf("first defined at line %s, column %s", m[2], m[3])}
			}
			return nil, &Error{Pos: pos, Msg: "invalid YAML: " + se.Message}
		}
		return nil, &Error{Pos: Pos{File: file}, Msg: "invalid YAML: " + err.Error()}
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	switch len(docs) {
	case 0:
		return &node{kind: nullNode, pos: Pos{file, 1, 1}}, nil
	case 1:
	default:
		tk := docs[1].GetToken()
		return nil, &Error{Pos: posOf(file, tk.Position.Line, tk.Position.Column), Msg: "a file holds one document; this is a second one", Hint: "put each segment or campaign in its own file"}
	}
	return convert(file, docs[0].Body)
}

func posOf(file string, line, col int) Pos { return Pos{file, line, col} }

func convert(file string, n ast.Node) (*node, *Error) {
	tk := n.GetToken()
	pos := Pos{File: file}
	if tk != nil {
		pos.Line, pos.Column = tk.Position.Line, tk.Position.Column
	}
	switch v := n.(type) {
	case *ast.NullNode:
		return &node{kind: nullNode, pos: pos}, nil
	case *ast.StringNode:
		// goccy reads a plain 08 as a string (no octal 8); a marketer writing
		// `birth_month: 08` means eight.
		if tk.Type == token.StringType && leadingZeroRe.MatchString(v.Value) {
			i, _ := strconv.ParseInt(v.Value, 10, 64)
			return &node{kind: scalarNode, pos: pos, value: v.Value, scalar: i}, nil
		}
		return &node{kind: scalarNode, pos: pos, value: v.Value, scalar: v.Value}, nil
	case *ast.LiteralNode:
		return &node{kind: scalarNode, pos: pos, value: v.Value.Value, scalar: v.Value.Value}, nil
	case *ast.IntegerNode:
		// Base 10 unless the text says otherwise: birth_month: 08 is 8, not
		// an octal error.
		text, base := strings.ReplaceAll(tk.Value, "_", ""), 10
		if len(text) > 2 && text[0] == '0' && strings.ContainsRune("xXoObB", rune(text[1])) {
			base = 0
		}
		i, err := strconv.ParseInt(text, base, 64)
		if err != nil {
			return &node{kind: scalarNode, pos: pos, value: tk.Value, scalar: tk.Value}, nil
		}
		return &node{kind: scalarNode, pos: pos, value: tk.Value, scalar: i}, nil
	case *ast.FloatNode:
		return &node{kind: scalarNode, pos: pos, value: tk.Value, scalar: v.Value}, nil
	case *ast.BoolNode:
		return &node{kind: scalarNode, pos: pos, value: tk.Value, scalar: v.Value}, nil
	case *ast.InfinityNode, *ast.NanNode:
		return &node{kind: scalarNode, pos: pos, value: tk.Value, scalar: tk.Value}, nil
	case *ast.TagNode:
		return nil, &Error{Pos: pos, Msg: fmt.Sprintf("YAML tags such as %s are not supported here", tk.Value)}
	case *ast.AnchorNode:
		return convert(file, v.Value)
	case *ast.AliasNode:
		return nil, &Error{Pos: pos, Msg: "YAML aliases (*name) are not supported here", Hint: "write the value out, or reuse a segment with `segment: NAME`"}
	case *ast.MappingValueNode:
		return convertPairs(file, pos, []*ast.MappingValueNode{v})
	case *ast.MappingNode:
		return convertPairs(file, pos, v.Values)
	case *ast.SequenceNode:
		out := &node{kind: seqNode, pos: pos}
		for _, item := range v.Values {
			c, err := convert(file, item)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, c)
		}
		return out, nil
	}
	return nil, &Error{Pos: pos, Msg: fmt.Sprintf("unsupported YAML construct %q", tk.Value)}
}

// convertPairs builds a mapping node. Its position is its first key's, or
// for an empty mapping `{}`, the brace's.
func convertPairs(file string, pos Pos, values []*ast.MappingValueNode) (*node, *Error) {
	out := &node{kind: mapNode, pos: pos}
	for i, mv := range values {
		k, err := convert(file, mv.Key)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			out.pos = k.pos
		}
		if k.kind != scalarNode {
			return nil, &Error{Pos: k.pos, Msg: "a key must be a plain word, not " + k.describe()}
		}
		v, err := convert(file, mv.Value)
		if err != nil {
			return nil, err
		}
		if v.kind == nullNode && v.pos.Line == 0 {
			v.pos = k.pos
		}
		out.pairs = append(out.pairs, pair{key: k, val: v})
	}
	return out, nil
}

// decoder collects the errors of one file while its nodes are decoded.
type decoder struct {
	errs *Errors
}

func (d decoder) errorf(n *node, hint string, format string, args ...any) {
	*d.errs = append(*d.errs, &Error{Pos: n.pos, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// fields walks a mapping: each known key's handler gets the value node, an
// unknown key is an error with the nearest known key as a hint. `what` names
// the mapping in messages ("campaign", "schedule").
func (d decoder) fields(n *node, what string, handlers map[string]func(*node)) bool {
	if n.kind != mapNode {
		d.errorf(n, "", "%s: expected a mapping of keys, found %s", what, n.describe())
		return false
	}
	names := make([]string, 0, len(handlers))
	for k := range handlers {
		names = append(names, k)
	}
	for _, p := range n.pairs {
		h, ok := handlers[p.key.value]
		if !ok {
			hint := suggest(p.key.value, names)
			if hint == "" {
				hint = "valid keys: " + strings.Join(slices.Sorted(slices.Values(names)), ", ")
			}
			d.errorf(p.key, hint, "unknown key %q in %s", p.key.value, what)
			continue
		}
		h(p.val)
	}
	return true
}

// str decodes a string scalar. Numbers and booleans are refused, not
// converted: `name: 2027` is more likely a mistake than a name.
func (d decoder) str(n *node, what string) (string, bool) {
	if s, ok := n.scalar.(string); ok && n.kind == scalarNode {
		return s, true
	}
	d.errorf(n, "", "%s: expected a string, found %s", what, n.describe())
	return "", false
}

func (d decoder) integer(n *node, what string) (int64, bool) {
	if i, ok := n.scalar.(int64); ok && n.kind == scalarNode {
		return i, true
	}
	d.errorf(n, "", "%s: expected a whole number, found %s", what, n.describe())
	return 0, false
}

func (d decoder) number(n *node, what string) (float64, bool) {
	if n.kind == scalarNode {
		switch v := n.scalar.(type) {
		case int64:
			return float64(v), true
		case float64:
			return v, true
		}
	}
	d.errorf(n, "", "%s: expected a number, found %s", what, n.describe())
	return 0, false
}

func (d decoder) boolean(n *node, what string) (bool, bool) {
	if b, ok := n.scalar.(bool); ok && n.kind == scalarNode {
		return b, true
	}
	d.errorf(n, "", "%s: expected true or false, found %s", what, n.describe())
	return false, false
}

// list decodes a sequence; a single scalar is not silently promoted.
func (d decoder) list(n *node, what string) ([]*node, bool) {
	if n.kind != seqNode {
		d.errorf(n, "", "%s: expected a list, found %s", what, n.describe())
		return nil, false
	}
	return n.items, true
}

func (d decoder) strList(n *node, what string) ([]string, []*node, bool) {
	items, ok := d.list(n, what)
	if !ok {
		return nil, nil, false
	}
	out := make([]string, 0, len(items))
	nodes := make([]*node, 0, len(items))
	for i, it := range items {
		s, ok := d.str(it, fmt.Sprintf("%s[%d]", what, i))
		if ok {
			out = append(out, s)
			nodes = append(nodes, it)
		}
	}
	return out, nodes, len(out) == len(items)
}
