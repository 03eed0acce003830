package config

import (
	"strconv"
	"strings"
	"time"
)

// parseBool accepts what strconv.ParseBool accepts; the empty string is
// false, as in Vault.
func parseBool(s string) (bool, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}

// fmtDuration prints a duration without trailing zero units: 768h rather
// than 768h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
