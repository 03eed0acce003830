package transit

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestKeyLifecycle(t *testing.T) {
	h := newHarness(t)
	if resp, err := h.do(logical.ListOperation, "keys/", nil); err != nil || len(resp.Data["keys"].([]string)) != 0 {
		t.Fatalf("empty list: %v %v", resp, err)
	}
	h.createKey("a", nil)
	h.createKey("b", obj("type", "ed25519"))
	resp, err := h.do(logical.UpdateOperation, "keys/a", obj("type", "rsa-2048"))
	if err != nil || len(resp.Warnings) != 1 || resp.Warnings[0] != "key a already existed" || resp.Data["type"] != "aes256-gcm96" {
		t.Fatalf("re-create: %+v %v", resp, err)
	}
	if got := h.ok(logical.ListOperation, "keys/", nil)["keys"].([]string); strings.Join(got, ",") != "a,b" {
		t.Fatalf("list = %v", got)
	}
	k := h.read("keys/a")
	for field, want := range map[string]interface{}{
		"name": "a", "type": "aes256-gcm96", "latest_version": 1, "min_decryption_version": 1,
		"min_encryption_version": 0, "min_available_version": 0, "deletion_allowed": false,
		"derived": false, "exportable": false, "allow_plaintext_backup": false,
		"supports_encryption": true, "supports_decryption": true, "supports_derivation": true,
		"supports_signing": false, "auto_rotate_period": int64(0), "imported_key": false,
	} {
		if k[field] != want {
			t.Errorf("read %s = %#v, want %#v", field, k[field], want)
		}
	}
	if created := k["keys"].(map[string]int64)["1"]; created != h.clock.Now().Unix() {
		t.Errorf("keys[1] = %d, want creation time %d", created, h.clock.Now().Unix())
	}
	ed := h.read("keys/b")["keys"].(map[string]map[string]interface{})["1"]
	if ed["name"] != "ed25519" || len(unb64(t, ed["public_key"].(string))) != 32 {
		t.Errorf("ed25519 key entry %v", ed)
	}
	if resp, err := h.do(logical.ReadOperation, "keys/missing", nil); err != nil || resp != nil {
		t.Fatalf("read of a missing key: %v %v", resp, err)
	}

	h.badWrite("keys/x", obj("type", "des"), "unknown key type des")
	h.badWrite("keys/x", obj("auto_rotate_period", "10m"), "at least an hour")
	h.badWrite("keys/x", obj("key_size", 64), "key_size is not valid for algorithm aes256-gcm96")
	h.badWrite("keys/x", obj("type", "hmac", "key_size", 16), "invalid key_size 16")

	if msg := h.bad(logical.DeleteOperation, "keys/a", nil); msg != "error deleting policy a: deletion is not allowed for this key" {
		t.Fatalf("delete without deletion_allowed: %q", msg)
	}
	h.write("keys/a/config", obj("deletion_allowed", true))
	if _, err := h.do(logical.DeleteOperation, "keys/a", nil); err != nil {
		t.Fatal(err)
	}
	if resp, _ := h.do(logical.ReadOperation, "keys/a", nil); resp != nil {
		t.Fatal("key still readable after delete")
	}
	if e, _ := h.s.Get(context.Background(), "policy/a"); e != nil {
		t.Fatal("key still stored after delete")
	}
	h.badWrite("encrypt/a", obj("plaintext", ""), "encryption key not found")
	if msg := h.bad(logical.DeleteOperation, "keys/a", nil); !strings.Contains(msg, "not found") {
		t.Fatalf("second delete: %q", msg)
	}
}

func TestRotationAndMinVersions(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", nil)
	v1 := h.encrypt("k", []byte("one"), nil)
	if r := h.write("keys/k/rotate", nil); r["latest_version"] != 2 {
		t.Fatalf("rotate answered %v", r)
	}
	v2 := h.encrypt("k", []byte("two"), nil)
	if !strings.HasPrefix(v2, "vault:v2:") {
		t.Fatalf("after rotation: %s", v2)
	}
	if string(h.decrypt("k", v1, nil)) != "one" || string(h.decrypt("k", v2, nil)) != "two" {
		t.Fatal("old and new versions do not both decrypt")
	}
	if ct := h.encrypt("k", []byte("x"), obj("key_version", 1)); !strings.HasPrefix(ct, "vault:v1:") {
		t.Fatalf("key_version 1 gave %s", ct)
	}
	h.write("keys/k/config", obj("min_decryption_version", 2, "min_encryption_version", 2))
	h.badWrite("decrypt/k", obj("ciphertext", v1), errTooOld)
	h.badWrite("encrypt/k", obj("plaintext", "", "key_version", 1), "less than the minimum encryption key version")
	h.badWrite("encrypt/k", obj("plaintext", "", "key_version", 9), "higher than the latest key version")
	if keys := h.read("keys/k")["keys"].(map[string]int64); len(keys) != 1 {
		t.Fatalf("read lists %d versions below min_decryption_version", len(keys))
	}
	h.badWrite("keys/k/config", obj("min_decryption_version", 5), "cannot set min decryption version of 5, latest key version is 2")
	h.badWrite("keys/k/config", obj("min_encryption_version", 1), "must be greater than or equal to min decryption version")
	h.badWrite("keys/k/config", obj("auto_rotate_period", "1m"), "at least an hour")
	if msg := h.bad(logical.UpdateOperation, "keys/nope/config", nil); msg != "no existing key named nope could be found" {
		t.Fatalf("config of missing key: %q", msg)
	}
	// A rejected change leaves the key as it was.
	if h.read("keys/k")["min_decryption_version"] != 2 {
		t.Fatal("rejected config changed the key")
	}
	// Lowering min_decryption_version makes v1 decrypt again.
	h.write("keys/k/config", obj("min_decryption_version", 1, "min_encryption_version", 0))
	if string(h.decrypt("k", v1, nil)) != "one" {
		t.Fatal("v1 does not decrypt after lowering min_decryption_version")
	}
	h.badWrite("keys/missing/rotate", nil, "key not found")
}

func TestTrim(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", obj("exportable", true))
	v1 := h.encrypt("k", []byte("one"), nil)
	h.write("keys/k/rotate", nil)
	h.write("keys/k/rotate", nil)
	h.badWrite("keys/k/trim", obj("min_available_version", 1), "minimum encryption version is not set")
	h.write("keys/k/config", obj("min_decryption_version", 2, "min_encryption_version", 3))
	h.badWrite("keys/k/trim", nil, "missing min_available_version")
	h.badWrite("keys/k/trim", obj("min_available_version", 3), "cannot be greater than minimum decryption version")
	h.badWrite("keys/k/trim", obj("min_available_version", 0), "should be positive")
	r := h.write("keys/k/trim", obj("min_available_version", 2))
	if r["min_available_version"] != 2 {
		t.Fatalf("trim answered %v", r)
	}
	h.badWrite("keys/k/trim", obj("min_available_version", 1), "cannot be decremented")
	// Version 1 is gone for good, even with a lower min_decryption_version.
	h.badWrite("keys/k/config", obj("min_decryption_version", 1), "min decryption version should not be less then min available version")
	h.badWrite("decrypt/k", obj("ciphertext", v1), errTooOld)
	if keys := h.read("export/encryption-key/k")["keys"].(map[string]string); len(keys) != 2 || keys["1"] != "" {
		t.Fatalf("export after trim: %v", keys)
	}
	// The trim survives a reload from storage.
	h2 := &harness{t: t, b: newBackend(nil, h.clock.Now, h.b.rand), s: h.s, clock: h.clock}
	if got := h2.read("keys/k")["min_available_version"]; got != 2 {
		t.Fatalf("reloaded min_available_version = %v", got)
	}
	h.badWrite("keys/missing/trim", obj("min_available_version", 1), "invalid key name")
}

func TestExport(t *testing.T) {
	h := newHarness(t)
	h.createKey("secret", nil)
	if msg := h.bad(logical.ReadOperation, "export/encryption-key/secret", nil); msg != "private key material is not exportable" {
		t.Fatalf("export of non-exportable key: %q", msg)
	}
	h.createKey("k", obj("exportable", true))
	h.write("keys/k/rotate", nil)
	all := h.read("export/encryption-key/k")
	keys := all["keys"].(map[string]string)
	if len(keys) != 2 || all["name"] != "k" || all["type"] != "aes256-gcm96" {
		t.Fatalf("export all: %v", all)
	}
	latest := h.read("export/encryption-key/k/latest")["keys"].(map[string]string)
	if latest["2"] != keys["2"] || len(latest) != 1 {
		t.Fatalf("export latest: %v", latest)
	}
	if v1 := h.read("export/encryption-key/k/v1")["keys"].(map[string]string); v1["1"] != keys["1"] {
		t.Fatalf("export v1: %v", v1)
	}
	hk := h.read("export/hmac-key/k/1")["keys"].(map[string]string)["1"]
	if len(unb64(t, hk)) != 32 || hk == keys["1"] {
		t.Fatalf("hmac key %q", hk)
	}
	for path, want := range map[string]string{
		"export/bogus/k":              "invalid export type: bogus",
		"export/signing-key/k":        "signing not supported for the key",
		"export/encryption-key/k/9":   "version does not exist or cannot be found",
		"export/encryption-key/k/abc": "invalid key version",
	} {
		if msg := h.bad(logical.ReadOperation, path, nil); msg != want {
			t.Errorf("%s: %q, want %q", path, msg, want)
		}
	}
	h.write("keys/k/config", obj("min_decryption_version", 2))
	if msg := h.bad(logical.ReadOperation, "export/encryption-key/k/1", nil); msg != "version for export is below minimum decryption version" {
		t.Errorf("export below min: %q", msg)
	}
	// The key can be made exportable later, never the reverse.
	h.write("keys/secret/config", obj("exportable", true))
	h.write("keys/secret/config", obj("exportable", false))
	if h.read("keys/secret")["exportable"] != true {
		t.Fatal("exportable was unset")
	}
}

func TestBackupRestore(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", obj("exportable", true))
	if msg := h.bad(logical.ReadOperation, "backup/k", nil); msg != "plaintext backup is disallowed on the policy" {
		t.Fatalf("backup without allow_plaintext_backup: %q", msg)
	}
	h.write("keys/k/config", obj("allow_plaintext_backup", true))
	v1 := h.encrypt("k", []byte("one"), nil)
	h.write("keys/k/rotate", nil)
	v2 := h.encrypt("k", []byte("two"), nil)
	backup := h.read("backup/k")["backup"].(string)
	if h.read("keys/k")["backup_info"].(map[string]interface{})["version"] != 2 {
		t.Fatal("backup_info not recorded")
	}

	h.write("restore/copy", obj("backup", backup))
	if string(h.decrypt("copy", v1, nil)) != "one" || string(h.decrypt("copy", v2, nil)) != "two" {
		t.Fatal("restored key does not decrypt")
	}
	r := h.read("keys/copy")
	if r["restore_info"].(map[string]interface{})["version"] != 2 || r["latest_version"] != 2 {
		t.Fatalf("restored key: %v", r)
	}
	if msg := h.bad(logical.UpdateOperation, "restore", obj("backup", backup)); msg != `key "k" already exists` {
		t.Fatalf("restore over existing key: %q", msg)
	}
	h.write("restore", obj("backup", backup, "force", true))
	h.badWrite("restore", nil, "'backup' must be supplied")
	h.badWrite("restore", obj("backup", "!!!"), "failed to base64-decode backup")
	h.badWrite("restore/x", obj("backup", b64([]byte(`{"policy":null}`))), "does not contain a valid policy")
	h.badWrite("restore/x", obj("backup", b64([]byte(`{"policy":{"name":"x","latest_version":1,"keys":{"1":null}}}`))), "invalid backup")
	h.badWrite("restore/x", obj("backup", b64([]byte(`{"policy":{"name":"x","latest_version":2000000000,"keys":{}}}`))), "missing key versions")
	if msg := h.bad(logical.ReadOperation, "backup/missing", nil); msg != `key "missing" not found` {
		t.Fatalf("backup of a missing key: %q", msg)
	}
}

// vaultBackup is the sample from Vault's API documentation: an
// aes256-gcm96 key named "aes" backed up by Vault 0.9.
const vaultBackup = "eyJwb2xpY3kiOnsibmFtZSI6ImFlcyIsImtleXMiOnsiMSI6eyJrZXkiOiJXK3k4Z0dOMHdiTDJLOU95NXFPN1laMGtjdzMvR0ZiNWM4STBzdlNMMnFNPSIsImhtYWNfa2V5IjoiUDBTcjh1YTJaZERNUTdPd2h4RGp1Z0U5d0JSR3Q2QXl6K0t4TzN5Z2M5ST0iLCJ0aW1lIjoiMjAxNy0xMi0wOFQxMTo1MDowOC42MTM4MzctMDU6MDAiLCJlY194IjpudWxsLCJlY195IjpudWxsLCJlY19kIjpudWxsLCJyc2Ffa2V5IjpudWxsLCJwdWJsaWNfa2V5IjoiIiwiY3JlYXRpb25fdGltZSI6MTUxMjc1MTgwOH19LCJkZXJpdmVkIjpmYWxzZSwia2RmIjowLCJjb252ZXJnZW50X2VuY3J5cHRpb24iOmZhbHNlLCJleHBvcnRhYmxlIjpmYWxzZSwibWluX2RlY3J5cHRpb25fdmVyc2lvbiI6MSwibWluX2VuY3J5cHRpb25fdmVyc2lvbiI6MCwibGF0ZXN0X3ZlcnNpb24iOjEsImFyY2hpdmVfdmVyc2lvbiI6MSwiZGVsZXRpb25fYWxsb3dlZCI6ZmFsc2UsImNvbnZlcmdlbnRfdmVyc2lvbiI6MCwidHlwZSI6MCwiYmFja3VwX2luZm8iOnsidGltZSI6IjIwMTctMTItMDhUMTE6NTA6MjkuMjI4MTU3LTA1OjAwIiwidmVyc2lvbiI6MX0sInJlc3RvcmVfaW5mbyI6bnVsbH0sImFyY2hpdmVkX2tleXMiOnsia2V5cyI6W3sia2V5IjpudWxsLCJobWFjX2tleSI6bnVsbCwidGltZSI6IjAwMDEtMDEtMDFUMDA6MDA6MDBaIiwiZWNfeCI6bnVsbCwiZWNfeSI6bnVsbCwiZWNfZCI6bnVsbCwicnNhX2tleSI6bnVsbCwicHVibGljX2tleSI6IiIsImNyZWF0aW9uX3RpbWUiOjB9LHsia2V5IjoiVyt5OGdHTjB3YkwySzlPeTVxTzdZWjBrY3czL0dGYjVjOEkwc3ZTTDJxTT0iLCJobWFjX2tleSI6IlAwU3I4dWEyWmRETVE3T3doeERqdWdFOXdCUkd0NkF5eitLeE8zeWdjOUk9IiwidGltZSI6IjIwMTctMTItMDhUMTE6NTA6MDguNjEzODM3LTA1OjAwIiwiZWNfeCI6bnVsbCwiZWNfeSI6bnVsbCwiZWNfZCI6bnVsbCwicnNhX2tleSI6bnVsbCwicHVibGljX2tleSI6IiIsImNyZWF0aW9uX3RpbWUiOjE1MTI3NTE4MDh9XX19Cg=="

func TestRestoreVaultBackup(t *testing.T) {
	h := newHarness(t)
	h.write("restore", obj("backup", vaultBackup))
	r := h.read("keys/aes")
	if r["type"] != "aes256-gcm96" || r["latest_version"] != 1 || r["keys"].(map[string]int64)["1"] != 1512751808 {
		t.Fatalf("restored Vault key: %v", r)
	}
	// Ciphertext made by the restored key opens with the key in the backup.
	raw, _ := base64.StdEncoding.DecodeString(vaultBackup)
	var bd struct {
		Policy struct {
			Keys map[string]struct {
				Key []byte `json:"key"`
			} `json:"keys"`
		} `json:"policy"`
	}
	if err := json.Unmarshal(raw, &bd); err != nil {
		t.Fatal(err)
	}
	blk, _ := aes.NewCipher(bd.Policy.Keys["1"].Key)
	gcm, _ := cipher.NewGCM(blk)
	p := payload(t, h.encrypt("aes", []byte("hello vault"), nil), "1")
	if got, err := gcm.Open(nil, p[:12], p[12:], nil); err != nil || string(got) != "hello vault" {
		t.Fatalf("open with the Vault key: %q %v", got, err)
	}
	// And its own backup restores again.
	h.write("keys/aes/config", obj("exportable", true, "allow_plaintext_backup", true))
	h.write("restore/aes2", obj("backup", h.read("backup/aes")["backup"]))
	nonce := bytes.Repeat([]byte{1}, 12)
	ct := "vault:v1:" + b64(gcm.Seal(append([]byte(nil), nonce...), nonce, []byte("x"), nil))
	if string(h.decrypt("aes2", ct, nil)) != "x" {
		t.Fatal("round-tripped Vault key does not decrypt")
	}
}

func TestAutoRotate(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", obj("auto_rotate_period", "1h"))
	if h.read("keys/k")["auto_rotate_period"] != int64(3600) {
		t.Fatal("auto_rotate_period not stored")
	}
	h.clock.Add(59 * time.Minute)
	if !strings.HasPrefix(h.encrypt("k", []byte("x"), nil), "vault:v1:") {
		t.Fatal("rotated before the period")
	}
	h.clock.Add(2 * time.Minute)
	ct := h.encrypt("k", []byte("x"), nil)
	if !strings.HasPrefix(ct, "vault:v2:") {
		t.Fatalf("not rotated on use after the period: %s", ct)
	}
	// The core's periodic rollback call rotates keys nobody uses.
	h.createKey("idle", obj("auto_rotate_period", "2h"))
	h.clock.Add(3 * time.Hour)
	if _, err := h.do(logical.RollbackOperation, "", nil); err != nil {
		t.Fatal(err)
	}
	h2 := &harness{t: t, b: newBackend(nil, func() time.Time { return time.Time{} }, h.b.rand), s: h.s, clock: h.clock}
	if v := h2.read("keys/idle")["latest_version"]; v != 2 {
		t.Fatalf("idle key latest_version after rollback = %v", v)
	}
	h.write("keys/k/config", obj("auto_rotate_period", 0))
	h.clock.Add(100 * time.Hour)
	if v := h.read("keys/k")["latest_version"]; v != 3 {
		t.Fatalf("latest_version = %v, want 3 (the rollback rotated it once more)", v)
	}
}

func TestConcurrentUse(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", obj("deletion_allowed", false))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if g == 0 && i%10 == 0 {
					if _, err := h.do(logical.UpdateOperation, "keys/k/rotate", nil); err != nil {
						errs <- err
					}
					continue
				}
				resp, err := h.do(logical.UpdateOperation, "encrypt/k", obj("plaintext", b64([]byte{byte(i)})))
				if err != nil {
					errs <- err
					continue
				}
				d, err := h.do(logical.UpdateOperation, "decrypt/k", obj("ciphertext", resp.Data["ciphertext"]))
				if err != nil || d.Data["plaintext"] != b64([]byte{byte(i)}) {
					errs <- err
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent use: %v", err)
	}
	if v := h.read("keys/k")["latest_version"]; v != 6 {
		t.Fatalf("latest_version = %v, want 6", v)
	}
}
