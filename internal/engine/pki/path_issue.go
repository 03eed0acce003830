package pki

import (
	"context"
	"crypto"
	"errors"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

type issueMode int

const (
	modeIssue    issueMode = iota // generate the key
	modeSign                      // certify a CSR under the role's policy
	modeVerbatim                  // certify a CSR as it is
)

func (b *backend) issuePaths() []*framework.Path {
	issuerRef := "issuer/" + framework.GenericNameRegex("issuer_ref") + "/"
	var out []*framework.Path
	for _, prefix := range []string{"", issuerRef} {
		out = append(out, &framework.Path{
			Pattern:  prefix + "issue/" + framework.GenericNameRegex("role"),
			Fields:   issueFields(),
			Ops:      framework.Ops{logical.UpdateOperation: b.mode(modeIssue)},
			Synopsis: "Issue a certificate and private key under a role.",
		}, &framework.Path{
			Pattern:  prefix + "sign/" + framework.GenericNameRegex("role"),
			Fields:   issueFields(),
			Ops:      framework.Ops{logical.UpdateOperation: b.mode(modeSign)},
			Synopsis: "Sign a CSR under a role.",
		}, &framework.Path{
			Pattern:  prefix + "sign-verbatim" + framework.OptionalParamRegex("role"),
			Fields:   verbatimFields(),
			Ops:      framework.Ops{logical.UpdateOperation: b.mode(modeVerbatim)},
			Synopsis: "Sign a CSR as it is, without role checks on its names.",
		})
	}
	return out
}

func (b *backend) mode(m issueMode) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		return b.issueOrSign(ctx, req, d, m)
	}
}

// verbatimRole is the permissive role of sign-verbatim: names come from the
// CSR unchecked; lifetimes, storage and leases may come from a named role.
func verbatimRole(d *framework.FieldData, base *roleEntry) *roleEntry {
	r := &roleEntry{
		AllowLocalhost: true, AllowAnyName: true, AllowIPSANs: true, AllowWildcardCertificates: true,
		KeyType: keyTypeAny, UseCSRCommonName: true, UseCSRSANs: true,
		AllowedOtherSANs: []string{"*"}, AllowedSerialNumbers: []string{"*"}, AllowedURISANs: []string{"*"}, AllowedUserIDs: []string{"*"},
		CNValidations: []string{"disabled"},
		KeyUsage:      d.Strings("key_usage"), ExtKeyUsage: d.Strings("ext_key_usage"), ExtKeyUsageOIDs: d.Strings("ext_key_usage_oids"),
		SignatureBits: d.Int("signature_bits"), UsePSS: d.Bool("use_pss"),
		Issuer: defaultRef,
	}
	if base != nil {
		r.TTL, r.MaxTTL, r.GenerateLease, r.NoStore = base.TTL, base.MaxTTL, base.GenerateLease, base.NoStore
		r.NotBeforeDuration = base.NotBeforeDuration
		if base.Issuer != "" {
			r.Issuer = base.Issuer
		}
	}
	return r
}

func (b *backend) issueOrSign(ctx context.Context, req *logical.Request, d *framework.FieldData, mode issueMode) (*logical.Response, error) {
	st := newStore(ctx, req.Storage)
	name := d.String("role")
	var role *roleEntry
	if name != "" || mode != modeVerbatim {
		r, err := getRole(ctx, req.Storage, name)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, logical.InvalidRequest("unknown role: %s", name)
		}
		role = r
	}
	if mode == modeVerbatim {
		if _, err := parseKeyUsages(d.Strings("key_usage")); err != nil {
			return nil, logical.InvalidRequest("%s", err.Error())
		}
		if _, err := parseExtKeyUsages(d.Strings("ext_key_usage")); err != nil {
			return nil, logical.InvalidRequest("%s", err.Error())
		}
		role = verbatimRole(d, role)
	}
	format, keyFormat := d.String("format"), d.String("private_key_format")
	if err := checkFormat(format); err != nil {
		return nil, err
	}
	if err := checkKeyFormat(keyFormat); err != nil {
		return nil, err
	}
	issuerRef := role.Issuer
	if strings.HasPrefix(req.Path, "issuer/") {
		issuerRef = d.String("issuer_ref")
	}
	if issuerRef == "" {
		issuerRef = defaultRef
	}
	ca, err := b.loadCA(st, issuerRef, usageIssuing)
	if err != nil {
		var coded *logical.CodedError
		if errors.As(err, &coded) && errors.Is(err, logical.ErrInvalidRequest) {
			return nil, logical.InvalidRequest("could not fetch the CA certificate (was one set?): %s", coded.Msg)
		}
		return nil, err
	}

	var warnings []string
	var csrPub crypto.PublicKey
	cr := &certRequest{}
	if mode != modeIssue {
		csr, err := parseCSR(d.String("csr"))
		if err != nil {
			return nil, err
		}
		if err := role.checkCSRKey(csr.PublicKey); err != nil {
			return nil, err
		}
		csrPub = csr.PublicKey
		cr.csr = csr
		for _, ext := range csr.Extensions {
			if ext.Id.Equal(oidBasicConstraints) && !role.BasicConstraintsValidForNonCA {
				warnings = append(warnings, "specified CSR contained a Basic Constraints extension that was ignored during issuance")
			}
		}
		if mode == modeSign && role.UseCSRCommonName && d.String("common_name") != "" {
			warnings = append(warnings, `the common_name field was provided but the role is set with "use_csr_common_name" set to true`)
		}
		if mode == modeSign && role.UseCSRSANs && d.String("alt_names") != "" {
			warnings = append(warnings, `the alt_names field was provided but the role is set with "use_csr_sans" set to true`)
		}
	}
	if cr, err = gatherRequest(d, role, cr.csr, req.DisplayName); err != nil {
		return nil, err
	}
	for _, check := range role.validators() {
		if err := check(cr); err != nil {
			return nil, err
		}
	}

	var key crypto.Signer
	if mode == modeIssue {
		k, warn, err := issueKey(d, role)
		if err != nil {
			return nil, err
		}
		key, csrPub = k, k.Public()
		if warn != "" {
			warnings = append(warnings, warn)
		}
	}
	notBefore, notAfter, ttlWarnings, err := b.validity(d, role, ca, ca.entry.LeafNotAfterBehavior)
	if err != nil {
		return nil, err
	}
	cert, err := (&issuance{
		role: role, req: cr, ca: ca, pub: csrPub, notBefore: notBefore, notAfter: notAfter,
		useCSRValues: mode == modeVerbatim,
	}).create()
	if err != nil {
		return nil, err
	}
	if !role.NoStore {
		if err := st.storeCert(cert); err != nil {
			return nil, err
		}
	}
	data, err := (&certOutput{cert: cert, key: key, ca: ca, format: format, keyFormat: keyFormat, removeRoots: d.Bool("remove_roots_from_chain")}).data()
	if err != nil {
		return nil, err
	}
	resp := &logical.Response{Data: data}
	if role.GenerateLease && !role.NoStore {
		resp = b.cert.Response(data, map[string]interface{}{"serial_number": data["serial_number"]})
		resp.Secret.TTL = cert.NotAfter.Sub(b.now())
	}
	resp.Warnings = append(append(resp.Warnings, ttlWarnings...), warnings...)
	return resp, nil
}

// issueKey generates the key for issue/<role>: the role's type and size,
// or the request's when the role allows "any".
func issueKey(d *framework.FieldData, role *roleEntry) (crypto.Signer, string, error) {
	keyType, keyBits := role.KeyType, role.KeyBits
	kt, typeGiven := d.GetOk("key_type")
	kb, bitsGiven := d.GetOk("key_bits")
	warning := ""
	if role.KeyType == keyTypeAny {
		if !typeGiven || kt.(string) == "" {
			return nil, "", logical.InvalidRequest(`role key type "any" not allowed for issuing certificates without providing key_type and/or key_bits request parameters`)
		}
		keyType, keyBits = kt.(string), 0
		if bitsGiven {
			keyBits = kb.(int)
		}
		if keyType == keyTypeAny {
			return nil, "", logical.InvalidRequest(`key_type "any" cannot be generated; use "rsa", "ec" or "ed25519"`)
		}
		var err error
		if keyBits, _, err = normalizeKeySpec(keyType, keyBits, 0); err != nil {
			return nil, "", logical.InvalidRequest("failed to validate role: %v", err)
		}
	} else if typeGiven || bitsGiven {
		warning = "parameters key_type and key_bits ignored as role had specific values"
	}
	k, err := generateKey(keyType, keyBits)
	if err != nil {
		return nil, "", logical.InvalidRequest("%s", err.Error())
	}
	return k, warning, nil
}
