package core

import (
	"context"
	"crypto/rand"
	"math/big"
)

const (
	lower  = "abcdefghijklmnopqrstuvwxyz"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits = "0123456789"
)

// generatePassword returns a password from the named policy; "" is the
// default policy: 20 characters from letters, digits and '-', with at least
// one lowercase, one uppercase, one digit and one '-'.
func (c *Core) generatePassword(ctx context.Context, name string) (string, error) {
	if name != "" {
		if pp, ok := c.passwordPolicy(ctx, name); ok {
			return pp(ctx)
		}
	}
	return generateFromSets(20, lower+upper+digits+"-", []string{lower, upper, digits, "-"})
}

// passwordPolicy is the hook for named password policies.
func (c *Core) passwordPolicy(ctx context.Context, name string) (func(context.Context) (string, error), bool) {
	return nil, false
}

func generateFromSets(length int, charset string, required []string) (string, error) {
	for {
		out := make([]byte, length)
		for i := range out {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(charset))))
			if err != nil {
				return "", err
			}
			out[i] = charset[n.Int64()]
		}
		ok := true
		for _, set := range required {
			found := false
			for _, ch := range out {
				for j := 0; j < len(set); j++ {
					if set[j] == ch {
						found = true
					}
				}
			}
			if !found {
				ok = false
				break
			}
		}
		if ok {
			return string(out), nil
		}
	}
}
