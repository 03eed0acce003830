package dbplugin

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Dialect selects the quoting rules used to split statements.
type Dialect int

const (
	// Postgres knows '…' (with E'…' backslash escapes), "…", $tag$…$tag$,
	// -- and /* */ comments.
	Postgres Dialect = iota
	// MySQL knows '…' and "…" with backslash escapes, `…`, --, # and
	// /* */ comments.
	MySQL
)

// ParseStatements turns a role's statements into single queries. Each
// element is accepted the way Vault accepts it: a JSON array of queries
// (optionally base64-encoded), or text holding one or more queries
// separated by semicolons. Semicolons inside quoted strings, quoted
// identifiers, dollar-quoted bodies and comments do not split. Empty
// queries are dropped.
func ParseStatements(stmts []string, d Dialect) []string {
	var out []string
	for _, s := range stmts {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) > 0 && utf8.Valid(b) {
			s = strings.TrimSpace(string(b))
		}
		if strings.HasPrefix(s, "[") {
			var arr []string
			if err := json.Unmarshal([]byte(s), &arr); err == nil {
				for _, q := range arr {
					if q = strings.TrimSpace(q); q != "" {
						out = append(out, q)
					}
				}
				continue
			}
		}
		out = append(out, SplitStatements(s, d)...)
	}
	return out
}

// SplitStatements splits text on the semicolons that end statements,
// honouring the dialect's quotes and comments, and trims each query.
func SplitStatements(s string, d Dialect) []string {
	var out []string
	start := 0
	emit := func(end int) {
		if q := strings.TrimSpace(s[start:end]); q != "" {
			out = append(out, q)
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ';':
			emit(i)
			i++
			start = i
		case c == '\'':
			backslash := d == MySQL || (d == Postgres && i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdentByte(s[i-2])))
			i = skipQuoted(s, i, '\'', backslash)
		case c == '"':
			i = skipQuoted(s, i, '"', d == MySQL)
		case c == '`' && d == MySQL:
			i = skipQuoted(s, i, '`', false)
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			i = skipLine(s, i)
		case c == '#' && d == MySQL:
			i = skipLine(s, i)
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if j := strings.Index(s[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(s)
			}
		case c == '$' && d == Postgres && (i == 0 || !isIdentByte(s[i-1])):
			i = skipDollar(s, i)
		default:
			i++
		}
	}
	emit(len(s))
	return out
}

// skipQuoted returns the index after the quote closing the one at i. A
// doubled quote is an escaped quote; with backslash, so is \q.
func skipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

func skipLine(s string, i int) int {
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// skipDollar skips a PostgreSQL dollar-quoted string starting at i; a '$'
// that does not open one ($1 parameters, identifiers) is skipped alone.
func skipDollar(s string, i int) int {
	j := i + 1
	for j < len(s) && s[j] != '$' {
		c := s[j]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (j > i+1 && c >= '0' && c <= '9') || c >= 0x80) {
			return i + 1
		}
		j++
	}
	if j >= len(s) {
		return i + 1
	}
	tag := s[i : j+1]
	if k := strings.Index(s[j+1:], tag); k >= 0 {
		return j + 1 + k + len(tag)
	}
	return len(s)
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// Render replaces each {{key}} in query with its value, as Vault's
// statement templates do.
func Render(query string, vals map[string]string) string {
	if !strings.Contains(query, "{{") {
		return query
	}
	pairs := make([]string, 0, 2*len(vals))
	for k, v := range vals {
		pairs = append(pairs, "{{"+k+"}}", v)
	}
	return strings.NewReplacer(pairs...).Replace(query)
}

// QuoteIdentifier quotes a PostgreSQL identifier ("…" with "" escapes).
func QuoteIdentifier(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
