package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/vault/api"
)

type loginCommand struct {
	*meta
	flagMethod    string
	flagPath      string
	flagNoStore   bool
	flagNoPrint   bool
	flagTokenOnly bool
}

func (c *loginCommand) Synopsis() string { return "Authenticate locally" }

func (c *loginCommand) Help() string {
	return usage(c.prog, `login [options] [AUTH K=V...]

  Authenticates users or machines using the provided arguments. A successful
  authentication results in a token - conceptually similar to a session token
  on a website. By default, this token is cached on the local machine for
  future requests.

  The default auth method is "token". If not supplied via the CLI, the token
  is prompted for. If the argument is "-", the value is read from stdin.

  The -method flag allows using other auth methods, such as userpass or
  approle. For these, additional "K=V" pairs may be required. For example, to
  authenticate to the userpass auth method:

      $ `+c.prog+` login -method=userpass username=my-username

  To authenticate with AppRole:

      $ `+c.prog+` login -method=approle role_id=... secret_id=...

  If an auth method is enabled at a non-standard path, the -method flag still
  refers to the canonical type, but the -path flag refers to the enabled path:

      $ `+c.prog+` login -method=userpass -path=userpass-prod username=my-username`, c.flags())
}

func (c *loginCommand) flags() *flagSet {
	s := c.flagSet("login")
	s.stringVar(&c.flagMethod, "method", "token",
		"Type of authentication to use such as \"userpass\" or \"approle\". Note "+
			"this corresponds to the TYPE, not the enabled path. Use -path to specify "+
			"the path where the authentication is enabled.")
	s.stringVar(&c.flagPath, "path", "",
		"Remote path where the auth method is enabled. This defaults to the TYPE "+
			"of method (e.g. userpass -> userpass/).")
	s.boolVar(&c.flagNoStore, "no-store", false,
		"Do not persist the token to the token helper (usually the local "+
			"filesystem) after authentication for use in future requests. The token "+
			"will only be displayed in the command output.")
	s.boolVar(&c.flagNoPrint, "no-print", false,
		"Do not display the token. The token will be still be stored to the "+
			"configured token helper.")
	s.boolVar(&c.flagTokenOnly, "token-only", false,
		"Output only the token with no verification. This flag is a shortcut for "+
			"\"-field=token -no-store\". Setting those flags to other values will "+
			"have no affect.")
	return s
}

func (c *loginCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if c.flagTokenOnly {
		c.flagNoStore = true
		c.flagField = "token"
	}
	if c.flagNoStore && c.flagNoPrint {
		c.errorf("%s", wrapAtLength("-no-store and -no-print cannot be used together"))
		return 1
	}
	method := sanitizePath(c.flagMethod)
	if method == "" {
		method = "token"
	}
	authPath := sanitizePath(c.flagPath)
	if authPath == "" {
		authPath = method
	}
	if method == "token" && len(args) > 0 && !strings.Contains(args[0], "=") {
		args = append([]string{"token=" + args[0]}, args[1:]...)
	}
	config, err := parseArgsDataString(c.stdin, args)
	if err != nil {
		c.errorf("Error parsing configuration: %s", err)
		return 1
	}
	if m := config["mount"]; m != "" {
		authPath = sanitizePath(m)
	}
	delete(config, "mount")

	client, err := c.newClient()
	if err != nil {
		return c.clientError(err)
	}
	var secret *api.Secret
	if method == "token" {
		secret, err = c.tokenAuth(client, config)
	} else {
		secret, err = c.methodAuth(client, method, authPath, config)
	}
	if err != nil {
		if code, ok := c.curlString(err); ok {
			return code
		}
		c.errorf("Error authenticating: %s", err)
		return 2
	}

	// A wrapped login response is unwrapped unless the caller only wants the
	// wrapping token.
	client.SetWrappingLookupFunc(func(string, string) string { return "" })
	secret, wrapped, err := extractToken(client, secret, !c.flagTokenOnly && !c.flagNoStore)
	if err != nil {
		c.errorf("Error extracting token: %s", err)
		return 2
	}
	if secret == nil {
		c.errorf("Vault returned an empty secret")
		return 2
	}
	if wrapped {
		if c.flagTokenOnly {
			return c.printRawField(secret, "wrapping_token")
		}
		if c.flagNoStore {
			return c.outputSecret(secret)
		}
	}
	if secret.Auth == nil {
		c.errorf("%s", wrapAtLength("Vault returned a secret, but the secret has no "+
			"authentication information attached. This should never happen and is "+
			"likely a bug."))
		return 2
	}

	if !c.flagNoStore {
		if err := c.tokenHelper().store(secret.Auth.ClientToken); err != nil {
			c.errorf("Error storing token: %s", err)
			c.errorf("%s\n", wrapAtLength("Authentication was successful, but the token "+
				"was not persisted. The resulting token is shown below for your records."))
			c.outputSecret(secret)
			return 2
		}
		c.warnEnvToken()
	} else if !c.flagTokenOnly {
		c.warn(wrapAtLength("The token was not stored in token helper. Set the "+
			"VAULT_TOKEN environment variable or pass the token below with each "+
			"request to Vault.") + "\n")
	}
	if c.flagNoPrint {
		return 0
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	if c.format() == "table" {
		c.output(wrapAtLength("Success! You are now authenticated. The token "+
			"information displayed below is already stored in the token helper. You "+
			"do NOT need to run \"vault login\" again. Future Vault requests will "+
			"automatically use this token.") + "\n")
	}
	return c.outputSecret(secret)
}

// warnEnvToken warns that VAULT_TOKEN overrides the stored token.
func (c *loginCommand) warnEnvToken() {
	if c.env.str("TOKEN", "") != "" {
		c.warn(wrapAtLength("WARNING! The VAULT_TOKEN environment variable is set! "+
			"The value of this variable will take precedence; if this is unwanted "+
			"please unset VAULT_TOKEN or update its value accordingly.") + "\n")
	}
}

// tokenAuth verifies a token with lookup-self and presents it as a login
// response.
func (c *loginCommand) tokenAuth(client *api.Client, config map[string]string) (*api.Secret, error) {
	token := config["token"]
	switch token {
	case "-":
		b, err := io.ReadAll(c.stdin)
		if err != nil {
			return nil, fmt.Errorf("failed to read from stdin: %w", err)
		}
		token = string(b)
	case "":
		var err error
		token, err = c.promptSecret("Token (will be hidden): ")
		if err != nil {
			return nil, fmt.Errorf("failed to read token: %w", err)
		}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errors.New("a token must be passed to auth, please view the help for more information")
	}
	if lookup, ok := config["lookup"]; ok && (lookup == "false" || lookup == "0") {
		return &api.Secret{Auth: &api.SecretAuth{ClientToken: token}}, nil
	}
	client.SetToken(token)
	client.SetWrappingLookupFunc(func(string, string) string { return "" })
	secret, err := client.Auth().Token().LookupSelf()
	if err != nil {
		return nil, fmt.Errorf("error looking up token: %w", err)
	}
	if secret == nil {
		return nil, errors.New("empty response from lookup-self")
	}
	id, _ := secret.TokenID()
	accessor, _ := secret.TokenAccessor()
	policies, _ := secret.TokenPolicies()
	metadata, _ := secret.TokenMetadata()
	ttl, _ := secret.TokenTTL()
	renewable, _ := secret.TokenIsRenewable()
	var identity []string
	if raw, ok := secret.Data["identity_policies"].([]interface{}); ok {
		for _, p := range raw {
			if s, ok := p.(string); ok {
				identity = append(identity, s)
			}
		}
	}
	return &api.Secret{Auth: &api.SecretAuth{
		ClientToken:      id,
		Accessor:         accessor,
		Policies:         append(append([]string{}, policies...), identity...),
		TokenPolicies:    policies,
		IdentityPolicies: identity,
		Metadata:         metadata,
		LeaseDuration:    int(ttl.Seconds()),
		Renewable:        renewable,
	}}, nil
}

// methodAuth logs in to auth/<path>/login. Username/password methods take
// the username in the path and prompt for a missing password.
func (c *loginCommand) methodAuth(client *api.Client, method, authPath string, config map[string]string) (*api.Secret, error) {
	body := make(map[string]interface{}, len(config))
	for k, v := range config {
		body[k] = v
	}
	loginPath := "auth/" + authPath + "/login"
	switch method {
	case "userpass", "ldap", "okta", "radius":
		username := config["username"]
		if username == "" {
			return nil, errors.New("'username' must be specified")
		}
		delete(body, "username")
		if config["password"] == "" {
			pw, err := c.promptSecret("Password (will be hidden): ")
			if err != nil {
				return nil, fmt.Errorf("failed to read password: %w", err)
			}
			body["password"] = pw
		}
		loginPath += "/" + username
	}
	secret, err := client.Logical().Write(loginPath, body)
	if err != nil {
		return nil, err
	}
	if secret == nil {
		return nil, errors.New("empty response from credential provider")
	}
	return secret, nil
}

// extractToken returns the login response, unwrapping a wrapped one when
// unwrap is set; wrapped reports a response left wrapped.
func extractToken(client *api.Client, secret *api.Secret, unwrap bool) (*api.Secret, bool, error) {
	switch {
	case secret == nil:
		return nil, false, errors.New("empty response from auth helper")
	case secret.Auth != nil:
		return secret, false, nil
	case secret.WrapInfo != nil:
		if secret.WrapInfo.WrappedAccessor == "" {
			return nil, false, errors.New("wrapped response does not contain a token")
		}
		if !unwrap {
			return secret, true, nil
		}
		client.SetToken(secret.WrapInfo.Token)
		unwrapped, err := client.Logical().Unwrap("")
		if err != nil {
			return nil, false, err
		}
		return extractToken(client, unwrapped, unwrap)
	}
	return nil, false, errors.New("no auth or wrapping info in response")
}
