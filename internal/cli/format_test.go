package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

func kvSecret() *api.Secret {
	return &api.Secret{
		RequestID:     "4f5c3b1e-5c2a-4b7e-9a57-0d2a1b9c8e11",
		LeaseDuration: 2764800,
		Data: map[string]interface{}{
			"foo":   "bar",
			"ttl":   json.Number("3600"),
			"list":  []interface{}{"a", "b"},
			"empty": "",
		},
		Warnings: []string{"Endpoint ignored these unrecognized parameters: [bogus]"},
	}
}

func leaseSecret() *api.Secret {
	return &api.Secret{
		RequestID:     "0d7c7a4e-2c52-4c8f-8f0e-6a6f5b0a2b3c",
		LeaseID:       "database/creds/readonly/Qh8dNHk6dQnYpF3kXn3C4Ebp",
		LeaseDuration: 3600,
		Renewable:     true,
		Data:          map[string]interface{}{"username": "v-token-readonly-x", "password": "A1a-secret"},
	}
}

func authSecret(duration int) *api.Secret {
	return &api.Secret{
		RequestID: "6c1e0c3b-6a8e-4b51-b1c2-92b1f4a4b0f7",
		Auth: &api.SecretAuth{
			ClientToken:      "hvs.CAESIJexampletoken",
			Accessor:         "8uV3bMDbQ6aEuKFMoHHzmrbk",
			Policies:         []string{"default", "dev"},
			TokenPolicies:    []string{"default", "dev"},
			IdentityPolicies: []string{},
			Metadata:         map[string]string{"user": "alice", "team": "ops"},
			LeaseDuration:    duration,
			Renewable:        duration > 0,
		},
	}
}

func TestOutputSecretGolden(t *testing.T) {
	tests := []struct {
		name   string
		format string
		secret *api.Secret
	}{
		{"kv_table", "table", kvSecret()},
		{"kv_json", "json", kvSecret()},
		{"kv_yaml", "yaml", kvSecret()},
		{"lease_table", "table", leaseSecret()},
		{"auth_table", "table", authSecret(2764800)},
		{"auth_json", "json", authSecret(2764800)},
		{"root_auth_table", "table", authSecret(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, out, errb := testMeta(tt.format)
			if code := m.outputSecret(tt.secret); code != 0 {
				t.Fatalf("exit code %d, stderr %s", code, errb)
			}
			golden(t, tt.name+".golden", out.String())
			if tt.name == "kv_table" {
				golden(t, "kv_table_warnings.golden", errb.String())
			} else if errb.Len() > 0 && tt.format != "table" {
				t.Errorf("unexpected stderr: %s", errb)
			}
		})
	}
}

func TestOutputListAndMap(t *testing.T) {
	list := &api.Secret{Data: map[string]interface{}{"keys": []interface{}{"zeta", "alpha/", "mid"}}}
	m, out, _ := testMeta("table")
	m.outputList(list)
	golden(t, "list_table.golden", out.String())

	m, out, _ = testMeta("json")
	m.outputList(list)
	if got, want := out.String(), "[\n  \"zeta\",\n  \"alpha/\",\n  \"mid\"\n]\n"; got != want {
		t.Errorf("json list = %q, want %q", got, want)
	}

	m, out, _ = testMeta("table")
	m.outputData(map[string]interface{}{"created_time": "2024-01-02T03:04:05Z", "deletion_time": "", "version": json.Number("3"), "max_ttl": json.Number("90")})
	golden(t, "map_table.golden", out.String())
}

func TestSealStatusTable(t *testing.T) {
	status := sealStatusOutput{SealStatusResponse: api.SealStatusResponse{
		Type: "shamir", Initialized: true, Sealed: true, T: 3, N: 5, Progress: 1,
		Nonce: "5b3e8b5c-0f2d-4a6e-8d1c-2f3a4b5c6d7e", Version: "1.17.0+coffer.0.1.0",
		BuildDate: "2024-06-01T00:00:00Z", StorageType: "raft",
	}, HAEnabled: true}
	m, out, _ := testMeta("table")
	m.outputData(status)
	golden(t, "status_sealed_table.golden", out.String())

	status.Sealed = false
	status.IsSelf = true
	status.LeaderClusterAddress = "https://127.0.0.1:8201"
	status.ActiveTime = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	status.ClusterName, status.ClusterID = "coffer-cluster-1", "c0ffee00-0000-4000-8000-000000000001"
	m, out, _ = testMeta("table")
	m.outputData(status)
	golden(t, "status_unsealed_table.golden", out.String())

	m, out, _ = testMeta("json")
	m.outputData(status)
	var back map[string]interface{}
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["sealed"] != false || back["ha_enabled"] != true || back["version"] != "1.17.0+coffer.0.1.0" || back["t"] != float64(3) {
		t.Errorf("json status = %v", back)
	}
}

func TestPrintRawField(t *testing.T) {
	tests := []struct {
		name   string
		format string
		data   interface{}
		field  string
		want   string
		code   int
	}{
		{"token", "table", authSecret(60), "token", "hvs.CAESIJexampletoken", 0},
		{"token json", "json", authSecret(60), "token", `"hvs.CAESIJexampletoken"`, 0},
		{"token duration", "table", authSecret(60), "token_duration", "60", 0},
		{"token policies", "table", authSecret(60), "token_policies", "[default dev]", 0},
		{"token policies json", "json", authSecret(60), "token_policies", "[\n  \"default\",\n  \"dev\"\n]", 0},
		{"data key", "table", kvSecret(), "foo", "bar", 0},
		{"lease id", "table", leaseSecret(), "lease_id", "database/creds/readonly/Qh8dNHk6dQnYpF3kXn3C4Ebp", 0},
		{"lease duration", "table", leaseSecret(), "lease_duration", "3600", 0},
		{"map", "table", map[string]interface{}{"password": "pw"}, "password", "pw", 0},
		{"yaml list", "yaml", kvSecret(), "list", "- a\n- b", 0},
		{"missing", "table", kvSecret(), "nope", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, out, errb := testMeta(tt.format)
			if code := m.printRawField(tt.data, tt.field); code != tt.code {
				t.Fatalf("code = %d, want %d (stderr %s)", code, tt.code, errb)
			}
			if out.String() != tt.want {
				t.Fatalf("output = %q, want %q", out.String(), tt.want)
			}
			if tt.code != 0 && !strings.Contains(errb.String(), `Field "nope" not present in secret`) {
				t.Fatalf("stderr = %q", errb.String())
			}
		})
	}

	// On a terminal the value ends with a newline.
	m, out, _ := testMeta("table")
	m.stdoutTTY = true
	m.printRawField(kvSecret(), "foo")
	if out.String() != "bar\n" {
		t.Fatalf("tty output = %q", out.String())
	}
}

func TestColumnize(t *testing.T) {
	got := tableOutput([]string{"Path | Type | Description", "secret/ | kv | key/value secret storage", "sys/ | system | "}, "|")
	want := "" +
		"Path       Type      Description\n" +
		"----       ----      -----------\n" +
		"secret/    kv        key/value secret storage\n" +
		"sys/       system    n/a"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestHumanDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                            "0s",
		768 * time.Hour:              "768h",
		90 * time.Minute:             "1h30m",
		time.Hour + 5*time.Second:    "1h5s",
		45 * time.Second:             "45s",
		2*time.Minute + time.Second:  "2m1s",
		3 * time.Minute:              "3m",
		25*time.Hour + 3*time.Minute: "25h3m",
	}
	for d, want := range tests {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := humanDurationInt(json.Number("2764800")); got != "768h" {
		t.Errorf("humanDurationInt = %v", got)
	}
	if got := humanDurationInt("text"); got != "text" {
		t.Errorf("humanDurationInt(text) = %v", got)
	}
}

func TestWrapAtLength(t *testing.T) {
	text := "Vault initialized with 5 key shares and a key threshold of 3. Please " +
		"securely distribute the key shares printed above. When the Vault is " +
		"re-sealed, restarted, or stopped, you must supply at least 3 of these " +
		"keys to unseal it before it can start servicing requests."
	got := wrapAtLength(text)
	for _, line := range strings.Split(got, "\n") {
		if len(line) > maxLineLength {
			t.Errorf("line longer than %d: %q", maxLineLength, line)
		}
	}
	if strings.Join(strings.Fields(got), " ") != text {
		t.Error("wrapping changed the words")
	}
	golden(t, "wrap.golden", got+"\n")

	if got := wrapAtLengthWithPadding("* short warning", 2); got != "  * short warning" {
		t.Errorf("padded = %q", got)
	}
}

func TestPadEqualSigns(t *testing.T) {
	if got := padEqualSigns("Secret Path", len("secret/data/creds")); got != "== Secret Path ==" {
		t.Errorf("got %q", got)
	}
	md := map[string]interface{}{"created_time": 1, "custom_metadata": 1, "deletion_time": 1, "destroyed": 1, "version": 1}
	if got := headerForMap("Metadata", md); got != "======= Metadata =======" {
		t.Errorf("got %q", got)
	}
	if got := headerForMap("Data", map[string]interface{}{"foo": 1}); got != "=== Data ===" {
		t.Errorf("got %q", got)
	}
}

func TestInvalidFormat(t *testing.T) {
	m, _, errb := testMeta("xml")
	if code := m.outputSecret(kvSecret()); code != 1 {
		t.Fatalf("code = %d", code)
	}
	if !strings.Contains(errb.String(), "Invalid output format: xml") {
		t.Fatalf("stderr = %q", errb)
	}
}
