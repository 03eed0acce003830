package cli

import (
	"fmt"
	"strings"
)

type authEnableCommand struct {
	*meta
	mf mountFlags
}

func (c *authEnableCommand) Synopsis() string { return "Enables a new auth method" }

func (c *authEnableCommand) Help() string {
	return usage(c.prog, `auth enable [options] TYPE

  Enables a new auth method. An auth method is responsible for authenticating
  users or machines and assigning them policies with which they can access the
  server.

  Enable the userpass auth method at userpass/:

      $ `+c.prog+` auth enable userpass

  Enable the AppRole auth method at approle-prod/:

      $ `+c.prog+` auth enable -path=approle-prod approle`, c.flags())
}

func (c *authEnableCommand) flags() *flagSet {
	s := c.flagSet("auth enable")
	c.mf.register(s, "auth method")
	s.stringVar(&c.mf.tokenType, "token-type", "",
		"Sets a forced token type for the mount (\"service\" or \"batch\").")
	return s
}

func (c *authEnableCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	typ := strings.TrimSpace(args[0])
	authPath := c.mf.path
	if authPath == "" {
		authPath = typ
	}
	authPath = ensureTrailingSlash(sanitizePath(authPath))
	if err := client.Sys().EnableAuthWithOptions(authPath, c.mf.input(typ)); err != nil {
		return c.apiError(err, "Error enabling %s auth", typ)
	}
	c.output(fmt.Sprintf("Success! Enabled %s auth method at: %s", typ, authPath))
	return 0
}

type authDisableCommand struct{ *meta }

func (c *authDisableCommand) Synopsis() string { return "Disables an auth method" }

func (c *authDisableCommand) Help() string {
	return usage(c.prog, `auth disable [options] PATH

  Disables an existing auth method at the given PATH. The argument corresponds
  to the PATH of the mount, not the TYPE! Once the auth method is disabled its
  path can no longer be used to authenticate.

  All access tokens generated via the disabled auth method are immediately
  revoked.

  Disable the auth method at userpass/:

      $ `+c.prog+` auth disable userpass/`, c.flagSet("auth disable"))
}

func (c *authDisableCommand) Run(args []string) int {
	f := c.flagSet("auth disable")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	path := ensureTrailingSlash(sanitizePath(args[0]))
	if err := client.Sys().DisableAuth(path); err != nil {
		return c.apiError(err, "Error disabling auth method at %s", path)
	}
	c.output("Success! Disabled the auth method (if it existed) at: " + path)
	return 0
}

type authListCommand struct {
	*meta
	flagDetailed bool
}

func (c *authListCommand) Synopsis() string { return "Lists enabled auth methods" }

func (c *authListCommand) Help() string {
	return usage(c.prog, `auth list [options]

  Lists the enabled auth methods on the server. This command also outputs
  information about the method including configuration and human-friendly
  descriptions. A TTL of "system" indicates that the system default is in use.

  List all enabled auth methods:

      $ `+c.prog+` auth list

  List all enabled auth methods with detailed output:

      $ `+c.prog+` auth list -detailed`, c.flags())
}

func (c *authListCommand) flags() *flagSet {
	s := c.flagSet("auth list")
	s.boolVar(&c.flagDetailed, "detailed", false,
		"Print detailed information such as configuration and replication status "+
			"about each auth method. This option is only applicable to table-formatted output.")
	return s
}

func (c *authListCommand) Run(args []string) int {
	f := c.flags()
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	auths, err := client.Sys().ListAuth()
	if err != nil {
		return c.apiError(err, "Error listing enabled authentications")
	}
	if c.format() != "table" {
		return c.outputData(auths)
	}
	c.output(tableOutput(mountRows(auths, c.flagDetailed, true), "|"))
	return 0
}

type authTuneCommand struct {
	*meta
	tf        tuneFlags
	tokenType string
}

func (c *authTuneCommand) Synopsis() string { return "Tunes an auth method configuration" }

func (c *authTuneCommand) Help() string {
	return usage(c.prog, `auth tune [options] PATH

  Tunes the configuration options for the auth method at the given PATH. The
  argument corresponds to the PATH where the auth method is enabled, not the
  TYPE!

  Tune the default lease for the github auth method:

      $ `+c.prog+` auth tune -default-lease-ttl=72h github/`, c.flags())
}

func (c *authTuneCommand) flags() *flagSet {
	s := c.flagSet("auth tune")
	c.tf.register(s, "auth method")
	s.stringVar(&c.tokenType, "token-type", "",
		"Sets a forced token type for the mount (\"service\" or \"batch\").")
	return s
}

func (c *authTuneCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	mountPath := ensureTrailingSlash(sanitizePath(args[0]))
	in := c.tf.input(f)
	in.TokenType = c.tokenType
	if err := client.Sys().TuneMount("auth/"+mountPath, in); err != nil {
		return c.apiError(err, "Error tuning auth method %s", mountPath)
	}
	c.output("Success! Tuned the auth method at: " + mountPath)
	return 0
}
