package cli

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/vault/api"
)

const metadataMountUsage = "Specifies the path where the KV backend is mounted. If specified, " +
	"the next argument will be interpreted as the secret path. If this flag is " +
	"not specified, the next argument will be interpreted as the combined mount " +
	"path and secret path, with /metadata/ automatically appended between KV v2 secrets."

type kvMetadataGetCommand struct {
	*meta
	flagMount string
}

func (c *kvMetadataGetCommand) Synopsis() string { return "Retrieves key metadata from the KV store" }

func (c *kvMetadataGetCommand) Help() string {
	return usage(c.prog, `kv metadata get [options] KEY

  Retrieves the metadata from the key-value store at the given key name. If no
  key exists with that name, an error is returned.

      $ `+c.prog+` kv metadata get -mount=secret foo`, c.flags())
}

func (c *kvMetadataGetCommand) flags() *flagSet {
	s := c.flagSet("kv metadata get")
	s.section("Common Options")
	s.stringVar(&c.flagMount, "mount", "", metadataMountUsage)
	return s
}

func (c *kvMetadataGetCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	fullPath, code := c.kvMetadataPath(client, c.flagMount, args[0])
	if code != 0 {
		return code
	}
	secret, err := client.Logical().Read(fullPath)
	if err != nil {
		return c.apiError(err, "Error reading %s", fullPath)
	}
	if secret == nil {
		c.errorf("No value found at %s", fullPath)
		return 2
	}
	if c.flagField != "" {
		return c.printRawField(secret, c.flagField)
	}
	if secret.WrapInfo != nil || c.format() != "table" {
		return c.outputSecret(secret)
	}
	versions, ok := secret.Data["versions"].(map[string]interface{})
	if !ok || versions == nil {
		c.errorf("No value found at %s", fullPath)
		c.outputSecret(secret)
		return 2
	}
	delete(secret.Data, "versions")

	c.outputPath(fullPath, "Metadata Path")
	c.output(headerForMap("Metadata", secret.Data))
	c.outputSecret(secret)

	nums := make([]int, 0, len(versions))
	for k := range versions {
		n, err := strconv.Atoi(k)
		if err != nil {
			c.errorf("Error parsing version %s", k)
			return 2
		}
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		v, _ := versions[strconv.Itoa(n)].(map[string]interface{})
		c.output("\n" + headerForMap(fmt.Sprintf("Version %d", n), v))
		c.outputData(v)
	}
	return 0
}

// kvMetadataPutCommand implements "kv metadata put" and, with patch set,
// "kv metadata patch", which changes only the given settings.
type kvMetadataPutCommand struct {
	*meta
	patch                  bool
	flagMaxVersions        int
	flagCASRequired        boolPtr
	flagDeleteVersionAfter time.Duration
	flagCustomMetadata     map[string]string
	flagRemoveCustom       []string
	flagMount              string
}

func (c *kvMetadataPutCommand) name() string {
	if c.patch {
		return "kv metadata patch"
	}
	return "kv metadata put"
}

func (c *kvMetadataPutCommand) Synopsis() string {
	if c.patch {
		return "Patches key settings in the KV store"
	}
	return "Sets or updates key settings in the KV store"
}

func (c *kvMetadataPutCommand) Help() string {
	return usage(c.prog, c.name()+` [options] KEY

  This command can be used to create a blank key in the key-value store or to
  update key configuration for a specified key.

  Set a max versions setting on the key:

      $ `+c.prog+` `+c.name()+` -mount=secret -max-versions=5 foo

  Set delete-version-after on the key:

      $ `+c.prog+` `+c.name()+` -mount=secret -delete-version-after=3h25m19s foo

  Require Check-and-Set for this key:

      $ `+c.prog+` `+c.name()+` -mount=secret -cas-required foo

  Set custom metadata on the key:

      $ `+c.prog+` `+c.name()+` -mount=secret -custom-metadata=foo=abc -custom-metadata=bar=123 foo`, c.flags())
}

func (c *kvMetadataPutCommand) flags() *flagSet {
	s := c.flagSet(c.name())
	s.section("Common Options")
	s.intVar(&c.flagMaxVersions, "max-versions", -1,
		"The number of versions to keep. If not set, the backend's configured max version is used.")
	s.boolPtrVar(&c.flagCASRequired, "cas-required",
		"If true the key will require the cas parameter to be set on all write "+
			"requests. If false, the backend's configuration will be used.")
	s.durationVar(&c.flagDeleteVersionAfter, "delete-version-after", -1,
		"Specifies the length of time before a version is deleted. If not set, the "+
			"backend's configured delete-version-after is used. Cannot be greater "+
			"than the backend's delete-version-after. The delete-version-after is "+
			"specified as a numeric string with a suffix like \"30s\" or \"3h25m19s\".")
	s.stringMapVar(&c.flagCustomMetadata, "custom-metadata",
		"Specifies arbitrary version-agnostic key=value metadata meant to describe "+
			"a secret. This can be specified multiple times to add multiple pieces of metadata.")
	if c.patch {
		s.stringSliceVar(&c.flagRemoveCustom, "remove-custom-metadata",
			"Key to remove from custom metadata. To specify multiple values, specify this flag multiple times.")
	}
	s.stringVar(&c.flagMount, "mount", "", metadataMountUsage)
	return s
}

func (c *kvMetadataPutCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	fullPath, code := c.kvMetadataPath(client, c.flagMount, args[0])
	if code != 0 {
		return code
	}
	data := map[string]interface{}{}
	if c.flagMaxVersions >= 0 {
		data["max_versions"] = c.flagMaxVersions
	}
	if c.flagDeleteVersionAfter >= 0 {
		data["delete_version_after"] = c.flagDeleteVersionAfter.String()
	}
	if c.flagCASRequired.set {
		data["cas_required"] = c.flagCASRequired.val
	}
	custom := map[string]interface{}{}
	for k, v := range c.flagCustomMetadata {
		custom[k] = v
	}
	for _, k := range c.flagRemoveCustom {
		custom[k] = nil
	}
	if len(custom) > 0 {
		data["custom_metadata"] = custom
	}

	if !c.patch {
		secret, err := client.Logical().Write(fullPath, data)
		return c.writeOutput(fullPath, secret, err)
	}
	secret, err := client.Logical().JSONMergePatch(context.Background(), fullPath, data)
	return c.writeOutput(fullPath, secret, err)
}

type kvMetadataDeleteCommand struct {
	*meta
	flagMount string
}

func (c *kvMetadataDeleteCommand) Synopsis() string {
	return "Deletes all versions and metadata for a key in the KV store"
}

func (c *kvMetadataDeleteCommand) Help() string {
	return usage(c.prog, `kv metadata delete [options] PATH

  Deletes all versions and metadata for the provided key.

      $ `+c.prog+` kv metadata delete -mount=secret foo`, c.flags())
}

func (c *kvMetadataDeleteCommand) flags() *flagSet {
	s := c.flagSet("kv metadata delete")
	s.section("Common Options")
	s.stringVar(&c.flagMount, "mount", "", metadataMountUsage)
	return s
}

func (c *kvMetadataDeleteCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	fullPath, code := c.kvMetadataPath(client, c.flagMount, args[0])
	if code != 0 {
		return code
	}
	if secret, err := client.Logical().Delete(fullPath); err != nil {
		code := c.apiError(err, "Error deleting %s", fullPath)
		if code == 2 && secret != nil {
			c.outputSecret(secret)
		}
		return code
	}
	c.output("Success! Data deleted (if it existed) at: " + fullPath)
	return 0
}

// kvMetadataPath resolves the path argument of a kv metadata command to
// its API path; KV version 1 keeps no metadata. A non-zero code means the
// problem was reported and the command returns that code.
func (m *meta) kvMetadataPath(client *api.Client, flagMount, arg string) (string, int) {
	t, err := m.kvResolve(client, flagMount, arg)
	if err != nil {
		m.errorf("%s", err)
		return "", 2
	}
	if !t.v2 {
		m.errorf("Metadata not supported on KV Version 1")
		return "", 1
	}
	return t.apiPath("metadata"), 0
}
