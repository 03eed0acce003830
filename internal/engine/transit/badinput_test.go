package transit

import (
	"errors"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// TestBadInput checks that malformed or mismatched input gets a 400 whose
// message names the problem.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	h.createKey("k", nil)
	h.createKey("other", nil)
	h.createKey("ec", obj("type", "ecdsa-p256"))
	h.createKey("chacha", obj("type", "chacha20-poly1305"))
	ct := h.encrypt("k", []byte("x"), nil)
	fromOther := h.encrypt("other", []byte("x"), nil)
	chachaCT := h.encrypt("chacha", []byte("x"), nil)
	h.write("keys/k/rotate", nil)
	h.write("keys/k/config", obj("min_decryption_version", 2))

	cases := []struct {
		path string
		data map[string]interface{}
		want string
	}{
		{"encrypt/k", obj("plaintext", "not base64"), "failed to base64-decode plaintext: illegal base64 data at input byte 3"},
		{"encrypt/k", nil, "missing plaintext to encrypt"},
		{"encrypt/k", obj("plaintext", "", "nonce", "AAAA"), "provided nonce not allowed for this key"},
		{"encrypt/k", obj("plaintext", "", "nonce", "%%"), "failed to base64-decode nonce"},
		{"encrypt/k", obj("plaintext", "", "associated_data", "%%"), "failed to base64-decode associated_data"},
		{"encrypt/k", obj("plaintext", "", "padding_scheme", "oaep"), "padding_scheme invalid: unsupported key type aes256-gcm96 for padding scheme"},
		{"encrypt/k", obj("plaintext", "", "key_version", -1), "requested version for encryption is negative"},
		{"encrypt/k", obj("plaintext", "", "key_version", "x"), `field "key_version"`},
		{"encrypt/k", obj("plaintext", []interface{}{1}), `field "plaintext"`},
		{"encrypt/ec", obj("plaintext", ""), "message encryption not supported for key type ecdsa-p256"},
		{"decrypt/k", nil, "missing ciphertext to decrypt"},
		{"decrypt/k", obj("ciphertext", "v1:abc"), "invalid ciphertext: no prefix"},
		{"decrypt/k", obj("ciphertext", "vault:v2"), "invalid ciphertext: wrong number of fields"},
		{"decrypt/k", obj("ciphertext", "vault:vx:AAAA"), "invalid ciphertext: version number could not be decoded"},
		{"decrypt/k", obj("ciphertext", "vault:v3:AAAA"), "invalid ciphertext: version is too new"},
		{"decrypt/k", obj("ciphertext", ct), errTooOld},
		{"decrypt/k", obj("ciphertext", "vault:v2:@@@@"), "invalid ciphertext: could not decode base64"},
		{"decrypt/k", obj("ciphertext", "vault:v2:AAAA"), "invalid ciphertext length"},
		{"decrypt/k", obj("ciphertext", strings.Replace(fromOther, "v1", "v2", 1)), "cipher: message authentication failed"},
		{"decrypt/other", obj("ciphertext", chachaCT), "cipher: message authentication failed"},
		{"decrypt/missing", obj("ciphertext", ct), "encryption key not found"},
		{"decrypt/ec", obj("ciphertext", ct), "message decryption not supported for key type ecdsa-p256"},
		{"keys/k", obj("derived", "maybe"), `field "derived"`},
	}
	for _, c := range cases {
		resp, err := h.do(logical.UpdateOperation, c.path, c.data)
		if !errors.Is(err, logical.ErrInvalidRequest) {
			t.Errorf("%s %v: got %v, %v; want a 400", c.path, c.data, resp, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %q does not contain %q", c.path, c.data, err, c.want)
		}
	}
}

// FuzzDecrypt feeds arbitrary ciphertext, context and nonce strings to
// decrypt: every answer is a plaintext or a 400, never a panic or a 500.
func FuzzDecrypt(f *testing.F) {
	h := newHarness(f)
	h.createKey("k", nil)
	h.createKey("d", obj("derived", true, "convergent_encryption", true))
	h.createKey("r", obj("type", "rsa-2048"))
	valid := h.encrypt("k", []byte("seed"), nil)
	for _, s := range []string{valid, "vault:v1:", "vault:v0:AAAA", "vault:v-1:AAAA", "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "vault:v99999999999999999999:A", "", ":", "vault:v1:====", "vault:v\x00:x"} {
		f.Add(s, "", "")
		f.Add(s, "Y29udGV4dA==", "")
	}
	f.Add(valid, "", "AAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, ciphertext, context, nonce string) {
		for _, key := range []string{"k", "d", "r"} {
			data := obj("ciphertext", ciphertext, "context", context, "nonce", nonce)
			resp, err := h.do(logical.UpdateOperation, "decrypt/"+key, data)
			if err != nil && !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("decrypt/%s %q: not a 400: %v", key, ciphertext, err)
			}
			if err == nil && resp.Data["plaintext"] == nil {
				t.Fatalf("decrypt/%s %q: no plaintext and no error", key, ciphertext)
			}
			batch := obj("batch_input", []interface{}{obj("ciphertext", ciphertext, "context", context, "nonce", nonce)})
			if _, err := h.do(logical.UpdateOperation, "decrypt/"+key, batch); err != nil && !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("batch decrypt/%s %q: not a 400: %v", key, ciphertext, err)
			}
		}
	})
}
