package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// gatherRequest collects the requested names from the API fields, or from
// the CSR where the role says to use the CSR's values.
func gatherRequest(d *framework.FieldData, role *roleEntry, csr *x509.CertificateRequest, displayName string) (*certRequest, error) {
	r := &certRequest{csr: csr, displayName: displayName}
	if csr != nil && role.UseCSRCommonName {
		r.commonName = csr.Subject.CommonName
	}
	if r.commonName == "" {
		r.commonName = d.String("common_name")
	}
	if r.subjectSerial = d.String("serial_number"); r.subjectSerial == "" && csr != nil {
		r.subjectSerial = csr.Subject.SerialNumber
	}
	r.userIDs = d.Strings("user_ids")
	if len(r.userIDs) == 0 && csr != nil {
		for _, n := range csr.Subject.Names {
			if n.Type.Equal(oidUserID) {
				r.userIDs = append(r.userIDs, fmt.Sprint(n.Value))
			}
		}
	}
	if csr != nil && role.UseCSRSANs {
		r.fromCSR = true
		r.dnsNames = append(r.dnsNames, csr.DNSNames...)
		r.emails = append(r.emails, csr.EmailAddresses...)
		r.ips, r.uris = csr.IPAddresses, csr.URIs
		others, err := csrOtherNames(csr)
		if err != nil {
			return nil, logical.InvalidRequest("%s", err.Error())
		}
		r.otherSANs = others
	} else {
		for _, v := range dedup(strings.Split(d.String("alt_names"), ",")) {
			r.addName(strings.TrimSpace(v))
		}
		r.ipInput = d.Strings("ip_sans")
		r.uriInput = d.Strings("uri_sans")
	}
	if in := d.Strings("other_sans"); len(in) > 0 {
		others, err := parseOtherNames(in)
		if err != nil {
			return nil, logical.InvalidRequest("could not parse requested other SAN: %v", err)
		}
		r.otherSANs = append(r.otherSANs, others...)
	}
	if r.commonName != "" && !d.Bool("exclude_cn_from_sans") {
		r.addName(r.commonName)
	}
	return r, nil
}

// addName files a name as an e-mail SAN or, when it is a host name, a DNS
// SAN; anything else is left out of the SANs (but the CN still holds it).
func (r *certRequest) addName(n string) {
	switch {
	case n == "":
	case strings.Contains(n, "@"):
		r.emails = append(r.emails, n)
	case isHostname(n):
		r.dnsNames = append(r.dnsNames, n)
	}
}

// parseCSR decodes and checks a PEM CSR with Vault's messages.
func parseCSR(s string) (*x509.CertificateRequest, error) {
	if strings.TrimSpace(s) == "" {
		return nil, logical.InvalidRequest(`"csr" is empty`)
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, logical.InvalidRequest("csr contains no data")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, logical.InvalidRequest("certificate request could not be parsed: %v", err)
	}
	if csr.PublicKey == nil || csr.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm {
		return nil, logical.InvalidRequest("Refusing to sign CSR with empty PublicKey. This usually means the SubjectPublicKeyInfo field has an OID not recognized by Go, such as 1.2.840.113549.1.1.10 for rsaPSS.")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, logical.InvalidRequest("request signature invalid")
	}
	return csr, nil
}

// validity works out NotBefore and NotAfter: the requested ttl (or
// not_after), the role's ttl, the mount default; capped by the role's or
// mount's max_ttl with a warning; then checked against the issuer's
// expiry according to its leaf_not_after_behavior.
func (b *backend) validity(d *framework.FieldData, role *roleEntry, ca *caBundle, behavior string) (time.Time, time.Time, []string, error) {
	now := b.now()
	var warnings []string
	ttl := d.Duration("ttl")
	notAfterAlt := role.NotAfter
	if notAfterAlt == "" {
		notAfterAlt = d.String("not_after")
	}
	if ttl > 0 && notAfterAlt != "" {
		return time.Time{}, time.Time{}, nil, logical.InvalidRequest("Either ttl or not_after should be provided. Both should not be provided in the same request.")
	}
	if ttl == 0 {
		ttl = role.TTL
	}
	maxTTL := role.MaxTTL
	if maxTTL == 0 {
		maxTTL = b.system.MaxLeaseTTL()
	}
	if ttl == 0 {
		ttl = b.system.DefaultLeaseTTL()
	}
	if maxTTL > 0 && ttl > maxTTL {
		warnings = append(warnings, fmt.Sprintf("TTL %q is longer than permitted maxTTL %q, so maxTTL is being used", ttl, maxTTL))
		ttl = maxTTL
	}
	notAfter := now.Add(ttl)
	if notAfterAlt != "" {
		t, err := time.Parse(time.RFC3339, notAfterAlt)
		if err != nil {
			return time.Time{}, time.Time{}, nil, logical.InvalidRequest("%s", err.Error())
		}
		notAfter = t
	}
	if ca != nil && notAfter.After(ca.cert.NotAfter) {
		switch behavior {
		case notAfterPermit:
		case notAfterTruncate:
			notAfter = ca.cert.NotAfter
		default:
			return time.Time{}, time.Time{}, nil, logical.InvalidRequest(
				"cannot satisfy request, as TTL would result in notAfter of %s that is beyond the expiration of the CA certificate at %s",
				notAfter.UTC().Format(time.RFC3339Nano), ca.cert.NotAfter.UTC().Format(time.RFC3339Nano))
		}
	}
	if ca != nil && now.After(ca.cert.NotAfter) {
		return time.Time{}, time.Time{}, nil, logical.InvalidRequest("the issuing CA certificate (issuer %s) expired at %s and can no longer sign certificates",
			ca.entry.ID, ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	backdate := role.NotBeforeDuration
	if backdate <= 0 {
		backdate = 30 * time.Second
	}
	notBefore := now.Add(-backdate)
	if role.NotBefore != "" {
		t, err := time.Parse(time.RFC3339, role.NotBefore)
		if err != nil {
			return time.Time{}, time.Time{}, nil, logical.InvalidRequest("%s", err.Error())
		}
		notBefore = t
	}
	if notBefore.After(notAfter) {
		return time.Time{}, time.Time{}, nil, logical.InvalidRequest("The certificate's Not Before (%v) is later than the certificate's Not After (%v)", notBefore, notAfter)
	}
	if notBefore.Equal(notAfter) {
		return time.Time{}, time.Time{}, nil, logical.InvalidRequest("The certificate's Not Before (%v) is equal to the certificate's Not After (%v)", notBefore, notAfter)
	}
	return notBefore, notAfter, warnings, nil
}

// issuance is one certificate to create.
type issuance struct {
	role         *roleEntry
	req          *certRequest
	ca           *caBundle        // nil: self-signed with selfSigner
	selfSigner   crypto.Signer    // the root's own key
	pub          crypto.PublicKey // the key being certified
	notBefore    time.Time
	notAfter     time.Time
	isCA         bool
	maxPathLen   int // CAs only; -1 leaves it unset
	permittedDNS []string
	extraUsage   x509.KeyUsage
	useCSRValues bool
	skid         []byte
	urls         *urlConfig // self-signed only
}

// create builds the template by running the role's modifiers in order and
// signs it.
func (is *issuance) create() (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{SerialNumber: serial, NotBefore: is.notBefore, NotAfter: is.notAfter}
	for _, m := range is.role.modifiers() {
		if err := m(t, is.req); err != nil {
			return nil, err
		}
	}
	if is.useCSRValues && is.req.csr != nil {
		csr := is.req.csr
		t.Subject = csr.Subject
		t.Subject.ExtraNames = csr.Subject.Names
		t.DNSNames, t.EmailAddresses, t.IPAddresses, t.URIs = csr.DNSNames, csr.EmailAddresses, csr.IPAddresses, csr.URIs
		for _, ext := range csr.Extensions {
			if !ext.Id.Equal(oidBasicConstraints) {
				t.ExtraExtensions = append(t.ExtraExtensions, ext)
			}
		}
	}
	if t.SubjectKeyId = is.skid; len(t.SubjectKeyId) == 0 {
		if t.SubjectKeyId, err = subjectKeyID(is.pub); err != nil {
			return nil, err
		}
	}
	if is.isCA {
		t.BasicConstraintsValid, t.IsCA = true, true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | is.extraUsage
		t.ExtKeyUsage = nil
		switch {
		case is.maxPathLen == 0:
			t.MaxPathLen, t.MaxPathLenZero = 0, true
		case is.maxPathLen > 0:
			t.MaxPathLen = is.maxPathLen
		default:
			t.MaxPathLen = -1
		}
		if len(is.permittedDNS) > 0 {
			t.PermittedDNSDomains, t.PermittedDNSDomainsCritical = is.permittedDNS, true
		}
	}
	parent, signer, urls := t, is.selfSigner, is.urls
	if is.ca != nil {
		parent, signer, urls = is.ca.cert, is.ca.signer, is.ca.urls
	} else {
		t.AuthorityKeyId = t.SubjectKeyId
	}
	if urls != nil {
		t.IssuingCertificateURL, t.CRLDistributionPoints, t.OCSPServer = urls.IssuingCertificates, urls.CRLDistributionPoints, urls.OCSPServers
	}
	t.SignatureAlgorithm = signatureAlgorithm(signer.Public(), is.role.SignatureBits, is.role.UsePSS)
	der, err := x509.CreateCertificate(rand.Reader, t, parent, is.pub, signer)
	if err != nil {
		return nil, fmt.Errorf("unable to create certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

var oidBasicConstraints = []int{2, 5, 29, 19}

// maxPathFromIssuer derives a sub-CA's path length from its issuer's.
func maxPathFromIssuer(requested int, ca *x509.Certificate) (int, error) {
	if ca.MaxPathLen == 0 && ca.MaxPathLenZero {
		return 0, logical.InvalidRequest("signing certificate has a max path length of zero, and cannot issue further CA certificates")
	}
	if requested >= 0 {
		return requested, nil
	}
	if ca.MaxPathLen < 0 {
		return -1, nil
	}
	return ca.MaxPathLen - 1, nil
}

// certOutput renders an issued certificate (and key, when generated) the
// way issue, sign and the CA endpoints return it.
type certOutput struct {
	cert        *x509.Certificate
	key         crypto.Signer
	ca          *caBundle // nil for self-signed roots
	format      string
	keyFormat   string
	removeRoots bool
}

func (o *certOutput) data() (map[string]interface{}, error) {
	data := map[string]interface{}{
		"serial_number": formatSerial(o.cert.SerialNumber),
		"expiration":    o.cert.NotAfter.Unix(),
	}
	issuing := o.cert.Raw
	var chain [][]byte
	if o.ca != nil {
		issuing = o.ca.cert.Raw
		for _, p := range o.ca.chainPEM {
			block, _ := pem.Decode([]byte(p))
			if block == nil {
				continue
			}
			if o.removeRoots {
				if c, err := x509.ParseCertificate(block.Bytes); err == nil && isSelfSigned(c) {
					continue
				}
			}
			chain = append(chain, block.Bytes)
		}
	}
	var keyStr string
	if o.key != nil {
		var err error
		if keyStr, err = encodePrivateKey(o.key, o.format, o.keyFormat == "pkcs8"); err != nil {
			return nil, err
		}
		typ, _, _ := publicKeyInfo(o.key.Public())
		data["private_key"], data["private_key_type"] = keyStr, typ
	}
	if o.format == "der" {
		data["certificate"] = base64.StdEncoding.EncodeToString(o.cert.Raw)
		data["issuing_ca"] = base64.StdEncoding.EncodeToString(issuing)
		if len(chain) > 0 {
			out := make([]string, len(chain))
			for i, c := range chain {
				out[i] = base64.StdEncoding.EncodeToString(c)
			}
			data["ca_chain"] = out
		}
		return data, nil
	}
	data["certificate"] = certPEM(o.cert.Raw)
	data["issuing_ca"] = certPEM(issuing)
	var chainPEM []string
	for _, c := range chain {
		chainPEM = append(chainPEM, certPEM(c))
	}
	if len(chainPEM) > 0 {
		data["ca_chain"] = chainPEM
	}
	if o.format == "pem_bundle" {
		parts := []string{}
		if keyStr != "" {
			parts = append(parts, keyStr)
		}
		parts = append(parts, certPEM(o.cert.Raw))
		parts = append(parts, chainPEM...)
		data["certificate"] = strings.Join(parts, "\n")
	}
	return data, nil
}

// parseSKID reads a hex subject key identifier, ignoring ':', '-' and ' '.
func parseSKID(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	s = strings.NewReplacer(":", "", "-", "", " ", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, logical.InvalidRequest("cannot parse requested SKID value as hex: %v", err)
	}
	return b, nil
}
