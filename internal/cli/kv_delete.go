package cli

import (
	"strings"

	"github.com/hashicorp/vault/api"
)

// kvDeleteCommand implements "kv delete", "kv undelete" and "kv destroy".
type kvDeleteCommand struct {
	*meta
	op           string // delete, undelete or destroy
	flagVersions []string
	flagMount    string
}

func (c *kvDeleteCommand) Synopsis() string {
	switch c.op {
	case "undelete":
		return "Undeletes versions in the KV store"
	case "destroy":
		return "Permanently removes one or more versions in the KV store"
	}
	return "Deletes versions in the KV store"
}

func (c *kvDeleteCommand) Help() string {
	var text string
	switch c.op {
	case "undelete":
		text = `kv undelete [options] KEY

  Undeletes the data for the provided version and path in the key-value store.
  This restores the data, allowing it to be returned on get requests.

  To undelete version 3 of key "foo":

      $ ` + c.prog + ` kv undelete -mount=secret -versions=3 foo`
	case "destroy":
		text = `kv destroy [options] KEY

  Permanently removes the specified versions' data from the key-value store. If
  no key exists at the path, no action is taken.

  To destroy version 11 of the key "foo":

      $ ` + c.prog + ` kv destroy -mount=secret -versions=11 foo`
	default:
		text = `kv delete [options] PATH

  Deletes the data for the provided version and path in the key-value store. The
  versioned data will not be fully removed, but marked as deleted and will no
  longer be returned in normal get requests.

  To delete the latest version of the key "foo":

      $ ` + c.prog + ` kv delete -mount=secret foo

  To delete version 3 of key foo:

      $ ` + c.prog + ` kv delete -mount=secret -versions=3 foo`
	}
	return usage(c.prog, text, c.flags())
}

func (c *kvDeleteCommand) flags() *flagSet {
	s := c.flagSet("kv " + c.op)
	s.section("Common Options")
	usage := "Specifies the version numbers to " + c.op + "."
	if c.op == "delete" {
		usage = "Specifies the version numbers to delete."
	}
	s.stringSliceVar(&c.flagVersions, "versions", usage)
	s.stringVar(&c.flagMount, "mount", "", mountFlagUsage)
	return s
}

func (c *kvDeleteCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if !c.argCount(args, 1, 1) {
		return 1
	}
	if c.op != "delete" && len(c.flagVersions) == 0 {
		c.errorf("No versions provided, use the \"-versions\" flag to specify the version to %s.", c.op)
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	t, err := c.kvResolve(client, c.flagMount, args[0])
	if err != nil {
		c.errorf("%s", err)
		return 2
	}
	if c.op != "delete" {
		if !t.v2 {
			c.errorf("%s not supported on KV Version 1", strings.ToUpper(c.op[:1])+c.op[1:])
			return 1
		}
		fullPath := t.apiPath(c.op)
		secret, err := client.Logical().Write(fullPath, map[string]interface{}{"versions": kvVersions(c.flagVersions)})
		return c.writeOutput(fullPath, secret, err)
	}

	fullPath := t.apiPath("data")
	var secret *api.Secret
	if t.v2 && len(c.flagVersions) > 0 {
		secret, err = client.Logical().Write(t.apiPath("delete"), map[string]interface{}{"versions": kvVersions(c.flagVersions)})
	} else {
		secret, err = client.Logical().Delete(fullPath)
	}
	if err != nil {
		code := c.apiError(err, "Error deleting %s", fullPath)
		if code == 2 && secret != nil {
			c.outputSecret(secret)
		}
		return code
	}
	c.output("Success! Data deleted (if it existed) at: " + fullPath)
	return 0
}

type kvListCommand struct {
	*meta
	flagMount string
}

func (c *kvListCommand) Synopsis() string { return "List data or secrets" }

func (c *kvListCommand) Help() string {
	return usage(c.prog, `kv list [options] PATH

  Lists data from the key-value store at the given path.

  List values under the key "my-app":

      $ `+c.prog+` kv list -mount=secret my-app/`, c.flags())
}

func (c *kvListCommand) flags() *flagSet {
	s := c.flagSet("kv list")
	s.section("Common Options")
	s.stringVar(&c.flagMount, "mount", "", mountFlagUsage)
	return s
}

func (c *kvListCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	switch {
	case len(args) < 1 && c.flagMount == "":
		c.errorf("Not enough arguments (expected 1, got %d)", len(args))
		return 1
	case len(args) > 1:
		c.errorf("Too many arguments (expected 1, got %d)", len(args))
		return 1
	}
	arg := ""
	if len(args) == 1 {
		arg = args[0]
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	t, err := c.kvResolve(client, c.flagMount, arg)
	if err != nil {
		c.errorf("%s", err)
		return 2
	}
	fullPath := ensureTrailingSlash(t.apiPath("metadata"))
	if !t.v2 {
		fullPath = ensureTrailingSlash(t.partial)
	}
	secret, err := client.Logical().List(fullPath)
	if err != nil {
		return c.apiError(err, "Error listing %s", fullPath)
	}
	return c.listOutput(fullPath, secret)
}

type kvEnableVersioningCommand struct{ *meta }

func (c *kvEnableVersioningCommand) Synopsis() string { return "Turns on versioning for a KV store" }

func (c *kvEnableVersioningCommand) Help() string {
	return usage(c.prog, `kv enable-versioning [options] KEY

  This command turns on versioning for the backend at the provided path.

      $ `+c.prog+` kv enable-versioning secret`, c.flagSet("kv enable-versioning"))
}

func (c *kvEnableVersioningCommand) Run(args []string) int {
	f := c.flagSet("kv enable-versioning")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	mountPath := ensureTrailingSlash(sanitizePath(args[0]))
	if err := client.Sys().TuneMount(mountPath, api.MountConfigInput{
		Options: map[string]string{"version": "2"},
	}); err != nil {
		return c.apiError(err, "Error tuning secrets engine %s", mountPath)
	}
	c.output("Success! Tuned the secrets engine at: " + mountPath)
	return 0
}
