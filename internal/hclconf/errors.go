// Package hclconf holds what the server's and the agent's configuration
// decoders share: problems located in a file, the syntax tree of an HCL or
// JSON body flattened into entries, and the value forms Vault accepts
// (durations in seconds or days). Each decoder keeps its own rules for
// blocks and values; this package only reads and reports.
package hclconf

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/hcl/parser"
)

// Error is one configuration problem, located in a file.
type Error struct {
	// File is the file name as given to the loader.
	File string
	// Line is the 1-based line, or 0 when the problem has no single line
	// (for example a missing storage block).
	Line int
	// Msg describes the problem, naming the block and key.
	Msg string
}

// Error formats the problem as "file:line: message".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Errors is every problem found in a configuration, in file order.
type Errors []*Error

// Error joins the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Add records a problem at p. ctx names the enclosing block (for example
// `listener "tcp"`) and is empty at the top level.
func (es *Errors) Add(p Pos, ctx, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if ctx != "" {
		msg = ctx + ": " + msg
	}
	*es = append(*es, &Error{File: p.File, Line: p.Line, Msg: msg})
}

// Err returns the problems as an error, or nil when there are none.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Sort orders the problems by file, in the order of files, then by line;
// problems of no listed file (those of the whole configuration) come last.
func (es Errors) Sort(files []string) {
	rank := map[string]int{}
	for i, f := range files {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	fileRank := func(e *Error) int {
		if r, ok := rank[e.File]; ok {
			return r
		}
		return len(files)
	}
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if ra, rb := fileRank(a), fileRank(b); ra != rb {
			return ra < rb
		}
		return a.Line < b.Line
	})
}

// ParseError turns an HCL or JSON syntax error into an Error, with the
// line of the problem when the parser reports one.
func ParseError(file string, err error) *Error {
	var pe *parser.PosError
	if errors.As(err, &pe) && pe.Pos.IsValid() {
		return &Error{File: file, Line: pe.Pos.Line, Msg: "syntax error: " + pe.Err.Error()}
	}
	// Some parser errors carry the position only in their text:
	// `The argument "ui" at 4:1 was already set.`
	return &Error{File: file, Line: lineInText(err.Error()), Msg: "syntax error: " + err.Error()}
}

// lineInText finds the line of the first " at LINE:COL" in a message, or 0.
func lineInText(msg string) int {
	for rest := msg; ; {
		i := strings.Index(rest, " at ")
		if i < 0 {
			return 0
		}
		rest = rest[i+4:]
		var line, col int
		if n, _ := fmt.Sscanf(rest, "%d:%d", &line, &col); n == 2 && line > 0 {
			return line
		}
	}
}
