package agent

import (
	"os"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/hcl/ast"
)

// vault reads the vault {} or coffer {} block.
func (d *decoder) vault(b block, name string, v *Vault) {
	for _, e := range b.Body {
		switch e.Key {
		case "address":
			if s, ok := d.str(e, name); ok {
				if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
					d.Add(e.At, name, "address %q must be a URL such as \"https://127.0.0.1:8200\"", s)
					continue
				}
				v.Address = s
			}
		case "ca_cert":
			v.CACert, _ = d.str(e, name)
		case "ca_path":
			v.CAPath, _ = d.str(e, name)
		case "client_cert":
			v.ClientCert, _ = d.str(e, name)
		case "client_key":
			v.ClientKey, _ = d.str(e, name)
		case "tls_server_name":
			v.TLSServerName, _ = d.str(e, name)
		case "tls_skip_verify":
			v.TLSSkipVerify, _ = d.boolean(e, name)
		case "retry":
			for _, rb := range d.blocks(e, 0, name) {
				for _, re := range rb.Body {
					if re.Key != "num_retries" {
						d.Add(re.At, name+".retry", "unknown key %q", re.Key)
						continue
					}
					if n, ok := d.integer(re, name+".retry"); ok {
						switch {
						case n < -1:
							d.Add(re.At, name+".retry", "num_retries must be -1 (no retries), 0 (the default, %d) or more", DefaultNumRetries)
						case n == 0:
							v.NumRetries = DefaultNumRetries
						default:
							v.NumRetries = n
						}
					}
				}
			}
		default:
			d.Add(e.At, name, "unknown key %q", e.Key)
		}
	}
}

// autoAuth reads auto_auth { method ... sink ... }.
func (d *decoder) autoAuth(b block) *AutoAuth {
	a := &AutoAuth{}
	methodSeen := false
	for _, e := range b.Body {
		switch e.Key {
		case "method":
			methodSeen = true
			for _, mb := range d.blocks(e, 1, "auto_auth") {
				if a.Method != nil {
					d.Add(mb.At, "auto_auth", "only one method block is allowed")
					continue
				}
				a.Method = d.method(mb)
			}
		case "sink":
			for _, sb := range d.blocks(e, 1, "auto_auth") {
				if s := d.sink(sb); s != nil {
					a.Sinks = append(a.Sinks, s)
				}
			}
		case "enable_reauth_on_new_credentials":
			d.boolean(e, "auto_auth")
		default:
			d.Add(e.At, "auto_auth", "unknown key %q", e.Key)
		}
	}
	if a.Method == nil {
		if methodSeen {
			return nil // the method's own problems are reported
		}
		d.Add(b.At, "auto_auth", `a method block is required, as in method "approle" { config { role_id_file_path = "..." } }`)
		return nil
	}
	return a
}

// typeOf finds a block's type: its label, or a type = "..." key.
func (d *decoder) typeOf(b block, kind string) (string, []entry) {
	var typ string
	if len(b.Labels) > 0 {
		typ = b.Labels[0]
	}
	var rest []entry
	for _, e := range b.Body {
		if e.Key == "type" {
			if s, ok := d.str(e, kind); ok {
				if typ != "" && s != typ {
					d.Add(e.At, kind, "type %q contradicts the block label %q", s, typ)
				}
				typ = s
			}
			continue
		}
		rest = append(rest, e)
	}
	if typ == "" {
		d.Add(b.At, kind, "%s needs a type, as in %s \"approle\" { ... } or type = \"...\"", kind, kind)
	}
	return typ, rest
}

func (d *decoder) method(b block) *AuthMethod {
	typ, body := d.typeOf(b, "method")
	if typ == "" {
		return nil
	}
	ctx := `auto_auth.method "` + typ + `"`
	m := &AuthMethod{Type: typ, MinBackoff: DefaultMinBackoff, MaxBackoff: DefaultMaxBackoff, RemoveSecretIDFile: true, At: b.At}
	if typ != "approle" && typ != "token_file" {
		d.Add(b.At, "auto_auth", "method %q is not supported; use approle or token_file", typ)
		return nil
	}
	var config []block
	for _, e := range body {
		switch e.Key {
		case "mount_path":
			if s, ok := d.str(e, ctx); ok {
				m.MountPath = strings.Trim(s, "/")
			}
		case "min_backoff":
			m.MinBackoff, _ = d.duration(e, ctx)
		case "max_backoff":
			m.MaxBackoff, _ = d.duration(e, ctx)
		case "exit_on_err":
			m.ExitOnErr, _ = d.boolean(e, ctx)
		case "namespace":
			d.str(e, ctx) // a single root namespace: accepted and ignored
		case "config":
			config = append(config, d.blocks(e, 0, ctx)...)
		case "wrap_ttl":
			d.Add(e.At, ctx, "wrap_ttl is not supported; sinks receive the token itself")
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	if m.MountPath == "" {
		m.MountPath = "auth/" + typ
	}
	if m.MinBackoff <= 0 {
		m.MinBackoff = DefaultMinBackoff
	}
	if m.MaxBackoff < m.MinBackoff {
		m.MaxBackoff = max(m.MinBackoff, DefaultMaxBackoff)
	}
	for _, cb := range config {
		d.methodConfig(cb, m, ctx+".config")
	}
	switch {
	case typ == "approle" && m.RoleIDFile == "":
		d.Add(b.At, ctx, "config: role_id_file_path is required")
		return nil
	case typ == "token_file" && m.TokenFile == "":
		d.Add(b.At, ctx, "config: token_file_path is required")
		return nil
	}
	return m
}

func (d *decoder) methodConfig(b block, m *AuthMethod, ctx string) {
	for _, e := range b.Body {
		switch {
		case m.Type == "approle" && e.Key == "role_id_file_path":
			m.RoleIDFile, _ = d.str(e, ctx)
		case m.Type == "approle" && e.Key == "secret_id_file_path":
			m.SecretIDFile, _ = d.str(e, ctx)
		case m.Type == "approle" && e.Key == "remove_secret_id_file_after_reading":
			m.RemoveSecretIDFile, _ = d.boolean(e, ctx)
		case m.Type == "approle" && e.Key == "secret_id_response_wrapping_path":
			if s, ok := d.str(e, ctx); ok {
				m.SecretIDWrappingPath = strings.Trim(s, "/")
			}
		case m.Type == "token_file" && e.Key == "token_file_path":
			m.TokenFile, _ = d.str(e, ctx)
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
}

func (d *decoder) sink(b block) *Sink {
	typ, body := d.typeOf(b, "sink")
	if typ == "" {
		return nil
	}
	ctx := `auto_auth.sink "` + typ + `"`
	if typ != "file" {
		d.Add(b.At, "auto_auth", "sink %q is not supported; use sink \"file\"", typ)
		return nil
	}
	s := &Sink{Mode: DefaultSinkMode}
	for _, e := range body {
		switch e.Key {
		case "config":
			for _, cb := range d.blocks(e, 0, ctx) {
				for _, ce := range cb.Body {
					switch ce.Key {
					case "path":
						s.Path, _ = d.str(ce, ctx+".config")
					case "mode":
						if m, ok := d.fileMode(ce, ctx+".config"); ok {
							s.Mode = os.FileMode(m)
						}
					default:
						d.Add(ce.At, ctx+".config", "unknown key %q", ce.Key)
					}
				}
			}
		case "wrap_ttl", "dh_type", "dh_path", "aad", "aad_env_var", "derive_key":
			d.Add(e.At, ctx, "%s is not supported; the sink writes the token in plain text (protect it with mode)", e.Key)
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	if s.Path == "" {
		d.Add(b.At, ctx, "config: path is required")
		return nil
	}
	return s
}

// template reads a template block.
func (d *decoder) template(b block) *Template {
	const ctx = "template"
	t := &Template{CreateDestDirs: true, CommandTimeout: DefaultCommandTimeout, At: b.At}
	for _, e := range b.Body {
		switch e.Key {
		case "source":
			t.Source, _ = d.str(e, ctx)
		case "contents":
			t.Contents, _ = d.str(e, ctx)
		case "destination":
			t.Destination, _ = d.str(e, ctx)
		case "create_dest_dirs":
			t.CreateDestDirs, _ = d.boolean(e, ctx)
		case "command":
			d.templateCommand(e, t, ctx)
		case "command_timeout":
			t.CommandTimeout, _ = d.duration(e, ctx)
		case "exec":
			for _, eb := range d.blocks(e, 0, ctx) {
				for _, ee := range eb.Body {
					switch ee.Key {
					case "command":
						d.templateCommand(ee, t, ctx+".exec")
					case "timeout":
						t.CommandTimeout, _ = d.duration(ee, ctx+".exec")
					default:
						d.Add(ee.At, ctx+".exec", "unknown key %q", ee.Key)
					}
				}
			}
		case "error_on_missing_key":
			t.ErrorOnMissingKey, _ = d.boolean(e, ctx)
		case "perms":
			if m, ok := d.fileMode(e, ctx); ok {
				t.Perms = os.FileMode(m)
			}
		case "backup":
			t.Backup, _ = d.boolean(e, ctx)
		case "left_delimiter":
			t.LeftDelim, _ = d.str(e, ctx)
		case "right_delimiter":
			t.RightDelim, _ = d.str(e, ctx)
		case "function_denylist", "function_blacklist":
			t.FunctionDenylist, _ = d.strList(e, ctx)
		case "wait":
			for _, wb := range d.blocks(e, 0, ctx) {
				for _, we := range wb.Body {
					switch we.Key {
					case "min":
						t.WaitMin, _ = d.duration(we, ctx+".wait")
					case "max":
						t.WaitMax, _ = d.duration(we, ctx+".wait")
					default:
						d.Add(we.At, ctx+".wait", "unknown key %q", we.Key)
					}
				}
			}
		case "sandbox_path":
			d.str(e, ctx) // accepted: file reads are not sandboxed
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	ok := true
	switch {
	case t.Source == "" && t.Contents == "":
		d.Add(b.At, ctx, "one of source or contents is required")
		ok = false
	case t.Source != "" && t.Contents != "":
		d.Add(b.At, ctx, "source and contents are mutually exclusive")
		ok = false
	}
	if t.Destination == "" {
		d.Add(b.At, ctx, "destination is required")
		ok = false
	}
	if (t.LeftDelim == "") != (t.RightDelim == "") {
		d.Add(b.At, ctx, "left_delimiter and right_delimiter must be given together")
		ok = false
	}
	if !ok {
		return nil
	}
	return t
}

func (d *decoder) templateCommand(e entry, t *Template, ctx string) {
	if isListNode(e) {
		t.Command, _ = d.strList(e, ctx)
		t.ShellCommand = ""
		return
	}
	if s, ok := d.str(e, ctx); ok {
		t.ShellCommand, t.Command = s, nil
	}
}

// isListNode reports whether an entry's value is written as a list.
func isListNode(e entry) bool {
	_, ok := e.Val.(*ast.ListType)
	return ok && len(e.Rest) == 0
}

// envTemplate reads env_template "NAME" { contents = "..." }.
func (d *decoder) envTemplate(b block) *EnvTemplate {
	if len(b.Labels) == 0 || b.Labels[0] == "" {
		d.Add(b.At, "env_template", `a variable name is required, as in env_template "DB_PASSWORD" { contents = "..." }`)
		return nil
	}
	name := b.Labels[0]
	ctx := `env_template "` + name + `"`
	t := &EnvTemplate{Name: name, At: b.At}
	for _, e := range b.Body {
		switch e.Key {
		case "contents":
			t.Contents, _ = d.str(e, ctx)
		case "error_on_missing_key":
			t.ErrorOnMissingKey, _ = d.boolean(e, ctx)
		case "left_delimiter":
			t.LeftDelim, _ = d.str(e, ctx)
		case "right_delimiter":
			t.RightDelim, _ = d.str(e, ctx)
		case "source", "destination", "command", "perms", "backup", "create_dest_dirs", "exec":
			d.Add(e.At, ctx, "%s is not allowed in an env_template; only contents, error_on_missing_key and the delimiters are", e.Key)
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	if strings.ContainsAny(name, "=\x00") {
		d.Add(b.At, ctx, "%q is not a valid environment variable name", name)
		return nil
	}
	if t.Contents == "" {
		d.Add(b.At, ctx, "contents is required")
		return nil
	}
	return t
}

func (d *decoder) templateConfig(b block, tc *TemplateConfig) {
	const ctx = "template_config"
	for _, e := range b.Body {
		switch e.Key {
		case "exit_on_retry_failure":
			tc.ExitOnRetryFailure, _ = d.boolean(e, ctx)
		case "static_secret_render_interval":
			if v, ok := d.duration(e, ctx); ok && v > 0 {
				tc.StaticSecretRenderInterval = v
			}
		case "lease_renewal_threshold":
			if v, ok := d.float(e, ctx); ok {
				if v <= 0 || v >= 1 {
					d.Add(e.At, ctx, "lease_renewal_threshold must be between 0 and 1, such as 0.66")
					continue
				}
				tc.LeaseRenewalThreshold = v
			}
		case "max_connections_per_host":
			tc.MaxConnectionsPerHost, _ = d.integer(e, ctx)
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
}

func (d *decoder) exec(b block) *Exec {
	const ctx = "exec"
	x := &Exec{RestartOnSecretChanges: "always", RestartStopSignal: syscall.SIGTERM}
	for _, e := range b.Body {
		switch e.Key {
		case "command":
			if !isListNode(e) {
				d.Add(e.At, ctx, `command must be a list, as in command = ["/usr/bin/app", "-flag"]`)
				continue
			}
			x.Command, _ = d.strList(e, ctx)
		case "restart_on_secret_changes":
			if s, ok := d.str(e, ctx); ok {
				if s != "always" && s != "never" {
					d.Add(e.At, ctx, "restart_on_secret_changes %q is not valid; use always or never", s)
					continue
				}
				x.RestartOnSecretChanges = s
			}
		case "restart_stop_signal":
			if s, ok := d.str(e, ctx); ok {
				sig, known := signalByName(s)
				if !known {
					d.Add(e.At, ctx, "restart_stop_signal %q is not a signal name such as SIGTERM or SIGINT", s)
					continue
				}
				x.RestartStopSignal = sig
			}
		case "child_process_stdout":
			x.ChildStdout, _ = d.str(e, ctx)
		case "child_process_stderr":
			x.ChildStderr, _ = d.str(e, ctx)
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	if len(x.Command) == 0 {
		d.Add(b.At, ctx, "command is required")
		return nil
	}
	return x
}

func (d *decoder) autoAuthTokenSetting(e entry, ctx string) string {
	lit, ok := d.Literal(e, ctx)
	if !ok {
		return ""
	}
	s := strings.ToLower(strings.Trim(lit.Token.Text, `"`))
	switch s {
	case "true", "1":
		return "true"
	case "false", "0", "":
		return ""
	case "force":
		return "force"
	}
	d.Add(e.At, ctx, "use_auto_auth_token must be true, false or \"force\", not %s", lit.Token.Text)
	return ""
}

func (d *decoder) cache(b block) *Cache {
	c := &Cache{}
	for _, e := range b.Body {
		switch e.Key {
		case "use_auto_auth_token":
			c.UseAutoAuthToken = d.autoAuthTokenSetting(e, "cache")
		case "persist", "cache_static_secrets", "disable_caching_dynamic_secrets", "static_secret_token_capability_refresh_interval":
			d.Add(e.At, "cache", "%s is not supported", e.Key)
		default:
			d.Add(e.At, "cache", "unknown key %q", e.Key)
		}
	}
	return c
}

func (d *decoder) apiProxy(b block) *APIProxy {
	p := &APIProxy{}
	for _, e := range b.Body {
		switch e.Key {
		case "use_auto_auth_token":
			p.UseAutoAuthToken = d.autoAuthTokenSetting(e, "api_proxy")
		case "enforce_consistency", "when_inconsistent":
			d.str(e, "api_proxy") // single node: reads are always consistent
		default:
			d.Add(e.At, "api_proxy", "unknown key %q", e.Key)
		}
	}
	return p
}

func (d *decoder) listener(b block) *Listener {
	if len(b.Labels) == 0 {
		d.Add(b.At, "", `listener needs a type label, as in listener "tcp" { ... }`)
		return nil
	}
	typ := b.Labels[0]
	ctx := `listener "` + typ + `"`
	if typ != "tcp" && typ != "unix" {
		d.Add(b.At, "", "listener %q is not supported; use tcp or unix", typ)
		return nil
	}
	ln := &Listener{Type: typ}
	for _, e := range b.Body {
		switch e.Key {
		case "address":
			ln.Address, _ = d.str(e, ctx)
		case "tls_disable":
			ln.TLSDisable, _ = d.boolean(e, ctx)
		case "tls_cert_file":
			ln.TLSCertFile, _ = d.str(e, ctx)
		case "tls_key_file":
			ln.TLSKeyFile, _ = d.str(e, ctx)
		case "require_request_header":
			ln.RequireRequestHeader, _ = d.boolean(e, ctx)
		case "role", "tls_min_version", "tls_disable_client_certs", "socket_mode", "socket_user", "socket_group":
			d.str(e, ctx) // accepted
		default:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		}
	}
	switch {
	case ln.Address == "" && typ == "unix":
		d.Add(b.At, ctx, "address (the socket path) is required")
		return nil
	case ln.Address == "":
		ln.Address = "127.0.0.1:8100"
	}
	if typ == "tcp" && !ln.TLSDisable && (ln.TLSCertFile == "" || ln.TLSKeyFile == "") {
		d.Add(b.At, ctx, "tls_cert_file and tls_key_file are required unless tls_disable = true")
		return nil
	}
	return ln
}

// signalByName maps SIGTERM, TERM, sigint and the like to a signal.
func signalByName(s string) (syscall.Signal, bool) {
	name := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	sig, ok := map[string]syscall.Signal{
		"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP, "QUIT": syscall.SIGQUIT,
		"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
	}[name]
	return sig, ok
}
