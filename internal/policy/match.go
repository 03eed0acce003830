package policy

import (
	"bytes"
	"sort"
	"strings"
)

// radixNode is a node of a compressed prefix tree mapping prefixes to the
// permissions of prefix rules ("secret/*" is stored as "secret/").
type radixNode struct {
	label string
	val   *Permissions
	// index holds the first byte of each child's label, for a fast scan.
	index    []byte
	children []*radixNode
}

func (n *radixNode) child(b byte) (int, *radixNode) {
	if i := bytes.IndexByte(n.index, b); i >= 0 {
		return i, n.children[i]
	}
	return -1, nil
}

// insert stores v under key, replacing any previous value.
func (n *radixNode) insert(key string, v *Permissions) {
	for {
		if key == "" {
			n.val = v
			return
		}
		i, c := n.child(key[0])
		if c == nil {
			n.children = append(n.children, &radixNode{label: key, val: v})
			n.index = append(n.index, key[0])
			return
		}
		common := commonPrefix(c.label, key)
		if common < len(c.label) {
			split := &radixNode{label: c.label[:common], children: []*radixNode{c}}
			c.label = c.label[common:]
			split.index = []byte{c.label[0]}
			n.children[i] = split
			c = split
		}
		n, key = c, key[common:]
	}
}

// longestPrefix returns the longest stored key that is a prefix of s.
func (n *radixNode) longestPrefix(s string) (int, *Permissions) {
	bestLen, best := -1, n.val
	if best != nil {
		bestLen = 0
	}
	consumed := 0
	for consumed < len(s) {
		_, c := n.child(s[consumed])
		if c == nil || !strings.HasPrefix(s[consumed:], c.label) {
			break
		}
		consumed += len(c.label)
		n = c
		if n.val != nil {
			bestLen, best = consumed, n.val
		}
	}
	return bestLen, best
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// wcRule is a path rule with "+" segment wildcards (and maybe a trailing
// "*").
type wcRule struct {
	// path is the pattern without its trailing "*".
	path      string
	parts     []string
	isPrefix  bool
	firstWC   int // index of the first "+" in path
	wildcards int // number of "+" segments
	perms     *Permissions
}

func newWCRule(pattern string, perms *Permissions) *wcRule {
	r := &wcRule{perms: perms, firstWC: strings.IndexByte(pattern, '+')}
	r.path = pattern
	if strings.HasSuffix(pattern, "*") {
		r.isPrefix = true
		r.path = pattern[:len(pattern)-1]
	}
	r.parts = strings.Split(r.path, "/")
	for _, p := range r.parts {
		if p == "+" {
			r.wildcards++
		}
	}
	return r
}

// match reports whether path (with nseg segments) matches the rule, without
// allocating.
func (r *wcRule) match(path string, nseg int) bool {
	if nseg < len(r.parts) || (!r.isPrefix && nseg != len(r.parts)) {
		return false
	}
	// Cheap filter: the literal text before the first "+" must match.
	if r.firstWC > 0 && (len(path) < r.firstWC || path[:r.firstWC] != r.path[:r.firstWC]) {
		return false
	}
	rest := path
	last := len(r.parts) - 1
	for i, part := range r.parts {
		seg := rest
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		} else {
			rest = ""
		}
		switch {
		case part == "+", part == seg:
		case r.isPrefix && i == last && strings.HasPrefix(seg, part):
		default:
			return false
		}
	}
	return true
}

// candidate describes a non-exact match for the precedence comparison.
type candidate struct {
	firstWC   int
	isPrefix  bool
	wildcards int
	path      string
}

// lowerPriority reports whether a loses to b, following Vault's documented
// rules for the most specific match: the first wildcard or glob occurring
// earlier loses; ending in "*" loses to not doing so; more "+" segments lose;
// shorter loses; lexicographically smaller loses.
func lowerPriority(a, b candidate) bool {
	if a.firstWC != b.firstWC {
		return a.firstWC < b.firstWC
	}
	if a.isPrefix != b.isPrefix {
		return a.isPrefix
	}
	if a.wildcards != b.wildcards {
		return a.wildcards > b.wildcards
	}
	if len(a.path) != len(b.path) {
		return len(a.path) < len(b.path)
	}
	return a.path < b.path
}

func (r *wcRule) candidate() candidate {
	return candidate{firstWC: r.firstWC, isPrefix: r.isPrefix, wildcards: r.wildcards, path: r.path}
}

// sortWCRules orders rules from highest to lowest priority, so the first
// matching rule is the most specific one.
func sortWCRules(rules []*wcRule) {
	sort.Slice(rules, func(i, j int) bool {
		return lowerPriority(rules[j].candidate(), rules[i].candidate())
	})
}

// matchNonExact finds the permissions of the most specific prefix or
// segment-wildcard rule matching path, or nil.
func (a *ACL) matchNonExact(path string) *Permissions {
	plen, prefixPerms := a.prefix.longestPrefix(path)
	if len(a.wildcards) == 0 {
		return prefixPerms
	}
	nseg := strings.Count(path, "/") + 1
	for _, r := range a.wildcards {
		// Rules are sorted by descending first-wildcard position, so once
		// a rule's wildcard comes before the end of the matched prefix, no
		// remaining rule can beat the prefix rule.
		if prefixPerms != nil && r.firstWC < plen {
			break
		}
		if !r.match(path, nseg) {
			continue
		}
		if prefixPerms != nil {
			pc := candidate{firstWC: plen, isPrefix: true, path: path[:plen]}
			if lowerPriority(r.candidate(), pc) {
				return prefixPerms
			}
		}
		return r.perms
	}
	return prefixPerms
}
