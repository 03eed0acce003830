package transit

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPaths(t *testing.T) {
	framework.TestPaths(t, newHarness(t).b.paths())
}

// TestSymmetricRoundTrip encrypts with every symmetric type and opens the
// ciphertext independently with the exported key, checking Vault's layout:
// "vault:v1:" + base64(12-byte nonce || ciphertext || tag).
func TestSymmetricRoundTrip(t *testing.T) {
	for _, typ := range []string{"aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"} {
		t.Run(typ, func(t *testing.T) {
			h := newHarness(t)
			h.createKey("k", obj("type", typ, "exportable", true))
			pt := []byte("the quick brown fox")
			ct := h.encrypt("k", pt, nil)
			if got := h.decrypt("k", ct, nil); !bytes.Equal(got, pt) {
				t.Fatalf("decrypt = %q, want %q", got, pt)
			}
			raw := payload(t, ct, "1")
			if len(raw) != 12+len(pt)+16 {
				t.Fatalf("payload length %d, want %d", len(raw), 12+len(pt)+16)
			}
			key := unb64(t, h.read("export/encryption-key/k/1")["keys"].(map[string]string)["1"])
			var aead cipher.AEAD
			if typ == "chacha20-poly1305" {
				aead, _ = chacha20poly1305.New(key)
			} else {
				blk, err := aes.NewCipher(key)
				if err != nil {
					t.Fatal(err)
				}
				aead, _ = cipher.NewGCM(blk)
			}
			wantLen := 32
			if typ == "aes128-gcm96" {
				wantLen = 16
			}
			if len(key) != wantLen {
				t.Fatalf("key length %d for %s", len(key), typ)
			}
			got, err := aead.Open(nil, raw[:12], raw[12:], nil)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("independent open: %q, %v", got, err)
			}
			// And the other way: a ciphertext made outside opens inside.
			nonce := bytes.Repeat([]byte{7}, 12)
			outside := "vault:v1:" + b64(aead.Seal(append([]byte(nil), nonce...), nonce, []byte("from outside"), nil))
			if got := h.decrypt("k", outside, nil); string(got) != "from outside" {
				t.Fatalf("decrypt of outside ciphertext = %q", got)
			}
			// Two encryptions of one plaintext differ (random nonces).
			if h.encrypt("k", pt, nil) == ct {
				t.Fatal("two encryptions gave the same ciphertext")
			}
		})
	}
}

func TestRSARoundTrip(t *testing.T) {
	for _, typ := range []string{"rsa-2048", "rsa-3072", "rsa-4096"} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.createKey("r", obj("type", typ, "exportable", true))
			pt := []byte("secret for rsa")
			ct := h.encrypt("r", pt, nil)
			if got := h.decrypt("r", ct, nil); !bytes.Equal(got, pt) {
				t.Fatalf("decrypt = %q", got)
			}
			block, _ := pem.Decode([]byte(h.read("export/encryption-key/r/1")["keys"].(map[string]string)["1"]))
			priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if priv.N.BitLen() != map[string]int{"rsa-2048": 2048, "rsa-3072": 3072, "rsa-4096": 4096}[typ] {
				t.Fatalf("modulus %d bits", priv.N.BitLen())
			}
			got, err := rsa.DecryptOAEP(sha256.New(), nil, priv, payload(t, ct, "1"), nil)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("independent OAEP decrypt: %q, %v", got, err)
			}
			ct15 := h.encrypt("r", pt, obj("padding_scheme", "pkcs1v15"))
			if got, err := rsa.DecryptPKCS1v15(nil, priv, payload(t, ct15, "1")); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("independent PKCS#1 v1.5 decrypt: %q, %v", got, err)
			}
			if got := h.decrypt("r", ct15, obj("padding_scheme", "pkcs1v15")); !bytes.Equal(got, pt) {
				t.Fatalf("pkcs1v15 decrypt = %q", got)
			}
			h.badWrite("decrypt/r", obj("ciphertext", ct15), "failed to RSA decrypt")
			h.badWrite("encrypt/r", obj("plaintext", b64(pt), "associated_data", "YQ=="), "associated_data provided for non-AEAD")
		})
	}
}

func TestAssociatedData(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", nil)
	ct := h.encrypt("k", []byte("x"), obj("associated_data", b64([]byte("aad"))))
	if got := h.decrypt("k", ct, obj("associated_data", b64([]byte("aad")))); string(got) != "x" {
		t.Fatalf("decrypt = %q", got)
	}
	h.badWrite("decrypt/k", obj("ciphertext", ct), "message authentication failed")
	h.badWrite("decrypt/k", obj("ciphertext", ct, "associated_data", b64([]byte("other"))), "message authentication failed")
}

func TestEncryptUpsert(t *testing.T) {
	h := newHarness(t)
	h.badWrite("encrypt/new", obj("plaintext", b64([]byte("x"))), "encryption key not found")
	exists, _, err := h.b.HandleExistenceCheck(t.Context(), &logical.Request{Operation: logical.UpdateOperation, Path: "encrypt/new", Storage: h.s})
	if err != nil || !exists {
		t.Fatalf("existence check: found=%v err=%v", exists, err)
	}
	resp := h.ok(logical.CreateOperation, "encrypt/new", obj("plaintext", b64([]byte("x")), "type", "chacha20-poly1305"))
	if resp["key_version"] != 1 {
		t.Fatalf("key_version = %v", resp["key_version"])
	}
	if typ := h.read("keys/new")["type"]; typ != "chacha20-poly1305" {
		t.Fatalf("created type = %v", typ)
	}
	if _, ok, _ := h.b.HandleExistenceCheck(t.Context(), &logical.Request{Operation: logical.UpdateOperation, Path: "encrypt/new", Storage: h.s}); !ok {
		t.Fatal("existence check does not find the created key")
	}
	r, err := h.do(logical.CreateOperation, "encrypt/new", obj("plaintext", b64([]byte("x"))))
	if err != nil || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "created beforehand") {
		t.Fatalf("second create: %v %v", r, err)
	}
	// Derived on upsert when a context is given.
	h.ok(logical.CreateOperation, "encrypt/derived", obj("plaintext", b64([]byte("x")), "context", b64([]byte("c"))))
	if h.read("keys/derived")["derived"] != true {
		t.Fatal("upsert with context did not create a derived key")
	}
	for typ, want := range map[string]string{"ecdsa-p256": "not supported for this operation", "ed25519": "unknown key type", "nope": "unknown key type"} {
		if msg := h.bad(logical.CreateOperation, "encrypt/x"+typ, obj("plaintext", "", "type", typ)); !strings.Contains(msg, want) {
			t.Fatalf("upsert %s: %q", typ, msg)
		}
	}
	h.write("config/keys", obj("disable_upsert", true))
	if h.read("config/keys")["disable_upsert"] != true {
		t.Fatal("disable_upsert not stored")
	}
	if msg := h.bad(logical.CreateOperation, "encrypt/other", obj("plaintext", "")); !strings.Contains(msg, "encryption key not found") {
		t.Fatalf("upsert with disable_upsert: %q", msg)
	}
}

func TestDerivedAndConvergent(t *testing.T) {
	h := newHarness(t)
	h.createKey("d", obj("derived", true, "exportable", true))
	ctx1, ctx2 := b64([]byte("tenant-1")), b64([]byte("tenant-2"))
	ct := h.encrypt("d", []byte("p"), obj("context", ctx1))
	if got := h.decrypt("d", ct, obj("context", ctx1)); string(got) != "p" {
		t.Fatalf("derived decrypt = %q", got)
	}
	h.badWrite("decrypt/d", obj("ciphertext", ct, "context", ctx2), "message authentication failed")
	h.badWrite("decrypt/d", obj("ciphertext", ct), "missing 'context' for key derivation")
	h.badWrite("encrypt/d", obj("plaintext", "cA=="), "missing 'context' for key derivation")
	h.badWrite("encrypt/d", obj("plaintext", "cA==", "context", "!!"), "failed to base64-decode context")

	// The derived key is HKDF-SHA256(version key, no salt, info=context).
	base := unb64(t, h.read("export/encryption-key/d/1")["keys"].(map[string]string)["1"])
	derived, _ := hkdf.Key(sha256.New, base, nil, "tenant-1", 32)
	blk, _ := aes.NewCipher(derived)
	gcm, _ := cipher.NewGCM(blk)
	raw := payload(t, ct, "1")
	if got, err := gcm.Open(nil, raw[:12], raw[12:], nil); err != nil || string(got) != "p" {
		t.Fatalf("independent derived open: %q %v", got, err)
	}

	h.createKey("c", obj("derived", true, "convergent_encryption", true, "exportable", true))
	a := h.encrypt("c", []byte("same"), obj("context", ctx1))
	if b := h.encrypt("c", []byte("same"), obj("context", ctx1)); a != b {
		t.Fatalf("convergent encryption is not deterministic: %s vs %s", a, b)
	}
	if b := h.encrypt("c", []byte("same"), obj("context", ctx2)); a == b {
		t.Fatal("different contexts gave the same convergent ciphertext")
	}
	if b := h.encrypt("c", []byte("other"), obj("context", ctx1)); a == b {
		t.Fatal("different plaintexts gave the same convergent ciphertext")
	}
	// Version 3: 64 bytes from HKDF; the first 32 are the AES key, the
	// rest the HMAC key whose HMAC of the plaintext gives the nonce.
	base = unb64(t, h.read("export/encryption-key/c/1")["keys"].(map[string]string)["1"])
	km, _ := hkdf.Key(sha256.New, base, nil, "tenant-1", 64)
	mac := hmac.New(sha256.New, km[32:])
	mac.Write([]byte("same"))
	nonce := mac.Sum(nil)[:12]
	blk, _ = aes.NewCipher(km[:32])
	gcm, _ = cipher.NewGCM(blk)
	want := "vault:v1:" + b64(gcm.Seal(append([]byte(nil), nonce...), nonce, []byte("same"), nil))
	if a != want {
		t.Fatalf("convergent ciphertext %s, independently %s", a, want)
	}
	if got := h.decrypt("c", a, obj("context", ctx1)); string(got) != "same" {
		t.Fatalf("convergent decrypt = %q", got)
	}
	if v := h.read("keys/c")["convergent_encryption_version"]; v != -1 {
		t.Fatalf("convergent_encryption_version = %v", v)
	}
	h.badWrite("encrypt/c", obj("plaintext", "cA==", "context", ctx1, "nonce", b64(make([]byte, 12))), "provided nonce not allowed")
	h.badWrite("keys/bad", obj("convergent_encryption", true), "convergent encryption requires derivation")
	h.badWrite("keys/bad", obj("type", "ecdsa-p256", "derived", true), "not supported for keys of type ecdsa-p256")
}

func TestBatchEncryptDecrypt(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", nil)
	data := h.write("encrypt/k", obj("batch_input", []interface{}{
		obj("plaintext", b64([]byte("one")), "reference", "a"),
		obj("plaintext", b64([]byte("two")), "reference", "b"),
	}))
	res := data["batch_results"].([]encryptResult)
	if len(res) != 2 || res[0].Reference != "a" || res[1].KeyVersion != 1 || res[0].Error != "" {
		t.Fatalf("batch results %+v", res)
	}
	dec := h.write("decrypt/k", obj("batch_input", []interface{}{
		obj("ciphertext", res[0].Ciphertext, "reference", "x"),
		obj("ciphertext", res[1].Ciphertext),
	}))["batch_results"].([]decryptResult)
	if string(unb64(t, dec[0].Plaintext)) != "one" || string(unb64(t, dec[1].Plaintext)) != "two" || dec[0].Reference != "x" {
		t.Fatalf("decrypt batch %+v", dec)
	}

	// One bad item: per-item error, others processed, status 400 (or the
	// caller's partial_failure_response_code).
	mixed := []interface{}{obj("plaintext", "not base64!"), obj("plaintext", b64([]byte("ok")))}
	code, body := h.rawBatch("encrypt/k", obj("batch_input", mixed))
	items := body["batch_results"].([]interface{})
	if code != http.StatusBadRequest || !strings.Contains(items[0].(map[string]interface{})["error"].(string), "failed to base64-decode plaintext") ||
		!strings.HasPrefix(items[1].(map[string]interface{})["ciphertext"].(string), "vault:v1:") {
		t.Fatalf("mixed batch: %d %v", code, body)
	}
	code, _ = h.rawBatch("encrypt/k", obj("batch_input", mixed, "partial_failure_response_code", 207))
	if code != 207 {
		t.Fatalf("partial_failure_response_code: status %d", code)
	}
	code, _ = h.rawBatch("encrypt/k", obj("batch_input", []interface{}{obj("plaintext", "!")}, "partial_failure_response_code", 207))
	if code != http.StatusBadRequest {
		t.Fatalf("all items failed with override: status %d, want 400", code)
	}
	code, body = h.rawBatch("decrypt/k", obj("batch_input", []interface{}{
		obj("ciphertext", res[0].Ciphertext), obj("ciphertext", "vault:v1:AAAA"),
	}))
	items = body["batch_results"].([]interface{})
	if code != 400 || items[0].(map[string]interface{})["plaintext"] != b64([]byte("one")) ||
		items[1].(map[string]interface{})["error"] != "invalid ciphertext length" {
		t.Fatalf("decrypt mixed batch: %d %v", code, body)
	}

	h.badWrite("encrypt/k", obj("batch_input", []interface{}{}), "missing batch input to process")
	h.badWrite("encrypt/k", obj("batch_input", []interface{}{obj("context", "")}), "'[0].plaintext' missing plaintext to encrypt")
	h.badWrite("encrypt/k", obj("batch_input", []interface{}{obj("plaintext", 5.0)}), "'[0].plaintext' expected type 'string'")
	h.badWrite("encrypt/k", obj("batch_input", []interface{}{"x"}), "[0] expected a map")
	h.badWrite("decrypt/k", obj("batch_input", []interface{}{obj("context", "YQ==")}), "'[0].ciphertext' missing ciphertext")
	h.badWrite("encrypt/k", obj("batch_input", []interface{}{
		obj("plaintext", "", "context", "YQ=="), obj("plaintext", ""),
	}), "context should be set either in all the request blocks or in none")
}

func TestRewrap(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", nil)
	v1 := h.encrypt("k", []byte("data"), nil)
	h.write("keys/k/rotate", nil)
	resp := h.write("rewrap/k", obj("ciphertext", v1))
	v2 := resp["ciphertext"].(string)
	if !strings.HasPrefix(v2, "vault:v2:") || resp["key_version"] != 2 {
		t.Fatalf("rewrap = %v", resp)
	}
	if got := h.decrypt("k", v2, nil); string(got) != "data" {
		t.Fatalf("decrypt after rewrap = %q", got)
	}
	res := h.write("rewrap/k", obj("batch_input", []interface{}{
		obj("ciphertext", v1, "reference", "r"), obj("ciphertext", "garbage"),
	}))["batch_results"].([]encryptResult)
	if !strings.HasPrefix(res[0].Ciphertext, "vault:v2:") || res[0].Reference != "r" || res[1].Error != "invalid ciphertext: no prefix" {
		t.Fatalf("batch rewrap %+v", res)
	}
	h.badWrite("rewrap/k", obj("ciphertext", v1, "key_version", 3), "higher than the latest key version")
}

func TestDatakey(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", nil)
	for _, bits := range []int{128, 256, 512} {
		resp := h.write("datakey/plaintext/k", obj("bits", bits))
		key := unb64(t, resp["plaintext"].(string))
		if len(key)*8 != bits || resp["key_version"] != 1 {
			t.Fatalf("datakey %d bits: %v", bits, resp)
		}
		if got := h.decrypt("k", resp["ciphertext"].(string), nil); !bytes.Equal(got, key) {
			t.Fatalf("unwrapped data key differs")
		}
	}
	wrapped := h.write("datakey/wrapped/k", nil)
	if _, ok := wrapped["plaintext"]; ok {
		t.Fatal("wrapped datakey returned the plaintext")
	}
	if len(h.decrypt("k", wrapped["ciphertext"].(string), nil)) != 32 {
		t.Fatal("default data key is not 256 bits")
	}
	h.badWrite("datakey/plaintext/k", obj("bits", 100), "invalid bit length")
	h.badWrite("datakey/other/k", nil, "must be 'plaintext' or 'wrapped'")
	h.badWrite("datakey/plaintext/missing", nil, "encryption key not found")
}
