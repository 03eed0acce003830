package framework

import (
	"regexp"
	"strings"
	"testing"
)

// TestPaths checks a path table: every pattern compiles, every named
// capture is a declared field, every path has at least one operation, and
// no sample path is matched by two patterns (routing must not depend on
// the table's order).
func TestPaths(t testing.TB, paths []*Path) {
	t.Helper()
	res := make([]*regexp.Regexp, len(paths))
	for i, p := range paths {
		re, err := regexp.Compile("^" + p.Pattern + "$")
		if err != nil {
			t.Fatalf("pattern %q: %v", p.Pattern, err)
		}
		res[i] = re
		if len(p.Ops) == 0 {
			t.Errorf("pattern %q has no operations", p.Pattern)
		}
		for _, name := range re.SubexpNames() {
			if name == "" {
				continue
			}
			if _, ok := p.Fields[name]; !ok {
				t.Errorf("pattern %q captures %q, which is not a declared field", p.Pattern, name)
			}
		}
	}
	for i, p := range paths {
		sample := samplePath(p.Pattern)
		if !res[i].MatchString(sample) {
			continue
		}
		for j, re := range res {
			if j != i && re.MatchString(sample) {
				t.Errorf("patterns %q and %q both match %q", p.Pattern, paths[j].Pattern, sample)
			}
		}
	}
}

var captureRe = regexp.MustCompile(`\(\?P<(\w+)>[^()]*(\([^()]*(\([^()]*\))?[^()]*\)[^()]*)*\)\??`)

// samplePath turns a pattern into a concrete path by replacing each
// capture group with "sample" and dropping regexp syntax.
func samplePath(pattern string) string {
	s := captureRe.ReplaceAllString(pattern, "sample")
	r := strings.NewReplacer("(/", "/", ")?", "", "$", "", "^", "", `\`, "", "?", "", "(", "", ")", "")
	return r.Replace(s)
}
