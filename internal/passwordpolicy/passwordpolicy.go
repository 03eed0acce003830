// Package passwordpolicy parses Vault-style password policies (HCL with a
// length and charset rules) and generates passwords from them.
package passwordpolicy

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
)

// Limits on a policy, as Vault enforces them.
const (
	MinLength = 4
	MaxLength = 100
)

// Rule is one charset rule.
type Rule struct {
	Charset  []rune
	MinChars int
}

// Policy is a parsed password policy.
type Policy struct {
	Length  int
	Rules   []Rule
	charset []rune
}

// Default is Vault's default policy: 20 characters from letters, digits
// and '-', with at least one lowercase letter, uppercase letter, digit
// and '-'.
func Default() *Policy {
	p, err := Parse(`
length = 20
rule "charset" {
  charset   = "abcdefghijklmnopqrstuvwxyz"
  min-chars = 1
}
rule "charset" {
  charset   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
  min-chars = 1
}
rule "charset" {
  charset   = "0123456789"
  min-chars = 1
}
rule "charset" {
  charset   = "-"
  min-chars = 1
}
`)
	if err != nil {
		panic(err)
	}
	return p
}

// Parse reads a policy. Errors name the problem and what is accepted.
func Parse(text string) (*Policy, error) {
	root, err := hcl.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("failed to parse password policy: %v", err)
	}
	list, ok := root.Node.(*ast.ObjectList)
	if !ok {
		return nil, fmt.Errorf("failed to parse password policy: expected top-level settings")
	}
	p := &Policy{}
	for _, item := range list.Items {
		key := item.Keys[0].Token.Value().(string)
		line := item.Pos().Line
		switch key {
		case "length":
			var n int
			if err := hcl.DecodeObject(&n, item.Val); err != nil {
				return nil, fmt.Errorf("line %d: length must be an integer", line)
			}
			p.Length = n
		case "rule":
			if len(item.Keys) != 2 || item.Keys[1].Token.Value() != "charset" {
				return nil, fmt.Errorf("line %d: unknown rule type; accepted: rule \"charset\" { charset = \"...\", min-chars = N }", line)
			}
			var raw struct {
				Charset  string `hcl:"charset"`
				MinChars int    `hcl:"min-chars"`
			}
			obj, ok := item.Val.(*ast.ObjectType)
			if !ok {
				return nil, fmt.Errorf("line %d: rule \"charset\" must be a block", line)
			}
			for _, f := range obj.List.Items {
				if k := f.Keys[0].Token.Value().(string); k != "charset" && k != "min-chars" {
					return nil, fmt.Errorf("line %d: unknown key %q in rule \"charset\"; accepted: charset, min-chars", f.Pos().Line, k)
				}
			}
			if err := hcl.DecodeObject(&raw, item.Val); err != nil {
				return nil, fmt.Errorf("line %d: invalid rule \"charset\": %v", line, err)
			}
			if raw.Charset == "" || !utf8.ValidString(raw.Charset) {
				return nil, fmt.Errorf("line %d: rule \"charset\" needs a non-empty charset", line)
			}
			if raw.MinChars < 0 {
				return nil, fmt.Errorf("line %d: min-chars cannot be negative", line)
			}
			p.Rules = append(p.Rules, Rule{Charset: dedupe([]rune(raw.Charset)), MinChars: raw.MinChars})
		default:
			return nil, fmt.Errorf("line %d: unknown key %q; accepted: length, rule", line, key)
		}
	}
	if p.Length < MinLength || p.Length > MaxLength {
		return nil, fmt.Errorf("length must be between %d and %d, got %d", MinLength, MaxLength, p.Length)
	}
	if len(p.Rules) == 0 {
		return nil, fmt.Errorf("at least one rule \"charset\" is required")
	}
	min := 0
	var all []rune
	for _, r := range p.Rules {
		min += r.MinChars
		all = append(all, r.Charset...)
	}
	if min > p.Length {
		return nil, fmt.Errorf("the rules' min-chars add up to %d, more than the length %d", min, p.Length)
	}
	p.charset = dedupe(all)
	return p, nil
}

func dedupe(rs []rune) []rune {
	seen := map[rune]bool{}
	out := rs[:0:0]
	for _, r := range rs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// Generate returns a random password satisfying every rule.
func (p *Policy) Generate() (string, error) {
	for attempt := 0; attempt < 1000; attempt++ {
		out := make([]rune, p.Length)
		for i := range out {
			r, err := pick(p.charset)
			if err != nil {
				return "", err
			}
			out[i] = r
		}
		if p.satisfied(out) {
			return string(out), nil
		}
	}
	return "", fmt.Errorf("could not generate a password satisfying the policy's rules")
}

func (p *Policy) satisfied(pw []rune) bool {
	for _, r := range p.Rules {
		n := 0
		for _, c := range pw {
			if strings.ContainsRune(string(r.Charset), c) {
				n++
			}
		}
		if n < r.MinChars {
			return false
		}
	}
	return true
}

func pick(set []rune) (rune, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		return 0, err
	}
	return set[n.Int64()], nil
}
