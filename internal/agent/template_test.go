package agent

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// renderText parses and executes one template against src.
func renderText(t *testing.T, src *fakeSource, text string, opts ...func(*Template)) (string, error) {
	t.Helper()
	tc := &Template{Destination: "test"}
	for _, o := range opts {
		o(tc)
	}
	ds := newTestDeps(src, newFakeClock())
	fe := &funcEnv{ctx: context.Background(), fetch: ds}
	tm, err := parseTemplate("test", text, tc.LeftDelim, tc.RightDelim, tc.ErrorOnMissingKey, fe, tc.FunctionDenylist)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	err = tm.Execute(&buf, nil)
	return buf.String(), err
}

func kvSource() *fakeSource {
	return &fakeSource{
		read: func(p string) (*api.Secret, error) {
			switch p {
			case "secret/data/app":
				return &api.Secret{Data: map[string]interface{}{
					"data":     map[string]interface{}{"password": "s3cr3t", "user": "app"},
					"metadata": map[string]interface{}{"version": "3"},
				}}, nil
			case "database/creds/ro":
				return leased("database/creds/ro/abc", 3600, true, map[string]interface{}{"username": "v-ro-1", "password": "pw"}), nil
			}
			return nil, nil
		},
		write: func(p string, d map[string]interface{}) (*api.Secret, error) {
			return &api.Secret{Data: map[string]interface{}{"path": p, "cn": d["common_name"]}}, nil
		},
	}
}

func TestTemplateFunctions(t *testing.T) {
	t.Setenv("AGENT_TEMPLATE_TEST", "from-env")
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	writeFile(t, file, "file-content")
	tests := []struct {
		name, text, want string
	}{
		{"kv v2", `{{ with secret "secret/data/app" }}{{ .Data.data.user }}/{{ .Data.data.password }} v{{ .Data.metadata.version }}{{ end }}`, "app/s3cr3t v3"},
		{"lease fields", `{{ with secret "database/creds/ro" }}{{ .Data.username }} {{ .LeaseID }} {{ .LeaseDuration }} {{ .Renewable }}{{ end }}`,
			"v-ro-1 database/creds/ro/abc 3600 true"},
		{"write with parameters", `{{ with secret "pki/issue/web" "common_name=a.example.com" "ttl=1h" }}{{ .Data.path }} {{ .Data.cn }}{{ end }}`,
			"pki/issue/web a.example.com"},
		{"missing key prints no value", `{{ with secret "secret/data/app" }}{{ .Data.data.nope }}{{ end }}`, "<no value>"},
		{"secrets lists sorted", `{{ range secrets "secret/metadata/" }}{{ . }},{{ end }}`, "a/,b,c,"},
		{"env", `{{ env "AGENT_TEMPLATE_TEST" }}`, "from-env"},
		{"file", `{{ file "` + file + `" }}`, "file-content"},
		{"toJSON", `{{ with secret "secret/data/app" }}{{ .Data.data | toJSON }}{{ end }}`, `{"password":"s3cr3t","user":"app"}`},
		{"toJSONPretty", `{{ with secret "secret/data/app" }}{{ .Data.metadata | toJSONPretty }}{{ end }}`, "{\n  \"version\": \"3\"\n}"},
		{"toYAML", `{{ with secret "secret/data/app" }}{{ .Data.metadata | toYAML }}{{ end }}`, `version: "3"`},
		{"base64", `{{ "hello" | base64Encode }} {{ "aGVsbG8=" | base64Decode }} {{ "a?b" | base64URLEncode }}`, "aGVsbG8= hello YT9i"},
		{"strings", `{{ "a,b" | split "," | join ";" }} {{ "X" | toLower }} {{ " y " | trimSpace | toUpper }} {{ "aXa" | replaceAll "X" "-" }}`, "a;b x Y a-a"},
		{"indent", `{{ "a\nb" | indent 2 }}`, "  a\n  b"},
		{"parseJSON", `{{ with parseJSON "{\"k\":[1,2]}" }}{{ index .k 1 }}{{ end }}`, "2"},
		{"sha256Hex", `{{ "abc" | sha256Hex }}`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderText(t, kvSource(), tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTemplateOptionsAndErrors(t *testing.T) {
	withDelims := func(tc *Template) { tc.LeftDelim, tc.RightDelim = "[[", "]]" }
	missingKeyError := func(tc *Template) { tc.ErrorOnMissingKey = true }
	deny := func(tc *Template) { tc.FunctionDenylist = []string{"env", "file"} }
	tests := []struct {
		name    string
		text    string
		opt     func(*Template)
		want    string
		wantErr string
	}{
		{"delimiters", `[[ with secret "secret/data/app" ]][[ .Data.data.user ]] {{ literal }}[[ end ]]`, withDelims, "app {{ literal }}", ""},
		{"error on missing key", `{{ with secret "secret/data/app" }}{{ .Data.data.nope }}{{ end }}`, missingKeyError, "", `map has no entry for key "nope"`},
		{"denied function", `{{ env "HOME" }}`, deny, "", "function env is disabled"},
		{"bad write argument", `{{ secret "pki/issue/web" "common_name" }}`, nil, "", `argument "common_name" must be key=value`},
		{"missing path", `{{ with secret "secret/data/none" }}x{{ end }}`, nil, "", "read secret/data/none: no secret exists at this path"},
		{"bad base64", `{{ "!!" | base64Decode }}`, nil, "", "base64 decode"},
		{"missing file", `{{ file "/nonexistent/x" }}`, nil, "", "file: open /nonexistent/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*Template)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			got, err := renderText(t, kvSource(), tt.text, opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestPKICert(t *testing.T) {
	notAfter := time.Now().Add(72 * time.Hour).Truncate(time.Second).UTC()
	cert, key := testCert(t, time.Now().Add(-time.Hour), notAfter)
	src := &fakeSource{write: func(p string, d map[string]interface{}) (*api.Secret, error) {
		return &api.Secret{Data: map[string]interface{}{
			"certificate": cert, "private_key": key, "issuing_ca": "CA-PEM",
			"ca_chain": []interface{}{"CA-PEM", "ROOT-PEM"}, "serial_number": "01",
		}}, nil
	}}
	got, err := renderText(t, src, `{{ with pkiCert "pki/issue/web" "common_name=app.example.com" }}{{ .Cert }}{{ .Key }}{{ .CA }}|{{ join "," .CAChain }}|{{ .NotAfter.Unix }}|{{ .Data.serial_number }}{{ end }}`)
	if err != nil {
		t.Fatal(err)
	}
	want := cert + key + "CA-PEM|CA-PEM,ROOT-PEM|" + itoa(notAfter.Unix()) + "|01"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if !reflect.DeepEqual(src.writes, []map[string]interface{}{{"common_name": "app.example.com"}}) {
		t.Errorf("writes = %v", src.writes)
	}
	if p := parsePKI(map[string]interface{}{"certificate": "not pem"}); !p.NotAfter.IsZero() || p.Cert != "not pem" {
		t.Errorf("unparsable certificate: %+v", p)
	}
}

func itoa(n int64) string {
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
