package cli

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// maxLineLength is the width paragraphs are wrapped at.
	maxLineLength = 78
	// rowDelim separates the key and value of a table row. It is a symbol
	// unlikely to appear in a secret, so values may contain "|".
	rowDelim = "♨"
	// columnGlue separates table columns.
	columnGlue = "    "
	// emptyCell replaces empty cells.
	emptyCell = "n/a"
)

// columnize aligns delimiter-separated lines into columns separated by four
// spaces. Cells are trimmed and empty cells print as "n/a". The last column
// is not padded, so lines carry no trailing spaces.
func columnize(lines []string, delim string) string {
	rows := make([][]string, len(lines))
	var widths []int
	for i, line := range lines {
		cells := strings.Split(line, delim)
		for j, c := range cells {
			c = strings.TrimSpace(c)
			if c == "" {
				c = emptyCell
			}
			cells[j] = c
			n := utf8.RuneCountInString(c)
			if j >= len(widths) {
				widths = append(widths, n)
			} else if n > widths[j] {
				widths[j] = n
			}
		}
		rows[i] = cells
	}
	var b strings.Builder
	for i, cells := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		for j, c := range cells {
			b.WriteString(c)
			if j == len(cells)-1 {
				break
			}
			b.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c)))
			b.WriteString(columnGlue)
		}
	}
	return b.String()
}

// tableOutput columnizes lines whose first line is a header, inserting an
// underline of dashes under each header cell.
func tableOutput(lines []string, delim string) string {
	if len(lines) == 0 {
		return ""
	}
	if delim == "" {
		delim = "|"
	}
	headers := strings.Split(lines[0], delim)
	under := make([]string, len(headers))
	for i, h := range headers {
		under[i] = strings.Repeat("-", len(strings.TrimSpace(h)))
	}
	out := make([]string, 0, len(lines)+1)
	out = append(out, lines[0], strings.Join(under, delim))
	out = append(out, lines[1:]...)
	return columnize(out, delim)
}

// columnOutput columnizes "|"-separated lines without a header.
func columnOutput(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return columnize(lines, "|")
}

// humanDuration prints a duration without trailing zero units: 768h rather
// than 768h0m0s.
func humanDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if i := strings.Index(s, "h0m"); i > 0 {
		s = s[:i+1] + s[i+3:]
	}
	return s
}

// humanDurationInt renders a number of seconds as a duration; values of other
// types are returned unchanged.
func humanDurationInt(v interface{}) interface{} {
	switch n := v.(type) {
	case int:
		return humanDuration(time.Duration(n) * time.Second)
	case int64:
		return humanDuration(time.Duration(n) * time.Second)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return humanDuration(time.Duration(i) * time.Second)
		}
	}
	return v
}

// looksLikeDuration reports whether a response key holds seconds that read
// better as a duration.
func looksLikeDuration(k string) bool {
	return k == "period" || strings.HasSuffix(k, "_period") ||
		k == "ttl" || strings.HasSuffix(k, "_ttl") ||
		k == "duration" || strings.HasSuffix(k, "_duration") ||
		k == "lease_max" || k == "ttl_max"
}

// wrapAtLength wraps text at maxLineLength.
func wrapAtLength(s string) string { return wrapAtLengthWithPadding(s, 0) }

// wrapAtLengthWithPadding wraps text so that, indented by pad spaces, lines
// stay within maxLineLength.
func wrapAtLengthWithPadding(s string, pad int) string {
	lines := wrapWords(s, maxLineLength-pad)
	prefix := strings.Repeat(" ", pad)
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// wrapWords breaks text into lines of at most limit bytes with minimal
// raggedness: it minimises the sum of squared trailing gaps over all lines
// but the last. Newlines in the input are treated as spaces; a single word
// longer than limit gets a line of its own.
func wrapWords(s string, limit int) []string {
	words := strings.Split(strings.ReplaceAll(strings.TrimSpace(s), "\n", " "), " ")
	n := len(words)
	// width(i, j) is the length of words[i..j] joined by single spaces.
	prefix := make([]int, n+1)
	for i, w := range words {
		prefix[i+1] = prefix[i] + len(w)
	}
	width := func(i, j int) int { return prefix[j+1] - prefix[i] + (j - i) }

	const overflowPenalty = 100000
	cost := make([]int, n+1)
	next := make([]int, n+1)
	cost[n] = 0
	for i := n - 1; i >= 0; i-- {
		if width(i, n-1) <= limit || i == n-1 {
			cost[i], next[i] = 0, n
			continue
		}
		cost[i] = int(^uint(0) >> 1)
		for j := i + 1; j < n; j++ {
			gap := limit - width(i, j-1)
			c := gap*gap + cost[j]
			if width(i, j-1) > limit {
				c += overflowPenalty
			}
			if c < cost[i] {
				cost[i], next[i] = c, j
			}
		}
	}
	var lines []string
	for i := 0; i < n; i = next[i] {
		lines = append(lines, strings.Join(words[i:next[i]], " "))
	}
	return lines
}

// padEqualSigns centres a section title between runs of "=" so that the
// whole line is about totalLen wide.
func padEqualSigns(header string, totalLen int) string {
	eq := totalLen - (len(header) + 2)
	if eq <= 0 {
		eq = 4
	}
	if eq%2 != 0 {
		eq++
	}
	side := strings.Repeat("=", eq/2)
	return side + " " + header + " " + side
}

// headerForMap returns the "== Title ==" line sized to a Key/Value table of
// data.
func headerForMap(header string, data map[string]interface{}) string {
	maxKey := 0
	for k := range data {
		if len(k) > maxKey {
			maxKey = len(k)
		}
	}
	// four spaces of glue plus len("value")
	return padEqualSigns(header, maxKey+4+5)
}
