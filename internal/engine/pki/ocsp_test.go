package pki

import (
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"testing"

	"golang.org/x/crypto/ocsp"
)

func TestOCSP(t *testing.T) {
	c := newChain(t)
	h := c.inter
	leaf := mustCert(t, respStr(h.write("issue/web-server", map[string]interface{}{"common_name": "o.corp.local"}), "certificate"))
	query := func(cert *x509.Certificate) (*ocsp.Response, int) {
		t.Helper()
		req, err := ocsp.CreateRequest(cert, c.intCert, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp := h.read("ocsp/" + base64.StdEncoding.EncodeToString(req))
		if resp.RawContentType != "application/ocsp-response" {
			t.Fatalf("content type %q", resp.RawContentType)
		}
		if resp.RawStatus != 200 {
			return nil, resp.RawStatus
		}
		parsed, err := ocsp.ParseResponseForCert(resp.Raw, cert, c.intCert)
		if err != nil {
			t.Fatalf("parse OCSP response: %v", err)
		}
		return parsed, 200
	}
	if r, _ := query(leaf); r.Status != ocsp.Good {
		t.Fatalf("status of a valid certificate = %d, want good", r.Status)
	}
	h.write("revoke", map[string]interface{}{"serial_number": formatSerial(leaf.SerialNumber)})
	if r, _ := query(leaf); r.Status != ocsp.Revoked || r.RevokedAt.IsZero() {
		t.Fatalf("status after revoke = %d", r.Status)
	}
	unknown := *leaf
	unknown.SerialNumber = big.NewInt(12345)
	if r, _ := query(&unknown); r.Status != ocsp.Unknown {
		t.Fatalf("status of an unknown serial = %d", r.Status)
	}
	if r := h.read("ocsp/!!notbase64"); r.RawStatus != 400 {
		t.Errorf("malformed request answered %d", r.RawStatus)
	}
	h.write("config/crl", map[string]interface{}{"ocsp_disable": true})
	if _, status := query(leaf); status != 401 {
		t.Errorf("disabled OCSP answered %d, want 401", status)
	}
}
