package passwordpolicy

import (
	"strings"
	"testing"
	"unicode"
)

func TestDefaultPolicy(t *testing.T) {
	p := Default()
	for i := 0; i < 200; i++ {
		pw, err := p.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 20 {
			t.Fatalf("length %d", len(pw))
		}
		var lower, upper, digit, dash bool
		for _, c := range pw {
			switch {
			case unicode.IsLower(c):
				lower = true
			case unicode.IsUpper(c):
				upper = true
			case unicode.IsDigit(c):
				digit = true
			case c == '-':
				dash = true
			default:
				t.Fatalf("unexpected character %q in %q", c, pw)
			}
		}
		if !lower || !upper || !digit || !dash {
			t.Fatalf("%q misses a required class", pw)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		`length = 2
rule "charset" { charset = "ab" }`: "between 4 and 100",
		`length = 10`: "at least one rule",
		`length = 10
rule "charset" { charset = "" }`: "non-empty charset",
		`length = 4
rule "charset" { charset = "ab"
 min-chars = 5 }`: "add up to 5",
		`length = 10
colour = "red"`: `unknown key "colour"`,
		`length = 10
rule "charset" { charset = "ab"
 minchars = 1 }`: `unknown key "minchars"`,
		`length = 10
rule "other" { charset = "ab" }`: "unknown rule type",
		`length = {`: "failed to parse",
	}
	for in, want := range cases {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want it to contain %q", in, err, want)
		}
	}
}

func TestCustomPolicyRules(t *testing.T) {
	p, err := Parse(`
length = 8
rule "charset" {
  charset = "abc"
  min-chars = 2
}
rule "charset" {
  charset = "XYZ"
  min-chars = 6
}`)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		pw, err := p.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Trim(pw, "abcXYZ") != "" || len(pw) != 8 {
			t.Fatalf("bad password %q", pw)
		}
		low := 0
		for _, c := range pw {
			if strings.ContainsRune("abc", c) {
				low++
			}
		}
		if low != 2 {
			t.Fatalf("%q has %d of abc, want exactly 2", pw, low)
		}
	}
}
