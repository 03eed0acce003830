package core

import (
	"context"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/passwordpolicy"
)

var defaultPasswordPolicy = passwordpolicy.Default()

// generatePassword returns a password from the named policy; "" is the
// default policy (20 characters from letters, digits and '-').
func (c *Core) generatePassword(ctx context.Context, name string) (string, error) {
	if name == "" {
		return defaultPasswordPolicy.Generate()
	}
	p, _, err := c.loadPasswordPolicy(ctx, name)
	if err != nil {
		return "", err
	}
	if p == nil {
		return "", logical.InvalidRequest("no password policy named %q (create it at sys/policies/password/%s)", name, name)
	}
	return p.Generate()
}
