package config

import (
	"math"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"
)

// entry is one key of a block body. HCL blocks, HCL object assignments and
// the flattened trees the JSON parser produces all become entries, so the
// decoders below see one shape whatever the input syntax.
type entry struct {
	key string
	// rest holds further keys after key: block labels, or nesting that
	// the JSON parser flattened into the key list.
	rest []string
	val  ast.Node
	at   pos
}

// block is a labelled block such as listener "tcp" { ... }.
type block struct {
	labels []string
	at     pos
	body   []entry
}

// decoder turns the syntax tree of one file into configuration values and
// records what is wrong with it.
type decoder struct {
	file string
	ps   *problems
}

func keyString(k *ast.ObjectKey) string {
	if s, ok := k.Token.Value().(string); ok {
		return s
	}
	return k.Token.Text
}

// entries lists the items of a body; parent locates items that carry no
// position of their own (JSON keys).
func (d *decoder) entries(list *ast.ObjectList, parent pos) []entry {
	if list == nil {
		return nil
	}
	out := make([]entry, 0, len(list.Items))
	for _, it := range list.Items {
		if len(it.Keys) == 0 {
			continue
		}
		at := parent
		if it.Keys[0].Token.Pos.IsValid() {
			at = pos{file: d.file, line: it.Keys[0].Token.Pos.Line}
		} else if it.Assign.IsValid() {
			at = pos{file: d.file, line: it.Assign.Line}
		}
		rest := make([]string, 0, len(it.Keys)-1)
		for _, k := range it.Keys[1:] {
			rest = append(rest, keyString(k))
		}
		out = append(out, entry{key: keyString(it.Keys[0]), rest: rest, val: it.Val, at: at})
	}
	return out
}

// blocks expands an entry into blocks of exactly n labels. It accepts
//
//	name "a" { ... }          HCL blocks
//	name = { a = { ... } }    HCL objects and JSON objects
//	name = [{ a = { ... } }]  JSON lists, one block per element
//
// and reports a missing label or a plain value where a block belongs.
func (d *decoder) blocks(e entry, n int, ctx string) []block {
	var out []block
	d.expand(e.key, append([]string(nil), e.rest...), e.val, e.at, n, ctx, &out)
	return out
}

func (d *decoder) expand(name string, labels []string, val ast.Node, at pos, n int, ctx string, out *[]block) {
	if len(labels) > n {
		// The JSON parser folded the first key of the body into the key
		// list; unfold it into a body of one entry.
		body := []entry{{key: labels[n], rest: labels[n+1:], val: val, at: at}}
		*out = append(*out, block{labels: labels[:n], at: at, body: body})
		return
	}
	if len(labels) == n {
		switch v := val.(type) {
		case *ast.ObjectType:
			*out = append(*out, block{labels: labels, at: at, body: d.entries(v.List, at)})
		case *ast.ListType:
			for _, el := range v.List {
				obj, ok := el.(*ast.ObjectType)
				if !ok {
					d.ps.add(at, ctx, "%s must be a block", name)
					return
				}
				*out = append(*out, block{labels: labels, at: at, body: d.entries(obj.List, at)})
			}
		default:
			d.ps.add(at, ctx, "%s must be a block, not a single value", name)
		}
		return
	}
	missing := func() {
		d.ps.add(at, ctx, "%s needs a type label, as in %s \"<type>\" { ... }", name, name)
	}
	switch v := val.(type) {
	case *ast.ObjectType:
		subs := d.entries(v.List, at)
		if len(subs) == 0 {
			missing()
			return
		}
		for _, sub := range subs {
			if _, lit := sub.val.(*ast.LiteralType); lit && len(sub.rest) == 0 {
				missing()
				return
			}
			next := append(append(append([]string(nil), labels...), sub.key), sub.rest...)
			d.expand(name, next, sub.val, sub.at, n, ctx, out)
		}
	case *ast.ListType:
		for _, el := range v.List {
			d.expand(name, labels, el, at, n, ctx, out)
		}
	default:
		missing()
	}
}

// literal returns the single value of e, or records that it is a block or
// a list.
func (d *decoder) literal(e entry, ctx string) (*ast.LiteralType, bool) {
	if len(e.rest) == 0 {
		if lit, ok := e.val.(*ast.LiteralType); ok {
			return lit, true
		}
	}
	d.ps.add(e.at, ctx, "%s must be a single value, not a block or list", e.key)
	return nil, false
}

// str reads a string; numbers are taken as written.
func (d *decoder) str(e entry, ctx string) (string, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return "", false
	}
	switch lit.Token.Type {
	case token.STRING, token.HEREDOC:
		s, _ := lit.Token.Value().(string)
		return s, true
	case token.NUMBER, token.FLOAT:
		return lit.Token.Text, true
	}
	d.ps.add(e.at, ctx, "%s must be a string, not %s", e.key, lit.Token.Text)
	return "", false
}

// anyString reads any single value as a string, the way seal and audit
// options are kept.
func (d *decoder) anyString(e entry, ctx string) (string, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return "", false
	}
	if lit.Token.Type == token.STRING || lit.Token.Type == token.HEREDOC {
		s, _ := lit.Token.Value().(string)
		return s, true
	}
	return lit.Token.Text, true
}

// boolean reads true/false, the strings "true", "1", "false", "0" (and the
// other forms strconv.ParseBool knows), or a number (non-zero is true).
func (d *decoder) boolean(e entry, ctx string) (bool, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return false, false
	}
	switch lit.Token.Type {
	case token.BOOL:
		b, _ := lit.Token.Value().(bool)
		return b, true
	case token.NUMBER:
		n, _ := lit.Token.Value().(int64)
		return n != 0, true
	case token.STRING:
		s, _ := lit.Token.Value().(string)
		if b, err := parseBool(s); err == nil {
			return b, true
		}
	}
	d.ps.add(e.at, ctx, "%s: %s is not a boolean", e.key, lit.Token.Text)
	return false, false
}

// integer reads a whole number, written bare or as a string.
func (d *decoder) integer(e entry, ctx string) (int64, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return 0, false
	}
	switch lit.Token.Type {
	case token.NUMBER:
		if n, ok := lit.Token.Value().(int64); ok {
			return n, true
		}
	case token.STRING:
		s, _ := lit.Token.Value().(string)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
	}
	d.ps.add(e.at, ctx, "%s: %s is not an integer", e.key, lit.Token.Text)
	return 0, false
}

// duration reads a duration: a number of seconds, or a string such as
// "90", "30s", "10m", "768h", "1h30m" or "7d".
func (d *decoder) duration(e entry, ctx string) (time.Duration, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return 0, false
	}
	switch lit.Token.Type {
	case token.NUMBER:
		if n, ok := lit.Token.Value().(int64); ok && n <= math.MaxInt64/int64(time.Second) && n >= math.MinInt64/int64(time.Second) {
			return time.Duration(n) * time.Second, true
		}
	case token.FLOAT:
		if f, ok := lit.Token.Value().(float64); ok && math.Abs(f) < float64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(f * float64(time.Second)), true
		}
	case token.STRING:
		s, _ := lit.Token.Value().(string)
		if v, err := parseDuration(s); err == nil {
			return v, true
		}
	}
	d.ps.add(e.at, ctx, "%s: %s is not a valid duration", e.key, lit.Token.Text)
	return 0, false
}
