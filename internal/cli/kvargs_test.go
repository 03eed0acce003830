package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgsData(t *testing.T) {
	dir := t.TempDir()
	valueFile := filepath.Join(dir, "value.txt")
	if err := os.WriteFile(valueFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonFile := filepath.Join(dir, "body.json")
	if err := os.WriteFile(jsonFile, []byte(`{"a":"1","n":42,"nested":{"x":true}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    map[string]interface{}
		wantErr string
	}{
		{name: "simple", args: []string{"foo=bar", "baz=qux"},
			want: map[string]interface{}{"foo": "bar", "baz": "qux"}},
		{name: "value with equals", args: []string{"conn=a=b"},
			want: map[string]interface{}{"conn": "a=b"}},
		{name: "empty value", args: []string{"foo="},
			want: map[string]interface{}{"foo": ""}},
		{name: "repeated key becomes list", args: []string{"p=a", "p=b", "p=c"},
			want: map[string]interface{}{"p": []interface{}{"a", "b", "c"}}},
		{name: "value from file", args: []string{"cert=@" + valueFile},
			want: map[string]interface{}{"cert": "from-file\n"}},
		{name: "escaped at sign", args: []string{`user=\@admin`},
			want: map[string]interface{}{"user": "@admin"}},
		{name: "value from stdin", args: []string{"token=-", "x=y"}, stdin: "s3cret",
			want: map[string]interface{}{"token": "s3cret", "x": "y"}},
		{name: "whole body from stdin", args: []string{"-"}, stdin: `{"k":"v","num":7}`,
			want: map[string]interface{}{"k": "v", "num": json.Number("7")}},
		{name: "stdin body merged with pairs", args: []string{"-", "extra=1"}, stdin: `{"k":"v"}`,
			want: map[string]interface{}{"k": "v", "extra": "1"}},
		{name: "whole body from file", args: []string{"@" + jsonFile},
			want: map[string]interface{}{"a": "1", "n": json.Number("42"), "nested": map[string]interface{}{"x": true}}},
		{name: "no args", args: nil, want: map[string]interface{}{}},
		{name: "stdin twice", args: []string{"a=-", "b=-"}, stdin: "x", wantErr: "stdin already consumed"},
		{name: "not key value", args: []string{"novalue"}, wantErr: "format must be key=value"},
		{name: "missing file", args: []string{"a=@" + filepath.Join(dir, "nope")}, wantErr: "error reading file"},
		{name: "bad json on stdin", args: []string{"-"}, stdin: "{not json", wantErr: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgsData(strings.NewReader(tt.stdin), tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseArgsDataStringLists(t *testing.T) {
	got, err := parseArgsDataStringLists(strings.NewReader(""), []string{"version=2", "list=a", "list=b"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"version": {"2"}, "list": {"a", "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseArgsDataString(t *testing.T) {
	got, err := parseArgsDataString(strings.NewReader(`{"role_id":"r","ttl":30,"flag":true}`), []string{"-", "secret_id=s"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"role_id": "r", "ttl": "30", "flag": "1", "secret_id": "s"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := parseArgsDataString(nil, []string{"a=1", "a=2"}); err == nil {
		t.Fatal("a list value converted to a string without error")
	}
}
