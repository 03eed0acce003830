package cli

import (
	"io"
	"os"
	"strings"

	"github.com/coffer-dev/coffer/internal/policy"
)

type policyWriteCommand struct{ *meta }

func (c *policyWriteCommand) Synopsis() string { return "Uploads a named policy from a file" }

func (c *policyWriteCommand) Help() string {
	return usage(c.prog, `policy write [options] NAME PATH

  Uploads a policy with name NAME from the contents of a local file PATH or
  stdin. If PATH is "-", the policy is read from stdin. Otherwise, it is
  loaded from the file at the given path on the local disk.

  Upload a policy named "my-policy" from "/tmp/policy.hcl" on the local disk:

      $ `+c.prog+` policy write my-policy /tmp/policy.hcl

  Upload a policy from stdin:

      $ cat my-policy.hcl | `+c.prog+` policy write my-policy -`, c.flagSet("policy write"))
}

func (c *policyWriteCommand) Run(args []string) int {
	f := c.flagSet("policy write")
	args, client, code := c.begin(f, args, false, 2, 2)
	if code != 0 {
		return code
	}
	name := strings.ToLower(strings.TrimSpace(args[0]))
	path := strings.TrimSpace(args[1])
	var r io.Reader = c.stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			c.errorf("Error opening policy file: %s", err)
			return 2
		}
		defer file.Close()
		r = file
	}
	rules, err := io.ReadAll(r)
	if err != nil {
		c.errorf("Error reading policy: %s", err)
		return 2
	}
	if err := client.Sys().PutPolicy(name, string(rules)); err != nil {
		return c.apiError(err, "Error uploading policy")
	}
	c.output("Success! Uploaded policy: " + name)
	return 0
}

type policyReadCommand struct{ *meta }

func (c *policyReadCommand) Synopsis() string { return "Prints the contents of a policy" }

func (c *policyReadCommand) Help() string {
	return usage(c.prog, `policy read [options] [NAME]

  Prints the contents and metadata of the policy named NAME. If the policy
  does not exist, an error is returned.

  Read the policy named "my-policy":

      $ `+c.prog+` policy read my-policy`, c.flagSet("policy read"))
}

func (c *policyReadCommand) Run(args []string) int {
	f := c.flagSet("policy read")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	name := strings.ToLower(strings.TrimSpace(args[0]))
	rules, err := client.Sys().GetPolicy(name)
	if err != nil {
		return c.apiError(err, "Error reading policy named %s", name)
	}
	if rules == "" {
		c.errorf("No policy named: %s", name)
		return 2
	}
	if c.format() == "table" {
		c.output(strings.TrimSpace(rules))
		return 0
	}
	return c.outputData(map[string]string{"policy": rules})
}

type policyListCommand struct{ *meta }

func (c *policyListCommand) Synopsis() string { return "Lists the installed policies" }

func (c *policyListCommand) Help() string {
	return usage(c.prog, `policy list [options]

  Lists the names of the policies that are installed on the server.

  List the available policies:

      $ `+c.prog+` policy list`, c.flagSet("policy list"))
}

func (c *policyListCommand) Run(args []string) int {
	f := c.flagSet("policy list")
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	policies, err := client.Sys().ListPolicies()
	if err != nil {
		return c.apiError(err, "Error listing policies")
	}
	if c.format() == "table" {
		for _, p := range policies {
			c.output(p)
		}
		return 0
	}
	return c.outputData(policies)
}

type policyDeleteCommand struct{ *meta }

func (c *policyDeleteCommand) Synopsis() string { return "Deletes a policy by name" }

func (c *policyDeleteCommand) Help() string {
	return usage(c.prog, `policy delete [options] NAME

  Deletes the policy named NAME on the server. Once the policy is deleted, all
  tokens associated with the policy are affected immediately.

  Delete the policy named "my-policy":

      $ `+c.prog+` policy delete my-policy

  Note that it is not possible to delete the "default" or "root" policies.
  These are built-in policies.`, c.flagSet("policy delete"))
}

func (c *policyDeleteCommand) Run(args []string) int {
	f := c.flagSet("policy delete")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	name := strings.TrimSpace(args[0])
	if err := client.Sys().DeletePolicy(name); err != nil {
		return c.apiError(err, "Error deleting %s", name)
	}
	c.output("Success! Deleted policy: " + name)
	return 0
}

type policyFmtCommand struct{ *meta }

func (c *policyFmtCommand) Synopsis() string { return "Formats a policy on disk" }

func (c *policyFmtCommand) Help() string {
	return usage(c.prog, `policy fmt [options] PATH

  Formats a local policy file to the policy specification. This command will
  overwrite the file at the given PATH with the properly-formatted policy
  file contents.

  Format the local file "my-policy.hcl" as a policy file:

      $ `+c.prog+` policy fmt my-policy.hcl`, nil)
}

func (c *policyFmtCommand) Run(args []string) int {
	f := newFlagSet("policy fmt")
	if err := f.parse(args); err != nil {
		c.errorf("%s", err)
		return 1
	}
	args = f.args()
	if !c.argCount(args, 1, 1) {
		return 1
	}
	path := strings.TrimSpace(args[0])
	b, err := os.ReadFile(path)
	if err != nil {
		c.errorf("Error reading source file: %s", err)
		return 1
	}
	formatted, err := policy.Format(string(b))
	if err != nil {
		c.errorf("%s", err)
		return 1
	}
	if err := os.WriteFile(path, []byte(formatted), 0o644); err != nil {
		c.errorf("Error writing result: %s", err)
		return 1
	}
	c.output("Success! Formatted policy: " + path)
	return 0
}
