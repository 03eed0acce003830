package transit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"hash"
	"math/big"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// exportedPublic parses version 1 of a key's public-key export.
func exportedPublic(t *testing.T, h *harness, name string) interface{} {
	t.Helper()
	s := h.read("export/public-key/" + name + "/1")["keys"].(map[string]string)["1"]
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw)
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatalf("public key export %q is not PEM", s)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestSignVerifyIndependently(t *testing.T) {
	msg := []byte("message to sign")
	cases := []struct {
		typ   string
		extra map[string]interface{}
		check func(t *testing.T, pub interface{}, sig []byte)
	}{
		{"ecdsa-p256", nil, func(t *testing.T, pub interface{}, sig []byte) {
			d := sha256.Sum256(msg)
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
				t.Fatal("ecdsa.VerifyASN1 rejects the signature")
			}
		}},
		{"ecdsa-p384", obj("hash_algorithm", "sha2-384"), func(t *testing.T, pub interface{}, sig []byte) {
			d := sha512.Sum384(msg)
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
				t.Fatal("ecdsa.VerifyASN1 rejects the signature")
			}
		}},
		{"ecdsa-p521", obj("hash_algorithm", "sha3-512"), func(t *testing.T, pub interface{}, sig []byte) {
			d := sha3.Sum512(msg)
			if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
				t.Fatal("ecdsa.VerifyASN1 rejects the signature")
			}
		}},
		{"ed25519", nil, func(t *testing.T, pub interface{}, sig []byte) {
			if !ed25519.Verify(pub.(ed25519.PublicKey), msg, sig) {
				t.Fatal("ed25519.Verify rejects the signature")
			}
		}},
		{"rsa-2048", nil, func(t *testing.T, pub interface{}, sig []byte) {
			d := sha256.Sum256(msg)
			if err := rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"rsa-3072", obj("signature_algorithm", "pkcs1v15", "hash_algorithm", "sha2-512"), func(t *testing.T, pub interface{}, sig []byte) {
			d := sha512.Sum512(msg)
			if err := rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA512, d[:], sig); err != nil {
				t.Fatal(err)
			}
		}},
		{"rsa-4096", obj("salt_length", "hash"), func(t *testing.T, pub interface{}, sig []byte) {
			d := sha256.Sum256(msg)
			if err := rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.createKey("s", obj("type", c.typ))
			data := obj("input", b64(msg))
			for k, v := range c.extra {
				data[k] = v
			}
			resp := h.write("sign/s", data)
			sig := resp["signature"].(string)
			if resp["key_version"] != 1 {
				t.Fatalf("key_version = %v", resp["key_version"])
			}
			c.check(t, exportedPublic(t, h, "s"), payload(t, sig, "1"))

			data["signature"] = sig
			if h.write("verify/s", data)["valid"] != true {
				t.Fatal("verify rejects its own signature")
			}
			data["input"] = b64([]byte("another message"))
			if h.write("verify/s", data)["valid"] != false {
				t.Fatal("verify accepts a signature over other input")
			}
			if !strings.HasPrefix(c.typ, "rsa") {
				h.badWrite("encrypt/s", obj("plaintext", ""), "message encryption not supported for key type "+c.typ)
			}
		})
	}
}

func TestSignOptions(t *testing.T) {
	h := newHarness(t)
	h.createKey("ec", obj("type", "ecdsa-p256"))
	msg := []byte("jws input")
	sig := h.write("sign/ec/sha2-256", obj("input", b64(msg), "marshaling_algorithm", "jws"))["signature"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sig, "vault:v1:"))
	if err != nil || len(raw) != 64 {
		t.Fatalf("JWS signature %q: %v", sig, err)
	}
	d := sha256.Sum256(msg)
	r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
	if !ecdsa.Verify(exportedPublic(t, h, "ec").(*ecdsa.PublicKey), d[:], r, s) {
		t.Fatal("JWS signature does not verify independently")
	}
	if h.write("verify/ec", obj("input", b64(msg), "signature", sig, "marshaling_algorithm", "jws"))["valid"] != true {
		t.Fatal("JWS signature does not verify")
	}
	// Prehashed input is signed as given.
	sig = h.write("sign/ec", obj("input", b64(d[:]), "prehashed", true))["signature"].(string)
	if !ecdsa.VerifyASN1(exportedPublic(t, h, "ec").(*ecdsa.PublicKey), d[:], payload(t, sig, "1")) {
		t.Fatal("prehashed signature does not verify")
	}

	h.createKey("rsa", obj("type", "rsa-2048"))
	sig = h.write("sign/rsa", obj("input", b64(d[:]), "prehashed", true, "hash_algorithm", "none", "signature_algorithm", "pkcs1v15"))["signature"].(string)
	if err := rsa.VerifyPKCS1v15(exportedPublic(t, h, "rsa").(*rsa.PublicKey), 0, d[:], payload(t, sig, "1")); err != nil {
		t.Fatalf("none/pkcs1v15 signature: %v", err)
	}
	h.badWrite("sign/rsa", obj("input", "", "hash_algorithm", "none"), "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15")
	h.badWrite("sign/rsa", obj("input", "", "salt_length", "9999"), "requested salt length 9999 is invalid")
	h.badWrite("sign/rsa", obj("input", "", "salt_length", "big"), "salt length neither 'auto', 'hash', nor an int")
	h.badWrite("sign/rsa/md5", obj("input", ""), `invalid hash_algorithm "md5"`)
	h.badWrite("sign/rsa", obj("input", "", "marshaling_algorithm", "der"), `invalid marshaling type "der"`)
	h.badWrite("sign/rsa", obj("input", "", "signature_algorithm", "x"), `invalid signature_algorithm "x"`)
	h.badWrite("sign/rsa", obj("input", "***"), "unable to decode input as base64")
	h.badWrite("sign/missing", obj("input", ""), "signing key not found")

	h.createKey("aes", nil)
	h.badWrite("sign/aes", obj("input", ""), "key type aes256-gcm96 does not support signing")
	h.badWrite("verify/aes", obj("input", "", "signature", "vault:v1:AA=="), "key type aes256-gcm96 does not support verification")

	// Key versions and min_decryption_version apply to signatures.
	old := h.write("sign/ec", obj("input", b64(msg)))["signature"].(string)
	h.write("keys/ec/rotate", nil)
	if s := h.write("sign/ec", obj("input", b64(msg)))["signature"].(string); !strings.HasPrefix(s, "vault:v2:") {
		t.Fatalf("after rotation: %s", s)
	}
	h.write("keys/ec/config", obj("min_decryption_version", 2))
	h.badWrite("verify/ec", obj("input", b64(msg), "signature", old), errTooOld)
	h.badWrite("verify/ec", obj("input", b64(msg), "signature", "v1:abc"), "invalid signature: no prefix")
	h.badWrite("verify/ec", obj("input", b64(msg), "signature", "vault:v2:!!"), "invalid base64 signature value")
	h.badWrite("verify/ec", obj("input", b64(msg), "signature", "vault:v2:AAAA"), "supplied signature is invalid")
	h.badWrite("verify/ec", obj("input", b64(msg)), "missing 'signature' or 'hmac' were given to verify")
	h.badWrite("verify/ec", obj("input", b64(msg), "signature", old, "hmac", old), "provide one of 'signature' or 'hmac'")
}

func TestSignBatchAndDerivedEd25519(t *testing.T) {
	h := newHarness(t)
	h.createKey("ed", obj("type", "ed25519", "derived", true))
	res := h.write("sign/ed", obj("batch_input", []interface{}{
		obj("input", b64([]byte("a")), "context", b64([]byte("ctx1")), "reference", "one"),
		obj("input", b64([]byte("a")), "context", b64([]byte("ctx2"))),
		obj("context", b64([]byte("ctx1"))),
		obj("input", b64([]byte("a"))),
	}))["batch_results"].([]signResult)
	if res[0].Reference != "one" || res[0].Error != "" || res[2].Error != "missing input" ||
		!strings.Contains(res[3].Error, "missing 'context' for key derivation") {
		t.Fatalf("batch sign results %+v", res)
	}
	// Each context has its own key; the signature verifies under the
	// public key the response carries, and the key read with that context.
	for i, ctx := range []string{"ctx1", "ctx2"} {
		pub := ed25519.PublicKey(res[i].PublicKey)
		if !ed25519.Verify(pub, []byte("a"), payload(t, res[i].Signature, "1")) {
			t.Fatalf("derived signature %d does not verify", i)
		}
		k := h.ok(logical.ReadOperation, "keys/ed", obj("context", b64([]byte(ctx))))["keys"].(map[string]map[string]interface{})["1"]
		if k["public_key"] != base64.StdEncoding.EncodeToString(pub) {
			t.Fatalf("read with context %s gives %v", ctx, k["public_key"])
		}
	}
	if string(res[0].PublicKey) == string(res[1].PublicKey) {
		t.Fatal("two contexts derived the same key")
	}
	single := h.write("sign/ed", obj("input", b64([]byte("a")), "context", b64([]byte("ctx1"))))
	if string(single["public_key"].([]byte)) != string(res[0].PublicKey) {
		t.Fatal("single sign derived another key than the batch")
	}
	ver := h.write("verify/ed", obj("batch_input", []interface{}{
		obj("input", b64([]byte("a")), "context", b64([]byte("ctx1")), "signature", res[0].Signature),
		obj("input", b64([]byte("a")), "context", b64([]byte("ctx2")), "signature", res[0].Signature),
		obj("input", "!", "signature", res[0].Signature),
	}))["batch_results"].([]verifyResult)
	if !ver[0].Valid || ver[1].Valid || !strings.Contains(ver[2].Error, "unable to decode input as base64") {
		t.Fatalf("batch verify %+v", ver)
	}
	h.badWrite("verify/ed", obj("batch_input", []interface{}{obj("input", "", "signature", "x"), obj("input", "")}), "some elements of batch_input are missing 'signature'")
	h.badWrite("verify/ed", obj("batch_input", []interface{}{obj("input", "", "signature", "x"), obj("input", "", "hmac", "x")}), "must all provide either 'signature' or 'hmac'")
}

func TestHMAC(t *testing.T) {
	input := []byte("hmac me")
	algs := map[string]func() hash.Hash{
		"sha2-224": sha256.New224, "sha2-256": sha256.New, "sha2-384": sha512.New384, "sha2-512": sha512.New,
		"sha3-256": func() hash.Hash { return sha3.New256() },
	}
	for _, typ := range []string{"aes256-gcm96", "ed25519", "hmac"} {
		h := newHarness(t)
		h.createKey("k", obj("type", typ, "exportable", true))
		key := unb64(t, h.read("export/hmac-key/k/1")["keys"].(map[string]string)["1"])
		for alg, fn := range algs {
			got := h.write("hmac/k/"+alg, obj("input", b64(input)))["hmac"].(string)
			mac := hmac.New(fn, key)
			mac.Write(input)
			if want := "vault:v1:" + b64(mac.Sum(nil)); got != want {
				t.Fatalf("%s %s: hmac %s, crypto/hmac %s", typ, alg, got, want)
			}
			if h.write("verify/k/"+alg, obj("input", b64(input), "hmac", got))["valid"] != true {
				t.Fatalf("%s %s: verify rejects its own HMAC", typ, alg)
			}
			if h.write("verify/k", obj("input", b64([]byte("x")), "hmac", got, "hash_algorithm", alg))["valid"] != false {
				t.Fatalf("%s %s: verify accepts an HMAC of other input", typ, alg)
			}
		}
	}
	h := newHarness(t)
	h.createKey("h", obj("type", "hmac", "key_size", 64, "exportable", true))
	if h.read("keys/h")["key_size"] != 64 || len(unb64(t, h.read("export/hmac-key/h/1")["keys"].(map[string]string)["1"])) != 64 {
		t.Fatal("key_size 64 not honoured")
	}
	h.badWrite("encrypt/h", obj("plaintext", ""), "message encryption not supported for key type hmac")
	res := h.write("hmac/h", obj("batch_input", []interface{}{obj("input", b64(input), "reference", "r"), obj("input", "?"), obj()}))["batch_results"].([]hmacResult)
	if !strings.HasPrefix(res[0].HMAC, "vault:v1:") || res[0].Reference != "r" || !strings.Contains(res[1].Error, "unable to decode input") || res[2].Error != "missing input for HMAC" {
		t.Fatalf("batch hmac %+v", res)
	}
	vr := h.write("verify/h", obj("batch_input", []interface{}{obj("input", b64(input), "hmac", res[0].HMAC), obj("input", "", "hmac", "vault:v9:AA==")}))["batch_results"].([]hmacResult)
	if !vr[0].Valid || vr[1].Error != "invalid HMAC: version is too new" {
		t.Fatalf("batch hmac verify %+v", vr)
	}
	h.write("keys/h/rotate", nil)
	h.write("keys/h/config", obj("min_decryption_version", 2, "min_encryption_version", 2))
	h.badWrite("verify/h", obj("input", b64(input), "hmac", res[0].HMAC), "cannot verify HMAC: version is too old")
	h.badWrite("hmac/h", obj("input", "", "key_version", 1), "cannot generate HMAC: version is too old")
	h.badWrite("hmac/h", nil, "missing input for HMAC")
	h.badWrite("hmac/h/none", obj("input", ""), `unsupported algorithm "none" for HMAC`)
	h.badWrite("hmac/missing", obj("input", ""), "encryption key not found")
	h.badWrite("verify/h", obj("input", "", "hmac", "nope"), "invalid HMAC to verify: no prefix")
}

func TestHashAndRandom(t *testing.T) {
	h := newHarness(t)
	in := []byte("hash me")
	s256 := sha256.Sum256(in)
	if got := h.write("hash", obj("input", b64(in)))["sum"]; got != hex.EncodeToString(s256[:]) {
		t.Fatalf("hash = %v", got)
	}
	s512 := sha512.Sum512(in)
	if got := h.write("hash/sha2-512", obj("input", b64(in), "format", "base64"))["sum"]; got != b64(s512[:]) {
		t.Fatalf("hash/sha2-512 = %v", got)
	}
	s3 := sha3.Sum224(in)
	if got := h.write("hash", obj("input", b64(in), "algorithm", "sha3-224"))["sum"]; got != hex.EncodeToString(s3[:]) {
		t.Fatalf("sha3-224 = %v", got)
	}
	h.badWrite("hash", nil, "input missing")
	h.badWrite("hash/md5", obj("input", ""), "unsupported algorithm md5")
	h.badWrite("hash", obj("input", "", "format", "raw"), "unsupported encoding format raw")
	h.badWrite("hash", obj("input", "@@"), "unable to decode input as base64")

	for path, want := range map[string]int{"random": 32, "random/16": 16, "random/all/8": 8, "random/platform": 32} {
		got := unb64(t, h.write(path, nil)["random_bytes"].(string))
		if len(got) != want {
			t.Fatalf("%s: %d bytes, want %d", path, len(got), want)
		}
	}
	if got := h.write("random", obj("bytes", 10, "format", "hex"))["random_bytes"].(string); len(got) != 20 {
		t.Fatalf("hex random %q", got)
	}
	h.badWrite("random/0", nil, `"bytes" cannot be less than 1`)
	h.badWrite("random", obj("bytes", 1<<20), `"bytes" should be less than 131072`)
	h.badWrite("random/seal/8", nil, "no secondary entropy source available")
	h.badWrite("random/dice/8", nil, `unsupported entropy source "dice"`)
	h.badWrite("random/abc", nil, "error parsing url-set byte count")
	h.badWrite("random", obj("format", "raw"), "unsupported encoding format")
}
