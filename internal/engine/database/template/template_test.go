package template

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// countingReader yields 0, 1, 2, … so random output is predictable.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func TestGenerate(t *testing.T) {
	now := time.Date(2024, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	md := Metadata{DisplayName: "token-Alice.Example", RoleName: "readonly-role"}
	tests := []struct {
		name, tmpl, want string
		re               string // when set, the output must match instead
	}{
		{name: "fields", tmpl: "{{.DisplayName}}/{{.RoleName}}", want: "token-Alice.Example/readonly-role"},
		{name: "truncate", tmpl: "{{.DisplayName | truncate 5}}", want: "token"},
		{name: "truncate longer than value", tmpl: "{{.RoleName | truncate 50}}", want: "readonly-role"},
		{name: "truncate_sha256", tmpl: "{{.DisplayName | truncate_sha256 12}}", want: "toke" + "030cf2cb"}, // sha256("n-Alice.Example")[:8],
		{name: "truncate_sha256 short value", tmpl: "{{.RoleName | truncate_sha256 20}}", want: "readonly-role"},
		{name: "uppercase", tmpl: "{{.RoleName | uppercase}}", want: "READONLY-ROLE"},
		{name: "lowercase", tmpl: "{{.DisplayName | lowercase}}", want: "token-alice.example"},
		{name: "replace", tmpl: `{{.DisplayName | replace "." "_" | replace "-" "_"}}`, want: "token_Alice_Example"},
		{name: "sha256", tmpl: `{{"abc" | sha256}}`, want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "base64", tmpl: `{{.RoleName | base64}}`, want: "cmVhZG9ubHktcm9sZQ=="},
		{name: "decode_base64", tmpl: `{{"cmVhZG9ubHktcm9sZQ==" | decode_base64}}`, want: "readonly-role"},
		{name: "hex", tmpl: `{{"ab" | hex}}`, want: "6162"},
		{name: "decode_hex", tmpl: `{{"6162" | decode_hex}}`, want: "ab"},
		{name: "unix_time", tmpl: "{{unix_time}}", want: "1709528767"},
		{name: "unix_time_millis", tmpl: "{{unix_time_millis}}", want: "1709528767890"},
		{name: "timestamp", tmpl: `{{timestamp "2006-01-02T15:04:05"}}`, want: "2024-03-04T05:06:07"},
		{name: "random", tmpl: "{{random 5}}", want: "ABCDE"},
		{name: "uuid", tmpl: "{{uuid}}", re: `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
		{name: "vault postgres default", tmpl: `{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}`,
			want: "v-token-Al-readonly-ABCDEFGHIJKLMNOPQRST-1709528767"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := New(tt.tmpl, Options{Now: func() time.Time { return now }, Rand: &countingReader{}})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got, err := tmpl.Generate(md)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if tt.re != "" {
				if !regexp.MustCompile(tt.re).MatchString(got) {
					t.Fatalf("got %q, want a match of %s", got, tt.re)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRandomIsBase62AndVaries(t *testing.T) {
	tmpl, err := New("{{random 40}}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := tmpl.Generate(Metadata{})
	b, _ := tmpl.Generate(Metadata{})
	if a == b || len(a) != 40 || !regexp.MustCompile(`^[A-Za-z0-9]{40}$`).MatchString(a) {
		t.Fatalf("random outputs %q and %q", a, b)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, tmpl, parseErr, genErr string
	}{
		{name: "empty", tmpl: "  ", parseErr: "missing template"},
		{name: "syntax", tmpl: "{{.RoleName", parseErr: "unable to parse template"},
		{name: "unknown function", tmpl: "{{nope 3}}", parseErr: "unable to parse template"},
		{name: "unknown field", tmpl: "{{.Nope}}", genErr: "unable to apply template"},
		{name: "truncate zero", tmpl: "{{.RoleName | truncate 0}}", genErr: "max length must be > 0"},
		{name: "truncate_sha256 too short", tmpl: "{{.RoleName | truncate_sha256 8}}", genErr: "max length must be > 8"},
		{name: "random zero", tmpl: "{{random 0}}", genErr: "random length must be > 0"},
		{name: "bad base64", tmpl: `{{"%%%" | decode_base64}}`, genErr: "illegal base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := New(tt.tmpl, Options{})
			if tt.parseErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.parseErr) {
					t.Fatalf("New error = %v, want %q", err, tt.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			_, err = tmpl.Generate(Metadata{RoleName: "r"})
			if err == nil || !strings.Contains(err.Error(), tt.genErr) {
				t.Fatalf("Generate error = %v, want %q", err, tt.genErr)
			}
		})
	}
}
