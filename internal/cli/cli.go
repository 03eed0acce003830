// Package cli implements the coffer command line: the server and a client
// whose commands, flags, output and exit codes match the vault CLI, so that
// scripts written for vault run unchanged (the binary may be invoked through
// a symlink named "vault"). The client talks to the server only over HTTP,
// through github.com/hashicorp/vault/api.
//
// Exit codes follow vault: 0 success, 1 local errors (bad flags or
// arguments), 2 errors returned by the server. "status" returns 2 when the
// server is sealed.
package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/coffer-dev/coffer/internal/version"
)

// command is one CLI command.
type command interface {
	Synopsis() string
	Help() string
	Run(args []string) int
}

// commands lists every command by its full name. Multi-word names are
// subcommands ("operator init").
func commands() map[string]func(*meta) command {
	return map[string]func(*meta) command{
		"version": func(m *meta) command { return &versionCommand{m} },
		"status":  func(m *meta) command { return &statusCommand{meta: m} },
		"server":  func(m *meta) command { return &serverCommand{m} },
		"agent":   func(m *meta) command { return &agentCommand{m} },
		"report":  func(m *meta) command { return &reportCommand{meta: m} },

		"operator init":          func(m *meta) command { return &operatorInitCommand{meta: m} },
		"operator unseal":        func(m *meta) command { return &operatorUnsealCommand{meta: m} },
		"operator seal":          func(m *meta) command { return &operatorSealCommand{meta: m} },
		"operator key-status":    func(m *meta) command { return &operatorKeyStatusCommand{meta: m} },
		"operator rotate":        func(m *meta) command { return &operatorRotateCommand{meta: m} },
		"operator generate-root": func(m *meta) command { return &operatorGenerateRootCommand{meta: m} },
		"operator rekey":         func(m *meta) command { return &operatorRekeyCommand{meta: m} },

		"operator raft join":                 func(m *meta) command { return &operatorRaftJoinCommand{meta: m} },
		"operator raft list-peers":           func(m *meta) command { return &operatorRaftListPeersCommand{m} },
		"operator raft remove-peer":          func(m *meta) command { return &operatorRaftRemovePeerCommand{m} },
		"operator raft snapshot save":        func(m *meta) command { return &operatorRaftSnapshotSaveCommand{m} },
		"operator raft snapshot restore":     func(m *meta) command { return &operatorRaftSnapshotRestoreCommand{meta: m} },
		"operator raft autopilot state":      func(m *meta) command { return &operatorRaftAutopilotStateCommand{m} },
		"operator raft autopilot get-config": func(m *meta) command { return &operatorRaftAutopilotGetConfigCommand{m} },
		"operator raft autopilot set-config": func(m *meta) command { return &operatorRaftAutopilotSetConfigCommand{meta: m} },

		"login": func(m *meta) command { return &loginCommand{meta: m} },

		"token create":       func(m *meta) command { return &tokenCreateCommand{meta: m} },
		"token lookup":       func(m *meta) command { return &tokenLookupCommand{meta: m} },
		"token renew":        func(m *meta) command { return &tokenRenewCommand{meta: m} },
		"token revoke":       func(m *meta) command { return &tokenRevokeCommand{meta: m} },
		"token capabilities": func(m *meta) command { return &tokenCapabilitiesCommand{meta: m} },

		"read":      func(m *meta) command { return &readCommand{meta: m} },
		"write":     func(m *meta) command { return &writeCommand{meta: m} },
		"list":      func(m *meta) command { return &listCommand{meta: m} },
		"delete":    func(m *meta) command { return &deleteCommand{meta: m} },
		"patch":     func(m *meta) command { return &patchCommand{meta: m} },
		"path-help": func(m *meta) command { return &pathHelpCommand{meta: m} },
		"unwrap":    func(m *meta) command { return &unwrapCommand{meta: m} },

		"secrets enable":  func(m *meta) command { return &secretsEnableCommand{meta: m} },
		"secrets disable": func(m *meta) command { return &secretsDisableCommand{meta: m} },
		"secrets list":    func(m *meta) command { return &secretsListCommand{meta: m} },
		"secrets tune":    func(m *meta) command { return &secretsTuneCommand{meta: m} },
		"secrets move":    func(m *meta) command { return &secretsMoveCommand{meta: m} },

		"auth enable":  func(m *meta) command { return &authEnableCommand{meta: m} },
		"auth disable": func(m *meta) command { return &authDisableCommand{meta: m} },
		"auth list":    func(m *meta) command { return &authListCommand{meta: m} },
		"auth tune":    func(m *meta) command { return &authTuneCommand{meta: m} },

		"audit enable":  func(m *meta) command { return &auditEnableCommand{meta: m} },
		"audit disable": func(m *meta) command { return &auditDisableCommand{meta: m} },
		"audit list":    func(m *meta) command { return &auditListCommand{meta: m} },

		"policy write":  func(m *meta) command { return &policyWriteCommand{meta: m} },
		"policy read":   func(m *meta) command { return &policyReadCommand{meta: m} },
		"policy list":   func(m *meta) command { return &policyListCommand{meta: m} },
		"policy delete": func(m *meta) command { return &policyDeleteCommand{meta: m} },
		"policy fmt":    func(m *meta) command { return &policyFmtCommand{meta: m} },

		"kv get":               func(m *meta) command { return &kvGetCommand{meta: m} },
		"kv put":               func(m *meta) command { return &kvPutCommand{meta: m} },
		"kv patch":             func(m *meta) command { return &kvPatchCommand{meta: m} },
		"kv delete":            func(m *meta) command { return &kvDeleteCommand{meta: m, op: "delete"} },
		"kv undelete":          func(m *meta) command { return &kvDeleteCommand{meta: m, op: "undelete"} },
		"kv destroy":           func(m *meta) command { return &kvDeleteCommand{meta: m, op: "destroy"} },
		"kv list":              func(m *meta) command { return &kvListCommand{meta: m} },
		"kv metadata get":      func(m *meta) command { return &kvMetadataGetCommand{meta: m} },
		"kv metadata put":      func(m *meta) command { return &kvMetadataPutCommand{meta: m} },
		"kv metadata patch":    func(m *meta) command { return &kvMetadataPutCommand{meta: m, patch: true} },
		"kv metadata delete":   func(m *meta) command { return &kvMetadataDeleteCommand{meta: m} },
		"kv enable-versioning": func(m *meta) command { return &kvEnableVersioningCommand{meta: m} },
		"kv rollback":          func(m *meta) command { return &kvRollbackCommand{meta: m} },

		"lease renew":  func(m *meta) command { return &leaseRenewCommand{meta: m} },
		"lease revoke": func(m *meta) command { return &leaseRevokeCommand{meta: m} },
		"lease lookup": func(m *meta) command { return &leaseLookupCommand{meta: m} },
	}
}

// groups describes the commands that only hold subcommands.
var groups = map[string]string{
	"operator":                "Perform operator-specific tasks",
	"operator raft":           "Interact with a raft storage cluster",
	"operator raft snapshot":  "Saves and restores snapshots of the raft cluster",
	"operator raft autopilot": "Manages the autopilot of the raft cluster",
	"token":                   "Interact with tokens",
	"secrets":                 "Interact with secrets engines",
	"auth":                    "Interact with auth methods",
	"audit":                   "Interact with audit devices",
	"policy":                  "Interact with policies",
	"kv":                      "Interact with the key/value secrets engine",
	"kv metadata":             "Interact with secret metadata in the key/value secrets engine",
	"lease":                   "Interact with leases",
}

// commonCommands are listed first in the top-level help, as in vault.
var commonCommands = []string{"read", "write", "delete", "list", "login", "server", "status"}

// Run runs the command line given as os.Args and returns the exit code.
func Run(args []string) int {
	return runWith(args, os.Stdin, os.Stdout, os.Stderr, os.LookupEnv)
}

// runWith runs the command line with the given streams and environment.
func runWith(args []string, stdin io.Reader, stdout, stderr io.Writer, lookup lookupFunc) int {
	prog := "coffer"
	if len(args) > 0 {
		prog = filepath.Base(args[0])
		args = args[1:]
	}
	m := &meta{stdin: stdin, stdout: stdout, stderr: stderr, env: environ{lookup: lookup}, prog: prog}
	if f, ok := stdout.(*os.File); ok {
		m.stdoutTTY = isTerminal(f)
	}
	if f, ok := stdin.(*os.File); ok {
		m.stdinTTY = isTerminal(f)
	}

	if len(args) == 0 {
		fmt.Fprintln(stderr, topHelp(prog))
		return 127
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprintln(stderr, topHelp(prog))
		return 0
	case "-v", "-version", "--version":
		return (&versionCommand{m}).Run(nil)
	}

	table := commands()
	name, rest := lookupCommand(table, args)
	if name == "" {
		group, groupRest := lookupGroup(args)
		if group == "" {
			fmt.Fprintf(stderr, "Unknown command: %s\n\n%s\n", args[0], topHelp(prog))
			return 127
		}
		fmt.Fprintln(stderr, groupHelp(prog, group, table))
		if hasHelpFlag(groupRest) {
			return 0
		}
		return 1
	}
	cmd := table[name](m)
	if name != "server" && hasHelpFlag(rest) {
		fmt.Fprintln(stderr, cmd.Help())
		return 0
	}
	return cmd.Run(rest)
}

// lookupCommand finds the longest command name made of the leading words of
// args and returns it with the remaining arguments.
func lookupCommand(table map[string]func(*meta) command, args []string) (string, []string) {
	for n := min(4, len(args)); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		if _, ok := table[name]; ok {
			return name, args[n:]
		}
	}
	return "", nil
}

func lookupGroup(args []string) (string, []string) {
	for n := min(3, len(args)); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		if _, ok := groups[name]; ok {
			return name, args[n:]
		}
	}
	return "", nil
}

func hasHelpFlag(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

func synopsis(name string, table map[string]func(*meta) command) string {
	if s, ok := groups[name]; ok {
		return s
	}
	return table[name](&meta{}).Synopsis()
}

// topHelp is the usage printed by "coffer -h".
func topHelp(prog string) string {
	table := commands()
	top := map[string]bool{}
	for name := range table {
		top[strings.Fields(name)[0]] = true
	}
	common := map[string]bool{}
	for _, c := range commonCommands {
		common[c] = true
	}
	var other []string
	for name := range top {
		if !common[name] {
			other = append(other, name)
		}
	}
	sort.Strings(other)

	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s <command> [args]\n\nCommon commands:\n", prog)
	writeCommandList(&b, commonCommands, table)
	b.WriteString("\nOther commands:\n")
	writeCommandList(&b, other, table)
	return strings.TrimRight(b.String(), "\n")
}

// groupHelp lists the subcommands of a group such as "kv".
func groupHelp(prog, group string, table map[string]func(*meta) command) string {
	seen := map[string]bool{}
	var subs []string
	prefix := group + " "
	for name := range table {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		sub := strings.Fields(strings.TrimPrefix(name, prefix))[0]
		if !seen[sub] {
			seen[sub] = true
			subs = append(subs, sub)
		}
	}
	sort.Strings(subs)
	full := make([]string, len(subs))
	for i, s := range subs {
		full[i] = prefix + s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s %s <subcommand> [options] [args]\n\n", prog, group)
	fmt.Fprintf(&b, "  %s.\n\nSubcommands:\n", groups[group])
	writeCommandListNamed(&b, full, subs, table)
	return strings.TrimRight(b.String(), "\n")
}

func writeCommandList(b *strings.Builder, names []string, table map[string]func(*meta) command) {
	writeCommandListNamed(b, names, names, table)
}

func writeCommandListNamed(b *strings.Builder, full, shown []string, table map[string]func(*meta) command) {
	width := 0
	for _, s := range shown {
		width = max(width, len(s))
	}
	for i, name := range full {
		fmt.Fprintf(b, "    %-*s    %s\n", width, shown[i], synopsis(name, table))
	}
}

// usage builds a command's help text: the usage line and description, then
// the flag groups.
func usage(prog, text string, f *flagSet) string {
	out := "Usage: " + prog + " " + strings.TrimSpace(text)
	if f != nil {
		if h := f.help(); h != "" {
			out += "\n\n" + h
		}
	}
	return out
}

type versionCommand struct{ *meta }

func (c *versionCommand) Synopsis() string { return "Prints the Coffer CLI version" }

func (c *versionCommand) Help() string {
	return usage(c.prog, `version

  Prints the version of this Coffer CLI and the Vault API level it implements.

  Print the version:

      $ `+c.prog+` version`, nil)
}

func (c *versionCommand) Run(args []string) int {
	if len(args) > 0 {
		c.errorf("Too many arguments (expected 0, got %d)", len(args))
		return 1
	}
	c.output(fmt.Sprintf("Coffer v%s (Vault API %s)", version.Version, version.APIVersion))
	return 0
}

type serverCommand struct{ *meta }

func (c *serverCommand) Synopsis() string { return "Start a Coffer server" }

func (c *serverCommand) Help() string {
	return usage(c.prog, "server [options]\n\n  Starts a Coffer server.", nil)
}

func (c *serverCommand) Run(args []string) int {
	return runServer(args, c.stdout, c.stderr)
}
