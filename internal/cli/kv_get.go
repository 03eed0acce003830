package cli

import (
	"strconv"

	"github.com/hashicorp/vault/api"
)

type kvGetCommand struct {
	*meta
	flagVersion int
	flagMount   string
}

func (c *kvGetCommand) Synopsis() string { return "Retrieves data from the KV store" }

func (c *kvGetCommand) Help() string {
	return usage(c.prog, `kv get [options] KEY

  Retrieves the value from the key-value store at the given key name. If no
  key exists with that name, an error is returned. If a key exists with that
  name but has no data, nothing is returned.

      $ `+c.prog+` kv get -mount=secret foo

  The path-like syntax can also be used:

      $ `+c.prog+` kv get secret/foo

  To view the given key name at a specific version in time, specify the
  "-version" flag:

      $ `+c.prog+` kv get -mount=secret -version=1 foo`, c.flags())
}

func (c *kvGetCommand) flags() *flagSet {
	s := c.flagSet("kv get")
	s.section("Common Options")
	s.intVar(&c.flagVersion, "version", 0, "If passed, the value at the version number will be returned.")
	s.stringVar(&c.flagMount, "mount", "", mountFlagUsage)
	return s
}

func (c *kvGetCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	t, err := c.kvResolve(client, c.flagMount, args[0])
	if err != nil {
		c.errorf("%s", err)
		return 2
	}
	fullPath := t.apiPath("data")
	var params map[string]string
	if t.v2 && c.flagVersion > 0 {
		params = map[string]string{"version": strconv.Itoa(c.flagVersion)}
	}
	secret, err := kvReadRequest(client, fullPath, params)
	if err != nil {
		code := c.apiError(err, "Error reading %s", fullPath)
		if code == 2 && secret != nil {
			c.outputSecret(secret)
		}
		return code
	}
	if secret == nil {
		c.errorf("No value found at %s", fullPath)
		return 2
	}

	if c.flagField != "" {
		if !t.v2 || secret.WrapInfo != nil {
			return c.printRawField(secret, c.flagField)
		}
		data, ok := secret.Data["data"]
		if !ok || data == nil {
			c.errorf("No data found at %s", fullPath)
			return 2
		}
		if c.flagField == "data" {
			if m, ok := data.(map[string]interface{}); ok {
				if _, ok := m["data"]; ok {
					return c.printRawField(m, c.flagField)
				}
			}
			return c.printRawField(secret, c.flagField)
		}
		return c.printRawField(data, c.flagField)
	}

	if secret.WrapInfo != nil || c.format() != "table" {
		return c.outputSecret(secret)
	}
	c.printWarnings(secret)
	if t.v2 {
		c.outputPath(fullPath, "Secret Path")
	}
	if md, ok := secret.Data["metadata"].(map[string]interface{}); ok && md != nil {
		c.output(headerForMap("Metadata", md))
		c.outputData(md)
		c.output("")
	}
	data := secret.Data
	if t.v2 {
		data, _ = secret.Data["data"].(map[string]interface{})
	}
	if data != nil {
		c.output(headerForMap("Data", data))
		c.outputData(data)
	}
	return 0
}

type kvPutCommand struct {
	*meta
	flagCAS   int
	flagMount string
}

func (c *kvPutCommand) Synopsis() string { return "Sets or updates data in the KV store" }

func (c *kvPutCommand) Help() string {
	return usage(c.prog, `kv put [options] KEY [DATA]

  Writes the data to the given path in the key-value store. The data can be of
  any type.

      $ `+c.prog+` kv put -mount=secret foo bar=baz

  The data can also be consumed from a file on disk by prefixing with the "@"
  symbol. For example:

      $ `+c.prog+` kv put -mount=secret foo @data.json

  Or it can be read from stdin using the "-" symbol:

      $ echo "abcd1234" | `+c.prog+` kv put -mount=secret foo bar=-

  To perform a Check-And-Set operation, specify the -cas flag with the
  appropriate version number corresponding to the key you want to perform
  the CAS operation on:

      $ `+c.prog+` kv put -mount=secret -cas=1 foo bar=baz`, c.flags())
}

func (c *kvPutCommand) flags() *flagSet {
	s := c.flagSet("kv put")
	s.section("Common Options")
	s.intVar(&c.flagCAS, "cas", -1,
		"Specifies to use a Check-And-Set operation. If not set the write will be "+
			"allowed. If set to 0 a write will only be allowed if the key doesn't "+
			"exist. If the index is non-zero the write will only be allowed if the "+
			"key's current version matches the version specified in the cas parameter.")
	s.stringVar(&c.flagMount, "mount", "", mountFlagUsage)
	return s
}

func (c *kvPutCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	switch {
	case len(args) < 1:
		c.errorf("Not enough arguments (expected >1, got %d)", len(args))
		return 1
	case len(args) == 1:
		c.errorf("Must supply data")
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	data, err := parseArgsData(c.stdin, args[1:])
	if err != nil {
		c.errorf("Failed to parse K=V data: %s", err)
		return 1
	}
	t, err := c.kvResolve(client, c.flagMount, args[0])
	if err != nil {
		c.errorf("%s", err)
		return 2
	}
	fullPath := t.apiPath("data")
	if t.v2 {
		opts := map[string]interface{}{}
		if c.flagCAS > -1 {
			opts["cas"] = c.flagCAS
		}
		data = map[string]interface{}{"data": data, "options": opts}
	}
	secret, err := client.Logical().Write(fullPath, data)
	return c.kvWriteOutput(fullPath, secret, err)
}

// kvWriteOutput prints the result of a KV write: for v2 the new version's
// metadata under the "Secret Path" header.
func (m *meta) kvWriteOutput(fullPath string, secret *api.Secret, err error) int {
	if err != nil {
		code := m.apiError(err, "Error writing data to %s", fullPath)
		if code == 2 && secret != nil {
			m.outputSecret(secret)
		}
		return code
	}
	if secret == nil {
		if m.format() == "table" {
			m.output("Success! Data written to: " + fullPath)
		}
		return 0
	}
	if m.flagField != "" {
		return m.printRawField(secret, m.flagField)
	}
	if secret.WrapInfo != nil && secret.WrapInfo.TTL != 0 {
		return m.outputSecret(secret)
	}
	if m.format() == "table" {
		m.printWarnings(secret)
		m.outputPath(fullPath, "Secret Path")
		m.output(headerForMap("Metadata", secret.Data))
		return m.outputData(secret.Data)
	}
	return m.outputSecret(secret)
}
