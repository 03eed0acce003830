package agent

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

const fullConfig = `
pid_file = "/run/agent.pid"
log_level = "debug"

coffer {
  address = "https://coffer.example.com:8200"
  ca_cert = "/etc/coffer/ca.pem"
  retry {
    num_retries = 3
  }
}

auto_auth {
  method "approle" {
    mount_path = "auth/apps"
    min_backoff = "2s"
    max_backoff = "1m"
    config = {
      role_id_file_path = "/etc/agent/role-id"
      secret_id_file_path = "/etc/agent/secret-id"
      remove_secret_id_file_after_reading = false
    }
  }
  sink "file" {
    config = {
      path = "/run/agent/token"
      mode = 0600
    }
  }
  sink {
    type = "file"
    config { path = "/run/agent/token2" }
  }
}

template_config {
  exit_on_retry_failure = true
  static_secret_render_interval = "10m"
  lease_renewal_threshold = 0.5
}

template {
  source          = "/etc/agent/db.tmpl"
  destination     = "/run/app/db.env"
  perms           = "0640"
  command         = "systemctl reload app"
  command_timeout = "5s"
  error_on_missing_key = true
  left_delimiter  = "[["
  right_delimiter = "]]"
  backup          = true
  wait {
    min = "1s"
    max = "4s"
  }
}

template {
  contents    = "{{ env \"HOME\" }}"
  destination = "/run/app/home"
  exec {
    command = ["/usr/bin/app", "reload"]
    timeout = "10s"
  }
  create_dest_dirs = false
}

exec {
  command = ["/usr/bin/app", "-serve"]
  restart_on_secret_changes = "never"
  restart_stop_signal = "SIGINT"
}

env_template "DB_PASSWORD" {
  contents = "{{ with secret \"database/creds/app\" }}{{ .Data.password }}{{ end }}"
  error_on_missing_key = true
}

cache {}

api_proxy {
  use_auto_auth_token = "force"
}

listener "tcp" {
  address     = "127.0.0.1:8100"
  tls_disable = true
}

listener "unix" {
  address = "/run/agent.sock"
  require_request_header = true
}
`

func TestParseFullConfig(t *testing.T) {
	c, err := ParseConfig("agent.hcl", fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	want := Vault{Address: "https://coffer.example.com:8200", CACert: "/etc/coffer/ca.pem", NumRetries: 3}
	if c.Vault != want {
		t.Errorf("vault = %+v, want %+v", c.Vault, want)
	}
	m := c.AutoAuth.Method
	if m.Type != "approle" || m.MountPath != "auth/apps" || m.RoleIDFile != "/etc/agent/role-id" ||
		m.SecretIDFile != "/etc/agent/secret-id" || m.RemoveSecretIDFile || m.MinBackoff != 2*time.Second || m.MaxBackoff != time.Minute {
		t.Errorf("method = %+v", m)
	}
	if len(c.AutoAuth.Sinks) != 2 || c.AutoAuth.Sinks[0].Mode != 0o600 || c.AutoAuth.Sinks[1].Mode != DefaultSinkMode ||
		c.AutoAuth.Sinks[1].Path != "/run/agent/token2" {
		t.Errorf("sinks = %+v %+v", c.AutoAuth.Sinks[0], c.AutoAuth.Sinks[len(c.AutoAuth.Sinks)-1])
	}
	if tc := c.TemplateConfig; !tc.ExitOnRetryFailure || tc.StaticSecretRenderInterval != 10*time.Minute || tc.LeaseRenewalThreshold != 0.5 {
		t.Errorf("template_config = %+v", tc)
	}
	if len(c.Templates) != 2 {
		t.Fatalf("%d templates", len(c.Templates))
	}
	t0, t1 := c.Templates[0], c.Templates[1]
	if t0.Source != "/etc/agent/db.tmpl" || t0.Perms != 0o640 || t0.ShellCommand != "systemctl reload app" || t0.Command != nil ||
		t0.CommandTimeout != 5*time.Second || !t0.ErrorOnMissingKey || t0.LeftDelim != "[[" || t0.RightDelim != "]]" ||
		!t0.Backup || t0.WaitMin != time.Second || t0.WaitMax != 4*time.Second || !t0.CreateDestDirs {
		t.Errorf("template 0 = %+v", t0)
	}
	if !reflect.DeepEqual(t1.Command, []string{"/usr/bin/app", "reload"}) || t1.CommandTimeout != 10*time.Second ||
		t1.CreateDestDirs || t1.Perms != 0 || t1.Contents != `{{ env "HOME" }}` {
		t.Errorf("template 1 = %+v", t1)
	}
	if x := c.Exec; !reflect.DeepEqual(x.Command, []string{"/usr/bin/app", "-serve"}) || x.RestartOnSecretChanges != "never" ||
		x.RestartStopSignal != syscall.SIGINT {
		t.Errorf("exec = %+v", x)
	}
	if len(c.EnvTemplates) != 1 || c.EnvTemplates[0].Name != "DB_PASSWORD" || !c.EnvTemplates[0].ErrorOnMissingKey {
		t.Errorf("env templates = %+v", c.EnvTemplates)
	}
	if c.UseAutoAuthToken() != "force" || c.Cache == nil {
		t.Errorf("proxy: use token %q cache %v", c.UseAutoAuthToken(), c.Cache)
	}
	if len(c.Listeners) != 2 || *c.Listeners[0] != (Listener{Type: "tcp", Address: "127.0.0.1:8100", TLSDisable: true}) ||
		!c.Listeners[1].RequireRequestHeader {
		t.Errorf("listeners = %+v %+v", c.Listeners[0], c.Listeners[1])
	}
	if c.PidFile != "/run/agent.pid" || c.LogLevel != "debug" {
		t.Errorf("pid_file %q log_level %q", c.PidFile, c.LogLevel)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := ParseConfig("a.hcl", `
vault { address = "http://127.0.0.1:8200" }
auto_auth {
  method "token_file" { config { token_file_path = "/t" } }
}
cache { use_auto_auth_token = true }
listener "tcp" { tls_disable = true }
`)
	if err != nil {
		t.Fatal(err)
	}
	m := c.AutoAuth.Method
	if m.MountPath != "auth/token_file" || m.MinBackoff != DefaultMinBackoff || m.MaxBackoff != DefaultMaxBackoff || !m.RemoveSecretIDFile {
		t.Errorf("method defaults = %+v", m)
	}
	if c.Vault.NumRetries != DefaultNumRetries || c.TemplateConfig.StaticSecretRenderInterval != DefaultStaticRenderInterval ||
		c.TemplateConfig.LeaseRenewalThreshold != DefaultLeaseRenewalThreshold {
		t.Errorf("defaults: %+v %+v", c.Vault, c.TemplateConfig)
	}
	if c.UseAutoAuthToken() != "true" {
		t.Errorf("cache-level use_auto_auth_token = %q", c.UseAutoAuthToken())
	}
	if c.Listeners[0].Address != "127.0.0.1:8100" {
		t.Errorf("default listener address %q", c.Listeners[0].Address)
	}
}

func TestConfigErrors(t *testing.T) {
	const head = "vault { address = \"http://127.0.0.1:8200\" }\n"
	tests := []struct {
		name string
		text string
		want []string // each must appear, in order
	}{
		{"syntax", head + "template {\n  destination = \n}\n", []string{"a.hcl:4: syntax error"}},
		{"duplicate assignment", head + "exit_after_auth = true\nexit_after_auth = false\n" + tokenFileBlock,
			[]string{`a.hcl:3: syntax error: The argument "exit_after_auth" at 3:1 was already set`}},
		{"unknown top key", head + "templates {}\n", []string{`a.hcl:2: unknown key "templates"`}},
		{"unknown vault key", "vault {\n  adress = \"x\"\n}\nauto_auth {\n method \"token_file\" { config { token_file_path = \"/t\" } }\n}\n",
			[]string{`a.hcl:2: vault: unknown key "adress"`}},
		{"both server blocks", head + "coffer { address = \"http://x:1\" }\n" + tokenFileBlock,
			[]string{"a.hcl:2: give either a vault or a coffer block, not both (the vault block is at a.hcl:1)"}},
		{"bad address", "coffer { address = \"127.0.0.1:8200\" }\n" + tokenFileBlock, []string{`a.hcl:1: coffer: address "127.0.0.1:8200" must be a URL`}},
		{"approle without role id", head + "auto_auth {\n  method \"approle\" {\n    config { secret_id_file_path = \"/s\" }\n  }\n}\n",
			[]string{`a.hcl:3: auto_auth.method "approle": config: role_id_file_path is required`}},
		{"unknown method config key", head + "auto_auth {\n  method \"approle\" {\n    config {\n      role_id_file = \"/r\"\n    }\n  }\n}\n",
			[]string{`a.hcl:5: auto_auth.method "approle".config: unknown key "role_id_file"`}},
		{"unsupported method", head + "auto_auth {\n  method \"kubernetes\" {}\n}\n", []string{`a.hcl:3: auto_auth: method "kubernetes" is not supported`}},
		{"method without type", head + "auto_auth {\n  method {\n    config { token_file_path = \"/t\" }\n  }\n}\n", []string{"a.hcl:3: method: method needs a type"}},
		{"no method", head + "auto_auth {\n  sink \"file\" { config { path = \"/p\" } }\n}\n", []string{"a.hcl:2: auto_auth: a method block is required"}},
		{"sink without path", head + tokenFileBlockWith("sink \"file\" {\n config { mode = 0600 }\n}"), []string{`auto_auth.sink "file": config: path is required`}},
		{"bad sink mode", head + tokenFileBlockWith("sink \"file\" {\n config {\n path = \"/p\"\n mode = \"rw\"\n}\n}"),
			[]string{`a.hcl:7: auto_auth.sink "file".config: mode: "rw" is not an octal file mode`}},
		{"template without destination", head + tokenFileBlock + "template {\n  contents = \"x\"\n}\n", []string{"a.hcl:5: template: destination is required"}},
		{"template source and contents", head + tokenFileBlock + "template {\n  source = \"/a\"\n  contents = \"x\"\n  destination = \"/d\"\n}\n",
			[]string{"a.hcl:5: template: source and contents are mutually exclusive"}},
		{"template bad duration", head + tokenFileBlock + "template {\n  contents = \"x\"\n  destination = \"/d\"\n  command_timeout = \"soon\"\n}\n",
			[]string{`a.hcl:8: template: command_timeout: "soon" is not a valid duration`}},
		{"one delimiter", head + tokenFileBlock + "template {\n  contents = \"x\"\n  destination = \"/d\"\n  left_delimiter = \"[[\"\n}\n",
			[]string{"a.hcl:5: template: left_delimiter and right_delimiter must be given together"}},
		{"exec without env_template", head + tokenFileBlock + "exec {\n  command = [\"/bin/true\"]\n}\n",
			[]string{"a.hcl:5: exec: at least one env_template block is needed"}},
		{"env_template without exec", head + tokenFileBlock + "env_template \"X\" {\n  contents = \"x\"\n}\n",
			[]string{"a.hcl:5: env_template: an exec block is needed"}},
		{"exec command string", head + tokenFileBlock + "exec {\n  command = \"/bin/app\"\n}\nenv_template \"X\" { contents = \"x\" }\n",
			[]string{"a.hcl:6: exec: command must be a list"}},
		{"bad restart policy", head + tokenFileBlock + "exec {\n  command = [\"/a\"]\n  restart_on_secret_changes = \"sometimes\"\n}\nenv_template \"X\" { contents = \"x\" }\n",
			[]string{`a.hcl:7: exec: restart_on_secret_changes "sometimes" is not valid`}},
		{"bad signal", head + tokenFileBlock + "exec {\n  command = [\"/a\"]\n  restart_stop_signal = \"SIGFOO\"\n}\nenv_template \"X\" { contents = \"x\" }\n",
			[]string{`a.hcl:7: exec: restart_stop_signal "SIGFOO" is not a signal name`}},
		{"env_template with destination", head + tokenFileBlock + "exec { command = [\"/a\"] }\nenv_template \"X\" {\n  contents = \"x\"\n  destination = \"/d\"\n}\n",
			[]string{`a.hcl:8: env_template "X": destination is not allowed in an env_template`}},
		{"proxy without listener", head + tokenFileBlock + "api_proxy { use_auto_auth_token = true }\n", []string{"api_proxy and cache need a listener block"}},
		{"bad use_auto_auth_token", head + tokenFileBlock + "api_proxy { use_auto_auth_token = \"always\" }\nlistener \"tcp\" { tls_disable = true }\n",
			[]string{`a.hcl:5: api_proxy: use_auto_auth_token must be true, false or "force"`}},
		{"tls listener without cert", head + tokenFileBlock + "listener \"tcp\" {\n  address = \"127.0.0.1:8100\"\n}\n",
			[]string{`a.hcl:5: listener "tcp": tls_cert_file and tls_key_file are required unless tls_disable = true`}},
		{"bad threshold", head + tokenFileBlock + "template_config {\n  lease_renewal_threshold = 1.5\n}\n",
			[]string{"a.hcl:6: template_config: lease_renewal_threshold must be between 0 and 1"}},
		{"nothing to do", head, []string{"a.hcl: nothing to do"}},
		{"several problems in order", head + "auto_auth {\n  method \"approle\" {\n    config {\n      role_id_file_path = \"/r\"\n      bogus = 1\n    }\n  }\n  sink \"file\" { config { path = \"/p\"\n mode = 999 } }\n}\nfoo = 1\n",
			[]string{`a.hcl:6: auto_auth.method "approle".config: unknown key "bogus"`, `a.hcl:10: auto_auth.sink "file".config: mode: 999`, `a.hcl:12: unknown key "foo"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("a.hcl", tt.text)
			if err == nil {
				t.Fatalf("no error for:\n%s", tt.text)
			}
			var ce ConfigErrors
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not ConfigErrors: %v", err, err)
			}
			msg := err.Error()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not contain (in order) %q", msg, w)
				}
				at += i + len(w)
			}
		})
	}
}

const tokenFileBlock = "auto_auth {\n  method \"token_file\" { config { token_file_path = \"/t\" } }\n}\n"

func tokenFileBlockWith(sink string) string {
	return "auto_auth {\n  method \"token_file\" { config { token_file_path = \"/t\" } }\n" + sink + "\n}\n"
}

func TestLoadConfigMergesFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.hcl"), filepath.Join(dir, "b.hcl")
	writeFile(t, a, "vault { address = \"http://a:1\" }\n"+tokenFileBlock+"template {\n  contents = \"1\"\n  destination = \"/one\"\n}\n")
	writeFile(t, b, "log_level = \"warn\"\ntemplate {\n  contents = \"2\"\n  destination = \"/two\"\n}\n")
	c, err := LoadConfig(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Templates) != 2 || c.Templates[1].Destination != "/two" || c.LogLevel != "warn" || c.Vault.Address != "http://a:1" {
		t.Errorf("merged: %d templates, log %q, vault %+v", len(c.Templates), c.LogLevel, c.Vault)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.hcl")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	writeFile(t, b, "template {\n  contents = \"2\"\n}\n")
	_, err = LoadConfig(a, b)
	if err == nil || !strings.Contains(err.Error(), b+":1: template: destination is required") {
		t.Errorf("error in the second file: %v", err)
	}
}

func TestNewRejectsBadTemplates(t *testing.T) {
	dir := t.TempDir()
	text := "vault { address = \"http://127.0.0.1:1\" }\n" + tokenFileBlock + `
template {
  contents    = "{{ with secret \"x\" }}{{ .Data.a }"
  destination = "` + dir + `/a"
}
template {
  source      = "` + dir + `/missing.tmpl"
  destination = "` + dir + `/b"
}
template {
  contents    = "{{ nosuchfunc }}"
  destination = "` + dir + `/c"
}
`
	cfg, err := ParseConfig("agent.hcl", text)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, Options{})
	if err == nil {
		t.Fatal("New accepted broken templates")
	}
	msg := err.Error()
	for _, w := range []string{"agent.hcl:6: template: " + dir + "/a:1: unexpected", "agent.hcl:10: template: source: open " + dir + "/missing.tmpl",
		`agent.hcl:14: template: ` + dir + `/c:1: function "nosuchfunc" not defined`} {
		if !strings.Contains(msg, w) {
			t.Errorf("error\n%s\nlacks %q", msg, w)
		}
	}
}

func TestNewNeedsAToken(t *testing.T) {
	cfg, err := ParseConfig("a.hcl", "vault { address = \"http://127.0.0.1:1\" }\ntemplate {\n  contents = \"x\"\n  destination = \"/tmp/x\"\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "VAULT_TOKEN") {
		t.Errorf("New without a token: %v", err)
	}
	if _, err := New(cfg, Options{Token: "hvs.x"}); err != nil {
		t.Errorf("New with a token: %v", err)
	}
	if _, err := New(cfg, Options{Token: "hvs.x", ExitAfterAuth: true}); err == nil {
		t.Error("exit after auth without auto_auth was accepted")
	}
}

func TestParseJSONConfig(t *testing.T) {
	c, err := ParseConfig("agent.json", `{
  "vault": {"address": "http://127.0.0.1:8200", "tls_skip_verify": "true"},
  "auto_auth": {
    "method": [{"type": "approle", "config": {"role_id_file_path": "/r", "remove_secret_id_file_after_reading": 0}}],
    "sink": [{"type": "file", "config": {"path": "/s", "mode": "0600"}}]
  },
  "template": [
    {"contents": "a", "destination": "/a", "command": ["/bin/true"]},
    {"contents": "b", "destination": "/b"}
  ],
  "template_config": {"static_secret_render_interval": 90},
  "listener": {"tcp": {"address": "127.0.0.1:8100", "tls_disable": true}},
  "exit_after_auth": false
}`)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Vault.TLSSkipVerify || c.AutoAuth.Method.RoleIDFile != "/r" || c.AutoAuth.Method.RemoveSecretIDFile ||
		c.AutoAuth.Sinks[0].Mode != 0o600 || len(c.Templates) != 2 || c.Templates[0].Command[0] != "/bin/true" ||
		c.TemplateConfig.StaticSecretRenderInterval != 90*time.Second || c.Listeners[0].Address != "127.0.0.1:8100" {
		t.Errorf("JSON config decoded as %+v %+v %+v", c.Vault, c.AutoAuth.Method, c.TemplateConfig)
	}
}
