package cli

import (
	"os"
	"testing"
	"time"
)

func TestEnvironPrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
		set  bool
	}{
		{name: "unset", env: nil, want: "", set: false},
		{name: "vault only", env: map[string]string{"VAULT_ADDR": "http://v:8200"}, want: "http://v:8200", set: true},
		{name: "coffer only", env: map[string]string{"COFFER_ADDR": "http://c:8200"}, want: "http://c:8200", set: true},
		{name: "coffer wins", env: map[string]string{"VAULT_ADDR": "http://v:8200", "COFFER_ADDR": "http://c:8200"}, want: "http://c:8200", set: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := environ{lookup: envMap(tt.env)}.get("ADDR")
			if got != tt.want || ok != tt.set {
				t.Fatalf("get = %q, %v; want %q, %v", got, ok, tt.want, tt.set)
			}
		})
	}
}

func TestFlagDefaultsFromEnvironment(t *testing.T) {
	env := map[string]string{
		"VAULT_ADDR":            "http://vault:8200",
		"COFFER_ADDR":           "http://coffer:8200",
		"VAULT_CACERT":          "/ca.pem",
		"VAULT_SKIP_VERIFY":     "true",
		"VAULT_FORMAT":          "json",
		"VAULT_WRAP_TTL":        "5m",
		"VAULT_TLS_SERVER_NAME": "example",
		"COFFER_CLIENT_CERT":    "/cert.pem",
	}
	m := &meta{env: environ{lookup: envMap(env)}}
	s := m.flagSet("read")
	if err := s.parse(nil); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.flagAddress != "http://coffer:8200":
		t.Errorf("address = %q", m.flagAddress)
	case m.flagCACert != "/ca.pem":
		t.Errorf("ca-cert = %q", m.flagCACert)
	case !m.flagTLSSkipVerify:
		t.Error("tls-skip-verify not taken from VAULT_SKIP_VERIFY")
	case m.format() != "json":
		t.Errorf("format = %q", m.format())
	case m.flagWrapTTL != 5*time.Minute:
		t.Errorf("wrap-ttl = %v", m.flagWrapTTL)
	case m.flagTLSServerName != "example":
		t.Errorf("tls-server-name = %q", m.flagTLSServerName)
	case m.flagClientCert != "/cert.pem":
		t.Errorf("client-cert = %q", m.flagClientCert)
	}

	// Flags override the environment.
	m = &meta{env: environ{lookup: envMap(env)}}
	s = m.flagSet("read")
	if err := s.parse([]string{"-address=http://flag:1", "-format=yaml", "-tls-skip-verify=false"}); err != nil {
		t.Fatal(err)
	}
	if m.flagAddress != "http://flag:1" || m.format() != "yaml" || m.flagTLSSkipVerify {
		t.Errorf("flags did not override env: %q %q %v", m.flagAddress, m.format(), m.flagTLSSkipVerify)
	}

	// Defaults without environment.
	m = &meta{env: environ{lookup: envMap(nil)}}
	if err := m.flagSet("read").parse(nil); err != nil {
		t.Fatal(err)
	}
	if m.flagAddress != "https://127.0.0.1:8200" || m.format() != "table" {
		t.Errorf("defaults: address %q format %q", m.flagAddress, m.format())
	}
}

func TestClientToken(t *testing.T) {
	home := t.TempDir()
	if err := (tokenHelper{home: home}).store("hvs.helper"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "token helper", env: map[string]string{"HOME": home}, want: "hvs.helper"},
		{name: "VAULT_TOKEN wins over helper", env: map[string]string{"HOME": home, "VAULT_TOKEN": "hvs.env"}, want: "hvs.env"},
		{name: "COFFER_TOKEN wins over VAULT_TOKEN", env: map[string]string{"HOME": home, "VAULT_TOKEN": "hvs.env", "COFFER_TOKEN": "hvs.coffer"}, want: "hvs.coffer"},
		{name: "no token", env: map[string]string{"HOME": t.TempDir()}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &meta{env: environ{lookup: envMap(tt.env)}}
			if err := m.flagSet("read").parse([]string{"-address=http://127.0.0.1:1"}); err != nil {
				t.Fatal(err)
			}
			c, err := m.apiClient()
			if err != nil {
				t.Fatal(err)
			}
			if c.Token() != tt.want {
				t.Fatalf("token = %q, want %q", c.Token(), tt.want)
			}
			if c.Address() != "http://127.0.0.1:1" {
				t.Fatalf("address = %q", c.Address())
			}
		})
	}
}

func TestTokenHelperFile(t *testing.T) {
	home := t.TempDir()
	h := tokenHelper{home: home}
	if tok, err := h.get(); err != nil || tok != "" {
		t.Fatalf("empty helper: %q, %v", tok, err)
	}
	if err := h.store("hvs.abc"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(home + "/.vault-token")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode = %v", fi.Mode().Perm())
	}
	if tok, _ := h.get(); tok != "hvs.abc" {
		t.Fatalf("get = %q", tok)
	}
	if err := h.erase(); err != nil {
		t.Fatal(err)
	}
	if tok, _ := h.get(); tok != "" {
		t.Fatalf("after erase: %q", tok)
	}
}
