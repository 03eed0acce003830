package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/hashicorp/vault/api"
)

type kvPatchCommand struct {
	*meta
	flagCAS        int
	flagMethod     string
	flagMount      string
	flagRemoveData []string
}

func (c *kvPatchCommand) Synopsis() string {
	return "Sets or updates data in the KV store without overwriting"
}

func (c *kvPatchCommand) Help() string {
	return usage(c.prog, `kv patch [options] KEY [DATA]

  *NOTE*: This is only supported for KV v2 engine mounts.

  Writes the data to the corresponding path in the key-value store. The data
  can be of any type.

      $ `+c.prog+` kv patch -mount=secret foo bar=baz

  By default, this operation will attempt an HTTP PATCH operation. If your
  policy does not allow that, it will fall back to a read/local update/write
  approach. When -method=patch is specified, only an HTTP PATCH operation will
  be tried. When -method=rw is specified, only a read/local update/write
  approach will be tried.

      $ `+c.prog+` kv patch -mount=secret -method=rw foo bar=baz

  To remove keys, use -remove-data:

      $ `+c.prog+` kv patch -mount=secret -remove-data=bar foo`, c.flags())
}

func (c *kvPatchCommand) flags() *flagSet {
	s := c.flagSet("kv patch")
	s.section("Common Options")
	s.intVar(&c.flagCAS, "cas", 0,
		"Specifies to use a Check-And-Set operation. If set to 0 or not set, the "+
			"patch will be allowed. If the index is non-zero the patch will only be "+
			"allowed if the key's current version matches the version specified in "+
			"the cas parameter.")
	s.stringVar(&c.flagMethod, "method", "",
		"Specifies which method of patching to use. If set to \"patch\", then an "+
			"HTTP PATCH request will be issued. If set to \"rw\", then a read will be "+
			"performed, then a local update, followed by a remote update.")
	s.stringVar(&c.flagMount, "mount", "", mountFlagUsage)
	s.stringSliceVar(&c.flagRemoveData, "remove-data",
		"Key to remove from data. To specify multiple values, specify this flag multiple times.")
	return s
}

func (c *kvPatchCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	switch {
	case len(args) < 1:
		c.errorf("Not enough arguments (expected >1, got %d)", len(args))
		return 1
	case len(c.flagRemoveData) == 0 && len(args) == 1:
		c.errorf("Must supply data")
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	newData, err := parseArgsData(c.stdin, args[1:])
	if err != nil {
		c.errorf("Failed to parse K=V data: %s", err)
		return 1
	}
	t, err := c.kvResolve(client, c.flagMount, args[0])
	if err != nil {
		c.errorf("%s", err)
		return 2
	}
	if !t.v2 {
		c.errorf("K/V engine mount must be version 2 for patch support")
		return 2
	}
	fullPath := t.apiPath("data")
	for _, k := range c.flagRemoveData {
		// A null in a JSON merge patch removes the key.
		newData[k] = nil
	}

	var secret *api.Secret
	var code int
	switch c.flagMethod {
	case "rw":
		secret, code = c.readThenWrite(client, fullPath, newData)
	case "patch":
		secret, code = c.mergePatch(client, fullPath, newData, false)
	case "":
		secret, code = c.mergePatch(client, fullPath, newData, true)
	default:
		c.errorf("Unsupported method provided to -method flag: %s", c.flagMethod)
		return 2
	}
	if code != 0 || secret == nil {
		return code
	}
	return c.kvWriteOutput(fullPath, secret, nil)
}

func (c *kvPatchCommand) readThenWrite(client *api.Client, fullPath string, newData map[string]interface{}) (*api.Secret, int) {
	curl := client.OutputCurlString()
	client.SetOutputCurlString(false)
	secret, err := kvReadRequest(client, fullPath, nil)
	client.SetOutputCurlString(curl)
	if err != nil {
		c.errorf("Error doing pre-read at %s: %s", fullPath, err)
		return nil, 2
	}
	if secret == nil || secret.Data == nil {
		c.errorf("No value found at %s", fullPath)
		return nil, 2
	}
	meta, ok := secret.Data["metadata"].(map[string]interface{})
	if !ok || meta == nil {
		c.errorf("No metadata found at %s; patch only works on existing data", fullPath)
		return nil, 2
	}
	data, ok := secret.Data["data"].(map[string]interface{})
	if !ok || data == nil {
		c.errorf("No data found at %s; patch only works on existing data", fullPath)
		return nil, 2
	}
	for k, v := range newData {
		if v == nil {
			delete(data, k)
			continue
		}
		data[k] = v
	}
	secret, err = client.Logical().Write(fullPath, map[string]interface{}{
		"data":    data,
		"options": map[string]interface{}{"cas": meta["version"]},
	})
	if err != nil {
		return nil, c.apiError(err, "Error writing data to %s", fullPath)
	}
	if secret == nil && c.format() == "table" {
		c.output("Success! Data written to: " + fullPath)
	}
	return secret, 0
}

func (c *kvPatchCommand) mergePatch(client *api.Client, fullPath string, newData map[string]interface{}, fallback bool) (*api.Secret, int) {
	body := map[string]interface{}{"data": newData, "options": map[string]interface{}{}}
	if c.flagCAS > 0 {
		body["options"].(map[string]interface{})["cas"] = c.flagCAS
	}
	secret, err := client.Logical().JSONMergePatch(context.Background(), fullPath, body)
	if err != nil {
		var re *api.ResponseError
		if fallback && errors.As(err, &re) {
			switch re.StatusCode {
			case http.StatusMethodNotAllowed:
				return c.readThenWrite(client, fullPath, newData)
			case http.StatusForbidden:
				c.warn(fmt.Sprintf("Data was written to %s but we recommend that you add "+
					"the \"patch\" capability to your ACL policy in order to use HTTP "+
					"PATCH in the future.", fullPath))
				return c.readThenWrite(client, fullPath, newData)
			}
		}
		return nil, c.apiError(err, "Error writing data to %s", fullPath)
	}
	if secret == nil && c.format() == "table" {
		c.output("Success! Data written to: " + fullPath)
	}
	return secret, 0
}

type kvRollbackCommand struct {
	*meta
	flagVersion int
	flagMount   string
}

func (c *kvRollbackCommand) Synopsis() string { return "Rolls back to a previous version of data" }

func (c *kvRollbackCommand) Help() string {
	return usage(c.prog, `kv rollback [options] KEY

  *NOTE*: This is only supported for KV v2 engine mounts.

  Restores a given previous version to the current version at the given path.
  The value is written as a new version; for instance, if the current version
  is 5 and the rollback version is 2, the data from version 2 will become
  version 6.

      $ `+c.prog+` kv rollback -mount=secret -version=2 foo`, c.flags())
}

func (c *kvRollbackCommand) flags() *flagSet {
	s := c.flagSet("kv rollback")
	s.section("Common Options")
	s.intVar(&c.flagVersion, "version", 0, "Specifies the version number that should be made current again.")
	s.stringVar(&c.flagMount, "mount", "", mountFlagUsage)
	return s
}

func (c *kvRollbackCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	switch {
	case len(args) != 1:
		c.errorf("Invalid number of arguments (expected 1, got %d)", len(args))
		return 1
	case !f.isSet("version"):
		c.errorf("Version flag must be specified")
		return 1
	case c.flagVersion <= 0:
		c.errorf("Invalid value %d for the version flag", c.flagVersion)
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
	if !t.v2 {
		c.errorf("K/V engine mount must be version 2 for rollback support")
		return 2
	}
	fullPath := t.apiPath("data")

	current, code := c.readVersion(client, fullPath, nil)
	if code != 0 {
		return code
	}
	casVersion := current["metadata"].(map[string]interface{})["version"]

	target, code := c.readVersion(client, fullPath, map[string]string{"version": strconv.Itoa(c.flagVersion)})
	if code != 0 {
		return code
	}
	meta := target["metadata"].(map[string]interface{})
	if dt, _ := meta["deletion_time"].(string); dt != "" {
		c.errorf("Cannot roll back to a version that has been deleted")
		return 2
	}
	if destroyed, _ := meta["destroyed"].(bool); destroyed {
		c.errorf("Cannot roll back to a version that has been destroyed")
		return 2
	}
	data, ok := target["data"].(map[string]interface{})
	if !ok || data == nil {
		c.errorf("No data found at %s; rollback only works on existing data", fullPath)
		return 2
	}
	secret, err := client.Logical().Write(fullPath, map[string]interface{}{
		"data":    data,
		"options": map[string]interface{}{"cas": casVersion},
	})
	if err != nil {
		return c.apiError(err, "Error writing data to %s", fullPath)
	}
	if secret == nil {
		if c.format() == "table" {
			c.output("Success! Data written to: " + fullPath)
		}
		return 0
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	return c.outputSecret(secret)
}

// readVersion reads a KV v2 entry and checks that it has metadata.
func (c *kvRollbackCommand) readVersion(client *api.Client, fullPath string, params map[string]string) (map[string]interface{}, int) {
	secret, err := kvReadRequest(client, fullPath, params)
	if err != nil {
		c.errorf("Error doing pre-read at %s: %s", fullPath, err)
		return nil, 2
	}
	if secret == nil || secret.Data == nil {
		c.errorf("No value found at %s", fullPath)
		return nil, 2
	}
	if meta, ok := secret.Data["metadata"].(map[string]interface{}); !ok || meta == nil {
		c.errorf("No metadata found at %s; rollback only works on existing data", fullPath)
		return nil, 2
	}
	return secret.Data, 0
}
