package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// mountFlags are the options shared by "secrets enable" and "auth enable".
type mountFlags struct {
	description     string
	path            string
	defaultLeaseTTL time.Duration
	maxLeaseTTL     time.Duration
	options         map[string]string
	local           bool
	sealWrap        bool
	version         int
	listing         string
	tokenType       string
}

func (f *mountFlags) register(s *flagSet, kind string) {
	s.stringVar(&f.description, "description", "", "Human-friendly description for the purpose of this "+kind+".")
	s.stringVar(&f.path, "path", "",
		"Place where the "+kind+" will be accessible. This must be unique across all "+
			kind+"s. This defaults to the \"type\" of the "+kind+".")
	s.durationVar(&f.defaultLeaseTTL, "default-lease-ttl", 0,
		"The default lease TTL for this "+kind+". If unspecified, this defaults to "+
			"the server's globally configured default lease TTL.")
	s.durationVar(&f.maxLeaseTTL, "max-lease-ttl", 0,
		"The maximum lease TTL for this "+kind+". If unspecified, this defaults to "+
			"the server's globally configured maximum lease TTL.")
	s.stringMapVar(&f.options, "options",
		"Key-value pair provided as key=value for the mount options. This can be specified multiple times.")
	s.boolVar(&f.local, "local", false,
		"Mark the "+kind+" as local-only. Local mounts are not replicated or removed by replication.")
	s.boolVar(&f.sealWrap, "seal-wrap", false, "Enable seal wrapping of critical values in the "+kind+".")
	s.intVar(&f.version, "version", 0, "Select the version of the engine to run. Not supported by all engines.")
	s.stringVar(&f.listing, "listing-visibility", "",
		"Determines the visibility of the mount in the UI-specific listing endpoint.")
}

func (f *mountFlags) input(typ string) *api.MountInput {
	opts := f.options
	if f.version > 0 {
		if opts == nil {
			opts = map[string]string{}
		}
		opts["version"] = strconv.Itoa(f.version)
	}
	return &api.MountInput{
		Type:        typ,
		Description: f.description,
		Local:       f.local,
		SealWrap:    f.sealWrap,
		Options:     opts,
		Config: api.MountConfigInput{
			DefaultLeaseTTL:   f.defaultLeaseTTL.String(),
			MaxLeaseTTL:       f.maxLeaseTTL.String(),
			ListingVisibility: f.listing,
			TokenType:         f.tokenType,
		},
	}
}

type secretsEnableCommand struct {
	*meta
	mf mountFlags
}

func (c *secretsEnableCommand) Synopsis() string { return "Enable a secrets engine" }

func (c *secretsEnableCommand) Help() string {
	return usage(c.prog, `secrets enable [options] TYPE

  Enables a secrets engine. By default, secrets engines are enabled at the path
  corresponding to their TYPE, but users can customize the path using the
  -path option.

  Once enabled, the server will route all requests which begin with the path
  to the secrets engine.

  Enable the AWS secrets engine at aws/:

      $ `+c.prog+` secrets enable aws

  Enable the database secrets engine with an explicit maximum TTL of 30m:

      $ `+c.prog+` secrets enable -max-lease-ttl=30m database

  Enable a versioned key/value store at kv/:

      $ `+c.prog+` secrets enable -version=2 kv`, c.flags())
}

func (c *secretsEnableCommand) flags() *flagSet {
	s := c.flagSet("secrets enable")
	c.mf.register(s, "secrets engine")
	return s
}

func (c *secretsEnableCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	typ := strings.TrimSpace(args[0])
	mountPath := c.mf.path
	if mountPath == "" {
		mountPath = typ
	}
	mountPath = ensureTrailingSlash(mountPath)
	if err := client.Sys().Mount(mountPath, c.mf.input(typ)); err != nil {
		return c.apiError(err, "Error enabling")
	}
	c.output(fmt.Sprintf("Success! Enabled the %s secrets engine at: %s", typ, mountPath))
	return 0
}

type secretsDisableCommand struct{ *meta }

func (c *secretsDisableCommand) Synopsis() string { return "Disable a secrets engine" }

func (c *secretsDisableCommand) Help() string {
	return usage(c.prog, `secrets disable [options] PATH

  Disables a secrets engine at the given PATH. The argument corresponds to
  the enabled PATH of the engine, not the TYPE! All secrets created by this
  engine are revoked and its data is removed.

  Disable the secrets engine enabled at aws/:

      $ `+c.prog+` secrets disable aws/`, c.flagSet("secrets disable"))
}

func (c *secretsDisableCommand) Run(args []string) int {
	f := c.flagSet("secrets disable")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	path := ensureTrailingSlash(sanitizePath(args[0]))
	if err := client.Sys().Unmount(path); err != nil {
		return c.apiError(err, "Error disabling secrets engine at %s", path)
	}
	c.output("Success! Disabled the secrets engine (if it existed) at: " + path)
	return 0
}

type secretsListCommand struct {
	*meta
	flagDetailed bool
}

func (c *secretsListCommand) Synopsis() string { return "List enabled secrets engines" }

func (c *secretsListCommand) Help() string {
	return usage(c.prog, `secrets list [options]

  Lists the enabled secret engines on the server. This command also outputs
  information about the enabled path including configured TTLs and
  human-friendly descriptions. A TTL of "system" indicates that the system
  default is in use.

  List all enabled secrets engines:

      $ `+c.prog+` secrets list

  List all enabled secrets engines with detailed output:

      $ `+c.prog+` secrets list -detailed`, c.flags())
}

func (c *secretsListCommand) flags() *flagSet {
	s := c.flagSet("secrets list")
	s.boolVar(&c.flagDetailed, "detailed", false,
		"Print detailed information such as TTLs and replication status about each secrets engine.")
	return s
}

func (c *secretsListCommand) Run(args []string) int {
	f := c.flags()
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	mounts, err := client.Sys().ListMounts()
	if err != nil {
		return c.apiError(err, "Error listing secrets engines")
	}
	if c.format() != "table" {
		return c.outputData(mounts)
	}
	c.output(tableOutput(mountRows(mounts, c.flagDetailed, false), "|"))
	return 0
}

// mountRows renders the rows of "secrets list" and "auth list".
func mountRows(mounts map[string]*api.MountOutput, detailed, auth bool) []string {
	paths := make([]string, 0, len(mounts))
	for p := range mounts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	ttl := func(typ string, v int) string {
		switch {
		case typ == "system", typ == "cubbyhole":
			return ""
		case v != 0:
			return strconv.Itoa(v)
		}
		return "system"
	}
	var out []string
	switch {
	case !detailed && auth:
		out = []string{"Path | Type | Accessor | Description | Version"}
	case !detailed:
		out = []string{"Path | Type | Accessor | Description"}
	case auth:
		out = []string{"Path | Plugin | Accessor | Default TTL | Max TTL | Token Type | Replication | Seal Wrap | External Entropy Access | Options | Description | UUID | Version | Running Version | Running SHA256 | Deprecation Status"}
	default:
		out = []string{"Path | Plugin | Accessor | Default TTL | Max TTL | Force No Cache | Replication | Seal Wrap | External Entropy Access | Options | Description | UUID | Version | Running Version | Running SHA256 | Deprecation Status"}
	}
	for _, p := range paths {
		m := mounts[p]
		if !detailed {
			if auth {
				out = append(out, fmt.Sprintf("%s | %s | %s | %s | %s", p, m.Type, m.Accessor, m.Description, m.PluginVersion))
			} else {
				out = append(out, fmt.Sprintf("%s | %s | %s | %s", p, m.Type, m.Accessor, m.Description))
			}
			continue
		}
		replication := "replicated"
		if m.Local {
			replication = "local"
		}
		fourth := fmt.Sprintf("%t", m.Config.ForceNoCache)
		if auth {
			fourth = m.Config.TokenType
		}
		out = append(out, fmt.Sprintf("%s | %s | %s | %s | %s | %s | %s | %t | %v | %v | %s | %s | %s | %s | %s | %s",
			p, m.Type, m.Accessor, ttl(m.Type, m.Config.DefaultLeaseTTL), ttl(m.Type, m.Config.MaxLeaseTTL),
			fourth, replication, m.SealWrap, m.ExternalEntropyAccess, m.Options, m.Description,
			m.UUID, m.PluginVersion, m.RunningVersion, m.RunningSha256, m.DeprecationStatus))
	}
	return out
}

// tuneFlags are the options of "secrets tune" and "auth tune".
type tuneFlags struct {
	defaultLeaseTTL time.Duration
	maxLeaseTTL     time.Duration
	description     string
	options         map[string]string
	version         int
	listing         string
}

func (t *tuneFlags) register(s *flagSet, kind string) {
	s.durationVar(&t.defaultLeaseTTL, "default-lease-ttl", 0,
		"The default lease TTL for this "+kind+". If unspecified, this defaults to "+
			"the server's globally configured default lease TTL, or a previously "+
			"configured value for the "+kind+".")
	s.durationVar(&t.maxLeaseTTL, "max-lease-ttl", 0,
		"The maximum lease TTL for this "+kind+". If unspecified, this defaults to "+
			"the server's globally configured maximum lease TTL, or a previously "+
			"configured value for the "+kind+".")
	s.stringVar(&t.description, "description", "",
		"Human-friendly description of this "+kind+". This overrides the current stored value, if any.")
	s.stringMapVar(&t.options, "options",
		"Key-value pair provided as key=value for the mount options. This can be specified multiple times.")
	s.intVar(&t.version, "version", 0, "Select the version of the engine to run. Not supported by all engines.")
	s.stringVar(&t.listing, "listing-visibility", "",
		"Determines the visibility of the mount in the UI-specific listing endpoint.")
}

func (t *tuneFlags) input(s *flagSet) api.MountConfigInput {
	opts := t.options
	if t.version > 0 {
		if opts == nil {
			opts = map[string]string{}
		}
		opts["version"] = strconv.Itoa(t.version)
	}
	in := api.MountConfigInput{
		DefaultLeaseTTL:   ttlToAPI(t.defaultLeaseTTL),
		MaxLeaseTTL:       ttlToAPI(t.maxLeaseTTL),
		Options:           opts,
		ListingVisibility: t.listing,
	}
	if s.isSet("description") {
		in.Description = &t.description
	}
	return in
}

type secretsTuneCommand struct {
	*meta
	tf tuneFlags
}

func (c *secretsTuneCommand) Synopsis() string { return "Tune a secrets engine configuration" }

func (c *secretsTuneCommand) Help() string {
	return usage(c.prog, `secrets tune [options] PATH

  Tunes the configuration options for the secrets engine at the given PATH.
  The argument corresponds to the PATH where the secrets engine is enabled,
  not the TYPE!

  Tune the default lease for the PKI secrets engine:

      $ `+c.prog+` secrets tune -default-lease-ttl=72h pki/`, c.flags())
}

func (c *secretsTuneCommand) flags() *flagSet {
	s := c.flagSet("secrets tune")
	c.tf.register(s, "secrets engine")
	return s
}

func (c *secretsTuneCommand) Run(args []string) int {
	f := c.flags()
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	mountPath := ensureTrailingSlash(sanitizePath(args[0]))
	if err := client.Sys().TuneMount(mountPath, c.tf.input(f)); err != nil {
		return c.apiError(err, "Error tuning secrets engine %s", mountPath)
	}
	c.output("Success! Tuned the secrets engine at: " + mountPath)
	return 0
}

type secretsMoveCommand struct{ *meta }

func (c *secretsMoveCommand) Synopsis() string { return "Move a secrets engine to a new path" }

func (c *secretsMoveCommand) Help() string {
	return usage(c.prog, `secrets move [options] SOURCE DESTINATION

  Moves an existing secrets engine to a new path. Any leases from the old
  secrets engine are revoked, but all configuration associated with the engine
  is preserved.

  Move the existing secrets engine at secret/ to generic/:

      $ `+c.prog+` secrets move secret/ generic/`, c.flagSet("secrets move"))
}

func (c *secretsMoveCommand) Run(args []string) int {
	f := c.flagSet("secrets move")
	args, client, code := c.begin(f, args, false, 2, 2)
	if code != 0 {
		return code
	}
	src := ensureTrailingSlash(sanitizePath(args[0]))
	dst := ensureTrailingSlash(sanitizePath(args[1]))
	return c.move(client, src, dst, "secrets engine")
}

// move remounts src at dst and waits for the migration to finish.
func (m *meta) move(client *api.Client, src, dst, kind string) int {
	resp, err := client.Sys().StartRemount(src, dst)
	if err != nil && err.Error() == "data from server response is empty" {
		// The server moved the mount synchronously.
		resp, err = &api.MountMigrationOutput{}, nil
	}
	if err != nil {
		return m.apiError(err, "Error moving %s %s to %s", kind, src, dst)
	}
	if resp.MigrationID == "" {
		m.output(fmt.Sprintf("Success! Finished moving %s %s to %s", kind, src, dst))
		return 0
	}
	m.output(fmt.Sprintf("Started moving %s %s to %s, with migration ID %s", kind, src, dst, resp.MigrationID))
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		status, err := client.Sys().RemountStatus(resp.MigrationID)
		if err != nil {
			return m.apiError(err, "Error checking migration status of %s %s to %s", kind, src, dst)
		}
		if status.MigrationInfo != nil {
			switch status.MigrationInfo.MigrationStatus {
			case "success":
				m.output(fmt.Sprintf("Success! Finished moving %s %s to %s, with migration ID %s", kind, src, dst, resp.MigrationID))
				return 0
			case "failure":
				m.errorf("Failure! Error encountered moving %s %s to %s, with migration ID %s", kind, src, dst, resp.MigrationID)
				return 2
			}
		}
		time.Sleep(time.Second)
	}
	m.errorf("Timed out waiting for migration %s of %s %s to %s", resp.MigrationID, kind, src, dst)
	return 2
}
