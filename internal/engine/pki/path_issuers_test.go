package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestRotateAndReplaceRoot(t *testing.T) {
	h := newHarness(t)
	old := h.rootCA(nil)
	oldID := respStr(h.read("config/issuers"), "default")
	resp := h.write("root/rotate/internal", map[string]interface{}{"common_name": "Test Root G2", "key_type": "ec", "ttl": "87600h"})
	if respStr(resp, "issuer_name") != "next" {
		t.Fatalf("rotated root named %q, want next", respStr(resp, "issuer_name"))
	}
	if respStr(h.read("config/issuers"), "default") != oldID {
		t.Fatal("rotation must not change the default issuer")
	}
	h.write("roles/r", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	leaf := mustCert(t, respStr(h.write("issue/r", map[string]interface{}{"common_name": "a.example.com"}), "certificate"))
	if leaf.CheckSignatureFrom(old) != nil {
		t.Fatal("before replace, leaves come from the old root")
	}
	h.write("root/replace", nil)
	if got := respStr(h.read("config/issuers"), "default"); got != respStr(resp, "issuer_id") {
		t.Fatalf("default after replace = %s, want %s", got, respStr(resp, "issuer_id"))
	}
	leaf = mustCert(t, respStr(h.write("issue/r", map[string]interface{}{"common_name": "a.example.com"}), "certificate"))
	if leaf.CheckSignatureFrom(mustCert(t, respStr(resp, "certificate"))) != nil {
		t.Fatal("after replace, leaves come from the new root")
	}
	ca := h.read("ca")
	if ca.RawContentType != "application/pkix-cert" || !mustCert(t, certPEM(ca.Raw)).Equal(mustCert(t, respStr(resp, "certificate"))) {
		t.Error("GET ca does not follow the new default")
	}
	issuer := h.write("issuer/next", map[string]interface{}{"issuer_name": "g2", "leaf_not_after_behavior": "truncate"})
	if respStr(issuer, "issuer_name") != "g2" || respStr(issuer, "leaf_not_after_behavior") != "truncate" {
		t.Fatalf("issuer update = %v", issuer.Data)
	}
	h.badRequest("issuer/g2", map[string]interface{}{"issuer_name": "g1x", "usage": "teleport"}, "Unable to parse specified usages")
	h.write("issuer/"+oldID, map[string]interface{}{"issuer_name": "g1"})
	h.badRequest("issuer/g2", map[string]interface{}{"issuer_name": "g1"}, "issuer name already in use")
	h.badRequest("issuer/g2", map[string]interface{}{"issuer_name": "default"}, "is reserved")
	h.badRequest("issuer/nope", nil, "unable to find PKI issuer for reference: nope")

	// POST replaces every setting (as in Vault); PATCH changes one.
	if _, err := h.do(logical.PatchOperation, "issuer/g2", map[string]interface{}{"usage": "read-only,crl-signing"}); err != nil {
		t.Fatal(err)
	}
	if got := h.read("issuer/g2"); respStr(got, "issuer_name") != "g2" || respStr(got, "leaf_not_after_behavior") != "truncate" {
		t.Fatalf("patch changed other settings: %v", got.Data)
	}
	h.badRequest("issue/r", map[string]interface{}{"common_name": "a.example.com"}, "requested usage issuing-certificates")
	h.write("issuer/g2", map[string]interface{}{"issuer_name": "g2"})
	if got := h.read("issuer/g2"); respStr(got, "leaf_not_after_behavior") != "err" || respStr(got, "usage") != "crl-signing,issuing-certificates,ocsp-signing,read-only" {
		t.Fatalf("post should reset omitted settings: %v", got.Data)
	}

	del, err := h.do(logical.DeleteOperation, "issuer/g1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if del != nil && len(del.Warnings) > 0 && strings.Contains(del.Warnings[0], "default issuer") {
		t.Error("deleting a non-default issuer warned about the default")
	}
	list, _ := h.do(logical.ListOperation, "issuers/", nil)
	if keys, _ := list.Data["keys"].([]string); len(keys) != 1 {
		t.Fatalf("issuers after delete = %v", keys)
	}
	del, _ = h.do(logical.DeleteOperation, "issuer/g2", nil)
	if del == nil || !strings.Contains(strings.Join(del.Warnings, "|"), "this was configured as the default issuer") {
		t.Errorf("deleting the default issuer should warn: %+v", del)
	}
}

func TestIssuerFetchForms(t *testing.T) {
	h := newHarness(t)
	root := h.rootCA(map[string]interface{}{"issuer_name": "root-a"})
	pemResp := h.read("issuer/root-a/pem")
	if pemResp.RawContentType != "application/pem-certificate-chain" || !mustCert(t, string(pemResp.Raw)).Equal(root) {
		t.Fatalf("issuer pem = %+v", pemResp)
	}
	if der := h.read("issuer/default/der"); der.RawContentType != "application/pkix-cert" || string(der.Raw) != string(root.Raw) {
		t.Fatal("issuer der differs")
	}
	js := h.read("issuer/root-a/json")
	if respStr(js, "issuer_name") != "root-a" || !mustCert(t, respStr(js, "certificate")).Equal(root) {
		t.Fatalf("issuer json = %v", js.Data)
	}
	full := h.read("issuer/root-a")
	for _, k := range []string{"issuer_id", "key_id", "ca_chain", "manual_chain", "usage", "revocation_signature_algorithm", "revoked", "issuing_certificates", "crl_distribution_points", "ocsp_servers"} {
		if _, ok := full.Data[k]; !ok {
			t.Errorf("issuer read lacks %q", k)
		}
	}
	if full.Data["usage"] != "crl-signing,issuing-certificates,ocsp-signing,read-only" {
		t.Errorf("usage = %v", full.Data["usage"])
	}
	chain := h.read("ca_chain")
	if chain.RawStatus != 200 || !mustCert(t, string(chain.Raw)).Equal(root) {
		t.Errorf("ca_chain = %+v", chain)
	}
	if j := h.read("cert/ca_chain"); respStr(j, "ca_chain") != strings.TrimSpace(string(chain.Raw)) {
		t.Errorf("cert/ca_chain = %v", j.Data)
	}
	if j := h.read("cert/ca"); !mustCert(t, respStr(j, "certificate")).Equal(root) {
		t.Error("cert/ca is not the root")
	}
	if p := h.read("ca/pem"); p.RawContentType != "application/pem-certificate-chain" || !mustCert(t, string(p.Raw)).Equal(root) {
		t.Error("ca/pem is not the root")
	}

	h.write("roles/r", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	leaf := mustCert(t, respStr(h.write("issue/r", map[string]interface{}{"common_name": "a.example.com"}), "certificate"))
	hyphen := strings.ReplaceAll(formatSerial(leaf.SerialNumber), ":", "-")
	list, _ := h.do(logical.ListOperation, "certs/", nil)
	keys, _ := list.Data["keys"].([]string)
	found := false
	for _, k := range keys {
		found = found || k == hyphen
	}
	if !found || len(keys) != 2 {
		t.Errorf("certs list %v should hold the root and %s", keys, hyphen)
	}
	if raw := h.read("cert/" + hyphen + "/raw"); string(raw.Raw) != string(leaf.Raw) {
		t.Error("cert/<serial>/raw is not the leaf's DER")
	}
	if raw := h.read("cert/" + formatSerial(leaf.SerialNumber) + "/raw/pem"); !mustCert(t, string(raw.Raw)).Equal(leaf) {
		t.Error("cert/<serial>/raw/pem is not the leaf")
	}
	if j := h.read("cert/" + formatSerial(leaf.SerialNumber)); j.Data["revocation_time"] != int64(0) || !mustCert(t, respStr(j, "certificate")).Equal(leaf) {
		t.Errorf("cert/<serial> = %v", j.Data)
	}
	if missing := h.read("cert/01:02:03"); missing != nil {
		t.Errorf("unknown serial should be a 404, got %v", missing.Data)
	}

	empty := newHarness(t)
	if ca := empty.read("ca"); ca.RawStatus != 204 || len(ca.Raw) != 0 {
		t.Errorf("GET ca on an empty mount = %+v, want 204", ca)
	}
	if crl := empty.read("crl"); crl.RawStatus != 204 {
		t.Errorf("GET crl on an empty mount = %+v, want 204", crl)
	}
}

func TestKeysAndExistingKeyRoot(t *testing.T) {
	h := newHarness(t)
	gen := h.write("keys/generate/exported", map[string]interface{}{"key_type": "ec", "key_bits": 384, "key_name": "k1"})
	keyID := respStr(gen, "key_id")
	if respStr(gen, "key_type") != "ec" || !strings.Contains(respStr(gen, "private_key"), "EC PRIVATE KEY") {
		t.Fatalf("keys/generate/exported = %v", gen.Data)
	}
	if got := respStr(h.read("config/keys"), "default"); got != keyID {
		t.Errorf("first key should become the default: %s", got)
	}
	k := h.read("key/k1")
	if respStr(k, "key_id") != keyID || len(respStr(k, "subject_key_id")) != 59 {
		t.Errorf("key read = %v", k.Data)
	}
	root := mustCert(t, respStr(h.write("root/generate/existing", map[string]interface{}{"common_name": "R", "key_ref": "k1"}), "certificate"))
	if pub, ok := root.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P384() {
		t.Fatal("root did not use the existing P-384 key")
	}
	h.badRequest("key/k1", map[string]interface{}{"key_name": "bad name"}, "key name contained invalid characters")
	h.write("key/k1", map[string]interface{}{"key_name": "k-renamed"})
	if _, err := h.do(logical.DeleteOperation, "key/k-renamed", nil); err == nil || !strings.Contains(err.Error(), "in use by issuer") {
		t.Errorf("deleting a key in use: %v", err)
	}
	list, _ := h.do(logical.ListOperation, "keys/", nil)
	if info := list.Data["key_info"].(map[string]interface{}); info[keyID].(map[string]interface{})["key_name"] != "k-renamed" {
		t.Errorf("keys list info = %v", info)
	}
	imp := h.write("keys/import", map[string]interface{}{"pem_bundle": respStr(gen, "private_key")})
	if respStr(imp, "key_id") != keyID || len(imp.Warnings) == 0 {
		t.Errorf("re-importing a known key = %v %v", imp.Data, imp.Warnings)
	}
}

func TestExportedRootAndImport(t *testing.T) {
	h := newHarness(t)
	resp := h.write("root/generate/exported", map[string]interface{}{"common_name": "Exported Root", "key_type": "rsa", "format": "pem_bundle", "ttl": "24h"})
	bundle := respStr(resp, "certificate")
	if respStr(resp, "private_key_type") != "rsa" || !strings.HasPrefix(bundle, "-----BEGIN RSA PRIVATE KEY-----") || !strings.Contains(bundle, "BEGIN CERTIFICATE") {
		t.Fatalf("exported pem_bundle root = %.80q", bundle)
	}
	if respStr(resp, "issuing_ca") == "" || respStr(resp, "key_id") == "" || respStr(resp, "issuer_id") == "" {
		t.Errorf("root response lacks ids: %v", resp.Data)
	}
	found := false
	for _, w := range resp.Warnings {
		found = found || strings.Contains(w, "authority information access (AIA)")
	}
	if !found {
		t.Errorf("missing AIA warning: %v", resp.Warnings)
	}
	other := newHarness(t)
	imp := other.write("config/ca", map[string]interface{}{"pem_bundle": bundle})
	if len(imp.Data["imported_issuers"].([]string)) != 1 || len(imp.Data["imported_keys"].([]string)) != 1 {
		t.Fatalf("config/ca = %v", imp.Data)
	}
	other.write("roles/r", map[string]interface{}{"allow_any_name": true})
	leaf := mustCert(t, respStr(other.write("issue/r", map[string]interface{}{"common_name": "a.example.com", "ttl": "1h"}), "certificate"))
	if leaf.CheckSignatureFrom(mustCert(t, bundle[strings.Index(bundle, "-----BEGIN CERTIFICATE"):])) != nil {
		t.Fatal("imported CA does not sign")
	}
	other.badRequest("config/ca", map[string]interface{}{"pem_bundle": "/tmp/ca.pem"}, "provided data for import was too short")
	other.badRequest("intermediate/set-signed", map[string]interface{}{"certificate": bundle}, "private keys found in the PEM bundle but not allowed")
	other.badRequest("config/ca", map[string]interface{}{"pem_bundle": respStr(other.write("issue/r", map[string]interface{}{"common_name": "b.example.com", "ttl": "1h"}), "certificate")}, "refusing to import non-CA certificate")

	del, err := other.do(logical.DeleteOperation, "root", nil)
	if err != nil || del == nil || !strings.Contains(del.Warnings[0], "DELETE /root deletes all keys and issuers") {
		t.Fatalf("DELETE root = %+v, %v", del, err)
	}
	if list, _ := other.do(logical.ListOperation, "issuers/", nil); len(list.Data["keys"].([]string)) != 0 {
		t.Error("issuers remain after DELETE root")
	}
	if list, _ := other.do(logical.ListOperation, "keys/", nil); len(list.Data["keys"].([]string)) != 0 {
		t.Error("keys remain after DELETE root")
	}
}

func TestSignSelfIssued(t *testing.T) {
	h := newHarness(t)
	root := h.rootCA(nil)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "Self Issued"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	resp := h.write("root/sign-self-issued", map[string]interface{}{"certificate": certPEM(der)})
	signed := mustCert(t, respStr(resp, "certificate"))
	if signed.CheckSignatureFrom(root) != nil || signed.Subject.CommonName != "Self Issued" {
		t.Fatal("self-issued certificate not re-signed by the root")
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, tmpl, key.Public(), key)
	h.badRequest("root/sign-self-issued", map[string]interface{}{"certificate": certPEM(leafDER)}, "given certificate is not a CA certificate")
}

func TestTidy(t *testing.T) {
	c := newChain(t)
	h := c.inter
	real := h.b.now
	h.b.now = func() time.Time { return real().Add(-10 * 24 * time.Hour) }
	old := mustCert(t, respStr(h.write("issue/web-server", map[string]interface{}{"common_name": "old.corp.local", "ttl": "1h"}), "certificate"))
	oldRevoked := mustCert(t, respStr(h.write("issue/web-server", map[string]interface{}{"common_name": "old2.corp.local", "ttl": "1h"}), "certificate"))
	h.write("revoke", map[string]interface{}{"serial_number": formatSerial(oldRevoked.SerialNumber)})
	h.b.now = real
	fresh := mustCert(t, respStr(h.write("issue/web-server", map[string]interface{}{"common_name": "new.corp.local"}), "certificate"))

	if s := h.read("tidy-status"); s.Data["state"] != "Inactive" {
		t.Fatalf("tidy-status before any run = %v", s.Data)
	}
	resp := h.write("tidy", map[string]interface{}{"tidy_cert_store": true, "tidy_revoked_certs": true, "safety_buffer": "1h"})
	if resp.RawStatus != 202 {
		t.Fatalf("tidy status %d, want 202", resp.RawStatus)
	}
	var body struct{ Warnings []string }
	if err := json.Unmarshal(resp.Raw, &body); err != nil || len(body.Warnings) != 1 || !strings.HasPrefix(body.Warnings[0], "Tidy operation successfully started") {
		t.Fatalf("tidy body %s (%v)", resp.Raw, err)
	}
	var status map[string]interface{}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if status = h.read("tidy-status").Data; status["state"] == "Finished" {
			break
		}
	}
	if status["state"] != "Finished" || status["cert_store_deleted_count"] != 2 || status["revoked_cert_deleted_count"] != 1 {
		t.Fatalf("tidy-status = %v", status)
	}
	if h.read("cert/"+formatSerial(old.SerialNumber)) != nil || h.read("cert/"+formatSerial(oldRevoked.SerialNumber)) != nil {
		t.Error("expired certificates survived tidy")
	}
	if h.read("cert/"+formatSerial(fresh.SerialNumber)) == nil {
		t.Error("tidy removed a valid certificate")
	}
	if listed(fetchCRL(t, h, "crl", c.intCert), oldRevoked.SerialNumber) {
		t.Error("tidied revocation still on the CRL")
	}
	none := h.write("tidy", nil)
	if !strings.Contains(string(none.Raw), "no tidy operations were set") {
		t.Errorf("tidy without targets = %s", none.Raw)
	}
	h.badRequest("tidy-cancel", nil, "none is currently running")
	if !reflect.DeepEqual(h.read("tidy-status").Data["tidy_cert_store"], true) {
		t.Error("tidy-status forgot the last run's settings")
	}
}

func TestConcurrentIssueWhileReplacingRoot(t *testing.T) {
	h := newHarness(t)
	roots := []*x509.Certificate{h.rootCA(map[string]interface{}{"issuer_name": "a"})}
	roots = append(roots, mustCert(t, respStr(h.write("root/generate/internal", map[string]interface{}{"common_name": "B", "key_type": "ec", "ttl": "87600h", "issuer_name": "b"}), "certificate")))
	h.write("roles/r", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	errs := make(chan error, 4)
	certs := make(chan string, 80)
	for i := 0; i < 4; i++ {
		go func() {
			for j := 0; j < 20; j++ {
				resp, err := h.do(logical.UpdateOperation, "issue/r", map[string]interface{}{"common_name": "c.example.com", "ttl": "1h"})
				if err != nil {
					errs <- err
					return
				}
				certs <- respStr(resp, "certificate")
			}
			errs <- nil
		}()
	}
	for i := 0; i < 20; i++ {
		h.write("config/issuers", map[string]interface{}{"default": []string{"a", "b"}[i%2]})
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(certs)
	for p := range certs {
		c := mustCert(t, p)
		if c.CheckSignatureFrom(roots[0]) != nil && c.CheckSignatureFrom(roots[1]) != nil {
			t.Fatal("certificate signed by neither root")
		}
	}
}
