package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestConfigURLsAndIssuerAIA(t *testing.T) {
	h := newHarness(t)
	if got := h.read("config/urls").Data["issuing_certificates"]; !reflect.DeepEqual(got, []string{}) {
		t.Fatalf("empty config/urls = %v", got)
	}
	h.badRequest("config/urls", map[string]interface{}{"ocsp_servers": "not a url"}, "invalid URL found in Authority Information Access (AIA) parameter ocsp_servers: not a url")
	h.badRequest("config/urls", map[string]interface{}{"issuing_certificates": "https://x/{{cluster_path}}", "enable_templating": true}, "only {{issuer_id}} is available")
	h.write("config/urls", map[string]interface{}{
		"issuing_certificates": "https://pki.example/v1/pki/issuer/{{issuer_id}}/der", "ocsp_servers": "https://pki.example/v1/pki/ocsp",
		"enable_templating": true,
	})
	root := h.rootCA(nil)
	if len(root.IssuingCertificateURL) != 0 || len(root.OCSPServer) != 0 {
		t.Errorf("templated global URLs must be left out of a root: %v %v", root.IssuingCertificateURL, root.OCSPServer)
	}
	id := respStr(h.read("config/issuers"), "default")
	h.write("roles/r", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
	leaf := mustCert(t, respStr(h.write("issue/r", map[string]interface{}{"common_name": "a.example.com"}), "certificate"))
	if want := "https://pki.example/v1/pki/issuer/" + id + "/der"; len(leaf.IssuingCertificateURL) != 1 || leaf.IssuingCertificateURL[0] != want {
		t.Errorf("templated AIA = %v, want %s", leaf.IssuingCertificateURL, want)
	}
	if len(leaf.OCSPServer) != 1 {
		t.Errorf("OCSP server missing: %v", leaf.OCSPServer)
	}
	if _, err := h.do(logical.PatchOperation, "issuer/default", map[string]interface{}{"crl_distribution_points": "https://crl.example/root.crl"}); err != nil {
		t.Fatal(err)
	}
	leaf = mustCert(t, respStr(h.write("issue/r", map[string]interface{}{"common_name": "a.example.com"}), "certificate"))
	if len(leaf.CRLDistributionPoints) != 1 || leaf.CRLDistributionPoints[0] != "https://crl.example/root.crl" || len(leaf.IssuingCertificateURL) != 0 {
		t.Errorf("issuer-level AIA should replace the mount's: crl=%v aia=%v", leaf.CRLDistributionPoints, leaf.IssuingCertificateURL)
	}
	h.badRequest("issuer/default", map[string]interface{}{"ocsp_servers": "nope"}, "invalid URL found in Authority Information Access (AIA) parameter ocsp_servers")
}

func TestDefaultsConfig(t *testing.T) {
	h := newHarness(t)
	first := h.rootCA(map[string]interface{}{"issuer_name": "first"})
	h.write("config/issuers", map[string]interface{}{"default_follows_latest_issuer": true})
	second := h.write("root/generate/internal", map[string]interface{}{"common_name": "Second", "key_type": "ec", "ttl": "1h", "key_name": "second-key"})
	cfg := h.read("config/issuers")
	if respStr(cfg, "default") != respStr(second, "issuer_id") || cfg.Data["default_follows_latest_issuer"] != true {
		t.Fatalf("default should follow the latest issuer: %v", cfg.Data)
	}
	back := h.write("config/issuers", map[string]interface{}{"default": "first"})
	if def := respStr(h.read("issuer/default"), "certificate"); !mustCert(t, def).Equal(first) || respStr(back, "default") == respStr(second, "issuer_id") {
		t.Fatal("config/issuers default=first did not switch the default")
	}
	h.badRequest("config/issuers", map[string]interface{}{"default": "missing"}, "unable to find PKI issuer for reference: missing")

	keys := h.write("config/keys", map[string]interface{}{"default": "second-key"})
	if respStr(keys, "default") != respStr(second, "key_id") || respStr(h.read("config/keys"), "default") != respStr(second, "key_id") {
		t.Fatalf("config/keys = %v", keys.Data)
	}
	h.badRequest("config/keys", map[string]interface{}{"default": "nope"}, "unable to find PKI key for reference: nope")
	root := mustCert(t, respStr(h.write("root/generate/existing", map[string]interface{}{"common_name": "Third", "ttl": "1h"}), "certificate"))
	if !samePublicKey(root.PublicKey, mustCert(t, respStr(second, "certificate")).PublicKey) {
		t.Error("root/generate/existing without key_ref should use the default key")
	}
	gen := h.write("keys/generate/internal", map[string]interface{}{"key_type": "ed25519"})
	if _, ok := gen.Data["private_key"]; ok || respStr(gen, "key_type") != "ed25519" {
		t.Errorf("keys/generate/internal = %v", gen.Data)
	}
	if resp, err := h.do(logical.DeleteOperation, "key/"+respStr(gen, "key_id"), nil); err != nil || resp == nil {
		t.Errorf("deleting an unused key: %v %v", resp, err)
	}
}

func TestCAVariants(t *testing.T) {
	h := newHarness(t)
	rsaRoot := h.write("root/generate/exported", map[string]interface{}{
		"common_name": "RSA Root", "key_type": "rsa", "signature_bits": 384, "ttl": "10h", "format": "der",
		"ou": "PKI", "organization": "Corp", "country": "NL", "max_path_length": 1, "permitted_dns_domains": "corp.local",
		"private_key_format": "pkcs8",
	})
	der, _ := base64.StdEncoding.DecodeString(respStr(rsaRoot, "certificate"))
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if root.SignatureAlgorithm != x509.SHA384WithRSA || root.MaxPathLen != 1 || root.Subject.Organization[0] != "Corp" ||
		root.Subject.OrganizationalUnit[0] != "PKI" || root.PermittedDNSDomains[0] != "corp.local" || !root.PermittedDNSDomainsCritical {
		t.Errorf("RSA root: alg=%v maxpath=%d subject=%v permitted=%v", root.SignatureAlgorithm, root.MaxPathLen, root.Subject, root.PermittedDNSDomains)
	}
	if keyDER, _ := base64.StdEncoding.DecodeString(respStr(rsaRoot, "private_key")); keyDER == nil {
		t.Error("der private key missing")
	} else if _, err := x509.ParsePKCS8PrivateKey(keyDER); err != nil {
		t.Errorf("pkcs8 der key: %v", err)
	}

	inter := newHarness(t)
	csrResp := inter.write("intermediate/generate/exported", map[string]interface{}{
		"common_name": "Sub", "key_type": "ec", "format": "pem_bundle", "add_basic_constraints": true, "alt_names": "sub.corp.local",
	})
	if !strings.HasPrefix(respStr(csrResp, "csr"), "-----BEGIN EC PRIVATE KEY-----") || respStr(csrResp, "private_key_type") != "ec" {
		t.Fatalf("exported pem_bundle CSR = %.60q", respStr(csrResp, "csr"))
	}
	csr, err := parseCSR(respStr(csrResp, "csr")[strings.Index(respStr(csrResp, "csr"), "-----BEGIN CERTIFICATE REQUEST"):])
	if err != nil {
		t.Fatal(err)
	}
	hasBC := false
	for _, e := range csr.Extensions {
		hasBC = hasBC || e.Id.Equal(asn1.ObjectIdentifier(oidBasicConstraints))
	}
	if !hasBC || strings.Join(csr.DNSNames, ",") != "sub.corp.local,Sub" {
		t.Errorf("CSR extensions: basic constraints %v, DNS %v", hasBC, csr.DNSNames)
	}
	signed := h.write("root/sign-intermediate", map[string]interface{}{
		"csr": pemString("CERTIFICATE REQUEST", csr.Raw), "use_csr_values": true, "ttl": "20h", "format": "der",
		"skid": "01:02:03:04", "permitted_dns_domains": "corp.local",
	})
	der, _ = base64.StdEncoding.DecodeString(respStr(signed, "certificate"))
	sub, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if sub.MaxPathLen != 0 || !sub.MaxPathLenZero || sub.Subject.CommonName != "Sub" || string(sub.SubjectKeyId) != "\x01\x02\x03\x04" {
		t.Errorf("sub-CA: maxpath=%d zero=%v cn=%q skid=%x", sub.MaxPathLen, sub.MaxPathLenZero, sub.Subject.CommonName, sub.SubjectKeyId)
	}
	if chain, _ := signed.Data["ca_chain"].([]string); len(chain) != 2 {
		t.Errorf("der ca_chain = %d entries", len(chain))
	}
	warnings := strings.Join(signed.Warnings, "|")
	if !strings.Contains(warnings, "after the CA's expiration time") || !strings.Contains(warnings, "Max path length of the signed certificate is zero") {
		t.Errorf("sign-intermediate warnings = %v", signed.Warnings)
	}
	inter.write("intermediate/set-signed", map[string]interface{}{"certificate": certPEM(sub.Raw)})
	inter.badRequest("root/sign-intermediate", map[string]interface{}{"csr": pemString("CERTIFICATE REQUEST", csr.Raw)}, "signing certificate has a max path length of zero")
}

func TestRoleExtensionsInLeaf(t *testing.T) {
	h := newHarness(t)
	h.rootCA(nil)
	h.write("roles/ext", map[string]interface{}{
		"allow_any_name": true, "key_type": "ec", "code_signing_flag": true, "server_flag": false, "client_flag": false,
		"ext_key_usage": "TimeStamping", "ext_key_usage_oids": "1.3.6.1.4.1.311.10.3.12", "key_usage": "DigitalSignature",
		"policy_identifiers": "1.3.6.1.4.1.44947.1.2.4", "basic_constraints_valid_for_non_ca": true,
		"ou": "Ops,Ops", "organization": "Corp", "allowed_user_ids": "svc-*", "not_before_duration": "1h",
	})
	start := time.Now()
	leaf := mustCert(t, respStr(h.write("issue/ext", map[string]interface{}{"common_name": "a.example.com", "user_ids": "svc-build"}), "certificate"))
	if !reflect.DeepEqual(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageTimeStamping}) {
		t.Errorf("EKUs = %v", leaf.ExtKeyUsage)
	}
	if len(leaf.UnknownExtKeyUsage) != 1 || leaf.UnknownExtKeyUsage[0].String() != "1.3.6.1.4.1.311.10.3.12" {
		t.Errorf("EKU OIDs = %v", leaf.UnknownExtKeyUsage)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature || !leaf.BasicConstraintsValid || leaf.IsCA {
		t.Errorf("key usage %v, basic constraints %v/%v", leaf.KeyUsage, leaf.BasicConstraintsValid, leaf.IsCA)
	}
	if len(leaf.Policies) != 1 || leaf.Policies[0].String() != "1.3.6.1.4.1.44947.1.2.4" {
		t.Errorf("policies = %v", leaf.Policies)
	}
	if !reflect.DeepEqual(leaf.Subject.OrganizationalUnit, []string{"Ops"}) || leaf.Subject.Organization[0] != "Corp" {
		t.Errorf("subject = %v", leaf.Subject)
	}
	uid := ""
	for _, n := range leaf.Subject.Names {
		if n.Type.Equal(oidUserID) {
			uid, _ = n.Value.(string)
		}
	}
	if uid != "svc-build" {
		t.Errorf("user id = %q", uid)
	}
	if d := start.Sub(leaf.NotBefore); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("not_before_duration 1h gave NotBefore %v ago", d)
	}
	h.badRequest("issue/ext", map[string]interface{}{"common_name": "a.example.com", "user_ids": "root"}, "user_id root is not allowed by this role")
}

func TestTidyExpiredIssuersAndCancel(t *testing.T) {
	h := newHarness(t)
	h.rootCA(map[string]interface{}{"issuer_name": "current"})
	old, _ := caBundlePEM(t, "Old", time.Now().Add(-72*time.Hour), time.Now().Add(-48*time.Hour))
	h.write("config/ca", map[string]interface{}{"pem_bundle": old})
	if list, _ := h.do(logical.ListOperation, "issuers/", nil); len(list.Data["keys"].([]string)) != 2 {
		t.Fatal("expected two issuers before tidy")
	}
	h.write("tidy", map[string]interface{}{"tidy_expired_issuers": true, "issuer_safety_buffer": "1h"})
	waitTidy(t, h)
	if list, _ := h.do(logical.ListOperation, "issuers/", nil); len(list.Data["keys"].([]string)) != 1 || h.read("issuer/current") == nil {
		t.Fatalf("tidy_expired_issuers should keep only the current issuer: %v", list.Data["keys"])
	}

	for i := 0; i < 3; i++ {
		h.write("roles/r", map[string]interface{}{"allow_any_name": true, "key_type": "ec"})
		h.write("issue/r", map[string]interface{}{"common_name": "a.example.com"})
	}
	h.write("tidy", map[string]interface{}{"tidy_cert_store": true, "pause_duration": "1s"})
	if again := h.write("tidy", map[string]interface{}{"tidy_cert_store": true}); len(again.Warnings) != 1 || again.Warnings[0] != "Tidy operation already in progress." {
		t.Errorf("second tidy = %+v", again)
	}
	if resp := h.write("tidy-cancel", nil); resp.Data["state"] != "Cancelling" {
		t.Errorf("tidy-cancel = %v", resp.Data)
	}
	if s := waitTidy(t, h); s["state"] != "Cancelled" {
		t.Errorf("state after cancel = %v", s["state"])
	}
	h.badRequest("tidy", map[string]interface{}{"tidy_cert_store": true, "pause_duration": "-1s"}, "pause_duration")
}

func waitTidy(t *testing.T, h *harness) map[string]interface{} {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		s := h.read("tidy-status").Data
		if st := s["state"]; st != "Running" && st != "Cancelling" {
			return s
		}
	}
	t.Fatal("tidy did not finish")
	return nil
}
