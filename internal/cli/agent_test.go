package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(bad, []byte("vault {\n  address = \"http://127.0.0.1:8200\"\n}\nauto_auth {\n  method \"approle\" {\n    config {\n      role_id_file = \"/r\"\n    }\n  }\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.hcl")
	if err := os.WriteFile(good, []byte("auto_auth {\n  method \"token_file\" {\n    config { token_file_path = \"/t\" }\n  }\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"agent"}, "no configuration given"},
		{"missing file", []string{"agent", "-config=" + filepath.Join(dir, "none.hcl")}, "no such file or directory"},
		{"bad config", []string{"agent", "-config=" + bad},
			"Error loading configuration:\n" + bad + `:5: auto_auth.method "approle": config: role_id_file_path is required` + "\n" +
				bad + `:7: auto_auth.method "approle".config: unknown key "role_id_file"` + "\n"},
		{"bad log level", []string{"agent", "-config=" + good, "-log-level=loud"}, `unknown log level "loud"`},
		{"arguments", []string{"agent", "extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, nil, "", tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, errOut, tt.want)
			}
		})
	}
	if code, _, errOut := run(t, nil, "", "agent", "-h"); code != 0 || !strings.Contains(errOut, "-exit-after-auth") {
		t.Errorf("agent -h: exit %d\n%s", code, errOut)
	}
}

func TestAgentCommandExitAfterAuthAndExec(t *testing.T) {
	e := startE2E(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "vault-token")
	sink := filepath.Join(dir, "sink")
	e.ok("", "kv", "put", "secret/app", "password=hunter2")
	if err := os.WriteFile(tokenFile, []byte(e.srv.RootToken), 0o600); err != nil {
		t.Fatal(err)
	}
	// No vault block: the address and CA come from VAULT_ADDR and VAULT_CACERT.
	conf := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(conf, []byte(`
auto_auth {
  method "token_file" {
    config { token_file_path = "`+tokenFile+`" }
  }
  sink "file" {
    config { path = "`+sink+`" }
  }
}
template {
  destination = "`+filepath.Join(dir, "out")+`"
  contents    = "{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}"
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("", "agent", "-config="+conf, "-exit-after-auth", "-log-level=error")
	if b, _ := os.ReadFile(sink); string(b) != e.srv.RootToken {
		t.Errorf("sink = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out")); string(b) != "hunter2" {
		t.Errorf("rendered %q", b)
	}

	// exec mode without auto_auth uses VAULT_TOKEN; the agent exits with
	// its child's code.
	execConf := filepath.Join(dir, "exec.hcl")
	if err := os.WriteFile(execConf, []byte(`
exec {
  command = ["/bin/sh", "-c", "test \"$PW\" = hunter2 && exit 4; exit 1"]
}
env_template "PW" {
  contents = "{{ with secret \"secret/data/app\" }}{{ .Data.data.password }}{{ end }}"
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, e.env, "", "agent", "-config="+execConf, "-log-level=error")
	if code != 4 {
		t.Errorf("exit %d, want the child's 4\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
