package server_test

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func TestRestartKeepsEverything(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir()})
	c := s.Client
	if _, err := c.KVv2("secret").Put(t.Context(), "app/db", map[string]interface{}{"user": "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("secret").Put(t.Context(), "app/db", map[string]interface{}{"user": "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().Mount("kv1", &api.MountInput{Type: "kv", Description: "v1 store", Config: api.MountConfigInput{DefaultLeaseTTL: "1h"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("kv1/k", map[string]interface{}{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().PutPolicy("reader", `path "secret/data/app/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"reader"}, TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("sys/rotate", nil); err != nil {
		t.Fatal(err)
	}

	s.Restart()
	c = s.Client
	v, err := c.KVv2("secret").Get(t.Context(), "app/db")
	if err != nil || v.Data["user"] != "bob" || v.VersionMetadata.Version != 2 {
		t.Fatalf("kv v2 after restart: %+v %v", v, err)
	}
	old, err := c.KVv2("secret").GetVersion(t.Context(), "app/db", 1)
	if err != nil || old.Data["user"] != "alice" {
		t.Fatalf("kv v2 version 1 after restart: %+v %v", old, err)
	}
	sec, err := c.Logical().Read("kv1/k")
	if err != nil || sec.Data["v"] != "1" || sec.LeaseDuration != 3600 {
		t.Fatalf("kv v1 after restart: %+v %v", sec, err)
	}
	mounts, err := c.Sys().ListMounts()
	if err != nil || mounts["kv1/"] == nil || mounts["kv1/"].Description != "v1 store" {
		t.Fatalf("mounts after restart: %v %v", mounts, err)
	}
	pol, err := c.Sys().GetPolicy("reader")
	if err != nil || !strings.Contains(pol, "secret/data/app/*") {
		t.Fatalf("policy after restart: %q %v", pol, err)
	}
	rc := s.NewClient(tok.Auth.ClientToken)
	if _, err := rc.KVv2("secret").Get(t.Context(), "app/db"); err != nil {
		t.Fatalf("token after restart: %v", err)
	}
	ks, err := c.Sys().KeyStatus()
	if err != nil || ks.Term != 2 {
		t.Fatalf("key term after rotate+restart: %+v %v", ks, err)
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	s := testserver.Start(t, testserver.Options{DataDir: dir})
	const marker = "PLAINTEXT-MARKER-7f3a9c"
	if _, err := s.Client.KVv2("secret").Put(t.Context(), "m", map[string]interface{}{"value": marker}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Logical().Write("cubbyhole/m", map[string]interface{}{"value": marker}); err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Sys().PutPolicy("marker-policy", `path "`+marker+`/*" { capabilities = ["read"] }`); err != nil {
		t.Fatal(err)
	}
	tok, err := s.Client.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{marker, tok.Auth.ClientToken, tok.Auth.Accessor, s.RootToken}
	s.Stop() // flush and close the files
	files := s.DataFiles()
	if len(files) < 2 {
		t.Fatalf("expected raft and data files in %s, found %v", dir, files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("%s contains a secret in plain text (%q)", f, sec[:8])
			}
		}
	}
}

func TestMountsLifecycle(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if err := c.Sys().Mount("team/kv", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	err := c.Sys().Mount("team/kv/nested", &api.MountInput{Type: "kv"})
	mustStatus(t, err, http.StatusBadRequest, "already in use")
	err = c.Sys().Mount("x", &api.MountInput{Type: "no-such-engine"})
	mustStatus(t, err, http.StatusBadRequest, "no-such-engine")
	err = c.Sys().Mount("sys", &api.MountInput{Type: "kv"})
	mustStatus(t, err, http.StatusBadRequest, "reserved")

	if _, err := c.Logical().Write("team/kv/a", map[string]interface{}{"x": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().TuneMount("team/kv", api.MountConfigInput{DefaultLeaseTTL: "30m", MaxLeaseTTL: "2h"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.Sys().MountConfig("team/kv")
	if err != nil || cfg.DefaultLeaseTTL != 1800 || cfg.MaxLeaseTTL != 7200 {
		t.Fatalf("tune: %+v %v", cfg, err)
	}
	err = c.Sys().TuneMount("team/kv", api.MountConfigInput{DefaultLeaseTTL: "3h"})
	mustStatus(t, err, http.StatusBadRequest, "cannot be greater than max_lease_ttl")

	// Upgrade to KV v2 keeps the data as version 1.
	if err := c.Sys().TuneMount("team/kv", api.MountConfigInput{Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	v, err := c.KVv2("team/kv").Get(t.Context(), "a")
	if err != nil || v.Data["x"] != "1" || v.VersionMetadata.Version != 1 {
		t.Fatalf("after upgrade: %+v %v", v, err)
	}

	if err := c.Sys().Remount("team/kv", "moved/kv"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.KVv2("moved/kv").Get(t.Context(), "a"); err != nil || v.Data["x"] != "1" {
		t.Fatalf("after remount: %+v %v", v, err)
	}
	if err := c.Sys().Unmount("moved/kv"); err != nil {
		t.Fatal(err)
	}
	r := c.NewRequest(http.MethodGet, "/v1/moved/kv/data/a")
	_, err = c.RawRequest(r) //nolint:staticcheck // the raw status is what is checked
	mustStatus(t, err, http.StatusNotFound, "no handler for route")
	// Re-enabling at the same path starts empty.
	if err := c.Sys().Mount("moved/kv", &api.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	if sec, err := c.Logical().Read("moved/kv/data/a"); err != nil || sec != nil {
		t.Fatalf("data survived disable: %v %v", sec, err)
	}
	ui, err := c.Logical().Read("sys/internal/ui/mounts/moved/kv/data/a")
	if err != nil || ui.Data["path"] != "moved/kv/" || ui.Data["type"] != "kv" {
		t.Fatalf("ui mounts: %+v %v", ui, err)
	}
}
