package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
)

// certRequest is what a caller asked to have certified, gathered from the
// API fields or from a CSR, before the role's policy is applied.
type certRequest struct {
	commonName    string
	subjectSerial string
	dnsNames      []string
	emails        []string
	ips           []net.IP
	ipInput       []string
	uris          []*url.URL
	uriInput      []string
	otherSANs     []otherName
	userIDs       []string
	fromCSR       bool
	csr           *x509.CertificateRequest
	displayName   string
}

// otherName is one "<oid>;UTF8:<value>" subject alternative name.
type otherName struct {
	oid   string
	value string
}

func (o otherName) String() string { return o.oid + ";UTF-8:" + o.value }

// parseOtherNames reads "<oid>;UTF8:<value>" entries.
func parseOtherNames(in []string) ([]otherName, error) {
	var out []otherName
	for _, s := range in {
		oid, rest, ok := strings.Cut(s, ";")
		if !ok {
			return nil, fmt.Errorf("expected a semicolon in other SAN %q", s)
		}
		typ, value, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("expected a colon in other SAN %q", s)
		}
		if !strings.EqualFold(typ, "utf8") && !strings.EqualFold(typ, "utf-8") {
			return nil, fmt.Errorf("only utf8 other SANs are supported; found non-supported type in other SAN %q", s)
		}
		if _, err := parseOID(oid); err != nil {
			return nil, fmt.Errorf("invalid OID in other SAN %q", s)
		}
		out = append(out, otherName{oid: oid, value: value})
	}
	return out, nil
}

// A validator checks one aspect of a request against the role; validators
// run in sequence and the first failure is the client's 400.
type validator func(r *certRequest) error

// A modifier writes one aspect of the role or request into the
// certificate template.
type modifier func(t *x509.Certificate, r *certRequest) error

func (role *roleEntry) namePolicy(displayName string) *namePolicy {
	return &namePolicy{
		allowLocalhost: role.AllowLocalhost, allowedDomains: role.AllowedDomains,
		allowBare: role.AllowBareDomains, allowSubdomains: role.AllowSubdomains,
		allowGlobs: role.AllowGlobDomains, allowWildcards: role.AllowWildcardCertificates,
		allowAnyName: role.AllowAnyName, enforceHostnames: role.EnforceHostnames,
		allowDisplayName: role.AllowTokenDisplayName, displayName: displayName,
	}
}

// validators lists the role's checks in the order Vault applies them.
func (role *roleEntry) validators() []validator {
	return []validator{
		role.checkCommonName,
		role.checkSubjectSerial,
		role.checkDNSNames,
		role.checkEmails,
		role.checkOtherSANs,
		role.checkIPs,
		role.checkURIs,
		role.checkUserIDs,
	}
}

func (role *roleEntry) checkCommonName(r *certRequest) error {
	if r.commonName == "" {
		if role.RequireCN {
			return logical.InvalidRequest(`the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, unless "require_cn" is set to false`)
		}
		return nil
	}
	if !role.namePolicy(r.displayName).commonNameAllowed(r.commonName, role.CNValidations) {
		return logical.InvalidRequest("common name %s not allowed by this role", r.commonName)
	}
	return nil
}

func (role *roleEntry) checkSubjectSerial(r *certRequest) error {
	if r.subjectSerial == "" {
		return nil
	}
	for _, p := range role.AllowedSerialNumbers {
		if p != "" && (p == r.subjectSerial || (strings.Contains(p, "*") && globMatch(p, r.subjectSerial))) {
			return nil
		}
	}
	return logical.InvalidRequest("serial_number %s not allowed by this role", r.subjectSerial)
}

func (role *roleEntry) checkDNSNames(r *certRequest) error {
	if bad := role.namePolicy(r.displayName).firstDisallowed(r.dnsNames); bad != "" {
		return logical.InvalidRequest("subject alternate name %s not allowed by this role", bad)
	}
	return nil
}

func (role *roleEntry) checkEmails(r *certRequest) error {
	if bad := role.namePolicy(r.displayName).firstDisallowed(r.emails); bad != "" {
		return logical.InvalidRequest("email address %s not allowed by this role", bad)
	}
	return nil
}

func (role *roleEntry) checkOtherSANs(r *certRequest) error {
	if len(r.otherSANs) == 0 || (len(role.AllowedOtherSANs) == 1 && role.AllowedOtherSANs[0] == "*") {
		return nil
	}
	allowed, err := parseOtherNames(role.AllowedOtherSANs)
	if err != nil {
		return logical.InvalidRequest("error parsing role's allowed SANs: %v", err)
	}
	for _, o := range r.otherSANs {
		oidKnown, ok := false, false
		for _, a := range allowed {
			if a.oid != o.oid {
				continue
			}
			oidKnown = true
			if globMatch(a.value, o.value) {
				ok = true
				break
			}
		}
		switch {
		case !oidKnown:
			return logical.InvalidRequest("other SAN OID %s not allowed by this role", o.oid)
		case !ok:
			return logical.InvalidRequest("other SAN %s not allowed for OID %s by this role", o.value, o.oid)
		}
	}
	return nil
}

func (role *roleEntry) checkIPs(r *certRequest) error {
	if len(r.ips) == 0 && len(r.ipInput) == 0 {
		return nil
	}
	if !role.AllowIPSANs {
		if r.fromCSR {
			return logical.InvalidRequest("IP Subject Alternative Names are not allowed in this role, but was provided some via CSR")
		}
		return logical.InvalidRequest("IP Subject Alternative Names are not allowed in this role, but was provided %s", r.ipInput)
	}
	if !r.fromCSR {
		r.ips = r.ips[:0]
		for _, v := range r.ipInput {
			ip := net.ParseIP(strings.TrimSpace(v))
			if ip == nil {
				return logical.InvalidRequest("the value %q is not a valid IP address", v)
			}
			r.ips = append(r.ips, ip)
		}
	}
	return nil
}

func (role *roleEntry) checkURIs(r *certRequest) error {
	src := "the API"
	values := r.uriInput
	if r.fromCSR {
		src = "CSR"
		values = nil
		for _, u := range r.uris {
			values = append(values, u.String())
		}
	}
	if len(values) == 0 {
		return nil
	}
	if len(role.AllowedURISANs) == 0 {
		return logical.InvalidRequest("URI Subject Alternative Names are not allowed in this role, but were provided via %s", src)
	}
	var parsed []*url.URL
	for _, v := range values {
		ok := false
		for _, p := range role.AllowedURISANs {
			if globMatch(p, v) {
				ok = true
				break
			}
		}
		if !ok {
			return logical.InvalidRequest("URI Subject Alternative Names were provided via %s which are not valid for this role", src)
		}
		u, err := url.Parse(v)
		if err != nil {
			return logical.InvalidRequest("the provided URI Subject Alternative Name %q is not a valid URI", v)
		}
		parsed = append(parsed, u)
	}
	r.uris = parsed
	return nil
}

func (role *roleEntry) checkUserIDs(r *certRequest) error {
	for _, id := range r.userIDs {
		ok := false
		for _, p := range role.AllowedUserIDs {
			if p != "" && (strings.EqualFold(p, id) || (strings.Contains(p, "*") && globMatch(p, id))) {
				ok = true
				break
			}
		}
		if !ok {
			return logical.InvalidRequest("user_id %v is not allowed by this role", id)
		}
	}
	return nil
}

// checkCSRKey enforces the role's key type and minimum size on a CSR.
func (role *roleEntry) checkCSRKey(pub crypto.PublicKey) error {
	typ, bits, err := publicKeyInfo(pub)
	if err != nil {
		return logical.InvalidRequest("Refusing to sign CSR with an unsupported public key type: %v", err)
	}
	min := role.KeyBits
	if role.KeyType == keyTypeAny {
		min = map[string]int{keyTypeRSA: 2048, keyTypeEC: 224}[typ]
	} else if role.KeyType != typ {
		return logical.InvalidRequest("role requires keys of type %s", role.KeyType)
	}
	if (typ == keyTypeRSA || typ == keyTypeEC) && bits < min {
		return logical.InvalidRequest("role requires a minimum of a %d-bit key, but CSR's key is %d bits", min, bits)
	}
	if typ == keyTypeRSA && bits < 2048 {
		return logical.InvalidRequest("RSA keys < 2048 bits are unsafe and not supported")
	}
	return nil
}

// modifiers lists what a role writes into a certificate.
func (role *roleEntry) modifiers() []modifier {
	return []modifier{role.setSubject, setSANs, role.setUsages, role.setPolicies, role.setBasicConstraints}
}

func (role *roleEntry) setSubject(t *x509.Certificate, r *certRequest) error {
	t.Subject = pkix.Name{
		CommonName:         r.commonName,
		SerialNumber:       r.subjectSerial,
		Country:            dedup(role.Country),
		Organization:       dedup(role.Organization),
		OrganizationalUnit: dedup(role.OU),
		Locality:           dedup(role.Locality),
		Province:           dedup(role.Province),
		StreetAddress:      dedup(role.StreetAddress),
		PostalCode:         dedup(role.PostalCode),
	}
	for _, id := range r.userIDs {
		t.Subject.ExtraNames = append(t.Subject.ExtraNames, pkix.AttributeTypeAndValue{Type: oidUserID, Value: id})
	}
	return nil
}

var (
	oidUserID         = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)

func setSANs(t *x509.Certificate, r *certRequest) error {
	t.DNSNames, t.EmailAddresses, t.IPAddresses, t.URIs = dedup(r.dnsNames), dedup(r.emails), r.ips, r.uris
	if len(r.otherSANs) == 0 {
		return nil
	}
	ext, err := marshalSANs(t, r.otherSANs)
	if err != nil {
		return fmt.Errorf("error marshaling other SANs: %w", err)
	}
	t.ExtraExtensions = append(t.ExtraExtensions, ext)
	return nil
}

func (role *roleEntry) setUsages(t *x509.Certificate, _ *certRequest) error {
	ku, err := parseKeyUsages(role.KeyUsage)
	if err != nil {
		return logical.InvalidRequest("%s", err.Error())
	}
	t.KeyUsage = ku
	t.ExtKeyUsage = role.extKeyUsages()
	for _, s := range role.ExtKeyUsageOIDs {
		oid, err := parseOID(s)
		if err != nil {
			return logical.InvalidRequest("%q could not be parsed as a valid oid for an extended key usage", s)
		}
		t.UnknownExtKeyUsage = append(t.UnknownExtKeyUsage, oid)
	}
	return nil
}

func (role *roleEntry) setPolicies(t *x509.Certificate, _ *certRequest) error {
	oids, err := policyOIDs(role.PolicyIdentifiers)
	if err != nil {
		return logical.InvalidRequest("%s", err.Error())
	}
	t.Policies = oids
	return nil
}

func (role *roleEntry) setBasicConstraints(t *x509.Certificate, _ *certRequest) error {
	if role.BasicConstraintsValidForNonCA {
		t.BasicConstraintsValid, t.IsCA = true, false
	}
	return nil
}

// marshalSANs builds the subjectAltName extension by hand only because the
// standard library does not encode otherName entries.
func marshalSANs(t *x509.Certificate, others []otherName) (pkix.Extension, error) {
	var names []asn1.RawValue
	for _, n := range t.DNSNames {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(n)})
	}
	for _, e := range t.EmailAddresses {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte(e)})
	}
	for _, ip := range t.IPAddresses {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: ip})
	}
	for _, u := range t.URIs {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u.String())})
	}
	for _, o := range others {
		oid, err := parseOID(o.oid)
		if err != nil {
			return pkix.Extension{}, err
		}
		utf8, err := asn1.MarshalWithParams(o.value, "utf8")
		if err != nil {
			return pkix.Extension{}, err
		}
		body, err := asn1.Marshal(oid)
		if err != nil {
			return pkix.Extension{}, err
		}
		explicit, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8})
		if err != nil {
			return pkix.Extension{}, err
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(body, explicit...)})
	}
	v, err := asn1.Marshal(names)
	return pkix.Extension{Id: oidSubjectAltName, Value: v}, err
}

// csrOtherNames reads otherName SANs from a CSR's extensions.
func csrOtherNames(csr *x509.CertificateRequest) ([]otherName, error) {
	var out []otherName
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var seq []asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &seq); err != nil {
			return nil, fmt.Errorf("could not parse requested other SAN: %w", err)
		}
		for _, v := range seq {
			if v.Class != asn1.ClassContextSpecific || v.Tag != 0 {
				continue
			}
			var on struct {
				TypeID asn1.ObjectIdentifier
				Value  asn1.RawValue // [0] EXPLICIT wrapper around the value
			}
			if _, err := asn1.UnmarshalWithParams(v.FullBytes, &on, "tag:0"); err != nil {
				return nil, fmt.Errorf("could not parse requested other SAN: %w", err)
			}
			var s string
			if on.Value.Class != asn1.ClassContextSpecific || on.Value.Tag != 0 {
				return nil, fmt.Errorf("could not parse requested other SAN: unexpected value tag")
			}
			if _, err := asn1.UnmarshalWithParams(on.Value.Bytes, &s, "utf8"); err != nil {
				return nil, fmt.Errorf("could not parse requested other SAN: no UTF-8 string found in OtherName")
			}
			out = append(out, otherName{oid: on.TypeID.String(), value: s})
		}
	}
	return out, nil
}

func dedup(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
