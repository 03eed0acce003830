package cli

import (
	"fmt"
	"strings"

	"github.com/hashicorp/vault/api"
)

type auditEnableCommand struct {
	*meta
	flagDescription string
	flagPath        string
	flagLocal       bool
}

func (c *auditEnableCommand) Synopsis() string { return "Enables an audit device" }

func (c *auditEnableCommand) Help() string {
	return usage(c.prog, `audit enable [options] TYPE [CONFIG K=V...]

  Enables an audit device at a given path.

  This command enables an audit device of TYPE. Additional options for
  configuring the audit device can be specified after the type in the same
  format as the "write" command in key/value pairs.

  For example, to configure the file audit device to write audit logs at the
  path "/var/log/audit.log":

      $ `+c.prog+` audit enable file file_path=/var/log/audit.log`, c.flags())
}

func (c *auditEnableCommand) flags() *flagSet {
	s := c.flagSet("audit enable")
	s.stringVar(&c.flagDescription, "description", "",
		"Human-friendly description for the purpose of this audit device.")
	s.stringVar(&c.flagPath, "path", "",
		"Place where the audit device will be accessible. This must be unique "+
			"across all audit devices. This defaults to the \"type\" of the audit device.")
	s.boolVar(&c.flagLocal, "local", false,
		"Mark the audit device as a local-only device. Local devices are not "+
			"replicated or removed by replication.")
	return s
}

func (c *auditEnableCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if len(args) < 1 {
		c.errorf("Error enabling audit device: audit type missing. Valid types include 'file', 'socket' and 'syslog'.")
		return 1
	}
	typ := strings.TrimSpace(args[0])
	path := c.flagPath
	if path == "" {
		path = typ
	}
	path = ensureTrailingSlash(sanitizePath(path))
	options, err := parseArgsDataString(c.stdin, args[1:])
	if err != nil {
		c.errorf("Failed to parse K=V data: %s", err)
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	if err := client.Sys().EnableAuditWithOptions(path, &api.EnableAuditOptions{
		Type:        typ,
		Description: c.flagDescription,
		Options:     options,
		Local:       c.flagLocal,
	}); err != nil {
		return c.apiError(err, "Error enabling audit device")
	}
	c.output(fmt.Sprintf("Success! Enabled the %s audit device at: %s", typ, path))
	return 0
}

type auditDisableCommand struct{ *meta }

func (c *auditDisableCommand) Synopsis() string { return "Disables an audit device" }

func (c *auditDisableCommand) Help() string {
	return usage(c.prog, `audit disable [options] PATH

  Disables an audit device. Once an audit device is disabled, no future audit
  logs are dispatched to it. The data associated with the audit device is not
  affected.

  The argument corresponds to the PATH of audit device, not the TYPE!

  Disable the audit device enabled at "file/":

      $ `+c.prog+` audit disable file/`, c.flagSet("audit disable"))
}

func (c *auditDisableCommand) Run(args []string) int {
	f := c.flagSet("audit disable")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	path := ensureTrailingSlash(sanitizePath(args[0]))
	if err := client.Sys().DisableAudit(path); err != nil {
		return c.apiError(err, "Error disabling audit device")
	}
	c.output("Success! Disabled audit device (if it was enabled) at: " + path)
	return 0
}

type auditListCommand struct {
	*meta
	flagDetailed bool
}

func (c *auditListCommand) Synopsis() string { return "Lists enabled audit devices" }

func (c *auditListCommand) Help() string {
	return usage(c.prog, `audit list [options]

  Lists the enabled audit devices in the server. The output lists the enabled
  audit devices and the options for those devices.

  List all audit devices:

      $ `+c.prog+` audit list

  List detailed output about the audit devices:

      $ `+c.prog+` audit list -detailed`, c.flags())
}

func (c *auditListCommand) flags() *flagSet {
	s := c.flagSet("audit list")
	s.boolVar(&c.flagDetailed, "detailed", false,
		"Print detailed information such as options and replication status about each audit device.")
	return s
}

func (c *auditListCommand) Run(args []string) int {
	f := c.flags()
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	audits, err := client.Sys().ListAudit()
	if err != nil {
		return c.apiError(err, "Error listing audits")
	}
	if c.format() != "table" {
		return c.outputData(audits)
	}
	if len(audits) == 0 {
		c.output("No audit devices are enabled.")
		return 2
	}
	rows := []string{"Path | Type | Description"}
	if c.flagDetailed {
		rows = []string{"Path | Type | Description | Replication | Options"}
	}
	for _, p := range sortedKeys(audits) {
		a := audits[p]
		if !c.flagDetailed {
			rows = append(rows, fmt.Sprintf("%s | %s | %s", a.Path, a.Type, a.Description))
			continue
		}
		replication := "replicated"
		if a.Local {
			replication = "local"
		}
		opts := make([]string, 0, len(a.Options))
		for _, k := range sortedKeys(a.Options) {
			opts = append(opts, k+"="+a.Options[k])
		}
		rows = append(rows, fmt.Sprintf("%s | %s | %s | %s | %s", p, a.Type, a.Description, replication, strings.Join(opts, " ")))
	}
	c.output(tableOutput(rows, "|"))
	return 0
}
