package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// TestEndToEndIssueFlowSurvivesRestart runs the documented CLI flow
// through HTTP with the Vault client, then restarts the server from the
// same data directory and checks issuers, certificates and revocations.
func TestEndToEndIssueFlowSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a full server")
	}
	// Vault lets a mount's max_lease_ttl exceed the server's; the server
	// here is given a 10-year maximum so the walkthrough's tunes apply
	// whichever way the core checks them.
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), MaxLeaseTTL: 87600 * time.Hour})
	c := s.Client
	for path, max := range map[string]string{"pki": "87600h", "pki_int": "43800h"} {
		if err := c.Sys().Mount(path, &api.MountInput{Type: "pki"}); err != nil {
			t.Fatalf("enable %s: %v", path, err)
		}
		if err := c.Sys().TuneMount(path, api.MountConfigInput{MaxLeaseTTL: max}); err != nil {
			t.Fatalf("tune %s: %v", path, err)
		}
	}
	write := func(path string, data map[string]interface{}) *api.Secret {
		t.Helper()
		sec, err := c.Logical().Write(path, data)
		if err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
		return sec
	}
	root := write("pki/root/generate/internal", map[string]interface{}{"common_name": "Corp Internal Root CA", "ttl": "87600h", "key_type": "ec", "key_bits": 384})
	csr := write("pki_int/intermediate/generate/internal", map[string]interface{}{"common_name": "Corp Intermediate CA", "key_type": "ec", "key_bits": 384}).Data["csr"].(string)
	signed := write("pki/root/sign-intermediate", map[string]interface{}{"csr": csr, "format": "pem_bundle", "ttl": "43800h"}).Data["certificate"].(string)
	write("pki_int/intermediate/set-signed", map[string]interface{}{"certificate": signed})
	write("pki_int/config/urls", map[string]interface{}{
		"issuing_certificates":    "https://coffer.example:8200/v1/pki_int/ca",
		"crl_distribution_points": "https://coffer.example:8200/v1/pki_int/crl",
	})
	write("pki_int/roles/web-server", map[string]interface{}{
		"allowed_domains": "corp.local", "allow_subdomains": true, "max_ttl": "720h", "key_type": "ec", "key_bits": 256,
		"require_cn": true, "allow_ip_sans": true, "server_flag": true, "client_flag": false,
	})
	leafSec := write("pki_int/issue/web-server", map[string]interface{}{"common_name": "api.corp.local", "ttl": "72h", "ip_sans": "10.0.1.50"})
	rootCert := parse(t, root.Data["certificate"].(string))
	intCert := parse(t, signed)
	leaf := parse(t, leafSec.Data["certificate"].(string))
	verify(t, rootCert, intCert, leaf)
	serial := leafSec.Data["serial_number"].(string)

	// The CA is served without a token, as raw PEM.
	anon := s.NewClient("")
	raw, err := anon.Logical().ReadRaw("pki/ca/pem")
	if err != nil {
		t.Fatalf("unauthenticated GET pki/ca/pem: %v", err)
	}
	body, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	if !parse(t, string(body)).Equal(rootCert) || !strings.HasPrefix(raw.Header.Get("Content-Type"), "application/pem-certificate-chain") {
		t.Fatalf("pki/ca/pem = %s (%s)", body, raw.Header.Get("Content-Type"))
	}

	write("pki_int/revoke", map[string]interface{}{"serial_number": serial})
	write("pki_int/roles/leased", map[string]interface{}{"allowed_domains": "corp.local", "allow_subdomains": true, "key_type": "ec", "generate_lease": true})
	leased := write("pki_int/issue/leased", map[string]interface{}{"common_name": "lease.corp.local", "ttl": "1h"})
	if leased.LeaseID == "" || !strings.HasPrefix(leased.LeaseID, "pki_int/issue/leased/") {
		t.Fatalf("generate_lease issue returned lease %q", leased.LeaseID)
	}

	s.Restart()
	c = s.Client
	list, err := c.Logical().List("pki_int/issuers")
	if err != nil || list == nil || len(list.Data["keys"].([]interface{})) != 2 {
		t.Fatalf("issuers after restart: %v, %v", list, err)
	}
	cert, err := c.Logical().Read("pki_int/cert/" + serial)
	if err != nil || cert == nil || fmt.Sprint(cert.Data["revocation_time"]) == "0" {
		t.Fatalf("revoked certificate after restart: %v, %v", cert, err)
	}
	again := write("pki_int/issue/web-server", map[string]interface{}{"common_name": "web.corp.local"})
	verify(t, rootCert, intCert, parse(t, again.Data["certificate"].(string)))

	if err := c.Sys().Revoke(leased.LeaseID); err != nil {
		t.Fatalf("revoke lease: %v", err)
	}
	crlResp, err := anon.Logical().ReadRaw("pki_int/crl")
	if err != nil {
		t.Fatalf("GET pki_int/crl: %v", err)
	}
	der, _ := io.ReadAll(crlResp.Body)
	crlResp.Body.Close()
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parse CRL: %v", err)
	}
	want := map[string]bool{serial: false, leased.Data["serial_number"].(string): false}
	for _, e := range crl.RevokedCertificateEntries {
		for s := range want {
			if serialString(e.SerialNumber.Bytes()) == s {
				want[s] = true
			}
		}
	}
	for s, ok := range want {
		if !ok {
			t.Errorf("serial %s missing from the CRL after restart and lease revocation", s)
		}
	}
}

func serialString(b []byte) string {
	parts := make([]string, len(b))
	const hexdigits = "0123456789abcdef"
	for i, c := range b {
		parts[i] = string([]byte{hexdigits[c>>4], hexdigits[c&15]})
	}
	return strings.Join(parts, ":")
}

func parse(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatalf("no PEM in %q", s)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func verify(t *testing.T, root, inter, leaf *x509.Certificate) {
	t.Helper()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inters.AddCert(inter)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters}); err != nil {
		t.Fatalf("verify leaf: %v", err)
	}
}
