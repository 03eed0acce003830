package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/coffer-dev/coffer/internal/agent"
)

type agentCommand struct{ *meta }

func (c *agentCommand) Synopsis() string { return "Start a Coffer agent" }

func (c *agentCommand) Help() string {
	return usage(c.prog, `agent -config=FILE [options]

  Starts a client-side agent configured with Vault Agent's HCL: it logs in
  (auto_auth), writes the token to sinks and keeps it renewed, renders
  secrets into files (template) or a child process's environment
  (env_template + exec), and serves a local proxy that adds the token and
  caches leased responses (listener, api_proxy, cache).

  VAULT_ADDR, VAULT_CACERT and VAULT_SKIP_VERIFY take precedence over the
  vault block; VAULT_TOKEN is used when there is no auto_auth block.

Options:

  -config=FILE        Path to a configuration file; may be repeated, later
                      files override earlier settings and add blocks.

  -exit-after-auth    Authenticate once, write the sinks, render the
                      templates once, and exit.

  -log-level=LEVEL    trace, debug, info, warn or error (default info).`, nil)
}

func (c *agentCommand) Run(args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	var configs stringList
	fs.Var(&configs, "config", "Path to a configuration file; may be repeated.")
	exitAfterAuth := fs.Bool("exit-after-auth", false, "Exit after the first successful authentication.")
	logLevel := fs.String("log-level", "", "Log level: trace, debug, info, warn or error.")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "Error: unexpected arguments %q; the agent takes only flags\n", fs.Args())
		return 1
	}
	if len(configs) == 0 {
		fmt.Fprintln(c.stderr, "Error: no configuration given: start with -config=FILE")
		return 1
	}
	cfg, err := agent.LoadConfig(configs...)
	if err != nil {
		fmt.Fprintf(c.stderr, "Error loading configuration:\n%v\n", err)
		return 1
	}
	c.applyAgentEnv(cfg)
	level := new(slog.LevelVar)
	lvl := cfg.LogLevel
	if *logLevel != "" {
		lvl = *logLevel
	}
	if err := setLevel(level, lvl); err != nil {
		fmt.Fprintln(c.stderr, "Error:", err)
		return 1
	}
	logger := newLogger(c.stderr, "standard", level)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	token, _ := c.env.get("TOKEN")
	a, err := agent.New(cfg, agent.Options{
		Logger: logger, Token: token, ExitAfterAuth: *exitAfterAuth, Signals: sigs,
		Stdin: c.stdin, Stdout: c.stdout, Stderr: c.stderr,
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "Error starting the agent:\n%v\n", err)
		return 1
	}
	if err := a.Listen(); err != nil {
		fmt.Fprintf(c.stderr, "Error starting the agent: %v\n", err)
		return 1
	}
	if !cfg.ExitAfterAuth {
		fmt.Fprintln(c.stdout, "==> Coffer agent started! Log data will stream in below:")
	}
	err = a.Run(context.Background())
	var exit *agent.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.Code
	case err != nil:
		fmt.Fprintf(c.stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// applyAgentEnv lets the environment override the vault block, as the
// vault agent does.
func (c *agentCommand) applyAgentEnv(cfg *agent.Config) {
	if v := c.env.str("ADDR", ""); v != "" {
		cfg.Vault.Address = v
	}
	if v := c.env.str("CACERT", ""); v != "" {
		cfg.Vault.CACert = v
	}
	if v := c.env.str("CAPATH", ""); v != "" {
		cfg.Vault.CAPath = v
	}
	if _, ok := c.env.get("SKIP_VERIFY"); ok {
		cfg.Vault.TLSSkipVerify = c.env.boolean("SKIP_VERIFY", cfg.Vault.TLSSkipVerify)
	}
}
