// Package agent is "coffer agent": a client-side daemon configured with
// Vault Agent's HCL. It logs in (auto-auth) and keeps the token alive,
// renders secrets into files and environment variables with
// consul-template style templates, renews or replaces leased secrets
// before they expire, supervises a child process that receives secrets in
// its environment, and serves a local proxy that adds the token and
// caches leased responses. It talks to the server only over HTTP, through
// github.com/hashicorp/vault/api.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"
)

// Options are the agent's runtime inputs that are not configuration.
type Options struct {
	// Logger receives the agent's log; nil discards it.
	Logger *slog.Logger
	// Token is used by templates and the proxy when there is no auto_auth
	// block (the CLI passes VAULT_TOKEN).
	Token string
	// ExitAfterAuth authenticates once, writes the sinks, renders the
	// templates once and returns, like exit_after_auth = true.
	ExitAfterAuth bool
	// Signals delivers the process's signals: SIGHUP re-reads static
	// secrets and is forwarded to the exec child, SIGINT and SIGTERM stop
	// the agent (and the child), others are forwarded to the child.
	Signals <-chan os.Signal
	// Stdin, Stdout and Stderr are the exec child's and the template
	// commands' streams; nil means the process's own.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StopTimeout is how long a child gets to exit after its stop signal
	// before it is killed; 0 means 30 seconds.
	StopTimeout time.Duration
}

// Agent is a configured agent; Run runs it.
type Agent struct {
	cfg       *Config
	opts      Options
	logger    *slog.Logger
	client    *api.Client
	tokens    *tokenState
	auth      *authenticator
	renderer  *renderer
	sup       *supervisor
	proxy     *proxy
	listeners []net.Listener
	hup       chan struct{}
}

// New checks the configuration against the environment (template
// sources and syntax, TLS files) and prepares the agent.
func New(cfg *Config, opts Options) (*Agent, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Stdin == nil {
		opts.Stdin = os.Stdin
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.ExitAfterAuth {
		cfg.ExitAfterAuth = true
	}
	if cfg.ExitAfterAuth && cfg.AutoAuth == nil {
		return nil, errors.New("agent: exit after auth needs an auto_auth block")
	}
	rendering := len(cfg.Templates) > 0 || len(cfg.EnvTemplates) > 0
	if cfg.AutoAuth == nil && opts.Token == "" && rendering {
		return nil, errors.New("agent: templates need a token: add an auto_auth block or set VAULT_TOKEN")
	}
	client, err := newClient(cfg.Vault)
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, opts: opts, logger: opts.Logger, client: client, hup: make(chan struct{}, 1)}
	if cfg.AutoAuth != nil {
		a.tokens = newTokenState("")
		a.auth = newAuthenticator(client, cfg.AutoAuth, a.tokens, a.logger)
	} else {
		a.tokens = newTokenState(opts.Token)
	}
	if cfg.Exec != nil {
		a.sup = newSupervisor(cfg.Exec, opts.Stdin, opts.Stdout, opts.Stderr, opts.StopTimeout, a.logger)
	}
	if rendering {
		if a.renderer, err = a.newRenderer(); err != nil {
			return nil, err
		}
	}
	if len(cfg.Listeners) > 0 {
		a.proxy, err = a.newProxy()
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *Agent) denied() func(string) {
	if a.auth == nil {
		return nil
	}
	return a.auth.reportDenied
}

func (a *Agent) newRenderer() (*renderer, error) {
	tc, err := a.client.Clone()
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	src := &apiSource{client: tc, denied: a.denied()}
	conf := a.cfg.TemplateConfig
	ds := newDeps(src, conf.StaticSecretRenderInterval, conf.LeaseRenewalThreshold, a.logger)
	r := &renderer{
		fe: &funcEnv{ctx: context.Background(), fetch: ds}, deps: ds,
		numRetries: a.cfg.Vault.NumRetries, exitOnFail: conf.ExitOnRetryFailure,
		setToken: tc.SetToken, stdout: a.opts.Stdout, stderr: a.opts.Stderr, logger: a.logger,
	}
	if a.sup != nil {
		r.onEnv = a.sup.setEnv
	}
	if err := r.compile(a.cfg); err != nil {
		return nil, err
	}
	return r, nil
}

func (a *Agent) newProxy() (*proxy, error) {
	target, err := url.Parse(a.client.Address())
	if err != nil {
		return nil, fmt.Errorf("agent: server address: %w", err)
	}
	p := &proxy{target: target, client: a.client.CloneConfig().HttpClient, mode: a.cfg.UseAutoAuthToken(),
		denied: a.denied(), logger: a.logger}
	if a.cfg.AutoAuth != nil {
		p.tokens = a.tokens
	}
	if a.cfg.Cache != nil {
		p.cache = newLeaseCache()
	}
	return p, nil
}

// newClient builds the server client from the vault block; the
// environment (VAULT_ADDR, VAULT_CACERT, ...) fills what it leaves out.
func newClient(v Vault) (*api.Client, error) {
	conf := api.DefaultConfig()
	if conf.Error != nil {
		return nil, fmt.Errorf("agent: %w", conf.Error)
	}
	if v.Address != "" {
		conf.Address = v.Address
	}
	conf.AgentAddress = ""
	conf.MaxRetries = 0
	if v.CACert != "" || v.CAPath != "" || v.ClientCert != "" || v.TLSServerName != "" || v.TLSSkipVerify {
		err := conf.ConfigureTLS(&api.TLSConfig{CACert: v.CACert, CAPath: v.CAPath, ClientCert: v.ClientCert,
			ClientKey: v.ClientKey, TLSServerName: v.TLSServerName, Insecure: v.TLSSkipVerify})
		if err != nil {
			return nil, fmt.Errorf("agent: TLS for %s: %w", conf.Address, err)
		}
	}
	c, err := api.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	c.ClearToken()
	return c, nil
}

// Listen opens the proxy listeners; Run calls it when it was not called.
func (a *Agent) Listen() error {
	if a.proxy == nil || a.listeners != nil {
		return nil
	}
	for _, l := range a.cfg.Listeners {
		ln, err := listen(l)
		if err != nil {
			for _, o := range a.listeners {
				_ = o.Close()
			}
			a.listeners = nil
			return fmt.Errorf("agent: %w", err)
		}
		a.listeners = append(a.listeners, ln)
	}
	return nil
}

// Addrs lists the proxy's listening addresses after Listen.
func (a *Agent) Addrs() []string {
	out := make([]string, len(a.listeners))
	for i, ln := range a.listeners {
		out[i] = ln.Addr().String()
	}
	return out
}

type result struct {
	name string
	err  error
}

// Run runs the agent until ctx ends or a stop signal arrives. It returns
// an *ExitError when the exec child exited on its own, and an error when
// auto-auth gives up (exit_on_err) or templates keep failing with
// exit_on_retry_failure.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Idle keep-alive connections would hold up a server's graceful
	// shutdown after the agent is gone.
	defer a.client.CloneConfig().HttpClient.CloseIdleConnections()
	if a.cfg.PidFile != "" {
		if err := os.WriteFile(a.cfg.PidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("agent: pid_file: %w", err)
		}
		defer os.Remove(a.cfg.PidFile)
	}
	if a.cfg.ExitAfterAuth {
		if err := a.auth.run(ctx, true); err != nil {
			return err
		}
		if a.renderer != nil {
			return a.renderer.run(ctx, a.tokens, nil, true)
		}
		return nil
	}
	if err := a.Listen(); err != nil {
		return err
	}
	results := make(chan result, 4+len(a.listeners))
	var wg sync.WaitGroup
	start := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- result{name, f()}
		}()
	}
	if a.auth != nil {
		start("auto-auth", func() error { return a.auth.run(ctx, false) })
	}
	if a.renderer != nil {
		start("templates", func() error { return a.renderer.run(ctx, a.tokens, a.hup, false) })
	}
	if a.sup != nil {
		start("exec", func() error { return a.sup.run(ctx) })
	}
	for i, ln := range a.listeners {
		h := httpHandler(a.proxy, a.cfg.Listeners[i])
		start("proxy", func() error { return serveProxy(ctx, ln, h, a.logger) })
		a.logger.Info("proxy listening", "address", ln.Addr().String(), "cache", a.proxy.cache != nil)
	}
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case res := <-results:
			if res.err != nil {
				err = res.err
			}
			break loop
		case sig := <-a.opts.Signals:
			if a.signal(sig) {
				break loop
			}
		}
	}
	cancel()
	wg.Wait()
	close(results)
	for res := range results {
		if err == nil && res.err != nil {
			err = res.err
		}
	}
	return err
}

// signal handles one process signal; it reports true when the agent
// should stop now.
func (a *Agent) signal(sig os.Signal) bool {
	switch sig {
	case syscall.SIGINT, syscall.SIGTERM:
		a.logger.Info("shutting down", "signal", sig)
		if a.sup != nil {
			// The supervisor stops the child with this signal and
			// returns, which ends Run.
			select {
			case a.sup.shutdown <- sig:
			default:
			}
			return false
		}
		return true
	case syscall.SIGHUP:
		select {
		case a.hup <- struct{}{}:
		default:
		}
	}
	if a.sup != nil {
		select {
		case a.sup.signals <- sig:
		default:
		}
	}
	return false
}

// httpHandler is the proxy as one listener serves it.
func httpHandler(p *proxy, l *Listener) http.Handler {
	var h http.Handler = p
	if l.RequireRequestHeader {
		h = requireRequestHeader(h)
	}
	return h
}
