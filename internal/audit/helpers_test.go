package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

const (
	testToken    = "hvs.CAESIJ3mW0m8wq4b8cOQx0a1Yt7pZ"
	testAccessor = "Xq8Yf2kz3LwA7nB4cD5eF6gH"
)

var testTime = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// rootAuth is the caller's token as the core resolves it.
func rootAuth() *AuthInfo {
	return &AuthInfo{
		ClientToken:   testToken,
		Accessor:      testAccessor,
		DisplayName:   "approle",
		Policies:      []string{"default", "app-readonly"},
		TokenPolicies: []string{"default", "app-readonly"},
		Metadata:      map[string]string{"role_name": "web"},
		EntityID:      "7d2e3b4f-0c1a-4e5b-9f6d-1a2b3c4d5e6f",
		TokenType:     "service",
		TokenTTL:      time.Hour,
		RemainingUses: 3,
	}
}

// credsInput is a database credentials read and its leased response.
func credsInput() *LogInput {
	return &LogInput{
		Auth: rootAuth(),
		Request: &logical.Request{
			ID:                  "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
			Operation:           logical.ReadOperation,
			Path:                "database/creds/app-readonly",
			MountPoint:          "database/",
			ClientToken:         testToken,
			ClientTokenAccessor: testAccessor,
			Connection:          &logical.Connection{RemoteAddr: "10.1.2.3:51234"},
		},
		Response: &logical.Response{
			Secret: &logical.Secret{LeaseID: "database/creds/app-readonly/Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8"},
			Data:   map[string]interface{}{"username": "v-approle-app-read-x1y2", "password": "A1a-s3cr3t-p4ss", "ttl": 3600},
		},
		MountType:     "database",
		MountAccessor: "database_8f2a1c3d",
		Time:          testTime,
	}
}

// kvWriteInput is a KV write with a JSON body decoded with UseNumber.
func kvWriteInput() *LogInput {
	return &LogInput{
		Auth: rootAuth(),
		Request: &logical.Request{
			ID:          "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
			Operation:   logical.UpdateOperation,
			Path:        "secret/data/app/config",
			MountPoint:  "secret/",
			ClientToken: testToken,
			Data: map[string]interface{}{
				"data":    map[string]interface{}{"api_key": "k-123", "port": json.Number("8443"), "tags": []interface{}{"a", "b"}},
				"options": map[string]interface{}{"cas": json.Number("0")},
				"enabled": true,
				"weight":  2.5,
			},
			WrapTTL:    90 * time.Second,
			Connection: &logical.Connection{RemoteAddr: "[2001:db8::7]:443"},
		},
		MountType:     "kv",
		MountAccessor: "kv_1a2b3c4d",
		Time:          testTime,
	}
}

// deniedInput is a request that failed the ACL check.
func deniedInput() *LogInput {
	in := credsInput()
	in.Request.Path = "database/creds/admin"
	in.Response = nil
	in.Err = logical.ErrPermissionDenied
	return in
}

// loginInput is an unauthenticated AppRole login that issued a token.
func loginInput() *LogInput {
	return &LogInput{
		Request: &logical.Request{
			ID:         "0f1e2d3c-4b5a-4968-8776-655443322110",
			Operation:  logical.UpdateOperation,
			Path:       "auth/approle/login",
			MountPoint: "auth/approle/",
			Data:       map[string]interface{}{"role_id": "r-1", "secret_id": "s-1"},
			Connection: &logical.Connection{RemoteAddr: "10.9.8.7:40000"},
		},
		Response: &logical.Response{Auth: &logical.Auth{
			ClientToken:   "hvs.newtoken",
			Accessor:      "newaccessor0000000000000",
			DisplayName:   "approle",
			Policies:      []string{"default", "app-readonly"},
			TokenPolicies: []string{"default", "app-readonly"},
			Metadata:      map[string]string{"role_name": "web"},
			TokenType:     "service",
			LeaseOptions:  logical.LeaseOptions{TTL: 20 * time.Minute, IssueTime: testTime},
		}},
		MountType:     "approle",
		MountAccessor: "auth_approle_5e6f7a8b",
		Time:          testTime,
	}
}

// decode parses one JSON line into a generic map.
func decode(t testing.TB, line []byte) map[string]interface{} {
	t.Helper()
	var m map[string]interface{}
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("invalid JSON line %q: %v", line, err)
	}
	return m
}

// field walks a decoded line by keys, failing when a step is missing.
func field(t testing.TB, m map[string]interface{}, keys ...string) interface{} {
	t.Helper()
	var cur interface{} = m
	for i, k := range keys {
		obj, ok := cur.(map[string]interface{})
		if !ok {
			t.Fatalf("%v: %v is not an object", keys[:i], cur)
		}
		cur, ok = obj[k]
		if !ok {
			t.Fatalf("missing field %v in %v", keys[:i+1], m)
		}
	}
	return cur
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func newFileDevice(t testing.TB, opts map[string]string, salt *Salt) (Device, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	o := map[string]string{"file_path": path}
	for k, v := range opts {
		o[k] = v
	}
	d, err := FileFactory(context.Background(), &DeviceConfig{Path: "file/", Options: o, Salt: salt})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func errIs(err, target error) bool { return errors.Is(err, target) }
