package agent

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
)

// ConfigError is one configuration problem, located in a file.
type ConfigError struct {
	// File is the file name as given to LoadConfig or ParseConfig.
	File string
	// Line is the 1-based line, or 0 when the problem has no single line.
	Line int
	// Msg describes the problem, naming the block and key.
	Msg string
}

// Error formats the problem as "file:line: message".
func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// ConfigErrors is every problem found in a configuration, in file order.
type ConfigErrors []*ConfigError

// Error joins the problems one per line.
func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (es ConfigErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// pos is a place in a configuration file.
type pos struct {
	file string
	line int
}

func (p pos) String() string {
	if p.line > 0 {
		return fmt.Sprintf("%s:%d", p.file, p.line)
	}
	return p.file
}

// entry is one key of a block body, whatever the input syntax.
type entry struct {
	key  string
	rest []string // block labels, or keys the JSON parser flattened
	val  ast.Node
	at   pos
}

// block is a labelled block such as sink "file" { ... }.
type block struct {
	labels []string
	at     pos
	body   []entry
}

// decoder turns the syntax tree of one file into values and collects
// every problem, so that one run reports all of them.
type decoder struct {
	file string
	errs *ConfigErrors
}

func (d *decoder) add(p pos, ctx, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if ctx != "" {
		msg = ctx + ": " + msg
	}
	*d.errs = append(*d.errs, &ConfigError{File: p.file, Line: p.line, Msg: msg})
}

// parseError turns an HCL syntax error into a ConfigError with its line.
func parseError(file string, err error) *ConfigError {
	var pe *parser.PosError
	if errors.As(err, &pe) && pe.Pos.IsValid() {
		return &ConfigError{File: file, Line: pe.Pos.Line, Msg: "syntax error: " + pe.Err.Error()}
	}
	return &ConfigError{File: file, Msg: "syntax error: " + err.Error()}
}

func keyString(k *ast.ObjectKey) string {
	if s, ok := k.Token.Value().(string); ok {
		return s
	}
	return k.Token.Text
}

// entries lists the items of a body; parent locates items without a
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
		}
		rest := make([]string, 0, len(it.Keys)-1)
		for _, k := range it.Keys[1:] {
			rest = append(rest, keyString(k))
		}
		out = append(out, entry{key: keyString(it.Keys[0]), rest: rest, val: it.Val, at: at})
	}
	return out
}

// blocks expands an entry into blocks of at most max labels: HCL blocks
// (name "a" { }), objects (name = { a = { } }) and lists of objects. A
// block with fewer labels than max is returned with what it has, so the
// caller can accept "method { type = ... }" as well as method "approle".
func (d *decoder) blocks(e entry, max int, ctx string) []block {
	var out []block
	d.expand(e.key, append([]string(nil), e.rest...), e.val, e.at, max, ctx, &out)
	return out
}

func (d *decoder) expand(name string, labels []string, val ast.Node, at pos, max int, ctx string, out *[]block) {
	if len(labels) > max {
		body := []entry{{key: labels[max], rest: labels[max+1:], val: val, at: at}}
		*out = append(*out, block{labels: labels[:max], at: at, body: body})
		return
	}
	switch v := val.(type) {
	case *ast.ObjectType:
		*out = append(*out, block{labels: labels, at: at, body: d.entries(v.List, at)})
	case *ast.ListType:
		for _, el := range v.List {
			obj, ok := el.(*ast.ObjectType)
			if !ok {
				d.add(at, ctx, "%s must be a block", name)
				return
			}
			*out = append(*out, block{labels: labels, at: at, body: d.entries(obj.List, at)})
		}
	default:
		d.add(at, ctx, "%s must be a block, not a single value", name)
	}
}

// literal returns the single value of e, or records that it is not one.
func (d *decoder) literal(e entry, ctx string) (*ast.LiteralType, bool) {
	if len(e.rest) == 0 {
		if lit, ok := e.val.(*ast.LiteralType); ok {
			return lit, true
		}
	}
	d.add(e.at, ctx, "%s must be a single value, not a block or list", e.key)
	return nil, false
}

// str reads a string; numbers and booleans are taken as written.
func (d *decoder) str(e entry, ctx string) (string, bool) {
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

// strList reads a list of strings; a single string is a list of one.
func (d *decoder) strList(e entry, ctx string) ([]string, bool) {
	if l, ok := e.val.(*ast.ListType); ok && len(e.rest) == 0 {
		out := make([]string, 0, len(l.List))
		for _, el := range l.List {
			lit, ok := el.(*ast.LiteralType)
			if !ok || (lit.Token.Type != token.STRING && lit.Token.Type != token.HEREDOC) {
				d.add(e.at, ctx, "%s must be a list of strings", e.key)
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
	lit, ok := d.literal(e, ctx)
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
	d.add(e.at, ctx, "%s: %s is not a boolean", e.key, lit.Token.Text)
	return false, false
}

// integer reads a whole number, bare or quoted.
func (d *decoder) integer(e entry, ctx string) (int, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return 0, false
	}
	s := lit.Token.Text
	if lit.Token.Type == token.STRING {
		s, _ = lit.Token.Value().(string)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || (lit.Token.Type != token.NUMBER && lit.Token.Type != token.STRING) {
		d.add(e.at, ctx, "%s: %s is not an integer", e.key, lit.Token.Text)
		return 0, false
	}
	return n, true
}

// float reads a number such as 0.9, bare or quoted.
func (d *decoder) float(e entry, ctx string) (float64, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return 0, false
	}
	s := lit.Token.Text
	if lit.Token.Type == token.STRING {
		s, _ = lit.Token.Value().(string)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) {
		d.add(e.at, ctx, "%s: %s is not a number", e.key, lit.Token.Text)
		return 0, false
	}
	return f, true
}

// duration reads seconds as a number, or a string such as "30s", "5m",
// "1h30m", "90" or "2d".
func (d *decoder) duration(e entry, ctx string) (time.Duration, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return 0, false
	}
	s := lit.Token.Text
	if lit.Token.Type == token.STRING {
		s, _ = lit.Token.Value().(string)
	}
	v, err := parseDuration(s)
	if err != nil || v < 0 {
		d.add(e.at, ctx, "%s: %s is not a valid duration", e.key, lit.Token.Text)
		return 0, false
	}
	return v, true
}

// fileMode reads a permission mode; digits are octal whether written as
// 0600, "0600" or 600, as chmod reads them.
func (d *decoder) fileMode(e entry, ctx string) (uint32, bool) {
	lit, ok := d.literal(e, ctx)
	if !ok {
		return 0, false
	}
	s := lit.Token.Text
	if lit.Token.Type == token.STRING {
		s, _ = lit.Token.Value().(string)
	}
	m, err := strconv.ParseUint(strings.TrimSpace(s), 8, 32)
	if err != nil || m > 0o7777 {
		d.add(e.at, ctx, "%s: %s is not an octal file mode such as 0600", e.key, lit.Token.Text)
		return 0, false
	}
	return uint32(m), true
}

// parseDuration reads a bare integer as seconds, "<n>d" as days, and
// anything else as a Go duration.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/int64(time.Second) {
			return 0, errors.New("duration too large")
		}
		return time.Duration(n) * time.Second, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > math.MaxInt64/int64(24*time.Hour) {
			return 0, errors.New("not a duration")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
