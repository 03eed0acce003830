package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const (
	warnNoSubject = "This issuer certificate was generated without a Subject; this makes it likely that issuing leaf certs with this certificate will cause TLS validation libraries to reject this certificate."
	warnNoAIA     = "This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information."
)

func (b *backend) rootPaths() []*framework.Path {
	issuerRef := "issuer/" + framework.GenericNameRegex("issuer_ref") + "/"
	return []*framework.Path{{
		Pattern:  "root/generate/" + framework.GenericNameRegex("exported"),
		Fields:   caFields(),
		Ops:      framework.Ops{logical.UpdateOperation: b.generateRoot},
		Synopsis: "Generate a self-signed root CA certificate and key.",
	}, {
		Pattern:  "root/rotate/" + framework.GenericNameRegex("exported"),
		Fields:   caFields(),
		Ops:      framework.Ops{logical.UpdateOperation: b.generateRoot},
		Synopsis: `Generate a new root next to the current one (named "next" unless issuer_name is given).`,
	}, {
		Pattern:  "root/replace",
		Fields:   framework.Fields{"default": strDefault("next", "Issuer to make the default.")},
		Ops:      framework.Ops{logical.UpdateOperation: b.replaceRoot},
		Synopsis: "Make another issuer (by default \"next\") the default.",
	}, {
		Pattern:  "root",
		Ops:      framework.Ops{logical.DeleteOperation: b.deleteRoot},
		Synopsis: "Delete every issuer and key of the mount.",
	}, {
		Pattern:  "root/sign-intermediate",
		Fields:   signIntermediateFields(),
		Ops:      framework.Ops{logical.UpdateOperation: b.signIntermediate},
		Synopsis: "Sign an intermediate CA's CSR with the default issuer.",
	}, {
		Pattern:  issuerRef + "sign-intermediate",
		Fields:   signIntermediateFields(),
		Ops:      framework.Ops{logical.UpdateOperation: b.signIntermediate},
		Synopsis: "Sign an intermediate CA's CSR with this issuer.",
	}, {
		Pattern:  "root/sign-self-issued",
		Fields:   selfIssuedFields(),
		Ops:      framework.Ops{logical.UpdateOperation: b.signSelfIssued},
		Synopsis: "Re-sign a self-issued CA certificate with the default issuer.",
	}, {
		Pattern:  issuerRef + "sign-self-issued",
		Fields:   selfIssuedFields(),
		Ops:      framework.Ops{logical.UpdateOperation: b.signSelfIssued},
		Synopsis: "Re-sign a self-issued CA certificate with this issuer.",
	}}
}

func selfIssuedFields() framework.Fields {
	return merge(issuerRefField(), framework.Fields{
		"certificate": str("PEM self-issued CA certificate."),
		"require_matching_certificate_algorithms": flag("Refuse when the issuer's key type differs from the certificate's."),
	})
}

// caRole is the permissive role used when the mount itself creates or
// signs a CA certificate.
func caRole(d *framework.FieldData) *roleEntry {
	return &roleEntry{
		AllowLocalhost: true, AllowAnyName: true, AllowIPSANs: true, AllowWildcardCertificates: true,
		AllowedURISANs: []string{"*"}, AllowedOtherSANs: []string{"*"}, AllowedSerialNumbers: []string{"*"}, AllowedUserIDs: []string{"*"},
		CNValidations: []string{"disabled"}, KeyType: keyTypeAny,
		OU: d.Strings("ou"), Organization: d.Strings("organization"), Country: d.Strings("country"),
		Locality: d.Strings("locality"), Province: d.Strings("province"),
		StreetAddress: d.Strings("street_address"), PostalCode: d.Strings("postal_code"),
		SignatureBits: d.Int("signature_bits"), UsePSS: d.Bool("use_pss"),
		NotBeforeDuration: d.Duration("not_before_duration"),
	}
}

// caKey returns the key of a new CA: generated for internal and exported,
// looked up for existing; managed (kms) keys are refused.
func (b *backend) caKey(st *store, d *framework.FieldData) (crypto.Signer, bool, error) {
	switch mode := d.String("exported"); mode {
	case "internal", "exported":
		keyType := d.String("key_type")
		if keyType == keyTypeAny {
			return nil, false, logical.InvalidRequest(`key_type "any" cannot be generated; use "rsa", "ec" or "ed25519"`)
		}
		bits, _, err := normalizeKeySpec(keyType, d.Int("key_bits"), d.Int("signature_bits"))
		if err != nil {
			return nil, false, logical.InvalidRequest("%s", err.Error())
		}
		k, err := generateKey(keyType, bits)
		if err != nil {
			return nil, false, fmt.Errorf("generate CA key: %w", err)
		}
		return k, mode == "exported", nil
	case "existing":
		if _, ok := d.Raw["key_type"]; ok {
			return nil, false, logical.InvalidRequest("invalid parameter for the kms/existing path parameter, key_type nor key_bits arguments can be set in this mode")
		}
		if _, ok := d.Raw["key_bits"]; ok {
			return nil, false, logical.InvalidRequest("invalid parameter for the kms/existing path parameter, key_type nor key_bits arguments can be set in this mode")
		}
		id, err := st.resolveKey(d.String("key_ref"))
		if err != nil {
			return nil, false, refError(err)
		}
		k, err := st.key(id)
		if err != nil {
			return nil, false, err
		}
		if k == nil {
			return nil, false, logical.InvalidRequest("unable to find PKI key for reference: %s", d.String("key_ref"))
		}
		s, err := k.signer()
		return s, false, err
	case "kms":
		return nil, false, logical.InvalidRequest("managed keys (kms) are not supported by this server; use internal, exported or existing")
	default:
		return nil, false, logical.InvalidRequest(`the "exported" path parameter must be "internal", "existing", "exported" or "kms"`)
	}
}

// newCARequest gathers and checks the names of a CA certificate.
func newCARequest(d *framework.FieldData, role *roleEntry, key crypto.PublicKey) (*certRequest, error) {
	typ, bits, err := publicKeyInfo(key)
	if err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	if _, role.SignatureBits, err = normalizeKeySpec(typ, bits, role.SignatureBits); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	cr, err := gatherRequest(d, role, nil, "")
	if err != nil {
		return nil, err
	}
	for _, check := range role.validators() {
		if err := check(cr); err != nil {
			return nil, err
		}
	}
	return cr, nil
}

func (b *backend) generateRoot(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	format, keyFormat := d.String("format"), d.String("private_key_format")
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	if err := checkKeyFormat(keyFormat); err != nil {
		return nil, err
	}
	issuerName, keyName := strings.TrimSpace(d.String("issuer_name")), strings.TrimSpace(d.String("key_name"))
	if strings.HasPrefix(req.Path, "root/rotate/") && issuerName == "" {
		if _, err := st.resolveIssuer("next"); errors.Is(err, errRefNotFound) {
			issuerName = "next"
		}
	}
	if err := checkName("issuer", issuerName, "", st.resolveIssuer); err != nil {
		return nil, err
	}
	if err := checkName("key", keyName, "", st.resolveKey); err != nil {
		return nil, err
	}
	key, exported, err := b.caKey(st, d)
	if err != nil {
		return nil, err
	}
	role := caRole(d)
	cr, err := newCARequest(d, role, key.Public())
	if err != nil {
		return nil, err
	}
	extra, err := parseKeyUsages(d.Strings("key_usage"))
	if err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	notBefore, notAfter, warnings, err := b.validity(d, role, nil, "")
	if err != nil {
		return nil, err
	}
	global, err := st.urls()
	if err != nil {
		return nil, err
	}
	urls, err := global.expand("")
	if err != nil || strings.Contains(strings.Join(append(append(global.IssuingCertificates, global.CRLDistributionPoints...), global.OCSPServers...), " "), "{{issuer_id}}") {
		urls = &urlConfig{}
		warnings = append(warnings, "When generating root CA, found global AIA configuration with issuer_id template unsuitable for root generation. This AIA configuration has been ignored. To include AIA on this root CA, set the global AIA configuration to not include issuer_id and instead to refer to a static issuer name.")
	}
	cert, err := (&issuance{
		role: role, req: cr, selfSigner: key, pub: key.Public(), notBefore: notBefore, notAfter: notAfter,
		isCA: true, maxPathLen: d.Int("max_path_length"), permittedDNS: d.Strings("permitted_dns_domains"),
		extraUsage: extra, urls: urls,
	}).create()
	if err != nil {
		return nil, err
	}
	data, err := (&certOutput{cert: cert, key: keyIf(key, exported), format: format, keyFormat: keyFormat}).data()
	if err != nil {
		return nil, err
	}
	ke, _, err := st.importKey(key, keyName)
	if err != nil {
		return nil, err
	}
	ie, _, err := st.importIssuer(cert, issuerName)
	if err != nil {
		return nil, err
	}
	if err := st.storeCert(cert); err != nil {
		return nil, err
	}
	data["issuer_id"], data["issuer_name"], data["key_id"], data["key_name"] = ie.ID, ie.Name, ke.ID, ke.Name
	resp := &logical.Response{Data: data, Warnings: warnings}
	if len(cert.RawSubject) <= 2 {
		resp.AddWarning(warnNoSubject)
	}
	if urls.empty() {
		resp.AddWarning(warnNoAIA)
	}
	if cert.MaxPathLenZero {
		resp.AddWarning("Max path length of the generated certificate is zero. This certificate cannot be used to issue intermediate CA certificates.")
	}
	resp.Warnings = append(resp.Warnings, b.rebuildCRLsWarn(st, true)...)
	return resp, nil
}

func keyIf(k crypto.Signer, ok bool) crypto.Signer {
	if ok {
		return k
	}
	return nil
}

func (b *backend) replaceRoot(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return b.setDefaultIssuer(ctx, req, d.String("default"))
}

func (b *backend) deleteRoot(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	for _, prefix := range []string{issuerPrefix, keyPrefix, crlPrefix} {
		ids, err := st.listIDs(prefix)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if err := req.Storage.Delete(ctx, prefix+id); err != nil {
				return nil, fmt.Errorf("delete %s%s: %w", prefix, id, err)
			}
		}
	}
	for _, k := range []string{issuersConfigPath, keysConfigPath, crlStatePath} {
		if err := req.Storage.Delete(ctx, k); err != nil {
			return nil, fmt.Errorf("delete %s: %w", k, err)
		}
	}
	resp := &logical.Response{}
	resp.AddWarning("DELETE /root deletes all keys and issuers; prefer the new DELETE /key/:key_ref and DELETE /issuer/:issuer_ref for finer granularity, unless removal of all keys and issuers is desired.")
	return resp, nil
}

func (b *backend) signIntermediate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	st := newStore(ctx, req.Storage)
	format := d.String("format")
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	ca, err := b.signingCA(st, req, d)
	if err != nil {
		return nil, err
	}
	csr, err := parseCSR(d.String("csr"))
	if err != nil {
		return nil, err
	}
	role := caRole(d)
	role.UseCSRCommonName = d.String("common_name") == ""
	cr, err := newCARequest(d, role, ca.cert.PublicKey)
	if err != nil {
		return nil, err
	}
	if role.UseCSRCommonName {
		cr.commonName = csr.Subject.CommonName
		cr.addName(cr.commonName)
	}
	cr.csr = csr
	if _, _, err := publicKeyInfo(csr.PublicKey); err != nil {
		return nil, logical.InvalidRequest("Refusing to sign CSR with an unsupported public key type: %v", err)
	}
	maxPath, err := maxPathFromIssuer(d.Int("max_path_length"), ca.cert)
	if err != nil {
		return nil, err
	}
	skid, err := parseSKID(d.String("skid"))
	if err != nil {
		return nil, err
	}
	extra, err := parseKeyUsages(d.Strings("key_usage"))
	if err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	notBefore, notAfter, warnings, err := b.validity(d, role, ca, notAfterPermit)
	if err != nil {
		return nil, err
	}
	cert, err := (&issuance{
		role: role, req: cr, ca: ca, pub: csr.PublicKey, notBefore: notBefore, notAfter: notAfter,
		isCA: true, maxPathLen: maxPath, permittedDNS: d.Strings("permitted_dns_domains"), extraUsage: extra,
		useCSRValues: d.Bool("use_csr_values"), skid: skid,
	}).create()
	if err != nil {
		return nil, err
	}
	if err := st.storeCert(cert); err != nil {
		return nil, err
	}
	data, err := (&certOutput{cert: cert, ca: ca, format: format}).data()
	if err != nil {
		return nil, err
	}
	chain, _ := data["ca_chain"].([]string)
	data["ca_chain"] = append([]string{firstCert(data["certificate"].(string), format)}, chain...)
	resp := &logical.Response{Data: data, Warnings: warnings}
	if ca.cert.NotAfter.Before(cert.NotAfter) {
		resp.AddWarning("The expiration time for the signed certificate is after the CA's expiration time. If the new certificate is not treated as a root, validation paths with the certificate past the issuing CA's expiration time will fail.")
	}
	if len(cert.RawSubject) <= 2 {
		resp.AddWarning(warnNoSubject)
	}
	if len(cert.OCSPServer)+len(cert.IssuingCertificateURL)+len(cert.CRLDistributionPoints) == 0 {
		resp.AddWarning(warnNoAIA)
	}
	if cert.MaxPathLenZero {
		resp.AddWarning("Max path length of the signed certificate is zero. This certificate cannot be used to issue intermediate CA certificates.")
	}
	return resp, nil
}

// firstCert returns the leading certificate of a PEM bundle (or the DER
// value unchanged).
func firstCert(s, format string) string {
	if format != "pem_bundle" {
		return s
	}
	if i := strings.Index(s, "-----END CERTIFICATE-----"); i >= 0 {
		return s[:i+len("-----END CERTIFICATE-----")]
	}
	return s
}

// signingCA loads the issuer named by the path (issuer/<ref>/...) or the
// default one, ready to sign.
func (b *backend) signingCA(st *store, req *logical.Request, d *framework.FieldData) (*caBundle, error) {
	ref := defaultRef
	if strings.HasPrefix(req.Path, "issuer/") {
		ref = d.String("issuer_ref")
	}
	ca, err := b.loadCA(st, ref, usageIssuing)
	if err != nil {
		var coded *logical.CodedError
		if errors.As(err, &coded) && errors.Is(err, logical.ErrInvalidRequest) {
			return nil, logical.InvalidRequest("could not fetch the CA certificate (was one set?): %s", coded.Msg)
		}
		return nil, err
	}
	return ca, nil
}

func (b *backend) signSelfIssued(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	st := newStore(ctx, req.Storage)
	cert, err := parseCertificatePEM(d.String("certificate"))
	if err != nil {
		return nil, logical.InvalidRequest("error parsing certificate: %v", err)
	}
	if !cert.IsCA {
		return nil, logical.InvalidRequest("given certificate is not a CA certificate")
	}
	if string(cert.RawIssuer) != string(cert.RawSubject) {
		return nil, logical.InvalidRequest("given certificate is not self-issued")
	}
	ca, err := b.signingCA(st, req, d)
	if err != nil {
		return nil, err
	}
	cert.IssuingCertificateURL, cert.CRLDistributionPoints, cert.OCSPServer = ca.urls.IssuingCertificates, ca.urls.CRLDistributionPoints, ca.urls.OCSPServers
	signerType, _, _ := publicKeyInfo(ca.cert.PublicKey)
	certType, _, _ := publicKeyInfo(cert.PublicKey)
	if signerType != certType {
		if d.Bool("require_matching_certificate_algorithms") {
			return nil, logical.InvalidRequest("signing certificate's public key algorithm (%s) does not match submitted certificate's (%s), and require_matching_certificate_algorithms is true", signerType, certType)
		}
	}
	cert.SignatureAlgorithm = signatureAlgorithm(ca.signer.Public(), 0, false)
	der, err := x509.CreateCertificate(rand.Reader, cert, ca.cert, cert.PublicKey, ca.signer)
	if err != nil {
		return nil, fmt.Errorf("error signing self-issued certificate: %w", err)
	}
	return &logical.Response{Data: map[string]interface{}{
		"certificate": certPEM(der),
		"issuing_ca":  certPEM(ca.cert.Raw),
	}}, nil
}
