package aws

import (
	"regexp"
	"strings"
	"testing"
)

func TestGenerateUsername(t *testing.T) {
	long := strings.Repeat("d", 50)
	cases := []struct {
		name     string
		tmpl     string
		data     usernameData
		match    string
		errMatch string
	}{
		{"default IAM", defaultUsernameTemplate, usernameData{Type: "IAM", DisplayName: "token", PolicyName: "s3-readonly"}, `^vault-token-s3-readonly-\d{10}-[A-Za-z0-9]{20}$`, ""},
		{"default IAM long names", defaultUsernameTemplate, usernameData{Type: "IAM", DisplayName: long, PolicyName: long}, `^vault-d{42}-\d{10}-[A-Za-z0-9]{4}$`, ""},
		{"default STS", defaultUsernameTemplate, usernameData{Type: "STS"}, `^vault-\d{10}-[A-Za-z0-9]{15}$`, ""},
		{"functions", `{{ "Ab-C" | lowercase }}-{{ "x" | uppercase }}-{{ replace "-" "_" "a-b" }}-{{ truncate_sha256 10 "abcdefghijklmnop" }}-{{ sha256 "a" | truncate 4 }}-{{ base64 "hi" }}`, usernameData{Type: "IAM"}, `^ab-c-X-a_b-ab[0-9a-f]{8}-ca97-aGk=$`, ""},
		{"time and uuid", `{{ unix_time_millis }}-{{ timestamp "2006" }}-{{ uuid }}`, usernameData{Type: "IAM"}, `^\d{13}-\d{4}-[0-9a-f-]{36}$`, ""},
		{"whitespace trimmed", "\n  {{ .Type }}  \n", usernameData{Type: "IAM"}, `^IAM$`, ""},
		{"IAM too long", `{{ random 65 }}`, usernameData{Type: "IAM"}, "", "exceeds the IAM username length limits of 64"},
		{"STS too long", `{{ random 33 }}`, usernameData{Type: "STS"}, "", "exceeds the STS username length limits of 32"},
		{"empty", `{{ if false }}x{{ end }}`, usernameData{Type: "IAM"}, "", "empty name"},
		{"bad random", `{{ random 0 }}`, usernameData{Type: "IAM"}, "", "random length"},
		{"unknown field", `{{ .Nope }}`, usernameData{Type: "IAM"}, "", "failed to generate username"},
		{"parse error", `{{ if }}`, usernameData{Type: "IAM"}, "", "unable to initialize username template"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := generateUsername(tc.tmpl, tc.data)
			if tc.errMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMatch) {
					t.Fatalf("err = %v, want %q", err, tc.errMatch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(tc.match).MatchString(got) {
				t.Fatalf("name %q does not match %s", got, tc.match)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"token":            "token",
		"approle-my role":  "approle-my_role",
		"user@example.com": "user@example.com",
		"a/b:c":            "a_b_c",
		"ok+=,.@_-":        "ok+=,.@_-",
		"unicodé":          "unicod_",
	} {
		if got := normalizeName(in); got != want {
			t.Errorf("normalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCombinePolicyDocuments(t *testing.T) {
	got, err := combinePolicyDocuments(
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"a:1","Resource":"*"}}`,
		"",
		`{"Statement":[{"Effect":"Allow","Action":"b:1","Resource":"*"},{"Effect":"Deny","Action":"c:1","Resource":"*"}]}`,
	)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":[{"Action":"a:1","Effect":"Allow","Resource":"*"},{"Action":"b:1","Effect":"Allow","Resource":"*"},{"Action":"c:1","Effect":"Deny","Resource":"*"}]}`
	if got != want {
		t.Fatalf("combined =\n%s\nwant\n%s", got, want)
	}
	if _, err := combinePolicyDocuments("{"); err == nil {
		t.Fatal("invalid document combined")
	}
}
