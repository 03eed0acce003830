package policy

import (
	"math/rand"
	"strings"
	"testing"
)

// TestRadixLongestPrefix compares the tree with a naive scan over random
// keys drawn from a small alphabet (so prefixes overlap a lot).
func TestRadixLongestPrefix(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	word := func() string {
		n := rng.Intn(6)
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte("ab/"[rng.Intn(3)])
		}
		return b.String()
	}
	for round := 0; round < 200; round++ {
		var root radixNode
		keys := map[string]*Permissions{}
		for i := 0; i < 1+rng.Intn(12); i++ {
			k := word()
			v := &Permissions{}
			keys[k] = v
			root.insert(k, v)
		}
		for i := 0; i < 50; i++ {
			s := word() + word()
			wantLen, want := -1, (*Permissions)(nil)
			for k, v := range keys {
				if strings.HasPrefix(s, k) && len(k) > wantLen {
					wantLen, want = len(k), v
				}
			}
			gotLen, got := root.longestPrefix(s)
			if gotLen != wantLen || got != want {
				t.Fatalf("round %d: longestPrefix(%q) = %d, want %d (keys %v)", round, s, gotLen, wantLen, keys)
			}
		}
	}
}

func TestWCRuleMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
		{"a/+/c", "a/b/c/d", false},
		{"a/+/c", "a//c", true},
		{"+/b", "x/b", true},
		{"+", "x", true},
		{"+", "x/y", false},
		{"a/+/c*", "a/b/cde/f", true},
		{"a/+/c*", "a/b/d", false},
		{"a/+/*", "a/b/", true},
		{"a/+/*", "a/b", false},
		{"ab/+", "a/b", false},
	}
	for _, tt := range tests {
		r := newWCRule(tt.pattern, nil)
		if got := r.match(tt.path, strings.Count(tt.path, "/")+1); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
