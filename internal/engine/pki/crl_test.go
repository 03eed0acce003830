package pki

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// fetchCRL reads the raw DER CRL at path and checks its signature.
func fetchCRL(t *testing.T, h *harness, path string, issuer *x509.Certificate) *x509.RevocationList {
	t.Helper()
	resp := h.read(path)
	if resp == nil || resp.RawContentType != "application/pkix-crl" || resp.RawStatus != 200 {
		t.Fatalf("GET %s: %+v", path, resp)
	}
	crl, err := x509.ParseRevocationList(resp.Raw)
	if err != nil {
		t.Fatalf("parse CRL: %v", err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	return crl
}

func listed(crl *x509.RevocationList, serial *big.Int) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

func TestRevokeAndCRL(t *testing.T) {
	c := newChain(t)
	h := c.inter
	issue := func() *x509.Certificate {
		return mustCert(t, respStr(h.write("issue/web-server", map[string]interface{}{"common_name": "api.corp.local"}), "certificate"))
	}
	a, b, keep := issue(), issue(), issue()

	empty := fetchCRL(t, h, "crl", c.intCert)
	if len(empty.RevokedCertificateEntries) != 0 {
		t.Fatalf("fresh CRL has %d entries", len(empty.RevokedCertificateEntries))
	}

	resp := h.write("revoke", map[string]interface{}{"serial_number": formatSerial(a.SerialNumber)})
	revokedAt, _ := resp.Data["revocation_time"].(int64)
	if revokedAt == 0 || resp.Data["state"] != "revoked" || respStr(resp, "revocation_time_rfc3339") == "" {
		t.Fatalf("revoke response = %v", resp.Data)
	}
	h.write("revoke", map[string]interface{}{"certificate": certPEM(b.Raw)})

	crl := fetchCRL(t, h, "crl", c.intCert)
	if !listed(crl, a.SerialNumber) || !listed(crl, b.SerialNumber) || listed(crl, keep.SerialNumber) {
		t.Fatalf("CRL after revoke: a=%v b=%v keep=%v", listed(crl, a.SerialNumber), listed(crl, b.SerialNumber), listed(crl, keep.SerialNumber))
	}
	if crl.NextUpdate.Sub(crl.ThisUpdate) != 72*time.Hour {
		t.Errorf("CRL validity %v, want the default 72h", crl.NextUpdate.Sub(crl.ThisUpdate))
	}

	again := h.write("revoke", map[string]interface{}{"serial_number": strings.ReplaceAll(formatSerial(a.SerialNumber), ":", "-")})
	if again.Data["revocation_time"] != revokedAt {
		t.Errorf("second revoke changed the time: %v != %v", again.Data["revocation_time"], revokedAt)
	}

	h.write("crl/rotate", nil)
	rotated := fetchCRL(t, h, "crl", c.intCert)
	if rotated.Number.Cmp(crl.Number) <= 0 || !listed(rotated, a.SerialNumber) || !listed(rotated, b.SerialNumber) {
		t.Fatalf("rotated CRL number %v (was %v), entries %d", rotated.Number, crl.Number, len(rotated.RevokedCertificateEntries))
	}

	pemResp := h.read("crl/pem")
	if pemResp.RawContentType != "application/x-pem-file" || !strings.HasPrefix(string(pemResp.Raw), "-----BEGIN X509 CRL-----") {
		t.Fatalf("crl/pem = %q (%s)", pemResp.Raw, pemResp.RawContentType)
	}
	jsonCRL := h.read("cert/crl")
	if !strings.Contains(respStr(jsonCRL, "certificate"), "X509 CRL") {
		t.Errorf("cert/crl = %v", jsonCRL.Data)
	}
	issuerCRL := h.read("issuer/default/crl")
	if respStr(issuerCRL, "crl") != string(pemResp.Raw) {
		t.Error("issuer/default/crl differs from crl/pem")
	}

	out := opensslVerify(t, c.rootCert, c.intCert, a, string(pemResp.Raw)+"\n"+rootCRL(t, c))
	if !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl did not report the revocation:\n%s", out)
	}

	st := h.read("cert/" + formatSerial(a.SerialNumber))
	if st.Data["revocation_time"] != revokedAt || respStr(st, "issuer_id") == "" {
		t.Errorf("cert/<serial> of a revoked cert = %v", st.Data)
	}
	list, err := h.do(logical.ListOperation, "certs/revoked/", nil)
	if err != nil || len(list.Data["keys"].([]string)) != 2 {
		t.Errorf("certs/revoked = %v, %v", list, err)
	}
}

// rootCRL is the root mount's CRL in PEM, which openssl needs with
// -crl_check_all and harmlessly accepts with -crl_check.
func rootCRL(t *testing.T, c *chain) string {
	return string(c.root.read("crl/pem").Raw)
}

func TestRevokeErrors(t *testing.T) {
	c := newChain(t)
	h := c.inter
	h.badRequest("revoke", map[string]interface{}{}, "The serial number or certificate to revoke must be provided.")
	h.badRequest("revoke", map[string]interface{}{"serial_number": "01:02", "certificate": "x"}, "Must provide either the certificate or the serial to revoke; not both.")
	h.badRequest("revoke", map[string]interface{}{"serial_number": "01:02:03"}, "certificate with serial 01:02:03 not found")
	h.badRequest("revoke", map[string]interface{}{"serial_number": formatSerial(c.intCert.SerialNumber)}, "to its own CRL is not allowed")
	other := newHarness(t)
	other.rootCA(nil)
	other.write("roles/r", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	foreign := respStr(other.write("issue/r", map[string]interface{}{"common_name": "x.example.com"}), "certificate")
	h.badRequest("revoke", map[string]interface{}{"certificate": foreign}, "unable to verify signature on presented cert from any present issuer in this mount")
	h.badRequest("revoke", map[string]interface{}{"certificate": "not pem"}, "certificate could not be parsed")
}

func TestGenerateLeaseRevokesOnLeaseEnd(t *testing.T) {
	c := newChain(t)
	h := c.inter
	h.write("roles/leased", map[string]interface{}{"allowed_domains": "corp.local", "allow_subdomains": true, "key_type": "ec", "generate_lease": true, "max_ttl": "1h"})
	resp := h.write("issue/leased", map[string]interface{}{"common_name": "a.corp.local", "ttl": "30m"})
	if resp.Secret == nil {
		t.Fatal("generate_lease=true gave no lease")
	}
	if resp.Secret.InternalData["secret_type"] != secretTypeCert || resp.Secret.InternalData["serial_number"] != respStr(resp, "serial_number") {
		t.Fatalf("lease internal data = %v", resp.Secret.InternalData)
	}
	if resp.Secret.TTL < 29*time.Minute || resp.Secret.TTL > 30*time.Minute || resp.Secret.Renewable {
		t.Errorf("lease TTL %v renewable %v, want about 30m and not renewable", resp.Secret.TTL, resp.Secret.Renewable)
	}
	leaf := mustCert(t, respStr(resp, "certificate"))
	if listed(fetchCRL(t, h, "crl", c.intCert), leaf.SerialNumber) {
		t.Fatal("certificate on the CRL before its lease was revoked")
	}
	if _, err := h.do(logical.RevokeOperation, "issue/leased", nil); err == nil {
		t.Fatal("revoke without a secret must fail")
	}
	out, err := h.b.HandleRequest(t.Context(), &logical.Request{Operation: logical.RevokeOperation, Path: "issue/leased", Storage: h.s, Secret: resp.Secret})
	if err != nil || out != nil {
		t.Fatalf("lease revoke: %v, %v", out, err)
	}
	if !listed(fetchCRL(t, h, "crl", c.intCert), leaf.SerialNumber) {
		t.Fatal("certificate not on the CRL after its lease was revoked")
	}
	// Revoking the lease again (a retry) is harmless.
	if _, err := h.b.HandleRequest(t.Context(), &logical.Request{Operation: logical.RevokeOperation, Path: "issue/leased", Storage: h.s, Secret: resp.Secret}); err != nil {
		t.Fatalf("second lease revoke: %v", err)
	}
}

func TestCRLConfig(t *testing.T) {
	c := newChain(t)
	h := c.inter
	got := h.read("config/crl").Data
	if got["expiry"] != "72h" || got["disable"] != false || got["auto_rebuild"] != false || got["ocsp_expiry"] != "12h" {
		t.Fatalf("config/crl defaults = %v", got)
	}
	h.badRequest("config/crl", map[string]interface{}{"auto_rebuild": true, "auto_rebuild_grace_period": "80h"}, "must be strictly shorter than CRL expiry")
	h.badRequest("config/crl", map[string]interface{}{"expiry": "soon"}, "given expiry could not be decoded")
	h.write("config/crl", map[string]interface{}{"expiry": "24h", "auto_rebuild": true, "auto_rebuild_grace_period": "1h"})

	leaf := mustCert(t, respStr(h.write("issue/web-server", map[string]interface{}{"common_name": "x.corp.local"}), "certificate"))
	h.write("revoke", map[string]interface{}{"serial_number": formatSerial(leaf.SerialNumber)})
	if listed(fetchCRL(t, h, "crl", c.intCert), leaf.SerialNumber) {
		t.Fatal("with auto_rebuild the CRL should wait for the next rebuild")
	}
	// The periodic tick rebuilds once the CRL (built with the old 72h
	// expiry) comes within the grace period.
	h.b.now = func() time.Time { return time.Now().Add(71*time.Hour + 30*time.Minute) }
	if _, err := h.b.HandleRequest(t.Context(), &logical.Request{Operation: logical.RollbackOperation, Storage: h.s}); err != nil {
		t.Fatal(err)
	}
	h.b.now = time.Now
	crl := fetchCRL(t, h, "crl", c.intCert)
	if !listed(crl, leaf.SerialNumber) {
		t.Fatal("auto rebuild did not publish the revocation")
	}
	if crl.NextUpdate.Sub(crl.ThisUpdate) != 24*time.Hour {
		t.Errorf("CRL validity %v, want 24h", crl.NextUpdate.Sub(crl.ThisUpdate))
	}

	h.write("config/crl", map[string]interface{}{"disable": true})
	if n := len(fetchCRL(t, h, "crl", c.intCert).RevokedCertificateEntries); n != 0 {
		t.Errorf("disabled CRL lists %d certificates", n)
	}
}

// TestLeaseRevocationBurstSignsOneCRL revokes many leased certificates in a
// row: no CRL is signed per revocation; the next fetch signs one CRL that
// lists them all, and the periodic tick does the same when nobody fetches.
func TestLeaseRevocationBurstSignsOneCRL(t *testing.T) {
	c := newChain(t)
	h := c.inter
	h.write("roles/leased", map[string]interface{}{"allowed_domains": "corp.local", "allow_subdomains": true, "key_type": "ec", "generate_lease": true, "max_ttl": "1h"})
	revokeLeases := func(n int) []*big.Int {
		var serials []*big.Int
		for i := range n {
			resp := h.write("issue/leased", map[string]interface{}{"common_name": fmt.Sprintf("h%d.corp.local", i)})
			serials = append(serials, mustCert(t, respStr(resp, "certificate")).SerialNumber)
			if _, err := h.b.HandleRequest(t.Context(), &logical.Request{Operation: logical.RevokeOperation, Path: "issue/leased", Storage: h.s, Secret: resp.Secret}); err != nil {
				t.Fatal(err)
			}
		}
		return serials
	}
	before := fetchCRL(t, h, "crl", c.intCert).Number.Int64()

	serials := revokeLeases(10)
	if e, _ := h.s.Get(t.Context(), crlPendingPath); e == nil {
		t.Fatal("no pending marker after lease revocations")
	}
	crl := fetchCRL(t, h, "crl", c.intCert)
	if got := crl.Number.Int64(); got != before+1 {
		t.Fatalf("CRL number went from %d to %d over 10 lease revocations, want one rebuild", before, got)
	}
	for _, s := range serials {
		if !listed(crl, s) {
			t.Fatalf("serial %x missing from the CRL", s)
		}
	}
	if e, _ := h.s.Get(t.Context(), crlPendingPath); e != nil {
		t.Fatal("pending marker left after the rebuild")
	}
	if again := fetchCRL(t, h, "crl", c.intCert).Number.Int64(); again != before+1 {
		t.Fatalf("a fetch without pending revocations rebuilt the CRL (number %d)", again)
	}

	// Without a fetch, the periodic tick rebuilds.
	serials = revokeLeases(3)
	if _, err := h.b.HandleRequest(t.Context(), &logical.Request{Operation: logical.RollbackOperation, Path: "", Storage: h.s}); err != nil {
		t.Fatal(err)
	}
	if e, _ := h.s.Get(t.Context(), crlPendingPath); e != nil {
		t.Fatal("periodic tick left the pending marker")
	}
	id := respStr(h.read("issuer/default"), "issuer_id")
	e, err := h.s.Get(t.Context(), crlPrefix+id)
	if err != nil || e == nil {
		t.Fatalf("stored CRL: %v, %v", e, err)
	}
	stored, err := x509.ParseRevocationList(e.Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range serials {
		if !listed(stored, s) {
			t.Fatalf("serial %x missing from the CRL rebuilt by the periodic tick", s)
		}
	}

	// Concurrent fetches after a burst sign one CRL between them.
	serials = revokeLeases(3)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := h.do(logical.ReadOperation, "crl", nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	crl = fetchCRL(t, h, "crl", c.intCert)
	if got, want := crl.Number.Int64(), stored.Number.Int64()+1; got != want {
		t.Fatalf("8 concurrent fetches took the CRL number from %d to %d, want one rebuild", want-1, got)
	}
	for _, s := range serials {
		if !listed(crl, s) {
			t.Fatalf("serial %x missing from the CRL", s)
		}
	}
}
