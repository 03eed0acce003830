package config

import (
	"math"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"

	"github.com/coffer-dev/coffer/internal/hclconf"
)

// The decoder's shapes: see package hclconf.
type (
	entry = hclconf.Entry
	block = hclconf.Block
	pos   = hclconf.Pos
)

// decoder turns the syntax tree of one file into configuration values and
// records what is wrong with it.
type decoder struct {
	*hclconf.Decoder
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
	d.expand(e.Key, append([]string(nil), e.Rest...), e.Val, e.At, n, ctx, &out)
	return out
}

func (d *decoder) expand(name string, labels []string, val ast.Node, at pos, n int, ctx string, out *[]block) {
	if len(labels) > n {
		// The JSON parser folded the first key of the body into the key
		// list; unfold it into a body of one entry.
		body := []entry{{Key: labels[n], Rest: labels[n+1:], Val: val, At: at}}
		*out = append(*out, block{Labels: labels[:n], At: at, Body: body})
		return
	}
	if len(labels) == n {
		switch v := val.(type) {
		case *ast.ObjectType:
			*out = append(*out, block{Labels: labels, At: at, Body: d.Entries(v.List, at)})
		case *ast.ListType:
			for _, el := range v.List {
				obj, ok := el.(*ast.ObjectType)
				if !ok {
					d.Add(at, ctx, "%s must be a block", name)
					return
				}
				*out = append(*out, block{Labels: labels, At: at, Body: d.Entries(obj.List, at)})
			}
		default:
			d.Add(at, ctx, "%s must be a block, not a single value", name)
		}
		return
	}
	missing := func() {
		d.Add(at, ctx, "%s needs a type label, as in %s \"<type>\" { ... }", name, name)
	}
	switch v := val.(type) {
	case *ast.ObjectType:
		subs := d.Entries(v.List, at)
		if len(subs) == 0 {
			missing()
			return
		}
		for _, sub := range subs {
			if _, lit := sub.Val.(*ast.LiteralType); lit && len(sub.Rest) == 0 {
				missing()
				return
			}
			next := append(append(append([]string(nil), labels...), sub.Key), sub.Rest...)
			d.expand(name, next, sub.Val, sub.At, n, ctx, out)
		}
	case *ast.ListType:
		for _, el := range v.List {
			d.expand(name, labels, el, at, n, ctx, out)
		}
	default:
		missing()
	}
}

// str reads a string; numbers are taken as written.
func (d *decoder) str(e entry, ctx string) (string, bool) {
	lit, ok := d.Literal(e, ctx)
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
	d.Add(e.At, ctx, "%s must be a string, not %s", e.Key, lit.Token.Text)
	return "", false
}

// anyString reads any single value as a string, the way seal and audit
// options are kept.
func (d *decoder) anyString(e entry, ctx string) (string, bool) {
	lit, ok := d.Literal(e, ctx)
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
	lit, ok := d.Literal(e, ctx)
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
	d.Add(e.At, ctx, "%s: %s is not a boolean", e.Key, lit.Token.Text)
	return false, false
}

// integer reads a whole number, written bare or as a string.
func (d *decoder) integer(e entry, ctx string) (int64, bool) {
	lit, ok := d.Literal(e, ctx)
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
	d.Add(e.At, ctx, "%s: %s is not an integer", e.Key, lit.Token.Text)
	return 0, false
}

// duration reads a duration: a number of seconds, or a string such as
// "90", "30s", "10m", "768h", "1h30m" or "7d".
func (d *decoder) duration(e entry, ctx string) (time.Duration, bool) {
	lit, ok := d.Literal(e, ctx)
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
		if v, err := hclconf.ParseDuration(s); err == nil {
			return v, true
		}
	}
	d.Add(e.At, ctx, "%s: %s is not a valid duration", e.Key, lit.Token.Text)
	return 0, false
}
