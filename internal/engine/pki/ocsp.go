package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"net/http"
	"strings"

	"golang.org/x/crypto/ocsp"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const ctOCSP = "application/ocsp-response"

func (b *backend) ocspPaths() []*framework.Path {
	return []*framework.Path{{
		Pattern:  "ocsp/" + framework.MatchNonEmptyRegex("req"),
		Fields:   framework.Fields{"req": str("Base64 DER OCSP request.")},
		Ops:      framework.Ops{logical.ReadOperation: b.ocspGet},
		Synopsis: "OCSP responder (RFC 6960 GET form, unauthenticated).",
	}}
}

func ocspRaw(body []byte, status int) *logical.Response {
	return &logical.Response{Raw: body, RawContentType: ctOCSP, RawStatus: status}
}

// ocspGet answers an OCSP request for a certificate of one of the mount's
// issuers: good when stored, revoked when on the revocation list, unknown
// otherwise; signed by the issuer itself.
func (b *backend) ocspGet(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	st := newStore(ctx, req.Storage)
	cfg, err := st.crlConfig()
	if err != nil {
		return nil, err
	}
	if cfg.OCSPDisable {
		return ocspRaw(ocsp.UnauthorizedErrorResponse, http.StatusUnauthorized), nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(d.String("req")))
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(d.String("req"), "="))
	}
	if err != nil {
		return ocspRaw(ocsp.MalformedRequestErrorResponse, http.StatusBadRequest), nil
	}
	oreq, err := ocsp.ParseRequest(raw)
	if err != nil {
		return ocspRaw(ocsp.MalformedRequestErrorResponse, http.StatusBadRequest), nil
	}
	ca, err := b.ocspIssuer(st, oreq)
	if err != nil {
		return nil, err
	}
	if ca == nil {
		return ocspRaw(ocsp.UnauthorizedErrorResponse, http.StatusUnauthorized), nil
	}
	now := b.now().UTC()
	tmpl := ocsp.Response{
		Status: ocsp.Unknown, SerialNumber: oreq.SerialNumber, ThisUpdate: now, IssuerHash: oreq.HashAlgorithm,
	}
	if exp, err := framework.ParseDurationSecond(cfg.OCSPExpiry); err == nil && exp > 0 {
		tmpl.NextUpdate = now.Add(exp)
	}
	serial := formatSerial(oreq.SerialNumber)
	info := &revocationInfo{}
	if ok, err := st.get(revokedPrefix+storageSerial(serial), info); err != nil {
		return nil, err
	} else if ok {
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, info.RevocationTimeUTC, ocsp.Unspecified
	} else if c, err := st.fetchCert(serial); err != nil {
		return nil, err
	} else if c != nil && c.CheckSignatureFrom(ca.cert) == nil {
		tmpl.Status = ocsp.Good
	}
	body, err := ocsp.CreateResponse(ca.cert, ca.cert, tmpl, ca.signer)
	if err != nil {
		return nil, err
	}
	return ocspRaw(body, http.StatusOK), nil
}

// ocspIssuer finds the issuer a request names by its name and key hashes.
func (b *backend) ocspIssuer(st *store, r *ocsp.Request) (*caBundle, error) {
	if !r.HashAlgorithm.Available() {
		return nil, nil
	}
	issuers, err := st.allIssuers()
	if err != nil {
		return nil, err
	}
	for _, e := range issuers {
		if e.KeyID == "" || !e.hasUsage(usageOCSP) {
			continue
		}
		c, err := e.parse()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(hashOf(r.HashAlgorithm, c.RawSubject), r.IssuerNameHash) {
			continue
		}
		var spki struct {
			Algorithm pkix.AlgorithmIdentifier
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
			continue
		}
		if bytes.Equal(hashOf(r.HashAlgorithm, spki.PublicKey.RightAlign()), r.IssuerKeyHash) {
			return b.loadCA(st, e.ID, usageOCSP)
		}
	}
	return nil, nil
}

func hashOf(h crypto.Hash, data []byte) []byte {
	w := h.New()
	w.Write(data)
	return w.Sum(nil)
}
