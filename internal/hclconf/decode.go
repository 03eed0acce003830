package hclconf

import (
	"fmt"

	"github.com/hashicorp/hcl/hcl/ast"
)

// Pos is a place in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return p.File
}

// Entry is one key of a block body. HCL blocks, HCL object assignments and
// the flattened trees the JSON parser produces all become entries, so a
// decoder sees one shape whatever the input syntax.
type Entry struct {
	Key string
	// Rest holds further keys after Key: block labels, or nesting that
	// the JSON parser flattened into the key list.
	Rest []string
	Val  ast.Node
	At   Pos
}

// Block is a labelled block such as listener "tcp" { ... }.
type Block struct {
	Labels []string
	At     Pos
	Body   []Entry
}

// Decoder reads the syntax tree of one file and records every problem in
// Errs, so that one run reports all of them rather than only the first.
// The decoders of several files may share one Errs.
type Decoder struct {
	File string
	Errs *Errors
}

// Add records a problem at p. ctx names the enclosing block (for example
// `listener "tcp"`) and is empty at the top level.
func (d *Decoder) Add(p Pos, ctx, format string, args ...any) {
	d.Errs.Add(p, ctx, format, args...)
}

func keyString(k *ast.ObjectKey) string {
	if s, ok := k.Token.Value().(string); ok {
		return s
	}
	return k.Token.Text
}

// Entries lists the items of a body; parent locates items that carry no
// position of their own (JSON keys).
func (d *Decoder) Entries(list *ast.ObjectList, parent Pos) []Entry {
	if list == nil {
		return nil
	}
	out := make([]Entry, 0, len(list.Items))
	for _, it := range list.Items {
		if len(it.Keys) == 0 {
			continue
		}
		at := parent
		if it.Keys[0].Token.Pos.IsValid() {
			at = Pos{File: d.File, Line: it.Keys[0].Token.Pos.Line}
		} else if it.Assign.IsValid() {
			at = Pos{File: d.File, Line: it.Assign.Line}
		}
		rest := make([]string, 0, len(it.Keys)-1)
		for _, k := range it.Keys[1:] {
			rest = append(rest, keyString(k))
		}
		out = append(out, Entry{Key: keyString(it.Keys[0]), Rest: rest, Val: it.Val, At: at})
	}
	return out
}

// Literal returns the single value of e, or records that it is a block or
// a list.
func (d *Decoder) Literal(e Entry, ctx string) (*ast.LiteralType, bool) {
	if len(e.Rest) == 0 {
		if lit, ok := e.Val.(*ast.LiteralType); ok {
			return lit, true
		}
	}
	d.Add(e.At, ctx, "%s must be a single value, not a block or list", e.Key)
	return nil, false
}
