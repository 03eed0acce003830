package token

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// ttlParams are the inputs of a token TTL computation, on create and renew.
type ttlParams struct {
	sysDefault, sysMax time.Duration
	// increment is the TTL asked for on renew; backendTTL the token's or
	// role's TTL; backendMax a role's max TTL (0 = unset).
	increment, backendTTL, backendMax time.Duration
	period, explicitMax               time.Duration
	start, now                        time.Time
}

// calculateTTL works out a token's TTL the way Vault does. A periodic token
// gets its period (capped by the effective max TTL) and is bounded in total
// only by its explicit max TTL; any other token gets increment, backend TTL
// or the default, capped so that it never outlives start + max TTL, where
// max TTL is the least of the system, backend and explicit values.
func calculateTTL(p ttlParams) (time.Duration, []string, error) {
	now := p.now.Truncate(time.Second)
	start := p.start.Truncate(time.Second)
	if p.start.IsZero() {
		start = now
	}
	maxTTL := p.sysMax
	if p.backendMax > 0 && p.backendMax < maxTTL {
		maxTTL = p.backendMax
	}
	if p.explicitMax > 0 && p.explicitMax < maxTTL {
		maxTTL = p.explicitMax
	}
	if maxTTL <= 0 {
		return 0, nil, fmt.Errorf("max TTL must be greater than zero")
	}
	var warnings []string
	var ttl time.Duration
	var maxValid time.Time
	if p.period > 0 {
		ttl = p.period
		if ttl > maxTTL {
			warnings = append(warnings, fmt.Sprintf("period of %q exceeded the effective max_ttl of %q; period value is capped accordingly", humanDuration(ttl), humanDuration(maxTTL)))
			ttl = maxTTL
		}
		if p.explicitMax > 0 {
			maxValid = start.Add(p.explicitMax)
		}
	} else {
		switch {
		case p.increment > 0:
			ttl = p.increment
		case p.backendTTL > 0:
			ttl = p.backendTTL
		default:
			ttl = p.sysDefault
		}
		maxValid = start.Add(maxTTL)
	}
	if !maxValid.IsZero() {
		left := maxValid.Sub(now)
		if left <= 0 {
			return 0, nil, logical.InvalidRequest("past the max TTL, cannot renew")
		}
		if ttl > left {
			warnings = append(warnings, fmt.Sprintf("TTL of %q exceeded the effective max_ttl of %q; TTL value is capped accordingly", humanDuration(ttl), humanDuration(left)))
			ttl = left
		}
	}
	return ttl, warnings, nil
}

// humanDuration prints a duration without zero trailing units ("1h", "90m").
func humanDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// parseDuration parses a TTL field given as seconds or a duration string.
func parseDuration(field, raw string) (time.Duration, error) {
	if raw == "" {
		return 0, nil
	}
	d, err := framework.ParseDurationSecond(raw)
	if err != nil {
		return 0, logical.InvalidRequest("invalid %s %q: %v", field, raw, err)
	}
	if d < 0 {
		return 0, logical.InvalidRequest("%s must be positive", field)
	}
	return d, nil
}

// sanitizePolicies lower-cases, trims, de-duplicates and sorts policy names;
// "root" absorbs every other policy; "default" is added when addDefault.
func sanitizePolicies(in []string, addDefault bool) []string {
	out := make([]string, 0, len(in)+1)
	for _, p := range in {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if p == "root" {
			return []string{"root"}
		}
		out = append(out, p)
	}
	if addDefault && !slices.Contains(out, "default") {
		out = append(out, "default")
	}
	slices.Sort(out)
	return slices.Clip(slices.Compact(out))
}

// subset reports whether every element of sub is in set.
func subset(set, sub []string) bool {
	for _, s := range sub {
		if !slices.Contains(set, s) {
			return false
		}
	}
	return true
}

// globMatch matches name against a pattern in which '*' stands for any run
// of characters.
func globMatch(pattern, name string) bool {
	if pattern == "" {
		return name == ""
	}
	if pattern == "*" {
		return true
	}
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, parts[len(parts)-1])
}

func anyGlob(patterns []string, name string) bool {
	for _, p := range patterns {
		if globMatch(p, name) {
			return true
		}
	}
	return false
}

// dedupe lower-cases, trims and de-duplicates names, keeping them sorted.
func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
