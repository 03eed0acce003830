package agent

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"

	"github.com/coffer-dev/coffer/internal/hclconf"
)

// Defaults of the agent configuration, as in Vault Agent.
const (
	DefaultSinkMode             = 0o640
	DefaultTemplatePerms        = 0o644
	DefaultStaticRenderInterval = 5 * time.Minute
	DefaultNumRetries           = 12
	DefaultMinBackoff           = time.Second
	DefaultMaxBackoff           = 5 * time.Minute
	DefaultCommandTimeout       = 30 * time.Second
	// DefaultLeaseRenewalThreshold is the fraction of a lease after which
	// a template's secret is renewed or fetched again.
	DefaultLeaseRenewalThreshold = 2.0 / 3.0
)

// Config is an agent configuration in Vault Agent's HCL syntax.
type Config struct {
	Files          []string
	Vault          Vault
	AutoAuth       *AutoAuth
	Templates      []*Template
	EnvTemplates   []*EnvTemplate
	TemplateConfig TemplateConfig
	Exec           *Exec
	Cache          *Cache
	APIProxy       *APIProxy
	Listeners      []*Listener
	ExitAfterAuth  bool
	PidFile        string
	LogLevel       string
}

// Vault is the vault {} (or coffer {}) block: how to reach the server.
type Vault struct {
	Address       string
	CACert        string
	CAPath        string
	ClientCert    string
	ClientKey     string
	TLSServerName string
	TLSSkipVerify bool
	// NumRetries is how often a failing template fetch is retried before
	// template_config.exit_on_retry_failure applies; -1 disables retries.
	NumRetries int
}

// AutoAuth is the auto_auth block.
type AutoAuth struct {
	Method *AuthMethod
	Sinks  []*Sink
}

// AuthMethod is auto_auth.method.
type AuthMethod struct {
	Type       string // "approle" or "token_file"
	MountPath  string // default "auth/<type>"
	MinBackoff time.Duration
	MaxBackoff time.Duration
	ExitOnErr  bool
	// approle
	RoleIDFile           string
	SecretIDFile         string
	RemoveSecretIDFile   bool
	SecretIDWrappingPath string
	// token_file
	TokenFile string
	At        pos
}

// Sink is an auto_auth sink "file" block.
type Sink struct {
	Path string
	Mode os.FileMode // 0 leaves the mode alone
}

// Template is a template block rendering secrets into a file.
type Template struct {
	Source, Contents  string
	Destination       string
	CreateDestDirs    bool
	Command           []string // run without a shell
	ShellCommand      string   // command given as one string: run with /bin/sh -c
	CommandTimeout    time.Duration
	ErrorOnMissingKey bool
	Perms             os.FileMode // 0: keep an existing file's, else 0644
	Backup            bool
	LeftDelim         string
	RightDelim        string
	WaitMin, WaitMax  time.Duration
	FunctionDenylist  []string
	At                pos
}

// EnvTemplate is an env_template "NAME" block for exec mode.
type EnvTemplate struct {
	Name              string
	Contents          string
	ErrorOnMissingKey bool
	LeftDelim         string
	RightDelim        string
	At                pos
}

// TemplateConfig is the template_config block.
type TemplateConfig struct {
	ExitOnRetryFailure         bool
	StaticSecretRenderInterval time.Duration
	LeaseRenewalThreshold      float64
	MaxConnectionsPerHost      int
}

// Exec is the exec block: the supervised child process.
type Exec struct {
	Command                []string
	RestartOnSecretChanges string // "always" or "never"
	RestartStopSignal      syscall.Signal
	ChildStdout            string
	ChildStderr            string
}

// Cache is the cache block.
type Cache struct {
	// UseAutoAuthToken is the deprecated cache-level setting, used when
	// no api_proxy block is given: "", "true" or "force".
	UseAutoAuthToken string
}

// APIProxy is the api_proxy block.
type APIProxy struct {
	UseAutoAuthToken string // "", "true" or "force"
}

// Listener is a listener "tcp" or "unix" block of the local proxy.
type Listener struct {
	Type                 string
	Address              string
	TLSDisable           bool
	TLSCertFile          string
	TLSKeyFile           string
	RequireRequestHeader bool
}

// LoadConfig reads and merges configuration files: scalars in a later
// file replace earlier ones and blocks accumulate. Problems are returned
// as ConfigErrors naming the file, line and key.
func LoadConfig(paths ...string) (*Config, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("agent config: no configuration file given")
	}
	l := newConfigLoader()
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("agent config: %w", err)
		}
		l.addFile(p, src)
	}
	return l.finish()
}

// ParseConfig reads one configuration text; name is used in messages.
func ParseConfig(name, text string) (*Config, error) {
	l := newConfigLoader()
	l.addFile(name, []byte(text))
	return l.finish()
}

type configLoader struct {
	cfg        *Config
	errs       ConfigErrors
	vaultAt    map[string]pos
	autoAuthAt pos
	execAt     pos
	rendererAt pos // first template or env_template
	proxyAt    pos
}

func newConfigLoader() *configLoader {
	return &configLoader{
		cfg: &Config{
			Vault: Vault{NumRetries: DefaultNumRetries},
			TemplateConfig: TemplateConfig{
				StaticSecretRenderInterval: DefaultStaticRenderInterval,
				LeaseRenewalThreshold:      DefaultLeaseRenewalThreshold,
			},
		},
		vaultAt: map[string]pos{},
	}
}

func (l *configLoader) addFile(name string, src []byte) {
	l.cfg.Files = append(l.cfg.Files, name)
	f, err := hcl.ParseBytes(src)
	if err != nil {
		l.errs = append(l.errs, hclconf.ParseError(name, err))
		return
	}
	root, ok := f.Node.(*ast.ObjectList)
	if !ok {
		l.errs = append(l.errs, &ConfigError{File: name, Msg: "the file must hold key = value settings and blocks"})
		return
	}
	d := &decoder{&hclconf.Decoder{File: name, Errs: &l.errs}}
	l.decodeTop(d, d.Entries(root, pos{File: name, Line: 1}))
}

func (l *configLoader) decodeTop(d *decoder, body []entry) {
	c := l.cfg
	for _, e := range body {
		switch e.Key {
		case "vault", "coffer":
			if prev, ok := l.vaultAt[otherServerBlock(e.Key)]; ok {
				d.Add(e.At, "", "give either a vault or a coffer block, not both (the %s block is at %s)", otherServerBlock(e.Key), prev)
				continue
			}
			l.vaultAt[e.Key] = e.At
			for _, b := range d.blocks(e, 0, "") {
				d.vault(b, e.Key, &c.Vault)
			}
		case "auto_auth":
			for _, b := range d.blocks(e, 0, "") {
				if c.AutoAuth != nil {
					d.Add(b.At, "", "only one auto_auth block is allowed (the first is at %s)", l.autoAuthAt)
					continue
				}
				l.autoAuthAt = b.At
				c.AutoAuth = d.autoAuth(b)
			}
		case "template":
			for _, b := range d.blocks(e, 0, "") {
				if t := d.template(b); t != nil {
					c.Templates = append(c.Templates, t)
					l.noteRenderer(b.At)
				}
			}
		case "env_template":
			for _, b := range d.blocks(e, 1, "") {
				if t := d.envTemplate(b); t != nil {
					c.EnvTemplates = append(c.EnvTemplates, t)
					l.noteRenderer(b.At)
				}
			}
		case "template_config":
			for _, b := range d.blocks(e, 0, "") {
				d.templateConfig(b, &c.TemplateConfig)
			}
		case "exec":
			for _, b := range d.blocks(e, 0, "") {
				if c.Exec != nil {
					d.Add(b.At, "", "only one exec block is allowed (the first is at %s)", l.execAt)
					continue
				}
				l.execAt = b.At
				c.Exec = d.exec(b)
			}
		case "cache":
			for _, b := range d.blocks(e, 0, "") {
				c.Cache = d.cache(b)
			}
		case "api_proxy":
			for _, b := range d.blocks(e, 0, "") {
				c.APIProxy = d.apiProxy(b)
				l.proxyAt = b.At
			}
		case "listener":
			for _, b := range d.blocks(e, 1, "") {
				if ln := d.listener(b); ln != nil {
					c.Listeners = append(c.Listeners, ln)
				}
			}
		case "exit_after_auth":
			if v, ok := d.boolean(e, ""); ok {
				c.ExitAfterAuth = v
			}
		case "pid_file":
			if v, ok := d.str(e, ""); ok {
				c.PidFile = v
			}
		case "log_level":
			if v, ok := d.str(e, ""); ok {
				switch v {
				case "trace", "debug", "info", "warn", "warning", "error":
					c.LogLevel = v
				default:
					d.Add(e.At, "", "log_level %q is not valid; use one of trace, debug, info, warn, error", v)
				}
			}
		case "log_file", "log_format", "disable_mlock", "disable_idle_connections", "disable_keep_alives":
			// Accepted for compatibility; the agent logs to stderr.
		default:
			d.Add(e.At, "", "unknown key %q", e.Key)
		}
	}
}

func otherServerBlock(key string) string {
	if key == "vault" {
		return "coffer"
	}
	return "vault"
}

func (l *configLoader) noteRenderer(at pos) {
	if l.rendererAt.File == "" {
		l.rendererAt = at
	}
}

// finish checks what needs the whole configuration.
func (l *configLoader) finish() (*Config, error) {
	c := l.cfg
	whole := pos{File: joinFiles(c.Files)}
	if len(l.errs) == 0 {
		if c.Exec != nil && len(c.EnvTemplates) == 0 {
			l.errs = append(l.errs, &ConfigError{File: l.execAt.File, Line: l.execAt.Line,
				Msg: "exec: at least one env_template block is needed to run a child process"})
		}
		if len(c.EnvTemplates) > 0 && c.Exec == nil {
			at := l.rendererAt
			l.errs = append(l.errs, &ConfigError{File: at.File, Line: at.Line,
				Msg: "env_template: an exec block is needed; env_template values go to its child process"})
		}
		if c.ExitAfterAuth && c.AutoAuth == nil {
			l.errs = append(l.errs, &ConfigError{File: whole.File, Msg: "exit_after_auth needs an auto_auth block"})
		}
		if (c.APIProxy != nil || c.Cache != nil) && len(c.Listeners) == 0 {
			l.errs = append(l.errs, &ConfigError{File: whole.File,
				Msg: `api_proxy and cache need a listener block, as in listener "tcp" { address = "127.0.0.1:8100" tls_disable = true }`})
		}
		if c.AutoAuth == nil && c.APIProxy != nil && c.APIProxy.UseAutoAuthToken != "" {
			l.errs = append(l.errs, &ConfigError{File: l.proxyAt.File, Line: l.proxyAt.Line,
				Msg: "api_proxy: use_auto_auth_token needs an auto_auth block"})
		}
		if c.AutoAuth == nil && len(c.Templates) == 0 && len(c.EnvTemplates) == 0 && len(c.Listeners) == 0 {
			l.errs = append(l.errs, &ConfigError{File: whole.File,
				Msg: "nothing to do: add an auto_auth, template, exec or listener block"})
		}
	}
	if len(l.errs) > 0 {
		l.errs.Sort(l.cfg.Files)
		return nil, l.errs
	}
	return c, nil
}

func joinFiles(fs []string) string {
	out := ""
	for i, f := range fs {
		if i > 0 {
			out += ", "
		}
		out += f
	}
	return out
}

// UseAutoAuthToken reports how the proxy uses the auto-auth token: "",
// "true" (when the client sends none) or "force" (always).
func (c *Config) UseAutoAuthToken() string {
	switch {
	case c.APIProxy != nil:
		return c.APIProxy.UseAutoAuthToken
	case c.Cache != nil:
		return c.Cache.UseAutoAuthToken
	}
	return ""
}
