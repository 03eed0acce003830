package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestRoleDefaults(t *testing.T) {
	h := newHarness(t)
	resp := h.write("roles/web", map[string]interface{}{"allowed_domains": "example.com"})
	if len(resp.Warnings) == 0 || !strings.Contains(resp.Warnings[0], "no default issuing certificate") {
		t.Errorf("writing a role without issuers should warn about the missing default issuer, got %v", resp.Warnings)
	}
	got := h.read("roles/web").Data
	want := map[string]interface{}{
		"allow_localhost": true, "enforce_hostnames": true, "server_flag": true, "client_flag": true,
		"allow_ip_sans": true, "require_cn": true, "use_csr_common_name": true, "use_csr_sans": true,
		"allow_wildcard_certificates": true, "allow_subdomains": false, "allow_bare_domains": false,
		"allow_glob_domains": false, "allow_any_name": false, "code_signing_flag": false,
		"generate_lease": false, "no_store": false, "key_type": "rsa", "key_bits": 2048, "signature_bits": 256,
		"ttl": int64(0), "max_ttl": int64(0), "not_before_duration": int64(30), "issuer_ref": "default",
		"key_usage":       []string{"DigitalSignature", "KeyAgreement", "KeyEncipherment"},
		"ext_key_usage":   []string{},
		"allowed_domains": []string{"example.com"},
		"cn_validations":  []string{"email", "hostname"},
		"ou":              []string{},
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
}

func TestRoleWriteReplacesPatchMerges(t *testing.T) {
	h := newHarness(t)
	h.write("roles/r", map[string]interface{}{"allowed_domains": "a.com", "allow_subdomains": true, "key_type": "ec"})
	if _, err := h.do(logical.PatchOperation, "roles/r", map[string]interface{}{"max_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	got := h.read("roles/r").Data
	if got["allow_subdomains"] != true || got["key_type"] != "ec" || got["max_ttl"] != int64(3600) {
		t.Fatalf("patch lost fields: %v", got)
	}
	h.write("roles/r", map[string]interface{}{"allowed_domains": "b.com"})
	got = h.read("roles/r").Data
	if got["allow_subdomains"] != false || got["key_type"] != "rsa" || got["max_ttl"] != int64(0) {
		t.Fatalf("write should reset omitted fields to defaults: %v", got)
	}
	list, err := h.do(logical.ListOperation, "roles/", nil)
	if err != nil || !reflect.DeepEqual(list.Data["keys"], []string{"r"}) {
		t.Fatalf("list roles = %v, %v", list, err)
	}
	if _, err := h.do(logical.DeleteOperation, "roles/r", nil); err != nil {
		t.Fatal(err)
	}
	if resp := h.read("roles/r"); resp != nil {
		t.Fatalf("deleted role still readable: %v", resp.Data)
	}
	if _, err := h.do(logical.PatchOperation, "roles/missing", map[string]interface{}{"ttl": "1h"}); err == nil {
		t.Fatal("patching a missing role should fail")
	}
}

func TestRoleValidation(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		data map[string]interface{}
		want string
	}{
		{map[string]interface{}{"ttl": "2h", "max_ttl": "1h"}, `"ttl" value must be less than "max_ttl" value`},
		{map[string]interface{}{"key_type": "rsa", "key_bits": 1024}, "RSA keys < 2048 bits are unsafe and not supported: got 1024"},
		{map[string]interface{}{"key_type": "rsa", "key_bits": 2500}, "unsupported bit length for RSA key: 2500"},
		{map[string]interface{}{"key_type": "ec", "key_bits": 255}, "unsupported bit length for EC key: 255"},
		{map[string]interface{}{"key_type": "rsa", "signature_bits": 128}, "unsupported hash signature algorithm: 128"},
		{map[string]interface{}{"key_type": "dsa"}, `invalid value dsa for field "key_type"`},
		{map[string]interface{}{"key_usage": "DigitalSignature,Teleport"}, `unknown key usage "Teleport"`},
		{map[string]interface{}{"ext_key_usage": "ServerAuth,Magic"}, `unknown extended key usage "Magic"`},
		{map[string]interface{}{"ext_key_usage_oids": "1.2.x"}, `"1.2.x" could not be parsed as a valid oid`},
		{map[string]interface{}{"allowed_other_sans": "1.2.3;BMP:x"}, "error parsing allowed_other_sans"},
		{map[string]interface{}{"cn_validations": "disabled,email"}, "cannot specify `disabled` along with `email` or `hostname`"},
		{map[string]interface{}{"policy_identifiers": "not-an-oid"}, `policy_identifiers: "not-an-oid" is not a valid OID`},
		{map[string]interface{}{"not_after": "tomorrow"}, "not_after must be an RFC 3339 time"},
	} {
		h.badRequest("roles/bad", tc.data, tc.want)
	}
	resp := h.write("roles/lease", map[string]interface{}{"no_store": true, "generate_lease": true})
	if h.read("roles/lease").Data["generate_lease"] != false || !strings.Contains(strings.Join(resp.Warnings, "|"), "no_store=true takes priority") {
		t.Errorf("no_store must win over generate_lease with a warning; warnings %v", resp.Warnings)
	}
	h.write("roles/ec", map[string]interface{}{"key_type": "ec"})
	if got := h.read("roles/ec").Data; got["key_bits"] != 256 || got["signature_bits"] != 0 {
		t.Errorf("ec defaults: key_bits=%v signature_bits=%v, want 256 and 0", got["key_bits"], got["signature_bits"])
	}
	h.write("roles/json-policy", map[string]interface{}{"policy_identifiers": `[{"oid":"1.3.6.1.4.1.7.8"},{"oid":"1.3.6.1.4.1.44947.1.2.4"}]`})
	if got := h.read("roles/json-policy").Data["policy_identifiers"]; !reflect.DeepEqual(got, []string{"1.3.6.1.4.1.7.8", "1.3.6.1.4.1.44947.1.2.4"}) {
		t.Errorf("JSON policy identifiers = %v", got)
	}
}

func TestKeyTypesAndBits(t *testing.T) {
	h := newHarness(t)
	h.rootCA(nil)
	for _, tc := range []struct {
		typ  string
		bits int
		want string // "rsa-2048", "ec-384", "ed25519"
	}{
		{"rsa", 0, "rsa-2048"},
		{"rsa", 3072, "rsa-3072"},
		{"ec", 0, "ec-256"},
		{"ec", 224, "ec-224"},
		{"ec", 384, "ec-384"},
		{"ec", 521, "ec-521"},
		{"ed25519", 0, "ed25519"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			h.write("roles/k", map[string]interface{}{"allow_any_name": true, "key_type": tc.typ, "key_bits": tc.bits})
			resp := h.write("issue/k", map[string]interface{}{"common_name": "k.example.com"})
			leaf := mustCert(t, respStr(resp, "certificate"))
			typ, bits, err := publicKeyInfo(leaf.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			got := typ
			if typ != keyTypeEd25519 {
				got = typ + "-" + strconv.Itoa(bits)
			}
			if got != tc.want || respStr(resp, "private_key_type") != typ {
				t.Errorf("issued key %s (private_key_type %q), want %s", got, respStr(resp, "private_key_type"), tc.want)
			}
		})
	}
	h.write("roles/any", map[string]interface{}{"allow_any_name": true, "key_type": "any"})
	h.badRequest("issue/any", map[string]interface{}{"common_name": "a.example.com"}, `role key type "any" not allowed for issuing certificates without providing key_type`)
	resp := h.write("issue/any", map[string]interface{}{"common_name": "a.example.com", "key_type": "ed25519"})
	if respStr(resp, "private_key_type") != "ed25519" {
		t.Errorf("key_type=ed25519 on an any role gave %q", respStr(resp, "private_key_type"))
	}
	h.write("roles/fixed", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	resp = h.write("issue/fixed", map[string]interface{}{"common_name": "a.example.com", "key_type": "rsa"})
	if respStr(resp, "private_key_type") != "ec" || !strings.Contains(strings.Join(resp.Warnings, "|"), "parameters key_type and key_bits ignored") {
		t.Errorf("role key type must win with a warning: %q %v", respStr(resp, "private_key_type"), resp.Warnings)
	}
}

// newCSR builds a PEM CSR for key with the given CN and DNS names.
func newCSR(t testing.TB, key crypto.Signer, cn string, dns ...string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pemString("CERTIFICATE REQUEST", der)
}

func TestSignCSRKeyChecks(t *testing.T) {
	h := newHarness(t)
	h.rootCA(nil)
	h.write("roles/ec384", map[string]interface{}{"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "ec", "key_bits": 384})
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)

	h.badRequest("sign/ec384", map[string]interface{}{"csr": newCSR(t, rsaKey, "a.example.com")}, "role requires keys of type ec")
	h.badRequest("sign/ec384", map[string]interface{}{"csr": newCSR(t, edKey, "a.example.com")}, "role requires keys of type ec")
	h.badRequest("sign/ec384", map[string]interface{}{"csr": newCSR(t, p256, "a.example.com")}, "role requires a minimum of a 384-bit key, but CSR's key is 256 bits")
	h.badRequest("sign/ec384", map[string]interface{}{"csr": newCSR(t, p384, "a.example.org")}, "common name a.example.org not allowed by this role")
	h.badRequest("sign/ec384", map[string]interface{}{"csr": newCSR(t, p384, "a.example.com", "evil.org")}, "subject alternate name evil.org not allowed by this role")

	resp := h.write("sign/ec384", map[string]interface{}{"csr": newCSR(t, p384, "a.example.com", "b.example.com"), "common_name": "ignored.example.com"})
	leaf := mustCert(t, respStr(resp, "certificate"))
	if leaf.Subject.CommonName != "a.example.com" || strings.Join(leaf.DNSNames, ",") != "b.example.com,a.example.com" {
		t.Errorf("signed CN=%q DNS=%v, want the CSR's values", leaf.Subject.CommonName, leaf.DNSNames)
	}
	if !samePublicKey(leaf.PublicKey, p384.Public()) {
		t.Error("signed certificate does not carry the CSR's key")
	}
	if _, ok := resp.Data["private_key"]; ok {
		t.Error("sign must not return a private key")
	}
	if !strings.Contains(strings.Join(resp.Warnings, "|"), `the common_name field was provided but the role is set with "use_csr_common_name" set to true`) {
		t.Errorf("missing use_csr_common_name warning: %v", resp.Warnings)
	}

	h.write("roles/any", map[string]interface{}{"allow_any_name": true, "key_type": "any"})
	for _, k := range []crypto.Signer{rsaKey, p256, edKey} {
		if resp := h.write("sign/any", map[string]interface{}{"csr": newCSR(t, k, "x.example.com")}); respStr(resp, "certificate") == "" {
			t.Errorf("any role refused a %T CSR", k)
		}
	}
}
