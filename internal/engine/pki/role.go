package pki

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// roleEntry is a stored role: the policy certificates issued through it
// must satisfy and the values stamped into them.
type roleEntry struct {
	TTL                           time.Duration `json:"ttl"`
	MaxTTL                        time.Duration `json:"max_ttl"`
	AllowLocalhost                bool          `json:"allow_localhost"`
	AllowedDomains                []string      `json:"allowed_domains"`
	AllowedDomainsTemplate        bool          `json:"allowed_domains_template"`
	AllowBareDomains              bool          `json:"allow_bare_domains"`
	AllowSubdomains               bool          `json:"allow_subdomains"`
	AllowGlobDomains              bool          `json:"allow_glob_domains"`
	AllowWildcardCertificates     bool          `json:"allow_wildcard_certificates"`
	AllowAnyName                  bool          `json:"allow_any_name"`
	AllowTokenDisplayName         bool          `json:"allow_token_displayname"`
	EnforceHostnames              bool          `json:"enforce_hostnames"`
	AllowIPSANs                   bool          `json:"allow_ip_sans"`
	AllowedURISANs                []string      `json:"allowed_uri_sans"`
	AllowedURISANsTemplate        bool          `json:"allowed_uri_sans_template"`
	AllowedOtherSANs              []string      `json:"allowed_other_sans"`
	AllowedSerialNumbers          []string      `json:"allowed_serial_numbers"`
	AllowedUserIDs                []string      `json:"allowed_user_ids"`
	ServerFlag                    bool          `json:"server_flag"`
	ClientFlag                    bool          `json:"client_flag"`
	CodeSigningFlag               bool          `json:"code_signing_flag"`
	EmailProtectionFlag           bool          `json:"email_protection_flag"`
	KeyType                       string        `json:"key_type"`
	KeyBits                       int           `json:"key_bits"`
	SignatureBits                 int           `json:"signature_bits"`
	UsePSS                        bool          `json:"use_pss"`
	KeyUsage                      []string      `json:"key_usage"`
	ExtKeyUsage                   []string      `json:"ext_key_usage"`
	ExtKeyUsageOIDs               []string      `json:"ext_key_usage_oids"`
	UseCSRCommonName              bool          `json:"use_csr_common_name"`
	UseCSRSANs                    bool          `json:"use_csr_sans"`
	OU                            []string      `json:"ou"`
	Organization                  []string      `json:"organization"`
	Country                       []string      `json:"country"`
	Locality                      []string      `json:"locality"`
	Province                      []string      `json:"province"`
	StreetAddress                 []string      `json:"street_address"`
	PostalCode                    []string      `json:"postal_code"`
	GenerateLease                 bool          `json:"generate_lease"`
	NoStore                       bool          `json:"no_store"`
	RequireCN                     bool          `json:"require_cn"`
	CNValidations                 []string      `json:"cn_validations"`
	PolicyIdentifiers             []string      `json:"policy_identifiers"`
	BasicConstraintsValidForNonCA bool          `json:"basic_constraints_valid_for_non_ca"`
	NotBeforeDuration             time.Duration `json:"not_before_duration"`
	NotBefore                     string        `json:"not_before"`
	NotAfter                      string        `json:"not_after"`
	Issuer                        string        `json:"issuer_ref"`
}

// roleField binds one API field to the role: its schema, how a decoded
// value is set, and how it is shown.
type roleField struct {
	schema *framework.FieldSchema
	set    func(r *roleEntry, v interface{})
	get    func(r *roleEntry) interface{}
}

func boolField(def bool, desc string, p func(*roleEntry) *bool) roleField {
	return roleField{
		schema: &framework.FieldSchema{Type: framework.TypeBool, Default: def, Description: desc},
		set:    func(r *roleEntry, v interface{}) { *p(r) = v.(bool) },
		get:    func(r *roleEntry) interface{} { return *p(r) },
	}
}

func listField(def []string, desc string, p func(*roleEntry) *[]string) roleField {
	var d interface{}
	if def != nil {
		d = def
	}
	return roleField{
		schema: &framework.FieldSchema{Type: framework.TypeCommaStringSlice, Default: d, Description: desc},
		set:    func(r *roleEntry, v interface{}) { *p(r) = v.([]string) },
		get: func(r *roleEntry) interface{} {
			if *p(r) == nil {
				return []string{}
			}
			return *p(r)
		},
	}
}

func durationField(def int, desc string, p func(*roleEntry) *time.Duration) roleField {
	return roleField{
		schema: &framework.FieldSchema{Type: framework.TypeDurationSecond, Default: def, Description: desc},
		set:    func(r *roleEntry, v interface{}) { *p(r) = time.Duration(v.(int)) * time.Second },
		get:    func(r *roleEntry) interface{} { return int64(p(r).Seconds()) },
	}
}

func intField(desc string, p func(*roleEntry) *int) roleField {
	return roleField{
		schema: &framework.FieldSchema{Type: framework.TypeInt, Default: 0, Description: desc},
		set:    func(r *roleEntry, v interface{}) { *p(r) = v.(int) },
		get:    func(r *roleEntry) interface{} { return *p(r) },
	}
}

func stringField(def, desc string, allowed []interface{}, p func(*roleEntry) *string) roleField {
	return roleField{
		schema: &framework.FieldSchema{Type: framework.TypeString, Default: def, Description: desc, AllowedValues: allowed},
		set:    func(r *roleEntry, v interface{}) { *p(r) = v.(string) },
		get:    func(r *roleEntry) interface{} { return *p(r) },
	}
}

// roleFields is the table of role parameters with Vault's defaults.
func roleFields() map[string]roleField {
	return map[string]roleField{
		"ttl":                                durationField(0, "Default certificate lifetime; the mount's default when unset.", func(r *roleEntry) *time.Duration { return &r.TTL }),
		"max_ttl":                            durationField(0, "Longest certificate lifetime; the mount's maximum when unset.", func(r *roleEntry) *time.Duration { return &r.MaxTTL }),
		"allow_localhost":                    boolField(true, `Allow "localhost" and "localdomain" regardless of allowed_domains.`, func(r *roleEntry) *bool { return &r.AllowLocalhost }),
		"allowed_domains":                    listField(nil, "Domains this role may issue for (see allow_bare_domains, allow_subdomains, allow_glob_domains).", func(r *roleEntry) *[]string { return &r.AllowedDomains }),
		"allowed_domains_template":           boolField(false, "Accepted for compatibility; identity templates are matched literally.", func(r *roleEntry) *bool { return &r.AllowedDomainsTemplate }),
		"allow_bare_domains":                 boolField(false, "Allow the allowed domains themselves as names.", func(r *roleEntry) *bool { return &r.AllowBareDomains }),
		"allow_subdomains":                   boolField(false, "Allow subdomains (and wildcards) of the allowed domains.", func(r *roleEntry) *bool { return &r.AllowSubdomains }),
		"allow_glob_domains":                 boolField(false, `Allow shell-style globs such as "ftp*.example.com" in allowed_domains.`, func(r *roleEntry) *bool { return &r.AllowGlobDomains }),
		"allow_wildcard_certificates":        boolField(true, "Allow RFC 6125 wildcards in the left-most label.", func(r *roleEntry) *bool { return &r.AllowWildcardCertificates }),
		"allow_any_name":                     boolField(false, "Allow any name, regardless of allowed_domains.", func(r *roleEntry) *bool { return &r.AllowAnyName }),
		"allow_token_displayname":            boolField(false, "Allow the requesting token's display name as a name.", func(r *roleEntry) *bool { return &r.AllowTokenDisplayName }),
		"enforce_hostnames":                  boolField(true, "Only allow valid host names in the CN, DNS SANs and e-mail host parts.", func(r *roleEntry) *bool { return &r.EnforceHostnames }),
		"allow_ip_sans":                      boolField(true, "Allow IP subject alternative names.", func(r *roleEntry) *bool { return &r.AllowIPSANs }),
		"allowed_uri_sans":                   listField(nil, "Allowed URI SANs; globs are supported.", func(r *roleEntry) *[]string { return &r.AllowedURISANs }),
		"allowed_uri_sans_template":          boolField(false, "Accepted for compatibility; identity templates are matched literally.", func(r *roleEntry) *bool { return &r.AllowedURISANsTemplate }),
		"allowed_other_sans":                 listField(nil, `Allowed other names as "<oid>;UTF8:<value>" (globs supported), or "*".`, func(r *roleEntry) *[]string { return &r.AllowedOtherSANs }),
		"allowed_serial_numbers":             listField(nil, "Allowed subject serial numbers; globs are supported.", func(r *roleEntry) *[]string { return &r.AllowedSerialNumbers }),
		"allowed_user_ids":                   listField(nil, "Allowed subject user IDs; globs are supported.", func(r *roleEntry) *[]string { return &r.AllowedUserIDs }),
		"server_flag":                        boolField(true, "Flag certificates for server authentication.", func(r *roleEntry) *bool { return &r.ServerFlag }),
		"client_flag":                        boolField(true, "Flag certificates for client authentication.", func(r *roleEntry) *bool { return &r.ClientFlag }),
		"code_signing_flag":                  boolField(false, "Flag certificates for code signing.", func(r *roleEntry) *bool { return &r.CodeSigningFlag }),
		"email_protection_flag":              boolField(false, "Flag certificates for e-mail protection.", func(r *roleEntry) *bool { return &r.EmailProtectionFlag }),
		"key_type":                           stringField(keyTypeRSA, `Key type: "rsa", "ec", "ed25519" or "any".`, []interface{}{keyTypeRSA, keyTypeEC, keyTypeEd25519, keyTypeAny}, func(r *roleEntry) *string { return &r.KeyType }),
		"key_bits":                           intField("Key size: 0 for the default (2048 RSA, 256 EC); RSA 2048/3072/4096/8192, EC 224/256/384/521.", func(r *roleEntry) *int { return &r.KeyBits }),
		"signature_bits":                     intField("Hash size for RSA signatures: 256, 384 or 512 (0 picks 256).", func(r *roleEntry) *int { return &r.SignatureBits }),
		"use_pss":                            boolField(false, "Use PSS signatures with RSA issuers.", func(r *roleEntry) *bool { return &r.UsePSS }),
		"key_usage":                          listField([]string{"DigitalSignature", "KeyAgreement", "KeyEncipherment"}, "Key usages (x509.KeyUsage names without the prefix).", func(r *roleEntry) *[]string { return &r.KeyUsage }),
		"ext_key_usage":                      listField([]string{}, "Extended key usages (x509.ExtKeyUsage names without the prefix).", func(r *roleEntry) *[]string { return &r.ExtKeyUsage }),
		"ext_key_usage_oids":                 listField(nil, "Extended key usage OIDs.", func(r *roleEntry) *[]string { return &r.ExtKeyUsageOIDs }),
		"use_csr_common_name":                boolField(true, "Take the common name from the CSR when signing.", func(r *roleEntry) *bool { return &r.UseCSRCommonName }),
		"use_csr_sans":                       boolField(true, "Take the SANs from the CSR when signing.", func(r *roleEntry) *bool { return &r.UseCSRSANs }),
		"ou":                                 listField(nil, "Organizational unit(s) in the subject.", func(r *roleEntry) *[]string { return &r.OU }),
		"organization":                       listField(nil, "Organization(s) in the subject.", func(r *roleEntry) *[]string { return &r.Organization }),
		"country":                            listField(nil, "Country in the subject.", func(r *roleEntry) *[]string { return &r.Country }),
		"locality":                           listField(nil, "Locality in the subject.", func(r *roleEntry) *[]string { return &r.Locality }),
		"province":                           listField(nil, "Province in the subject.", func(r *roleEntry) *[]string { return &r.Province }),
		"street_address":                     listField(nil, "Street address in the subject.", func(r *roleEntry) *[]string { return &r.StreetAddress }),
		"postal_code":                        listField(nil, "Postal code in the subject.", func(r *roleEntry) *[]string { return &r.PostalCode }),
		"generate_lease":                     boolField(false, "Attach a lease to issued certificates; revoking the lease revokes the certificate.", func(r *roleEntry) *bool { return &r.GenerateLease }),
		"no_store":                           boolField(false, "Do not store issued certificates (they cannot be listed or revoked).", func(r *roleEntry) *bool { return &r.NoStore }),
		"require_cn":                         boolField(true, "Require a common name.", func(r *roleEntry) *bool { return &r.RequireCN }),
		"cn_validations":                     listField([]string{"email", "hostname"}, `Allowed common name kinds: "email", "hostname", or "disabled".`, func(r *roleEntry) *[]string { return &r.CNValidations }),
		"policy_identifiers":                 listField(nil, "Certificate policy OIDs.", func(r *roleEntry) *[]string { return &r.PolicyIdentifiers }),
		"basic_constraints_valid_for_non_ca": boolField(false, "Mark basic constraints valid on non-CA certificates.", func(r *roleEntry) *bool { return &r.BasicConstraintsValidForNonCA }),
		"not_before_duration":                durationField(30, "How far before now certificates become valid.", func(r *roleEntry) *time.Duration { return &r.NotBeforeDuration }),
		"not_before":                         stringField("", "Fixed NotBefore (RFC 3339).", nil, func(r *roleEntry) *string { return &r.NotBefore }),
		"not_after":                          stringField("", "Fixed NotAfter (RFC 3339).", nil, func(r *roleEntry) *string { return &r.NotAfter }),
		"issuer_ref":                         stringField(defaultRef, "Issuer used by issue/sign with this role.", nil, func(r *roleEntry) *string { return &r.Issuer }),
	}
}

// responseData renders a role as Vault does on read and write.
func (r *roleEntry) responseData(fields map[string]roleField) map[string]interface{} {
	out := make(map[string]interface{}, len(fields))
	for name, f := range fields {
		out[name] = f.get(r)
	}
	return out
}

var keyUsageNames = map[string]x509.KeyUsage{
	"digitalsignature":  x509.KeyUsageDigitalSignature,
	"contentcommitment": x509.KeyUsageContentCommitment,
	"keyencipherment":   x509.KeyUsageKeyEncipherment,
	"dataencipherment":  x509.KeyUsageDataEncipherment,
	"keyagreement":      x509.KeyUsageKeyAgreement,
	"certsign":          x509.KeyUsageCertSign,
	"crlsign":           x509.KeyUsageCRLSign,
	"encipheronly":      x509.KeyUsageEncipherOnly,
	"decipheronly":      x509.KeyUsageDecipherOnly,
}

var extKeyUsageNames = map[string]x509.ExtKeyUsage{
	"any":                        x509.ExtKeyUsageAny,
	"serverauth":                 x509.ExtKeyUsageServerAuth,
	"clientauth":                 x509.ExtKeyUsageClientAuth,
	"codesigning":                x509.ExtKeyUsageCodeSigning,
	"emailprotection":            x509.ExtKeyUsageEmailProtection,
	"ipsecendsystem":             x509.ExtKeyUsageIPSECEndSystem,
	"ipsectunnel":                x509.ExtKeyUsageIPSECTunnel,
	"ipsecuser":                  x509.ExtKeyUsageIPSECUser,
	"timestamping":               x509.ExtKeyUsageTimeStamping,
	"ocspsigning":                x509.ExtKeyUsageOCSPSigning,
	"microsoftservergatedcrypto": x509.ExtKeyUsageMicrosoftServerGatedCrypto,
	"netscapeservergatedcrypto":  x509.ExtKeyUsageNetscapeServerGatedCrypto,
}

func usageKey(s, prefix string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.TrimPrefix(s, strings.ToLower(prefix))
}

// parseKeyUsages maps names such as "DigitalSignature" (case-insensitive,
// with or without the "KeyUsage" prefix) to a bit set.
func parseKeyUsages(names []string) (x509.KeyUsage, error) {
	var ku x509.KeyUsage
	for _, n := range names {
		v, ok := keyUsageNames[usageKey(n, "KeyUsage")]
		if !ok {
			return 0, fmt.Errorf("unknown key usage %q; valid values are %s", n, sortedKeys(keyUsageNames))
		}
		ku |= v
	}
	return ku, nil
}

func parseExtKeyUsages(names []string) ([]x509.ExtKeyUsage, error) {
	var out []x509.ExtKeyUsage
	for _, n := range names {
		v, ok := extKeyUsageNames[usageKey(n, "ExtKeyUsage")]
		if !ok {
			return nil, fmt.Errorf("unknown extended key usage %q; valid values are %s", n, sortedKeys(extKeyUsageNames))
		}
		out = append(out, v)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// extKeyUsages combines the role's flags and ext_key_usage list.
func (r *roleEntry) extKeyUsages() []x509.ExtKeyUsage {
	var out []x509.ExtKeyUsage
	add := func(u x509.ExtKeyUsage) {
		for _, e := range out {
			if e == u {
				return
			}
		}
		out = append(out, u)
	}
	if r.ServerFlag {
		add(x509.ExtKeyUsageServerAuth)
	}
	if r.ClientFlag {
		add(x509.ExtKeyUsageClientAuth)
	}
	if r.CodeSigningFlag {
		add(x509.ExtKeyUsageCodeSigning)
	}
	if r.EmailProtectionFlag {
		add(x509.ExtKeyUsageEmailProtection)
	}
	extra, _ := parseExtKeyUsages(r.ExtKeyUsage)
	for _, u := range extra {
		add(u)
	}
	return out
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("%q is not a dotted OID", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a dotted OID", s)
		}
		oid[i] = n
	}
	return oid, nil
}

// policyOIDs parses policy_identifiers (dotted OIDs).
func policyOIDs(values []string) ([]x509.OID, error) {
	out := make([]x509.OID, 0, len(values))
	for _, v := range values {
		oid, err := x509.ParseOID(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("policy_identifiers: %q is not a valid OID", v)
		}
		out = append(out, oid)
	}
	return out, nil
}

// jsonPolicyIdentifiers reads Vault's JSON form of policy_identifiers,
// [{"oid": "1.2.3"}, ...], from the raw request value; ok is false when
// the value is not in that form. Policy qualifiers are not supported.
func jsonPolicyIdentifiers(raw interface{}) (oids []string, ok bool, err error) {
	s, isString := raw.(string)
	if !isString || !strings.HasPrefix(strings.TrimSpace(s), "[{") {
		return nil, false, nil
	}
	var entries []map[string]string
	if err := json.Unmarshal([]byte(s), &entries); err != nil {
		return nil, true, fmt.Errorf("policy_identifiers: invalid JSON policy list: %v", err)
	}
	for _, e := range entries {
		if e["cps"] != "" || e["notice"] != "" {
			return nil, true, fmt.Errorf("policy_identifiers: policy qualifiers (cps, notice) are not supported")
		}
		oids = append(oids, e["oid"])
	}
	return oids, true, nil
}
