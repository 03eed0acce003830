package hclconf

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

var errNotDuration = errors.New("not a duration")

// ParseDuration reads a duration the way Vault's configuration does: a
// bare integer is seconds, an integer followed by "d" is days, anything
// else is a Go duration ("30s", "10m", "1h30m"). Empty is zero.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return scale(n, time.Second)
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return 0, errNotDuration
		}
		return scale(n, 24*time.Hour)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errNotDuration
	}
	return d, nil
}

func scale(n int64, unit time.Duration) (time.Duration, error) {
	if n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
		return 0, errNotDuration
	}
	return time.Duration(n) * unit, nil
}
