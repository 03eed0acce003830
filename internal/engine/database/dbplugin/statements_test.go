package dbplugin

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseStatements(t *testing.T) {
	pgFunc := `CREATE FUNCTION f() RETURNS void AS $body$ BEGIN PERFORM 1; PERFORM 2; END; $body$ LANGUAGE plpgsql`
	tests := []struct {
		name string
		in   []string
		d    Dialect
		want []string
	}{
		{"one string, two queries", []string{`CREATE ROLE "{{name}}"; GRANT SELECT ON t TO "{{name}}";`}, Postgres,
			[]string{`CREATE ROLE "{{name}}"`, `GRANT SELECT ON t TO "{{name}}"`}},
		{"list", []string{"CREATE ROLE a", " GRANT x TO a ", ""}, Postgres, []string{"CREATE ROLE a", "GRANT x TO a"}},
		{"JSON array string", []string{`["CREATE ROLE a; still one", "GRANT x TO a"]`}, Postgres,
			[]string{"CREATE ROLE a; still one", "GRANT x TO a"}},
		{"base64 of text", []string{base64.StdEncoding.EncodeToString([]byte("A 1; B 2"))}, Postgres, []string{"A 1", "B 2"}},
		{"base64 of JSON", []string{base64.StdEncoding.EncodeToString([]byte(`["A; 1"]`))}, Postgres, []string{"A; 1"}},
		{"semicolon in single quotes", []string{`CREATE ROLE a PASSWORD 'x;y'; SELECT 1`}, Postgres,
			[]string{`CREATE ROLE a PASSWORD 'x;y'`, `SELECT 1`}},
		{"doubled quote", []string{`SELECT 'it''s; here'; SELECT 2`}, Postgres, []string{`SELECT 'it''s; here'`, `SELECT 2`}},
		{"semicolon in identifier", []string{`CREATE ROLE "a;b"; SELECT 2`}, Postgres, []string{`CREATE ROLE "a;b"`, `SELECT 2`}},
		{"dollar quoted body", []string{pgFunc + "; SELECT 3"}, Postgres, []string{pgFunc, "SELECT 3"}},
		{"anonymous dollar quote", []string{`DO $$ BEGIN EXECUTE 'x'; END $$; SELECT 4`}, Postgres,
			[]string{`DO $$ BEGIN EXECUTE 'x'; END $$`, `SELECT 4`}},
		{"positional parameter is not a quote", []string{`SELECT $1; SELECT 5`}, Postgres, []string{`SELECT $1`, `SELECT 5`}},
		{"line comment", []string{"SELECT 1 -- a; b\n; SELECT 2"}, Postgres, []string{"SELECT 1 -- a; b", "SELECT 2"}},
		{"block comment", []string{"SELECT /* ; */ 1; SELECT 2"}, Postgres, []string{"SELECT /* ; */ 1", "SELECT 2"}},
		{"E string backslash", []string{`SELECT E'a\';b'; SELECT 2`}, Postgres, []string{`SELECT E'a\';b'`, `SELECT 2`}},
		{"standard string backslash", []string{`SELECT 'C:\'; SELECT 2`}, Postgres, []string{`SELECT 'C:\'`, `SELECT 2`}},
		{"mysql backslash", []string{`CREATE USER 'a'@'%' IDENTIFIED BY 'p\';q'; GRANT x`}, MySQL,
			[]string{`CREATE USER 'a'@'%' IDENTIFIED BY 'p\';q'`, `GRANT x`}},
		{"mysql backticks and hash comment", []string{"GRANT SELECT ON `d;b`.* TO 'u'@'%' # c;\n; FLUSH PRIVILEGES"}, MySQL,
			[]string{"GRANT SELECT ON `d;b`.* TO 'u'@'%' # c;", "FLUSH PRIVILEGES"}},
		{"unterminated quote keeps the rest", []string{`SELECT 'abc; def`}, Postgres, []string{`SELECT 'abc; def`}},
		{"only separators", []string{" ; ;; "}, Postgres, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseStatements(tt.in, tt.d)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseStatements(%q) =\n  %q\nwant\n  %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	got := Render(`CREATE ROLE "{{name}}" PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; -- {{username}} {{other}}`,
		map[string]string{"name": "v-a", "username": "v-a", "password": "p", "expiration": "2030-01-02 03:04:05+0000"})
	want := `CREATE ROLE "v-a" PASSWORD 'p' VALID UNTIL '2030-01-02 03:04:05+0000'; -- v-a {{other}}`
	if got != want {
		t.Fatalf("Render = %q, want %q", got, want)
	}
	if QuoteIdentifier(`a"b`) != `"a""b"` {
		t.Fatalf("QuoteIdentifier = %s", QuoteIdentifier(`a"b`))
	}
}

func TestScrub(t *testing.T) {
	const pw = "s3cr#t/pa ss"
	tests := []struct {
		name, in string
	}{
		{"plain", "login failed with " + pw},
		{"path escaped", "dial postgres://admin:s3cr%23t%2Fpa%20ss@host/db failed"},
		{"query escaped", "bad value s3cr%23t%2Fpa+ss"},
		{"other userinfo", "cannot parse postgres://admin:hunter2@host:5432/db"},
		{"key value", "cannot parse host=x user=admin password=hunter2 dbname=y"},
		{"quoted key value", "cannot parse host=x password='hun ter2' dbname=y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := errors.New(tt.in)
			err := Scrub(fmt.Errorf("wrapped: %w", base), pw)
			msg := err.Error()
			for _, leak := range []string{pw, "s3cr%23t", "hunter2", "hun ter2"} {
				if strings.Contains(msg, leak) {
					t.Fatalf("scrubbed message %q still contains %q", msg, leak)
				}
			}
			if !strings.Contains(msg, Redacted) {
				t.Fatalf("scrubbed message %q has no redaction marker", msg)
			}
			if !errors.Is(err, base) {
				t.Fatal("scrubbed error no longer unwraps to the original")
			}
		})
	}
	if Scrub(nil, pw) != nil {
		t.Fatal("Scrub(nil) != nil")
	}
	se := &StatementError{Err: Scrub(errors.New("x "+pw), pw)}
	var target *StatementError
	if !errors.As(fmt.Errorf("outer: %w", se), &target) || strings.Contains(target.Error(), pw) {
		t.Fatalf("StatementError lost or leaks: %v", target)
	}
}
