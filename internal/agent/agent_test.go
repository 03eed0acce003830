package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kvTemplateConfig renders secret/app into dest, rewritten every 150ms.
func (e *env) kvTemplateConfig(dest, extra string) string {
	return e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + fmt.Sprintf(`
template_config {
  static_secret_render_interval = "150ms"
}
template {
  destination = %q
  perms       = "0640"
  command     = ["/bin/sh", "-c", "echo rendered >> %s"]
  contents    = <<EOT
{{ with secret "secret/data/app" }}pw={{ .Data.data.password }} v={{ .Data.metadata.version }}{{ end }}
EOT
}
template {
  destination = %q
  contents    = "{{ with secret \"secret/app\" }}{{ .Data.data.password | toUpper }}{{ end }}"
}
`, dest, filepath.Join(e.dir, "commands.log"), dest+".short") + extra
}

func TestKVv2TemplateRendersAndRerendersOnChange(t *testing.T) {
	e := newEnv(t, "")
	kv := e.s.Client.KVv2("secret")
	if _, err := kv.Put(t.Context(), "app", map[string]interface{}{"password": "one"}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(e.dir, "out", "app.conf")
	startAgent(t, e.kvTemplateConfig(dest, ""), Options{})

	got := waitForFile(t, dest, 10*time.Second, nil)
	if got != "pw=one v=1\n" {
		t.Fatalf("rendered %q", got)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o640 {
		t.Errorf("perms = %o, want 640", fi.Mode().Perm())
	}
	// "secret/app" on a KV v2 mount reads secret/data/app.
	if short := waitForFile(t, dest+".short", 5*time.Second, nil); short != "ONE" {
		t.Errorf("short-path template = %q, want ONE", short)
	}

	if _, err := kv.Put(t.Context(), "app", map[string]interface{}{"password": "two"}); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, dest, 5*time.Second, func(s string) bool { return s == "pw=two v=2\n" })
	waitForFile(t, dest+".short", 5*time.Second, func(s string) bool { return s == "TWO" })
	// The command ran once per change, not on every interval.
	time.Sleep(400 * time.Millisecond)
	if log, _ := os.ReadFile(filepath.Join(e.dir, "commands.log")); string(log) != "rendered\nrendered\n" {
		t.Errorf("command log = %q, want two runs", log)
	}
	// No temporary files are left beside the destination.
	entries, _ := os.ReadDir(filepath.Dir(dest))
	for _, de := range entries {
		if strings.HasSuffix(de.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", de.Name())
		}
	}
}

func TestTemplateDeniedPathRetriesThenExits(t *testing.T) {
	e := newEnv(t, "")
	text := strings.Replace(e.vaultBlock(), "}", "  retry { num_retries = 2 }\n}", 1) +
		e.approleBlock(filepath.Join(e.dir, "token")) + fmt.Sprintf(`
template_config { exit_on_retry_failure = true }
template {
  destination = %q
  contents    = "{{ with secret \"sys/policy/agent\" }}{{ .Data.rules }}{{ end }}"
}
`, filepath.Join(e.dir, "denied"))
	start := time.Now()
	_, errc := startAgent(t, text, Options{})
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), "sys/policy/agent") ||
			!strings.Contains(err.Error(), "after 2 retries") {
			t.Fatalf("Run error = %v", err)
		}
		// Two retries with a 250ms doubling backoff: about 750ms.
		if d := time.Since(start); d < 700*time.Millisecond {
			t.Errorf("gave up after %s, before the retries", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent kept running although exit_on_retry_failure is set")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "denied")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a destination was written for a template that failed")
	}
}

func TestTemplateDeniedPathRecoversWhenAllowed(t *testing.T) {
	e := newEnv(t, "")
	dest := filepath.Join(e.dir, "rules")
	text := e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + fmt.Sprintf(`
template {
  destination = %q
  contents    = "{{ with secret \"sys/policy/agent\" }}{{ .Data.name }}{{ end }}"
}
`, dest)
	startAgent(t, text, Options{})
	time.Sleep(400 * time.Millisecond)
	if err := e.s.Client.Sys().PutPolicy("agent", agentPolicy+`path "sys/policy/agent" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	if got := waitForFile(t, dest, 10*time.Second, nil); got != "agent" {
		t.Fatalf("rendered %q", got)
	}
}

func TestExecRestartsChildWhenSecretChanges(t *testing.T) {
	e := newEnv(t, "")
	kv := e.s.Client.KVv2("secret")
	if _, err := kv.Put(t.Context(), "app", map[string]interface{}{"password": "one"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.dir, "child.out")
	script := filepath.Join(e.dir, "child.sh")
	writeFile(t, script, fmt.Sprintf("echo \"start $APP_PASSWORD $APP_USER\" >> %s\ntrap 'echo \"stop $APP_PASSWORD\" >> %s; exit 0' TERM\nwhile :; do sleep 0.05; done\n", out, out))
	text := e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + fmt.Sprintf(`
template_config { static_secret_render_interval = "150ms" }
exec {
  command                   = ["/bin/sh", %q]
  restart_on_secret_changes = "always"
  restart_stop_signal       = "SIGTERM"
}
env_template "APP_PASSWORD" {
  contents = "{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}"
}
env_template "APP_USER" {
  contents = "{{ env \"AGENT_TEST_USER\" }}"
}
`, script)
	t.Setenv("AGENT_TEST_USER", "alice")
	sigs := make(chan os.Signal, 1)
	_, errc := startAgent(t, text, Options{Signals: sigs, StopTimeout: 5 * time.Second})
	waitForFile(t, out, 10*time.Second, func(s string) bool { return s == "start one alice\n" })

	if _, err := kv.Put(t.Context(), "app", map[string]interface{}{"password": "two"}); err != nil {
		t.Fatal(err)
	}
	want := "start one alice\nstop one\nstart two alice\n"
	waitForFile(t, out, 5*time.Second, func(s string) bool { return s == want })

	// SIGTERM stops the child with that signal and ends the agent cleanly.
	sigs <- syscall.SIGTERM
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run after SIGTERM: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not stop on SIGTERM")
	}
	if b, _ := os.ReadFile(out); string(b) != want+"stop two\n" {
		t.Errorf("child output = %q", b)
	}
}

func TestExecExitsWithChildCode(t *testing.T) {
	e := newEnv(t, "")
	if _, err := e.s.Client.KVv2("secret").Put(t.Context(), "app", map[string]interface{}{"password": "x"}); err != nil {
		t.Fatal(err)
	}
	stdout := &syncBuffer{}
	text := e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + `
exec { command = ["/bin/sh", "-c", "echo got=$PW; exit 7"] }
env_template "PW" {
  contents = "{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}"
}
`
	_, errc := startAgent(t, text, Options{Stdout: stdout})
	select {
	case err := <-errc:
		var exit *ExitError
		if !errors.As(err, &exit) || exit.Code != 7 {
			t.Fatalf("Run = %v, want exit code 7", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not exit with its child")
	}
	if got := stdout.String(); got != "got=x\n" {
		t.Errorf("child stdout = %q", got)
	}
}

func TestSIGHUPRereadsStaticSecrets(t *testing.T) {
	e := newEnv(t, "")
	kv := e.s.Client.KVv2("secret")
	if _, err := kv.Put(t.Context(), "app", map[string]interface{}{"password": "one"}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(e.dir, "app")
	text := e.vaultBlock() + e.approleBlock(filepath.Join(e.dir, "token")) + fmt.Sprintf(`
template {
  destination = %q
  contents    = "{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}"
}
`, dest)
	sigs := make(chan os.Signal, 1)
	startAgent(t, text, Options{Signals: sigs})
	waitForFile(t, dest, 10*time.Second, func(s string) bool { return s == "one" })
	if _, err := kv.Put(t.Context(), "app", map[string]interface{}{"password": "two"}); err != nil {
		t.Fatal(err)
	}
	// The static interval is 5 minutes; SIGHUP reads again now.
	time.Sleep(100 * time.Millisecond)
	if b, _ := os.ReadFile(dest); string(b) != "one" {
		t.Fatalf("re-rendered before SIGHUP: %q", b)
	}
	sigs <- syscall.SIGHUP
	waitForFile(t, dest, 5*time.Second, func(s string) bool { return s == "two" })
}
