package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// caBundlePEM makes a CA certificate and key valid from notBefore to
// notAfter, as a PEM bundle for config/ca.
func caBundlePEM(t *testing.T, cn string, notBefore, notAfter time.Time) (string, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := encodePrivateKey(key, "pem", false)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return k + "\n" + certPEM(der), c
}

func TestIssueBadInput(t *testing.T) {
	h := newHarness(t)
	h.write("roles/web", map[string]interface{}{"allowed_domains": "example.com", "allow_subdomains": true, "key_type": "ec", "max_ttl": "720h"})
	h.write("roles/long", map[string]interface{}{"allow_any_name": true, "key_type": "ec", "max_ttl": "200000h"})
	h.badRequest("issue/web", map[string]interface{}{"common_name": "a.example.com"}, "could not fetch the CA certificate (was one set?): no default issuer currently configured")
	h.rootCA(nil)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		path string
		data map[string]interface{}
		want string
	}{
		{"issue/nope", map[string]interface{}{"common_name": "a.example.com"}, "unknown role: nope"},
		{"issue/web", map[string]interface{}{"common_name": "a.example.org"}, "common name a.example.org not allowed by this role"},
		{"issue/web", map[string]interface{}{"common_name": "a.example.com", "format": "p12"}, `the "format" path parameter must be "pem", "der", or "pem_bundle"`},
		{"issue/web", map[string]interface{}{"common_name": "a.example.com", "ttl": "1h", "not_after": "2030-01-01T00:00:00Z"}, "Either ttl or not_after should be provided"},
		{"issue/web", map[string]interface{}{"common_name": "a.example.com", "ttl": "soon"}, `error converting input soon for field "ttl"`},
		{"issue/long", map[string]interface{}{"common_name": "a.example.com", "ttl": "100000h"}, "cannot satisfy request, as TTL would result in notAfter of"},
		{"sign/web", map[string]interface{}{"csr": ""}, `"csr" is empty`},
		{"sign/web", map[string]interface{}{"csr": "garbage"}, "csr contains no data"},
		{"sign/web", map[string]interface{}{"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----"}, "certificate request could not be parsed"},
		{"sign/web", map[string]interface{}{"csr": tamperedCSR(t, p256)}, "request signature invalid"},
		{"root/generate/sideways", map[string]interface{}{"common_name": "x"}, `the "exported" path parameter must be`},
		{"root/generate/kms", map[string]interface{}{"common_name": "x"}, "managed keys (kms) are not supported"},
		{"root/generate/internal", map[string]interface{}{"common_name": "x", "key_type": "any"}, `key_type "any" cannot be generated`},
		{"root/generate/existing", map[string]interface{}{"common_name": "x", "key_type": "ec"}, "key_type nor key_bits arguments can be set in this mode"},
	} {
		h.badRequest(tc.path, tc.data, tc.want)
	}
}

// tamperedCSR is a well-formed CSR whose signature does not verify.
func tamperedCSR(t *testing.T, k crypto.Signer) string {
	block := newCSR(t, k, "a.example.com")
	csr, err := parseCSR(block)
	if err != nil {
		t.Fatal(err)
	}
	raw := append([]byte(nil), csr.Raw...)
	raw[len(raw)-3] ^= 0xff
	return pemString("CERTIFICATE REQUEST", raw)
}

func TestTTLRules(t *testing.T) {
	h := newHarnessOn(t, logical.NewInmemStorage(), staticSystem{def: 2 * time.Hour, max: 100 * time.Hour})
	// not_after is not capped by the mount maximum, so the root outlives
	// the leaves below.
	h.write("root/generate/internal", map[string]interface{}{
		"common_name": "Root", "key_type": "ec", "not_after": time.Now().Add(1000 * time.Hour).UTC().Format(time.RFC3339),
	})
	h.write("roles/capped", map[string]interface{}{"allow_any_name": true, "key_type": "ec", "max_ttl": "10h"})
	h.write("roles/mount", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	h.write("roles/ttl", map[string]interface{}{"allow_any_name": true, "key_type": "ec", "ttl": "3h", "max_ttl": "10h"})
	life := func(resp *logical.Response) time.Duration {
		c := mustCert(t, respStr(resp, "certificate"))
		return c.NotAfter.Sub(c.NotBefore) - 30*time.Second
	}
	near := func(got, want time.Duration) bool { return got > want-time.Minute && got < want+time.Minute }

	resp := h.write("issue/capped", map[string]interface{}{"common_name": "a.example.com", "ttl": "90h"})
	if !near(life(resp), 10*time.Hour) || len(resp.Warnings) != 1 || resp.Warnings[0] != `TTL "90h0m0s" is longer than permitted maxTTL "10h0m0s", so maxTTL is being used` {
		t.Errorf("ttl above role max: life %v warnings %q", life(resp), resp.Warnings)
	}
	if resp := h.write("issue/mount", map[string]interface{}{"common_name": "a.example.com"}); !near(life(resp), 2*time.Hour) {
		t.Errorf("role without ttl uses the mount default: got %v", life(resp))
	}
	if resp := h.write("issue/mount", map[string]interface{}{"common_name": "a.example.com", "ttl": "500h"}); !near(life(resp), 100*time.Hour) {
		t.Errorf("role without max_ttl is capped by the mount max: got %v", life(resp))
	}
	if resp := h.write("issue/ttl", map[string]interface{}{"common_name": "a.example.com"}); !near(life(resp), 3*time.Hour) {
		t.Errorf("role ttl: got %v", life(resp))
	}
	notAfter := time.Now().Add(5 * time.Hour).UTC().Truncate(time.Second)
	c := mustCert(t, respStr(h.write("issue/mount", map[string]interface{}{"common_name": "a.example.com", "not_after": notAfter.Format(time.RFC3339)}), "certificate"))
	if !c.NotAfter.Equal(notAfter) {
		t.Errorf("not_after: got %v, want %v", c.NotAfter, notAfter)
	}
}

func TestIssuerNotAfterBehaviorAndExpiredCA(t *testing.T) {
	h := newHarness(t)
	bundle, ca := caBundlePEM(t, "Short CA", time.Now().Add(-time.Hour), time.Now().Add(2*time.Hour))
	imp := h.write("config/ca", map[string]interface{}{"pem_bundle": bundle})
	if ids, _ := imp.Data["imported_issuers"].([]string); len(ids) != 1 {
		t.Fatalf("config/ca imported %v", imp.Data)
	}
	h.write("roles/r", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	h.badRequest("issue/r", map[string]interface{}{"common_name": "a.example.com", "ttl": "5h"}, "beyond the expiration of the CA certificate at")

	h.write("issuer/default", map[string]interface{}{"leaf_not_after_behavior": "truncate"})
	c := mustCert(t, respStr(h.write("issue/r", map[string]interface{}{"common_name": "a.example.com", "ttl": "5h"}), "certificate"))
	if !c.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("truncate: NotAfter %v, want the CA's %v", c.NotAfter, ca.NotAfter)
	}
	h.write("issuer/default", map[string]interface{}{"leaf_not_after_behavior": "permit"})
	c = mustCert(t, respStr(h.write("issue/r", map[string]interface{}{"common_name": "a.example.com", "ttl": "5h"}), "certificate"))
	if !c.NotAfter.After(ca.NotAfter) {
		t.Errorf("permit: NotAfter %v should pass the CA's %v", c.NotAfter, ca.NotAfter)
	}
	h.badRequest("issuer/default", map[string]interface{}{"leaf_not_after_behavior": "maybe"}, "Unknown value for field `leaf_not_after_behavior`")

	expired := newHarness(t)
	bundle, _ = caBundlePEM(t, "Old CA", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	expired.write("config/ca", map[string]interface{}{"pem_bundle": bundle})
	expired.write("roles/r", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	expired.badRequest("issue/r", map[string]interface{}{"common_name": "a.example.com"}, "beyond the expiration of the CA certificate at")
	expired.write("issuer/default", map[string]interface{}{"leaf_not_after_behavior": "permit"})
	expired.badRequest("issue/r", map[string]interface{}{"common_name": "a.example.com"}, "expired at")
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	expired.badRequest("sign/r", map[string]interface{}{"csr": newCSR(t, p256, "a.example.com")}, "expired at")
}

func TestOutputFormats(t *testing.T) {
	c := newChain(t)
	h := c.inter
	der := h.write("issue/web-server", map[string]interface{}{"common_name": "a.corp.local", "format": "der", "private_key_format": "pkcs8"})
	raw, err := base64.StdEncoding.DecodeString(respStr(der, "certificate"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseCertificate(raw); err != nil {
		t.Fatalf("der certificate: %v", err)
	}
	keyDER, _ := base64.StdEncoding.DecodeString(respStr(der, "private_key"))
	if _, err := x509.ParsePKCS8PrivateKey(keyDER); err != nil {
		t.Errorf("pkcs8 der key: %v", err)
	}
	if chain, _ := der.Data["ca_chain"].([]string); len(chain) != 2 {
		t.Errorf("der ca_chain has %d entries", len(chain))
	}

	bundle := respStr(h.write("issue/web-server", map[string]interface{}{"common_name": "a.corp.local", "format": "pem_bundle"}), "certificate")
	if !strings.HasPrefix(bundle, "-----BEGIN EC PRIVATE KEY-----") || strings.Count(bundle, "BEGIN CERTIFICATE") != 3 {
		t.Errorf("pem_bundle should be key, leaf, intermediate, root:\n%s", bundle)
	}
	noRoots := h.write("issue/web-server", map[string]interface{}{"common_name": "a.corp.local", "remove_roots_from_chain": true})
	if chain, _ := noRoots.Data["ca_chain"].([]string); len(chain) != 1 {
		t.Errorf("remove_roots_from_chain left %d entries", len(chain))
	}
	pk8 := h.write("issue/web-server", map[string]interface{}{"common_name": "a.corp.local", "private_key_format": "pkcs8"})
	if !strings.HasPrefix(respStr(pk8, "private_key"), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("pkcs8 PEM key = %.40q", respStr(pk8, "private_key"))
	}
}

func TestSignVerbatim(t *testing.T) {
	h := newHarness(t)
	h.rootCA(nil)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	resp := h.write("sign-verbatim", map[string]interface{}{"csr": newCSR(t, k, "anything goes", "not.allowed.anywhere"), "ext_key_usage": "ClientAuth", "ttl": "1h"})
	c := mustCert(t, respStr(resp, "certificate"))
	if c.Subject.CommonName != "anything goes" || len(c.DNSNames) != 1 || c.DNSNames[0] != "not.allowed.anywhere" {
		t.Errorf("verbatim subject %q DNS %v", c.Subject.CommonName, c.DNSNames)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("verbatim EKUs = %v", c.ExtKeyUsage)
	}
	h.write("roles/short", map[string]interface{}{"allow_any_name": true, "key_type": "ec", "max_ttl": "2h", "no_store": true})
	resp = h.write("sign-verbatim/short", map[string]interface{}{"csr": newCSR(t, k, "x"), "ttl": "5h"})
	c = mustCert(t, respStr(resp, "certificate"))
	if c.NotAfter.Sub(c.NotBefore) > 2*time.Hour+time.Minute {
		t.Errorf("sign-verbatim/<role> should use the role's max_ttl, got %v", c.NotAfter.Sub(c.NotBefore))
	}
	if h.read("cert/"+formatSerial(c.SerialNumber)) != nil {
		t.Error("no_store role's certificate was stored")
	}
	h.badRequest("sign-verbatim/missing", map[string]interface{}{"csr": newCSR(t, k, "x")}, "unknown role: missing")
}
