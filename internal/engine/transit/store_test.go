package transit

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// flakyStorage fails writes while fail is set.
type flakyStorage struct {
	*logical.InmemStorage
	fail atomic.Bool
}

func (s *flakyStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if s.fail.Load() {
		return errors.New("disk on fire")
	}
	return s.InmemStorage.Put(ctx, e)
}

func TestStorageFailures(t *testing.T) {
	fs := &flakyStorage{InmemStorage: logical.NewInmemStorage()}
	b := newBackend(nil, time.Now, rand.Reader)
	do := func(path string, data map[string]interface{}) (*logical.Response, error) {
		return b.HandleRequest(context.Background(), &logical.Request{Operation: logical.UpdateOperation, Path: path, Data: data, Storage: fs})
	}
	if _, err := do("keys/k", nil); err != nil {
		t.Fatal(err)
	}
	fs.fail.Store(true)
	for _, path := range []string{"keys/k/rotate", "keys/k/config", "keys/new"} {
		_, err := do(path, obj("deletion_allowed", true))
		if err == nil || errors.Is(err, logical.ErrInvalidRequest) || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("%s with failing storage: %v, want an internal error", path, err)
		}
	}
	fs.fail.Store(false)
	resp, err := b.HandleRequest(context.Background(), &logical.Request{Operation: logical.ReadOperation, Path: "keys/k", Storage: fs})
	if err != nil || resp.Data["latest_version"] != 1 || resp.Data["deletion_allowed"] != false {
		t.Fatalf("failed writes changed the key: %v %v", resp, err)
	}
	if r, _ := b.HandleRequest(context.Background(), &logical.Request{Operation: logical.ReadOperation, Path: "keys/new", Storage: fs}); r != nil {
		t.Fatal("a key whose creation failed exists")
	}
	enc, err := do("encrypt/k", obj("plaintext", "aGk="))
	if err != nil || !strings.HasPrefix(enc.Data["ciphertext"].(string), "vault:v1:") {
		t.Fatalf("encrypt after failed rotation: %v %v", enc, err)
	}
	// An automatic rotation that cannot be stored keeps serving the old
	// version.
	clock := &fakeClock{t: time.Now()}
	b2 := newBackend(nil, clock.Now, rand.Reader)
	h := &harness{t: t, b: b2, s: fs.InmemStorage, clock: clock}
	h.createKey("auto", obj("auto_rotate_period", "1h"))
	clock.Add(2 * time.Hour)
	fs.fail.Store(true)
	r, err := b2.HandleRequest(context.Background(), &logical.Request{Operation: logical.UpdateOperation, Path: "encrypt/auto", Data: obj("plaintext", ""), Storage: fs})
	if err != nil || !strings.HasPrefix(r.Data["ciphertext"].(string), "vault:v1:") {
		t.Fatalf("encrypt while rotation fails: %v %v", r, err)
	}
}

func TestFactory(t *testing.T) {
	if _, err := Factory(context.Background(), nil); err == nil {
		t.Fatal("Factory accepted a nil config")
	}
	b, err := Factory(context.Background(), &logical.BackendConfig{StorageView: logical.NewInmemStorage()})
	if err != nil || b.Type() != logical.TypeLogical {
		t.Fatalf("Factory: %v %v", b, err)
	}
	resp, err := b.HandleRequest(context.Background(), &logical.Request{Operation: logical.HelpOperation, Path: "encrypt/x"})
	if err != nil || !strings.Contains(resp.Data["help"].(string), "plaintext") {
		t.Fatalf("help: %v %v", resp, err)
	}
}

func TestBatchFieldTypes(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", nil)
	h.write("keys/k/rotate", nil)
	res := h.write("encrypt/k", obj("batch_input", []interface{}{
		obj("plaintext", "", "key_version", json.Number("1")),
		obj("plaintext", "", "key_version", 1.0),
		obj("plaintext", "", "key_version", nil),
	}))["batch_results"].([]encryptResult)
	if res[0].KeyVersion != 1 || res[1].KeyVersion != 1 || res[2].KeyVersion != 2 {
		t.Fatalf("key versions %+v", res)
	}
	h.badWrite("encrypt/k", obj("batch_input", []interface{}{obj("plaintext", "", "key_version", "one")}), "'[0].key_version' expected type 'int'")
	h.badWrite("encrypt/k", obj("batch_input", []interface{}{obj("plaintext", "", "key_version", 1.5)}), "'[0].key_version' expected type 'int'")
	// The CLI and form posts send batch_input as a JSON string.
	res = h.write("encrypt/k", obj("batch_input", `[{"plaintext":"aGk="}]`))["batch_results"].([]encryptResult)
	if len(res) != 1 || res[0].Ciphertext == "" {
		t.Fatalf("string batch_input: %+v", res)
	}
	h.badWrite("encrypt/k", obj("batch_input", "[oops"), "failed to parse batch input")
	hm := h.write("hmac/k", obj("batch_input", `[{"input":"aGk=","reference":7}]`))["batch_results"].([]hmacResult)
	if hm[0].Reference != "7" || hm[0].HMAC == "" {
		t.Fatalf("hmac with numeric reference: %+v", hm)
	}
	h.badWrite("hmac/k", obj("batch_input", []interface{}{obj("input", []interface{}{})}), "'[0].input' expected type 'string'")
	h.badWrite("hmac/k", obj("batch_input", []interface{}{}), "missing batch input to process")
}

func TestExportSigningKeys(t *testing.T) {
	h := newHarness(t)
	for _, typ := range []string{"ecdsa-p256", "ed25519", "rsa-2048"} {
		h.createKey(typ, obj("type", typ, "exportable", true))
		priv := h.read("export/signing-key/" + typ + "/1")["keys"].(map[string]string)["1"]
		pub := exportedPublic(t, h, typ)
		switch typ {
		case "ecdsa-p256":
			block, _ := pem.Decode([]byte(priv))
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil || !k.PublicKey.Equal(pub.(*ecdsa.PublicKey)) {
				t.Fatalf("EC private key export: %v", err)
			}
		case "ed25519":
			k := ed25519.PrivateKey(unb64(t, priv))
			if !k.Public().(ed25519.PublicKey).Equal(pub) {
				t.Fatal("ed25519 private key export does not match the public key")
			}
		case "rsa-2048":
			block, _ := pem.Decode([]byte(priv))
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil || !k.PublicKey.Equal(pub.(*rsa.PublicKey)) {
				t.Fatalf("RSA private key export: %v", err)
			}
			if keys := h.read("keys/" + typ)["keys"].(map[string]map[string]interface{}); !strings.HasPrefix(keys["1"]["public_key"].(string), "-----BEGIN PUBLIC KEY-----") {
				t.Fatalf("RSA read public key %v", keys["1"])
			}
		}
	}
	if msg := h.bad(logical.ReadOperation, "export/encryption-key/ed25519", nil); msg != "encryption not supported for the key" {
		t.Fatalf("encryption-key export of a signing key: %q", msg)
	}
}

// TestLegacyConvergent covers keys restored from Vault that use the older
// convergent schemes: version 1 (caller nonce, not stored) and version 2
// (nonce = HMAC-SHA256(context, plaintext)).
func TestLegacyConvergent(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	ctx := []byte("ctx")
	for _, cv := range []int{1, 2} {
		p := &policy{Name: "legacy", Type: typeAES256GCM96, Derived: true, KDF: kdfHKDFSHA256,
			ConvergentEncryption: true, ConvergentVersion: cv, LatestVersion: 1, MinDecryptionVersion: 1,
			Keys: map[string]*keyEntry{"1": {Key: key, HMACKey: key, CreationTime: time.Now()}}}
		if err := p.prepare(); err != nil {
			t.Fatal(err)
		}
		nonce := []byte("twelve bytes")
		o := cryptOptions{context: ctx}
		if cv == 1 {
			o.nonce = nonce
		}
		ct, _, err := p.encrypt(rand.Reader, 0, []byte("pt"), o)
		if err != nil {
			t.Fatalf("v%d encrypt: %v", cv, err)
		}
		derived := make([]byte, 32)
		d, _ := p.deriveKey(p.mat[1], ctx, 32)
		copy(derived, d)
		blk, _ := aes.NewCipher(derived)
		gcm, _ := cipher.NewGCM(blk)
		raw := payload(t, ct, "1")
		if cv == 2 {
			mac := hmac.New(sha256.New, ctx)
			mac.Write([]byte("pt"))
			nonce = mac.Sum(nil)[:12]
			if string(raw[:12]) != string(nonce) {
				t.Fatal("v2 nonce is not HMAC(context, plaintext)")
			}
			raw = raw[12:]
		}
		if got, err := gcm.Open(nil, nonce, raw, nil); err != nil || string(got) != "pt" {
			t.Fatalf("v%d independent open: %q %v", cv, got, err)
		}
		if got, _, err := p.decrypt(ct, o); err != nil || string(got) != "pt" {
			t.Fatalf("v%d decrypt: %q %v", cv, got, err)
		}
		if cv == 1 {
			if _, _, err := p.decrypt(ct, cryptOptions{context: ctx}); err == nil || err.Error() != "invalid convergent nonce supplied" {
				t.Fatalf("v1 decrypt without nonce: %v", err)
			}
			if _, _, err := p.encrypt(rand.Reader, 0, nil, cryptOptions{context: ctx, nonce: []byte("short")}); err == nil {
				t.Fatal("v1 accepted a short nonce")
			}
		}
	}
}

// TestReloadEveryType stores a key of every type, reads it back in a fresh
// backend (as after a restart) and through backup and restore, and checks
// that old ciphertexts and signatures still work.
func TestReloadEveryType(t *testing.T) {
	h := newHarness(t)
	msg := b64([]byte("survives restarts"))
	type made struct{ ct, sig, mac string }
	out := map[string]made{}
	for name := range keyTypeNames {
		typ := name.String()
		h.createKey(typ, obj("type", typ, "exportable", true, "allow_plaintext_backup", true))
		var m made
		if name.encryptionSupported() {
			m.ct = h.write("encrypt/"+typ, obj("plaintext", msg))["ciphertext"].(string)
		}
		if name.signingSupported() {
			m.sig = h.write("sign/"+typ, obj("input", msg))["signature"].(string)
		}
		m.mac = h.write("hmac/"+typ, obj("input", msg))["hmac"].(string)
		out[typ] = m
	}
	restarted := &harness{t: t, b: newBackend(nil, h.clock.Now, rand.Reader), s: h.s, clock: h.clock}
	for typ, m := range out {
		restarted.write("restore/copy-"+typ, obj("backup", restarted.read("backup/" + typ)["backup"]))
		for _, name := range []string{typ, "copy-" + typ} {
			if m.ct != "" && restarted.write("decrypt/"+name, obj("ciphertext", m.ct))["plaintext"] != msg {
				t.Errorf("%s: ciphertext no longer decrypts", name)
			}
			if m.sig != "" && restarted.write("verify/"+name, obj("input", msg, "signature", m.sig))["valid"] != true {
				t.Errorf("%s: signature no longer verifies", name)
			}
			if restarted.write("verify/"+name, obj("input", msg, "hmac", m.mac))["valid"] != true {
				t.Errorf("%s: HMAC no longer verifies", name)
			}
		}
	}
}
