package cli

import (
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

type tokenCreateCommand struct {
	*meta
	flagID              string
	flagDisplayName     string
	flagTTL             time.Duration
	flagExplicitMaxTTL  time.Duration
	flagPeriod          time.Duration
	flagRenewable       bool
	flagOrphan          bool
	flagNoDefaultPolicy bool
	flagUseLimit        int
	flagRole            string
	flagType            string
	flagMetadata        map[string]string
	flagPolicies        []string
	flagEntityAlias     string
}

func (c *tokenCreateCommand) Synopsis() string { return "Create a new token" }

func (c *tokenCreateCommand) Help() string {
	return usage(c.prog, `token create [options]

  Creates a new token that can be used for authentication. This token will be
  created as a child of the currently authenticated token. The generated token
  will inherit all policies and permissions of the currently authenticated
  token unless you explicitly define a subset list policies to assign to the
  token.

  A ttl can also be associated with the token. If a ttl is not associated
  with the token, then it cannot be renewed. If a ttl is associated with
  the token, it will expire after that amount of time unless it is renewed.

  Metadata associated with the token (specified with "-metadata") is written
  to the audit log when the token is used.

  If a role is specified, the role may override parameters specified here.`, c.flags())
}

func (c *tokenCreateCommand) flags() *flagSet {
	s := c.flagSet("token create")
	s.stringVar(&c.flagID, "id", "",
		"Value for the token. By default, this is an auto-generated string. "+
			"Specifying this value requires sudo permissions.")
	s.stringVar(&c.flagDisplayName, "display-name", "",
		"Name to associate with this token. This is a non-sensitive value that can "+
			"be used to help identify created secrets (e.g. prefixes).")
	s.durationVar(&c.flagTTL, "ttl", 0,
		"Initial TTL to associate with the token. Token renewals may be able to "+
			"extend beyond this value, depending on the configured maximum TTLs. This "+
			"is specified as a numeric string with suffix like \"30s\" or \"5m\".")
	s.durationVar(&c.flagExplicitMaxTTL, "explicit-max-ttl", 0,
		"Explicit maximum lifetime for the token. Unlike normal TTLs, the maximum "+
			"TTL is a hard limit and cannot be exceeded. This is specified as a "+
			"numeric string with suffix like \"30s\" or \"5m\".")
	s.durationVar(&c.flagPeriod, "period", 0,
		"If specified, every renewal will use the given period. Periodic tokens do "+
			"not expire (unless -explicit-max-ttl is also provided). Setting this "+
			"value requires sudo permissions. This is specified as a numeric string "+
			"with suffix like \"30s\" or \"5m\".")
	s.boolVar(&c.flagRenewable, "renewable", true, "Allow the token to be renewed up to it's maximum TTL.")
	s.boolVar(&c.flagOrphan, "orphan", false,
		"Create the token with no parent. This prevents the token from being "+
			"revoked when the token which created it expires. Setting this value "+
			"requires root or sudo permissions.")
	s.boolVar(&c.flagNoDefaultPolicy, "no-default-policy", false,
		"Detach the \"default\" policy from the policy set for this token.")
	s.intVar(&c.flagUseLimit, "use-limit", 0,
		"Number of times this token can be used. After the last use, the token is "+
			"automatically revoked. By default, tokens can be used an unlimited "+
			"number of times until their expiration.")
	s.stringVar(&c.flagRole, "role", "",
		"Name of the role to create the token against. Specifying -role may "+
			"override other arguments. The locally authenticated token must have "+
			"permission for \"auth/token/create/<role>\".")
	s.stringVar(&c.flagType, "type", "service", "The type of token to create. Can be \"service\" or \"batch\".")
	s.stringMapVar(&c.flagMetadata, "metadata",
		"Arbitrary key=value metadata to associate with the token. This metadata "+
			"will show in the audit log when the token is used. This can be "+
			"specified multiple times to add multiple pieces of metadata.")
	s.stringSliceVar(&c.flagPolicies, "policy",
		"Name of a policy to associate with this token. This can be specified "+
			"multiple times to attach multiple policies.")
	s.stringVar(&c.flagEntityAlias, "entity-alias", "",
		"Name of the entity alias to associate with during token creation. Only "+
			"works in combination with -role argument.")
	return s
}

func (c *tokenCreateCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	if !c.argCount(f.args(), 0, 0) {
		return 1
	}
	if c.flagType == "batch" {
		c.flagRenewable = false
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	var policies []string
	for _, p := range c.flagPolicies {
		for _, part := range strings.Split(p, ",") {
			if part = strings.TrimSpace(part); part != "" {
				policies = append(policies, part)
			}
		}
	}
	req := &api.TokenCreateRequest{
		ID:              c.flagID,
		Policies:        policies,
		Metadata:        c.flagMetadata,
		TTL:             durationToAPI(c.flagTTL),
		NoParent:        c.flagOrphan,
		NoDefaultPolicy: c.flagNoDefaultPolicy,
		DisplayName:     c.flagDisplayName,
		NumUses:         c.flagUseLimit,
		Renewable:       &c.flagRenewable,
		ExplicitMaxTTL:  durationToAPI(c.flagExplicitMaxTTL),
		Period:          durationToAPI(c.flagPeriod),
		Type:            c.flagType,
		EntityAlias:     c.flagEntityAlias,
	}
	var secret *api.Secret
	if c.flagRole != "" {
		secret, err = client.Auth().Token().CreateWithRole(req, c.flagRole)
	} else {
		secret, err = client.Auth().Token().Create(req)
	}
	if err != nil {
		return c.apiError(err, "Error creating token")
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	return c.outputSecret(secret)
}

// durationToAPI renders a duration flag for a request; unset is "".
func durationToAPI(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// ttlToAPI renders a TTL flag for a mount tune: unset is "", negative means
// the system default.
func ttlToAPI(d time.Duration) string {
	if d < 0 {
		return "system"
	}
	return durationToAPI(d)
}

type tokenLookupCommand struct {
	*meta
	flagAccessor bool
}

func (c *tokenLookupCommand) Synopsis() string { return "Display information about a token" }

func (c *tokenLookupCommand) Help() string {
	return usage(c.prog, `token lookup [options] [TOKEN | ACCESSOR]

  Displays information about a token or accessor. If a TOKEN is not provided,
  the locally authenticated token is used.

  Get information about the locally authenticated token:

      $ `+c.prog+` token lookup

  Get information about a particular token:

      $ `+c.prog+` token lookup 96ddf4bc-d217-f3ba-f9bd-017055595017

  Get information about a token via its accessor:

      $ `+c.prog+` token lookup -accessor 9793c9b3-e04a-46f3-e7b8-748d7da248da`, c.flags())
}

func (c *tokenLookupCommand) flags() *flagSet {
	s := c.flagSet("token lookup")
	s.boolVar(&c.flagAccessor, "accessor", false,
		"Treat the argument as an accessor instead of a token. When this option "+
			"is selected, the output will NOT include the token.")
	return s
}

func (c *tokenLookupCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	switch {
	case c.flagAccessor && len(args) < 1:
		c.errorf("Not enough arguments with -accessor (expected 1, got %d)", len(args))
		return 1
	case c.flagAccessor && len(args) > 1:
		c.errorf("Too many arguments with -accessor (expected 1, got %d)", len(args))
		return 1
	case len(args) > 1:
		c.errorf("Too many arguments (expected 0-1, got %d)", len(args))
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	token := ""
	if len(args) == 1 {
		token = strings.TrimSpace(args[0])
	}
	var secret *api.Secret
	switch {
	case token == "":
		secret, err = client.Auth().Token().LookupSelf()
	case c.flagAccessor:
		secret, err = client.Auth().Token().LookupAccessor(token)
	default:
		secret, err = client.Auth().Token().Lookup(token)
	}
	if err != nil {
		return c.apiError(err, "Error looking up token")
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	return c.outputSecret(secret)
}

type tokenRenewCommand struct {
	*meta
	flagIncrement time.Duration
}

func (c *tokenRenewCommand) Synopsis() string { return "Renew a token lease" }

func (c *tokenRenewCommand) Help() string {
	return usage(c.prog, `token renew [options] [TOKEN]

  Renews a token's lease, extending the amount of time it can be used. If a
  TOKEN is not provided, the locally authenticated token is used. Lease renewal
  will fail if the token is not renewable, the token has already been revoked,
  or if the token has already reached its maximum TTL.

  Renew a token (this uses the /auth/token/renew endpoint and permission):

      $ `+c.prog+` token renew 96ddf4bc-d217-f3ba-f9bd-017055595017

  Renew the currently authenticated token (this uses the /auth/token/renew-self
  endpoint and permission):

      $ `+c.prog+` token renew

  Renew a token requesting a specific increment value:

      $ `+c.prog+` token renew -increment=30m 96ddf4bc-d217-f3ba-f9bd-017055595017`, c.flags())
}

func (c *tokenRenewCommand) flags() *flagSet {
	s := c.flagSet("token renew")
	s.durationVar(&c.flagIncrement, "increment", 0,
		"Request a specific increment for renewal. This increment may not be "+
			"honored, for instance in the case of periodic tokens. If not supplied, "+
			"the token's default TTL is used.", "i")
	return s
}

func (c *tokenRenewCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if len(args) > 1 {
		c.errorf("Too many arguments (expected 1, got %d)", len(args))
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	inc := truncateToSeconds(c.flagIncrement)
	var secret *api.Secret
	if len(args) == 0 {
		secret, err = client.Auth().Token().RenewSelf(inc)
	} else {
		secret, err = client.Auth().Token().Renew(strings.TrimSpace(args[0]), inc)
	}
	if err != nil {
		return c.apiError(err, "Error renewing token")
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	return c.outputSecret(secret)
}

// truncateToSeconds returns whole seconds, 0 for less than a second.
func truncateToSeconds(d time.Duration) int {
	d = d.Truncate(time.Second)
	if d < time.Second {
		return 0
	}
	return int(d.Seconds())
}

type tokenRevokeCommand struct {
	*meta
	flagAccessor bool
	flagSelf     bool
	flagMode     string
}

func (c *tokenRevokeCommand) Synopsis() string { return "Revoke a token and its children" }

func (c *tokenRevokeCommand) Help() string {
	return usage(c.prog, `token revoke [options] [TOKEN | ACCESSOR]

  Revokes authentication tokens and their children. If a TOKEN is not provided,
  the locally authenticated token is used. The "-mode" flag can be used to
  control the behavior of the revocation.

  Revoke a token and all the token's children:

      $ `+c.prog+` token revoke 96ddf4bc-d217-f3ba-f9bd-017055595017

  Revoke a token leaving the token's children:

      $ `+c.prog+` token revoke -mode=orphan 96ddf4bc-d217-f3ba-f9bd-017055595017

  Revoke a token by accessor:

      $ `+c.prog+` token revoke -accessor 9793c9b3-e04a-46f3-e7b8-748d7da248da`, c.flags())
}

func (c *tokenRevokeCommand) flags() *flagSet {
	s := c.flagSet("token revoke")
	s.boolVar(&c.flagAccessor, "accessor", false, "Treat the argument as an accessor instead of a token.")
	s.boolVar(&c.flagSelf, "self", false, "Perform the revocation on the currently authenticated token.")
	s.stringVar(&c.flagMode, "mode", "",
		"Type of revocation to perform. If unspecified, the token and all of its "+
			"children are revoked. If \"orphan\", only the token is revoked, leaving "+
			"the children as orphans. If \"path\", tokens created from the given "+
			"authentication path prefix are deleted along with their children.")
	return s
}

func (c *tokenRevokeCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	token := ""
	if len(args) > 0 {
		token = strings.TrimSpace(args[0])
	}
	switch c.flagMode {
	case "", "orphan", "path":
	default:
		c.errorf("Invalid mode: %s", c.flagMode)
		return 1
	}
	switch {
	case c.flagSelf && len(args) > 0:
		c.errorf("Too many arguments with -self (expected 0, got %d)", len(args))
		return 1
	case !c.flagSelf && len(args) > 1:
		c.errorf("Too many arguments (expected 1 or -self, got %d)", len(args))
		return 1
	case !c.flagSelf && len(args) < 1:
		c.errorf("Not enough arguments (expected 1 or -self, got %d)", len(args))
		return 1
	case c.flagSelf && c.flagAccessor:
		c.errorf("Cannot use -self with -accessor!")
		return 1
	case c.flagSelf && c.flagMode != "":
		c.errorf("Cannot use -self with -mode!")
		return 1
	case c.flagAccessor && c.flagMode == "orphan":
		c.errorf("Cannot use -accessor with -mode=orphan!")
		return 1
	case c.flagAccessor && c.flagMode == "path":
		c.errorf("Cannot use -accessor with -mode=path!")
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	tokens := client.Auth().Token()
	var revoke func(string) error
	switch {
	case c.flagSelf:
		revoke = tokens.RevokeSelf
	case c.flagAccessor:
		revoke = tokens.RevokeAccessor
	case c.flagMode == "orphan":
		revoke = tokens.RevokeOrphan
	case c.flagMode == "path":
		revoke = client.Sys().RevokePrefix
	default:
		revoke = tokens.RevokeTree
	}
	if err := revoke(token); err != nil {
		return c.apiError(err, "Error revoking token")
	}
	c.output("Success! Revoked token (if it existed)")
	return 0
}

type tokenCapabilitiesCommand struct{ *meta }

func (c *tokenCapabilitiesCommand) Synopsis() string {
	return "Print capabilities of a token on a path"
}

func (c *tokenCapabilitiesCommand) Help() string {
	return usage(c.prog, `token capabilities [options] [TOKEN] PATH

  Fetches the capabilities of a token for a given path. If a TOKEN is provided
  as an argument, the "/sys/capabilities" endpoint and permission is used. If
  no TOKEN is provided, the "/sys/capabilities-self" endpoint and permission
  is used with the locally authenticated token.

  List capabilities for the local token on the "secret/foo" path:

      $ `+c.prog+` token capabilities secret/foo

  List capabilities for a token on the "cubbyhole/foo" path:

      $ `+c.prog+` token capabilities 96ddf4bc-d217-f3ba-f9bd-017055595017 cubbyhole/foo`,
		c.flagSet("token capabilities"))
}

func (c *tokenCapabilitiesCommand) Run(args []string) int {
	f := c.flagSet("token capabilities")
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	token, path := "", ""
	switch len(args) {
	case 0:
		c.errorf("Not enough arguments (expected 1-2, got 0)")
		return 1
	case 1:
		path = args[0]
	case 2:
		token, path = args[0], args[1]
	default:
		c.errorf("Too many arguments (expected 1-2, got %d)", len(args))
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	var caps []string
	if token == "" {
		caps, err = client.Sys().CapabilitiesSelf(path)
	} else {
		caps, err = client.Sys().Capabilities(token, path)
	}
	if err != nil {
		return c.apiError(err, "Error listing capabilities")
	}
	if caps == nil {
		c.errorf("No capabilities found")
		return 1
	}
	if c.format() == "table" {
		sort.Strings(caps)
		c.output(strings.Join(caps, ", "))
		return 0
	}
	return c.outputData(caps)
}
