package audit

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPathsTable(t *testing.T) {
	framework.TestPaths(t, Paths(NewBroker(logical.NewInmemStorage(), nil)))
}

func TestPathsThroughBackend(t *testing.T) {
	ctx := context.Background()
	b := NewBroker(logical.NewInmemStorage(), nil)
	defer b.Close()
	sys := &framework.Backend{Paths: Paths(b), BackendType: logical.TypeLogical}
	call := func(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
		return sys.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Data: data})
	}
	file := filepath.Join(t.TempDir(), "audit.log")

	// vault audit enable -path=audit-file -description=main file file_path=...
	resp, err := call(logical.UpdateOperation, "audit/audit-file", map[string]interface{}{
		"type": "file", "description": "main", "local": false,
		"options": map[string]interface{}{"file_path": file, "hmac_accessor": "false"},
	})
	if err != nil || resp != nil {
		t.Fatalf("enable: %v, %v", resp, err)
	}
	// Enabling on top of it is a 400.
	if _, err := call(logical.UpdateOperation, "audit/audit-file", map[string]interface{}{"type": "file"}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Errorf("second enable: %v", err)
	}

	resp, err = call(logical.ReadOperation, "audit", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"audit-file/": map[string]interface{}{
			"path": "audit-file/", "type": "file", "description": "main", "local": false,
			"options": map[string]string{"file_path": file, "hmac_accessor": "false"},
		},
	}
	if !reflect.DeepEqual(resp.Data, want) {
		t.Errorf("list = %#v\nwant %#v", resp.Data, want)
	}

	resp, err = call(logical.UpdateOperation, "audit-hash/audit-file", map[string]interface{}{"input": testToken})
	if err != nil {
		t.Fatal(err)
	}
	hash := resp.Data["hash"].(string)
	if !strings.HasPrefix(hash, "hmac-sha256:") {
		t.Fatalf("hash = %q", hash)
	}
	// The hash matches what the device logs.
	if err := b.LogRequest(ctx, credsInput()); err != nil {
		t.Fatal(err)
	}
	line := decode(t, readLines(t, file)[0])
	if got := field(t, line, "request", "client_token"); got != hash {
		t.Errorf("logged %v, audit-hash gave %v", got, hash)
	}
	if got := field(t, line, "request", "client_token_accessor"); got != testAccessor {
		t.Errorf("hmac_accessor=false not applied: %v", got)
	}

	for _, tc := range []struct {
		path string
		data map[string]interface{}
		want string
	}{
		{"audit-hash/audit-file", map[string]interface{}{}, `the "input" parameter is empty`},
		{"audit-hash/nope", map[string]interface{}{"input": "x"}, `unknown audit backend "nope/"`},
	} {
		if _, err := call(logical.UpdateOperation, tc.path, tc.data); err == nil || !strings.Contains(err.Error(), tc.want) ||
			!errors.Is(err, logical.ErrInvalidRequest) {
			t.Errorf("%s: err = %v, want 400 %q", tc.path, err, tc.want)
		}
	}

	if _, err := call(logical.DeleteOperation, "audit/audit-file", nil); err != nil {
		t.Fatal(err)
	}
	resp, err = call(logical.ReadOperation, "audit", nil)
	if err != nil || len(resp.Data) != 0 {
		t.Errorf("list after disable: %v, %v", resp.Data, err)
	}
	if b.Enabled() {
		t.Error("still enabled after disable")
	}
}
