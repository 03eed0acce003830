package cli

import (
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

type leaseRenewCommand struct {
	*meta
	flagIncrement time.Duration
}

func (c *leaseRenewCommand) Synopsis() string { return "Renews the lease of a secret" }

func (c *leaseRenewCommand) Help() string {
	return usage(c.prog, `lease renew [options] ID

  Renews the lease on a secret, extending the time that it can be used before
  it is revoked by the server.

  Every secret has a lease associated with it. If the owner of the secret
  wants to use it longer than the lease, then it must be renewed. Renewing the
  lease does not change the contents of the secret. The ID is the full path
  lease ID.

  Renew a secret:

      $ `+c.prog+` lease renew database/creds/readonly/2f6a614c...

  Lease renewal will fail if the secret is not renewable, the secret has
  already been revoked, or if the secret has already reached its maximum TTL.`, c.flags())
}

func (c *leaseRenewCommand) flags() *flagSet {
	s := c.flagSet("lease renew")
	s.durationVar(&c.flagIncrement, "increment", 0,
		"Request a specific increment in seconds. The server is not required to "+
			"honor this request.", "i")
	return s
}

func (c *leaseRenewCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	leaseID := strings.TrimSpace(args[0])
	secret, err := client.Sys().Renew(leaseID, truncateToSeconds(c.flagIncrement))
	if err != nil {
		return c.apiError(err, "Error renewing %s", leaseID)
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	return c.outputSecret(secret)
}

type leaseRevokeCommand struct {
	*meta
	flagForce  bool
	flagPrefix bool
	flagSync   bool
}

func (c *leaseRevokeCommand) Synopsis() string { return "Revokes leases and secrets" }

func (c *leaseRevokeCommand) Help() string {
	return usage(c.prog, `lease revoke [options] ID

  Revokes secrets by their lease ID. This command can revoke a single secret
  or multiple secrets based on a path-matched prefix.

  The default behavior when not using -force is to revoke asynchronously; the
  server will queue the revocation and keep trying if it fails (including
  across restarts). The -sync flag can be used to force a synchronous
  operation, but it is then up to the caller to retry on failure. Force mode
  always operates synchronously.

  Revoke a single lease:

      $ `+c.prog+` lease revoke database/creds/readonly/2f6a614c...

  Revoke all leases for a role:

      $ `+c.prog+` lease revoke -prefix aws/creds/deploy

  Force delete leases even if secret engine revocation fails:

      $ `+c.prog+` lease revoke -force -prefix consul/creds`, c.flags())
}

func (c *leaseRevokeCommand) flags() *flagSet {
	s := c.flagSet("lease revoke")
	s.boolVar(&c.flagForce, "force", false,
		"Delete the lease even if the secret engine revocation fails. This is "+
			"meant for recovery situations where the secret in the target secret "+
			"engine was manually removed. If this flag is specified, -prefix is also "+
			"required.", "f")
	s.boolVar(&c.flagPrefix, "prefix", false,
		"Treat the ID as a prefix instead of an exact lease ID. This can revoke "+
			"multiple leases simultaneously.")
	s.boolVar(&c.flagSync, "sync", false,
		"Force a synchronous operation; on failure it is up to the client to retry.")
	return s
}

func (c *leaseRevokeCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if !c.argCount(args, 1, 1) {
		return 1
	}
	if c.flagForce && !c.flagPrefix {
		c.errorf("Specifying -force requires also specifying -prefix")
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	leaseID := strings.TrimSpace(args[0])
	if c.flagForce {
		c.warn(wrapAtLength("Warning! Force-removing leases can cause Vault to " +
			"become out of sync with secret engines!"))
	}
	err = client.Sys().RevokeWithOptions(&api.RevokeOptions{
		LeaseID: leaseID,
		Force:   c.flagForce,
		Prefix:  c.flagPrefix,
		Sync:    c.flagSync,
	})
	if err != nil {
		switch {
		case c.flagForce:
			return c.apiError(err, "Error force revoking leases with prefix %s", leaseID)
		case c.flagPrefix:
			return c.apiError(err, "Error revoking leases with prefix %s", leaseID)
		}
		return c.apiError(err, "Error revoking lease %s", leaseID)
	}
	switch {
	case c.flagForce:
		c.output("Success! Force revoked any leases with prefix: " + leaseID)
	case c.flagSync && c.flagPrefix:
		c.output("Success! Revoked any leases with prefix: " + leaseID)
	case c.flagSync:
		c.output("Success! Revoked lease: " + leaseID)
	default:
		c.output("All revocation operations queued successfully!")
	}
	return 0
}

type leaseLookupCommand struct{ *meta }

func (c *leaseLookupCommand) Synopsis() string { return "Lookup the lease of a secret" }

func (c *leaseLookupCommand) Help() string {
	return usage(c.prog, `lease lookup ID

  Lookup the lease information of a secret.

  Every secret has a lease associated with it. Users can look up information
  on the lease by referencing the lease ID.

  Lookup lease of a secret:

      $ `+c.prog+` lease lookup database/creds/readonly/2f6a614c...`, c.flagSet("lease lookup"))
}

func (c *leaseLookupCommand) Run(args []string) int {
	f := c.flagSet("lease lookup")
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	switch len(args) {
	case 0:
		c.errorf("Missing ID!")
		return 1
	case 1:
	default:
		c.errorf("Too many arguments (expected 1, got %d)", len(args))
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	leaseID := strings.TrimSpace(args[0])
	secret, err := client.Sys().Lookup(leaseID)
	if err != nil {
		return c.apiError(err, "error looking up lease id %s", leaseID)
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	return c.outputSecret(secret)
}
