package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// chain is a root mount and an intermediate mount set up as in the
// issue's walkthrough.
type chain struct {
	root, inter *harness
	rootCert    *x509.Certificate
	intCert     *x509.Certificate
}

func newChain(t *testing.T) *chain {
	t.Helper()
	c := &chain{root: newHarness(t), inter: newHarness(t)}
	resp := c.root.write("root/generate/internal", map[string]interface{}{
		"common_name": "Corp Internal Root CA", "ttl": "87600h", "key_type": "ec", "key_bits": 384,
	})
	c.rootCert = mustCert(t, respStr(resp, "certificate"))
	csr := respStr(c.inter.write("intermediate/generate/internal", map[string]interface{}{
		"common_name": "Corp Intermediate CA", "key_type": "ec", "key_bits": 384,
	}), "csr")
	signed := c.root.write("root/sign-intermediate", map[string]interface{}{"csr": csr, "format": "pem_bundle", "ttl": "43800h"})
	bundle := respStr(signed, "certificate")
	if n := strings.Count(bundle, "BEGIN CERTIFICATE"); n != 2 {
		t.Fatalf("pem_bundle certificate holds %d certificates, want 2 (intermediate and root)", n)
	}
	c.intCert = mustCert(t, bundle)
	c.inter.write("intermediate/set-signed", map[string]interface{}{"certificate": bundle})
	c.inter.write("config/urls", map[string]interface{}{
		"issuing_certificates":    "https://coffer.example:8200/v1/pki_int/ca",
		"crl_distribution_points": "https://coffer.example:8200/v1/pki_int/crl",
	})
	c.inter.write("roles/web-server", map[string]interface{}{
		"allowed_domains": "corp.local", "allow_subdomains": true, "max_ttl": "720h", "key_type": "ec", "key_bits": 256,
		"require_cn": true, "allow_ip_sans": true, "server_flag": true, "client_flag": false,
	})
	c.inter.write("roles/service-mesh", map[string]interface{}{
		"allowed_domains": "mesh.corp.local", "allow_subdomains": true, "max_ttl": "24h", "key_type": "ec", "key_bits": 256,
		"server_flag": true, "client_flag": true,
	})
	return c
}

func (c *chain) verify(t *testing.T, leaf *x509.Certificate, usage x509.ExtKeyUsage) {
	t.Helper()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(c.rootCert)
	inters.AddCert(c.intCert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		t.Fatalf("x509.Verify: %v", err)
	}
}

func TestIssueFlowRootIntermediateLeaf(t *testing.T) {
	c := newChain(t)
	start := time.Now()
	resp := c.inter.write("issue/web-server", map[string]interface{}{"common_name": "api.corp.local", "ttl": "72h", "ip_sans": "10.0.1.50"})
	if resp.Secret != nil {
		t.Fatalf("issue without generate_lease returned a lease: %+v", resp.Secret)
	}
	leaf := mustCert(t, respStr(resp, "certificate"))
	c.verify(t, leaf, x509.ExtKeyUsageServerAuth)

	if got := leaf.DNSNames; len(got) != 1 || got[0] != "api.corp.local" {
		t.Errorf("DNS SANs = %v, want [api.corp.local]", got)
	}
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.0.1.50")) {
		t.Errorf("IP SANs = %v, want [10.0.1.50]", leaf.IPAddresses)
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement | x509.KeyUsageKeyEncipherment; leaf.KeyUsage != want {
		t.Errorf("key usage = %v, want %v", leaf.KeyUsage, want)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("EKUs = %v, want [ServerAuth] (client_flag=false)", leaf.ExtKeyUsage)
	}
	if got := leaf.IssuingCertificateURL; len(got) != 1 || got[0] != "https://coffer.example:8200/v1/pki_int/ca" {
		t.Errorf("AIA issuing certificates = %v", got)
	}
	if got := leaf.CRLDistributionPoints; len(got) != 1 || got[0] != "https://coffer.example:8200/v1/pki_int/crl" {
		t.Errorf("CRL distribution points = %v", got)
	}
	if d := leaf.NotAfter.Sub(start); d < 72*time.Hour-time.Minute || d > 72*time.Hour+time.Minute {
		t.Errorf("lifetime = %v, want 72h", d)
	}
	if d := start.Sub(leaf.NotBefore); d < 25*time.Second || d > 40*time.Second {
		t.Errorf("NotBefore backdated by %v, want about 30s", d)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("leaf key = %T, want EC P-256", leaf.PublicKey)
	}
	if leaf.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Errorf("leaf signature = %v, want ECDSA-SHA384 (P-384 issuer)", leaf.SignatureAlgorithm)
	}
	key, err := parsePrivateKey([]byte(respStr(resp, "private_key")))
	if err != nil || !samePublicKey(key.Public(), leaf.PublicKey) {
		t.Errorf("private_key does not match the certificate: %v", err)
	}
	if respStr(resp, "private_key_type") != "ec" || !strings.Contains(respStr(resp, "private_key"), "EC PRIVATE KEY") {
		t.Errorf("private key type/encoding = %q", respStr(resp, "private_key_type"))
	}
	if got, want := respStr(resp, "serial_number"), formatSerial(leaf.SerialNumber); got != want || !strings.Contains(got, ":") {
		t.Errorf("serial_number = %q, want %q", got, want)
	}
	if exp, _ := resp.Data["expiration"].(int64); exp != leaf.NotAfter.Unix() {
		t.Errorf("expiration = %v, want %d", resp.Data["expiration"], leaf.NotAfter.Unix())
	}
	chain, _ := resp.Data["ca_chain"].([]string)
	if len(chain) != 2 || mustCert(t, chain[0]).Equal(c.intCert) == false || !mustCert(t, chain[1]).Equal(c.rootCert) {
		t.Errorf("ca_chain should be [intermediate, root], got %d entries", len(chain))
	}
	if !mustCert(t, respStr(resp, "issuing_ca")).Equal(c.intCert) {
		t.Error("issuing_ca is not the intermediate")
	}
	opensslVerify(t, c.rootCert, c.intCert, leaf, "")

	mesh := mustCert(t, respStr(c.inter.write("issue/service-mesh", map[string]interface{}{"common_name": "svc-a.mesh.corp.local"}), "certificate"))
	c.verify(t, mesh, x509.ExtKeyUsageClientAuth)
	if len(mesh.ExtKeyUsage) != 2 {
		t.Errorf("service-mesh EKUs = %v, want server and client auth", mesh.ExtKeyUsage)
	}
	if d := mesh.NotAfter.Sub(start); d > 24*time.Hour+time.Minute {
		t.Errorf("service-mesh lifetime %v exceeds the role max_ttl of 24h", d)
	}
}

func TestSetSignedImportsChain(t *testing.T) {
	c := newChain(t)
	list, err := c.inter.do(logical.ListOperation, "issuers/", nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := list.Data["keys"].([]string)
	if len(keys) != 2 {
		t.Fatalf("issuers after set-signed = %v, want intermediate and root", keys)
	}
	def := c.inter.read("config/issuers")
	id := respStr(def, "default")
	issuer := c.inter.read("issuer/" + id)
	if !mustCert(t, respStr(issuer, "certificate")).Equal(c.intCert) {
		t.Fatal("default issuer is not the intermediate")
	}
	if respStr(issuer, "key_id") == "" {
		t.Error("intermediate issuer has no key after set-signed")
	}
	if chain, _ := issuer.Data["ca_chain"].([]string); len(chain) != 2 {
		t.Errorf("intermediate ca_chain has %d entries, want 2", len(chain))
	}
	info := list.Data["key_info"].(map[string]interface{})
	defaults := 0
	for _, v := range info {
		if v.(map[string]interface{})["is_default"] == true {
			defaults++
		}
	}
	if defaults != 1 {
		t.Errorf("%d issuers marked default, want 1", defaults)
	}
	again := c.inter.write("intermediate/set-signed", map[string]interface{}{"certificate": certPEM(c.intCert.Raw)})
	if ex, _ := again.Data["existing_issuers"].([]string); len(ex) != 1 {
		t.Errorf("re-importing reported existing_issuers %v, want one", again.Data["existing_issuers"])
	}
}

// opensslVerify runs `openssl verify -CAfile root.pem -untrusted int.pem
// leaf.pem` (plus a CRL check when crl is given) and returns its output.
func opensslVerify(t *testing.T, root, inter, leaf *x509.Certificate, crl string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := []string{"verify", "-CAfile", write("root.pem", certPEM(root.Raw)), "-untrusted", write("int.pem", certPEM(inter.Raw))}
	if crl != "" {
		args = append(args, "-crl_check", "-CRLfile", write("crl.pem", crl))
	}
	args = append(args, write("leaf.pem", certPEM(leaf.Raw)))
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if crl == "" && (err != nil || !strings.Contains(string(out), "leaf.pem: OK")) {
		t.Fatalf("openssl verify failed: %v\n%s", err, out)
	}
	return string(out)
}
