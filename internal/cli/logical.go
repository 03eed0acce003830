package cli

import (
	"context"
	"io"
	"strings"

	"github.com/hashicorp/vault/api"
)

// sanitizePath removes leading and trailing slashes and spaces.
func sanitizePath(s string) string {
	return strings.Trim(strings.TrimSpace(s), "/")
}

// ensureTrailingSlash appends "/" to a non-empty path.
func ensureTrailingSlash(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, "/") {
		return s
	}
	return s + "/"
}

type readCommand struct{ *meta }

func (c *readCommand) Synopsis() string { return "Read data and retrieves secrets" }

func (c *readCommand) Help() string {
	return usage(c.prog, `read [options] PATH [K=V...]

  Reads data from the server at the given path. This can be used to read
  secrets, generate dynamic credentials, get configuration details, and more.

  Read a secret from the static secrets engine:

      $ `+c.prog+` read secret/my-secret

  For a full list of examples and paths, please see the documentation that
  corresponds to the secrets engine in use.`, c.flagSet("read"))
}

func (c *readCommand) Run(args []string) int {
	f := c.flagSet("read")
	args, client, code := c.begin(f, args, true, 1, -1)
	if code != 0 {
		return code
	}
	path := sanitizePath(args[0])
	data, err := parseArgsDataStringLists(c.stdin, args[1:])
	if err != nil {
		c.errorf("Failed to parse K=V data: %s", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), client.ClientTimeout())
	defer cancel()

	if c.format() == "raw" {
		resp, err := client.Logical().ReadRawWithDataWithContext(ctx, path, data)
		if err != nil {
			return c.apiError(err, "Error reading: %s", path)
		}
		if resp == nil || resp.Body == nil {
			c.errorf("No value found at %s", path)
			return 2
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			c.errorf("Error reading: %s: %s", path, err)
			return 2
		}
		return c.outputData(body)
	}

	secret, err := client.Logical().ReadWithDataWithContext(ctx, path, data)
	if err != nil {
		return c.apiError(err, "Error reading %s", path)
	}
	if secret == nil {
		c.errorf("No value found at %s", path)
		return 2
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	return c.outputSecret(secret)
}

type writeCommand struct {
	*meta
	flagForce bool
}

func (c *writeCommand) Synopsis() string { return "Write data, configuration, and secrets" }

func (c *writeCommand) Help() string {
	return usage(c.prog, `write [options] PATH [DATA K=V...]

  Writes data to the server at the given path. The data can be credentials,
  secrets, configuration, or arbitrary data. The specific behavior of this
  command is determined at the thing mounted at the path.

  Data is specified as "key=value" pairs. If the value begins with an "@", then
  it is loaded from a file. If the value is "-", the value is read from stdin.
  A lone "-" reads a whole JSON object from stdin.

  Persist data in the generic secrets engine:

      $ `+c.prog+` write secret/my-secret foo=bar

  Create a new encryption key in the transit secrets engine:

      $ `+c.prog+` write -f transit/keys/my-key

  Upload an AWS IAM policy from a file on disk:

      $ `+c.prog+` write aws/roles/ops policy=@policy.json

  Configure access to Consul by providing an access token:

      $ echo $MY_TOKEN | `+c.prog+` write consul/config/access token=-`, c.flags())
}

func (c *writeCommand) flags() *flagSet {
	s := c.flagSet("write")
	s.boolVar(&c.flagForce, "force", false,
		"Allow the operation to continue with no key=value pairs. This allows "+
			"writing to keys that do not need or expect data.", "f")
	return s
}

func (c *writeCommand) Run(args []string) int {
	f := c.flags()
	path, data, client, code := c.dataArgs(f, args, &c.flagForce)
	if code != 0 {
		return code
	}
	secret, err := client.Logical().Write(path, data)
	return c.writeOutput(path, secret, err)
}

// dataArgs is the prologue of write and patch: it parses the flags, takes
// PATH and its K=V data (at least one pair unless *force, which parsing
// sets) and builds the client. A non-zero code means the problem was
// reported and the command returns that code.
func (m *meta) dataArgs(f *flagSet, args []string, force *bool) (path string, data map[string]interface{}, client *api.Client, code int) {
	if code := m.parseFlags(f, args, false); code != 0 {
		return "", nil, nil, code
	}
	args = f.args()
	switch {
	case len(args) < 1:
		m.errorf("Not enough arguments (expected 1, got %d)", len(args))
		return "", nil, nil, 1
	case len(args) == 1 && !*force:
		m.errorf("Must supply data or use -force")
		return "", nil, nil, 1
	}
	path = sanitizePath(args[0])
	data, err := parseArgsData(m.stdin, args[1:])
	if err != nil {
		m.errorf("Failed to parse K=V data: %s", err)
		return "", nil, nil, 1
	}
	if client, err = m.apiClient(); err != nil {
		return "", nil, nil, m.clientError(err)
	}
	return path, data, client, 0
}

// writeOutput prints the result of a write-like request.
func (m *meta) writeOutput(path string, secret *api.Secret, err error) int {
	if err != nil {
		code := m.apiError(err, "Error writing data to %s", path)
		if code == 2 && secret != nil {
			m.outputSecret(secret)
		}
		return code
	}
	if secret == nil {
		if m.format() == "table" {
			m.output("Success! Data written to: " + path)
		}
		return 0
	}
	if m.flagField != "" {
		return m.printRawField(secret, m.flagField)
	}
	return m.outputSecret(secret)
}

type patchCommand struct {
	*meta
	flagForce bool
}

func (c *patchCommand) Synopsis() string { return "Patch data, configuration, and secrets" }

func (c *patchCommand) Help() string {
	return usage(c.prog, `patch [options] PATH [DATA K=V...]

  Patches data on the server at the given path with an HTTP PATCH request
  (JSON merge patch). The data is given as for "write".

      $ `+c.prog+` patch pki/roles/example allow_localhost=false`, c.flags())
}

func (c *patchCommand) flags() *flagSet {
	s := c.flagSet("patch")
	s.boolVar(&c.flagForce, "force", false,
		"Allow the operation to continue with no key=value pairs.", "f")
	return s
}

func (c *patchCommand) Run(args []string) int {
	f := c.flags()
	path, data, client, code := c.dataArgs(f, args, &c.flagForce)
	if code != 0 {
		return code
	}
	secret, err := client.Logical().JSONMergePatch(context.Background(), path, data)
	return c.writeOutput(path, secret, err)
}

type listCommand struct{ *meta }

func (c *listCommand) Synopsis() string { return "List data or secrets" }

func (c *listCommand) Help() string {
	return usage(c.prog, `list [options] PATH

  Lists data from the server at the given path. This can be used to list keys
  in a given secrets engine.

  List values under the "my-app" folder of the generic secrets engine:

      $ `+c.prog+` list secret/my-app/`, c.flagSet("list"))
}

func (c *listCommand) Run(args []string) int {
	f := c.flagSet("list")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	path := ensureTrailingSlash(sanitizePath(args[0]))
	secret, err := client.Logical().List(path)
	if err != nil {
		return c.apiError(err, "Error listing %s", path)
	}
	return c.listOutput(path, secret)
}

// listOutput prints a LIST response, or the error for an empty one.
func (m *meta) listOutput(path string, secret *api.Secret) int {
	if secret != nil && secret.WrapInfo != nil && secret.WrapInfo.TTL != 0 {
		return m.outputSecret(secret)
	}
	ok := false
	if secret != nil && secret.Data != nil {
		_, ok = secret.Data["keys"].([]interface{})
	}
	if m.format() != "table" && (secret == nil || secret.Data == nil || !ok) {
		m.outputData(map[string]interface{}{})
		return 2
	}
	if secret == nil || secret.Data == nil {
		m.errorf("No value found at %s", path)
		return 2
	}
	if !ok {
		m.errorf("No entries found at %s", path)
		return 2
	}
	if m.flagField != "" {
		return m.printRawField(secret, m.flagField)
	}
	return m.outputList(secret)
}

type deleteCommand struct{ *meta }

func (c *deleteCommand) Synopsis() string { return "Delete secrets and configuration" }

func (c *deleteCommand) Help() string {
	return usage(c.prog, `delete [options] PATH [K=V...]

  Deletes secrets and configuration from the server at the given path. The
  behavior of "delete" is delegated to the backend corresponding to the given
  path.

  Remove data in the status secrets engine:

      $ `+c.prog+` delete secret/my-secret`, c.flagSet("delete"))
}

func (c *deleteCommand) Run(args []string) int {
	f := c.flagSet("delete")
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if !c.argCount(args, 1, -1) {
		return 1
	}
	path := sanitizePath(args[0])
	data, err := parseArgsDataStringLists(c.stdin, args[1:])
	if err != nil {
		c.errorf("Failed to parse K=V data: %s", err)
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	secret, err := client.Logical().DeleteWithData(path, data)
	if err != nil {
		code := c.apiError(err, "Error deleting %s", path)
		if code == 2 && secret != nil {
			c.outputSecret(secret)
		}
		return code
	}
	c.output("Success! Data deleted (if it existed) at: " + path)
	return 0
}

type pathHelpCommand struct{ *meta }

func (c *pathHelpCommand) Synopsis() string { return "Retrieve API help for paths" }

func (c *pathHelpCommand) Help() string {
	return usage(c.prog, `path-help [options] PATH

  Retrieves API help for paths. All endpoints provide built-in help in
  markdown format. This includes system paths, secret engines, and auth
  methods.

  Get help for the thing mounted at database/:

      $ `+c.prog+` path-help database/`, c.flagSet("path-help"))
}

func (c *pathHelpCommand) Run(args []string) int {
	f := c.flagSet("path-help")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	path := sanitizePath(args[0])
	help, err := client.Help(path)
	if err != nil {
		if strings.Contains(err.Error(), "Vault is sealed") {
			c.errorf("Error: Vault is sealed.\n\nThe path-help command requires the server to be unsealed so that mount points of secret engines are known.")
			return 2
		}
		return c.apiError(err, "Error retrieving help")
	}
	if c.format() == "table" {
		c.output(help.Help)
		return 0
	}
	return c.outputData(help)
}
