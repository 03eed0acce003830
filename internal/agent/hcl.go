package agent

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/token"

	"github.com/coffer-dev/coffer/internal/hclconf"
)

// ConfigError is one configuration problem, located in a file.
type ConfigError = hclconf.Error

// ConfigErrors is every problem found in a configuration, in file order.
type ConfigErrors = hclconf.Errors

// The decoder's shapes: see package hclconf.
type (
	entry = hclconf.Entry
	block = hclconf.Block
	pos   = hclconf.Pos
)

// decoder turns the syntax tree of one file into values and collects
// every problem, so that one run reports all of them.
type decoder struct {
	*hclconf.Decoder
}

// blocks expands an entry into blocks of at most max labels: HCL blocks
// (name "a" { }), objects (name = { a = { } }) and lists of objects. A
// block with fewer labels than max is returned with what it has, so the
// caller can accept "method { type = ... }" as well as method "approle".
func (d *decoder) blocks(e entry, max int, ctx string) []block {
	var out []block
	d.expand(e.Key, append([]string(nil), e.Rest...), e.Val, e.At, max, ctx, &out)
	return out
}

func (d *decoder) expand(name string, labels []string, val ast.Node, at pos, max int, ctx string, out *[]block) {
	if len(labels) > max {
		body := []entry{{Key: labels[max], Rest: labels[max+1:], Val: val, At: at}}
		*out = append(*out, block{Labels: labels[:max], At: at, Body: body})
		return
	}
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
}

// str reads a string; numbers and booleans are taken as written.
func (d *decoder) str(e entry, ctx string) (string, bool) {
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

// strList reads a list of strings; a single string is a list of one.
func (d *decoder) strList(e entry, ctx string) ([]string, bool) {
	if l, ok := e.Val.(*ast.ListType); ok && len(e.Rest) == 0 {
		out := make([]string, 0, len(l.List))
		for _, el := range l.List {
			lit, ok := el.(*ast.LiteralType)
			if !ok || (lit.Token.Type != token.STRING && lit.Token.Type != token.HEREDOC) {
				d.Add(e.At, ctx, "%s must be a list of strings", e.Key)
				return nil, false
			}
			s, _ := lit.Token.Value().(string)
			out = append(out, s)
		}
		return out, true
	}
	s, ok := d.str(e, ctx)
	if !ok {
		return nil, false
	}
	return []string{s}, true
}

// boolean reads true/false, or a string or number strconv.ParseBool takes.
func (d *decoder) boolean(e entry, ctx string) (bool, bool) {
	lit, ok := d.Literal(e, ctx)
	if !ok {
		return false, false
	}
	switch lit.Token.Type {
	case token.BOOL:
		b, _ := lit.Token.Value().(bool)
		return b, true
	case token.NUMBER, token.STRING:
		s := lit.Token.Text
		if lit.Token.Type == token.STRING {
			s, _ = lit.Token.Value().(string)
		}
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return b, true
		}
	}
	d.Add(e.At, ctx, "%s: %s is not a boolean", e.Key, lit.Token.Text)
	return false, false
}

// integer reads a whole number, bare or quoted.
func (d *decoder) integer(e entry, ctx string) (int, bool) {
	lit, ok := d.Literal(e, ctx)
	if !ok {
		return 0, false
	}
	s := lit.Token.Text
	if lit.Token.Type == token.STRING {
		s, _ = lit.Token.Value().(string)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || (lit.Token.Type != token.NUMBER && lit.Token.Type != token.STRING) {
		d.Add(e.At, ctx, "%s: %s is not an integer", e.Key, lit.Token.Text)
		return 0, false
	}
	return n, true
}

// float reads a number such as 0.9, bare or quoted.
func (d *decoder) float(e entry, ctx string) (float64, bool) {
	lit, ok := d.Literal(e, ctx)
	if !ok {
		return 0, false
	}
	s := lit.Token.Text
	if lit.Token.Type == token.STRING {
		s, _ = lit.Token.Value().(string)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) {
		d.Add(e.At, ctx, "%s: %s is not a number", e.Key, lit.Token.Text)
		return 0, false
	}
	return f, true
}

// duration reads seconds as a number, or a string such as "30s", "5m",
// "1h30m", "90" or "2d".
func (d *decoder) duration(e entry, ctx string) (time.Duration, bool) {
	lit, ok := d.Literal(e, ctx)
	if !ok {
		return 0, false
	}
	s := lit.Token.Text
	if lit.Token.Type == token.STRING {
		s, _ = lit.Token.Value().(string)
	}
	v, err := hclconf.ParseDuration(s)
	if err != nil || v < 0 {
		d.Add(e.At, ctx, "%s: %s is not a valid duration", e.Key, lit.Token.Text)
		return 0, false
	}
	return v, true
}

// fileMode reads a permission mode; digits are octal whether written as
// 0600, "0600" or 600, as chmod reads them.
func (d *decoder) fileMode(e entry, ctx string) (uint32, bool) {
	lit, ok := d.Literal(e, ctx)
	if !ok {
		return 0, false
	}
	s := lit.Token.Text
	if lit.Token.Type == token.STRING {
		s, _ = lit.Token.Value().(string)
	}
	m, err := strconv.ParseUint(strings.TrimSpace(s), 8, 32)
	if err != nil || m > 0o7777 {
		d.Add(e.At, ctx, "%s: %s is not an octal file mode such as 0600", e.Key, lit.Token.Text)
		return 0, false
	}
	return uint32(m), true
}
