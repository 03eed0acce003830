package pki

import (
	"regexp"
	"strings"
)

// Host name grammar, as Vault enforces it with enforce_hostnames.
var (
	labelRe        = `([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])`
	hostnameRe     = regexp.MustCompile(`^(\*\.)?(` + labelRe + `\.)*` + labelRe + `\.?$`)
	leftWildcardRe = regexp.MustCompile(`^(\*|\*` + labelRe + `|` + labelRe + `\*|` + labelRe + `\*` + labelRe + `)$`)
)

// isHostname reports whether s is an ASCII host name of legal length.
func isHostname(s string) bool {
	if len(strings.TrimSuffix(s, ".")) > 253 || !hostnameRe.MatchString(s) {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if len(l) > 63 {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern where '*' stands for any run of
// characters (dots included), the semantics Vault uses for allowed_*
// globs.
func globMatch(pattern, s string) bool {
	if pattern == "*" {
		return true
	}
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// namePolicy is the part of a role that decides which DNS names, e-mail
// addresses and common names it may certify.
type namePolicy struct {
	allowLocalhost   bool
	allowedDomains   []string
	allowBare        bool
	allowSubdomains  bool
	allowGlobs       bool
	allowWildcards   bool
	allowAnyName     bool
	enforceHostnames bool
	allowDisplayName bool
	displayName      string
}

// firstDisallowed returns the first name the policy rejects, or "".
func (p *namePolicy) firstDisallowed(names []string) string {
	for _, n := range names {
		if !p.allows(n) {
			return n
		}
	}
	return ""
}

// allows applies the checks in Vault's order: e-mail split, wildcard form,
// host name grammar, then any-name, localhost, token display name and the
// allowed domains (bare, subdomain, glob).
func (p *namePolicy) allows(name string) bool {
	reduced, emailDomain := name, name
	isEmail, isWildcard := false, false
	wildLabel := ""
	if strings.Contains(reduced, "@") {
		parts := strings.Split(reduced, "@")
		if len(parts) != 2 {
			return false
		}
		reduced, emailDomain, isEmail = parts[1], parts[1], true
	}
	if strings.Contains(reduced, "*") {
		isWildcard = true
		if !p.allowWildcards || strings.Count(reduced, "*") > 1 {
			return false
		}
		label, rest, found := strings.Cut(reduced, ".")
		wildLabel, reduced = label, rest
		if !found {
			reduced = ""
		}
		if strings.Contains(reduced, "*") {
			return false
		}
	}
	if isEmail && isWildcard {
		return false
	}
	if p.enforceHostnames {
		if reduced != "" && !isHostname(reduced) {
			return false
		}
		if isWildcard && !leftWildcardRe.MatchString(wildLabel) {
			return false
		}
	}
	if p.allowAnyName {
		return true
	}
	if p.allowLocalhost {
		if reduced == "localhost" || reduced == "localdomain" || (isEmail && (emailDomain == "localhost" || emailDomain == "localdomain")) {
			return true
		}
		if p.allowSubdomains {
			for _, base := range []string{"localhost", "localdomain"} {
				if strings.HasSuffix(reduced, "."+base) || (isWildcard && reduced == base) {
					return true
				}
			}
		}
	}
	if p.allowDisplayName && p.displayName != "" {
		if name == p.displayName {
			return true
		}
		if p.allowSubdomains && (strings.HasSuffix(reduced, "."+p.displayName) || (isWildcard && reduced == p.displayName)) {
			return true
		}
	}
	for _, d := range p.allowedDomains {
		if d == "" {
			continue
		}
		if p.allowBare && (strings.EqualFold(name, d) || (isEmail && strings.EqualFold(emailDomain, d))) {
			return true
		}
		if p.allowSubdomains && (strings.HasSuffix(reduced, "."+d) || (isWildcard && strings.EqualFold(reduced, d))) {
			return true
		}
		if p.allowGlobs && strings.Contains(d, "*") && globMatch(d, name) {
			return true
		}
	}
	return false
}

// commonNameAllowed applies cn_validations: "disabled" skips all checks;
// otherwise the name must pass the domain policy and be of an allowed kind
// (an e-mail address when it has '@', else a host name).
func (p *namePolicy) commonNameAllowed(cn string, validations []string) bool {
	if len(validations) == 1 && validations[0] == "disabled" {
		return true
	}
	if !p.allows(cn) {
		return false
	}
	if len(validations) == 0 {
		return true
	}
	want := "hostname"
	if strings.Contains(cn, "@") {
		want = "email"
	}
	for _, v := range validations {
		if v == want {
			return true
		}
	}
	return false
}
