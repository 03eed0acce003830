package pki

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) intermediatePaths() []*framework.Path {
	bundle := framework.Fields{"pem_bundle": str("PEM certificates and (for bundles) private keys, in any order.")}
	return []*framework.Path{{
		Pattern:  "intermediate/generate/" + framework.GenericNameRegex("exported"),
		Fields:   caFields(),
		Ops:      framework.Ops{logical.UpdateOperation: b.generateIntermediate},
		Synopsis: "Generate a key and a CSR for an intermediate CA.",
	}, {
		Pattern:  "intermediate/set-signed",
		Fields:   framework.Fields{"certificate": str("PEM signed intermediate certificate, optionally followed by its parents.")},
		Ops:      framework.Ops{logical.UpdateOperation: b.importIssuers(false)},
		Synopsis: "Install the signed intermediate certificate.",
	}, {
		Pattern:  "config/ca",
		Fields:   bundle,
		Ops:      framework.Ops{logical.UpdateOperation: b.importIssuers(true)},
		Synopsis: "Import a CA bundle (certificates and keys).",
	}, {
		Pattern:  "issuers/import/bundle",
		Fields:   bundle,
		Ops:      framework.Ops{logical.UpdateOperation: b.importIssuers(true)},
		Synopsis: "Import certificates and keys.",
	}, {
		Pattern:  "issuers/import/cert",
		Fields:   bundle,
		Ops:      framework.Ops{logical.UpdateOperation: b.importIssuers(false)},
		Synopsis: "Import issuer certificates (no keys).",
	}}
}

func (b *backend) generateIntermediate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
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
	keyName := strings.TrimSpace(d.String("key_name"))
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
	tmpl := &x509.CertificateRequest{
		DNSNames: dedup(cr.dnsNames), EmailAddresses: dedup(cr.emails), IPAddresses: cr.ips, URIs: cr.uris,
		SignatureAlgorithm: signatureAlgorithm(key.Public(), role.SignatureBits, false),
	}
	cert := &x509.Certificate{}
	for _, m := range []modifier{role.setSubject, setSANs} {
		if err := m(cert, cr); err != nil {
			return nil, err
		}
	}
	tmpl.Subject, tmpl.ExtraExtensions = cert.Subject, cert.ExtraExtensions
	if d.Bool("add_basic_constraints") {
		v, err := asn1.Marshal(struct {
			IsCA bool `asn1:"optional"`
		}{IsCA: true})
		if err != nil {
			return nil, fmt.Errorf("marshal basic constraints: %w", err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidBasicConstraints, Critical: true, Value: v})
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("unable to create certificate request: %w", err)
	}
	data := map[string]interface{}{"csr": pemString("CERTIFICATE REQUEST", der)}
	if format == "der" {
		data["csr"] = base64.StdEncoding.EncodeToString(der)
	}
	if exported {
		k, err := encodePrivateKey(key, format, keyFormat == "pkcs8")
		if err != nil {
			return nil, err
		}
		typ, _, _ := publicKeyInfo(key.Public())
		data["private_key"], data["private_key_type"] = k, typ
		if format == "pem_bundle" {
			data["csr"] = k + "\n" + data["csr"].(string)
		}
	}
	ke, _, err := st.importKey(key, keyName)
	if err != nil {
		return nil, err
	}
	data["key_id"] = ke.ID
	resp := &logical.Response{Data: data}
	if urls, err := st.urls(); err == nil && urls.empty() {
		resp.AddWarning("This mount hasn't configured any authority information access (AIA) fields; this may make it harder for systems to find missing certificates in the chain or to validate revocation status of certificates. Consider updating /config/urls or the newly generated issuer with this information. Since this certificate is an intermediate, it might be useful to regenerate this certificate after fixing this problem for the root mount.")
	}
	return resp, nil
}

// importIssuers imports certificates (and, when keysAllowed, keys) from
// pem_bundle or certificate, answering like Vault with the imported and
// already-known issuers and keys and the issuer-to-key mapping.
func (b *backend) importIssuers(keysAllowed bool) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		b.issuersLock.Lock()
		defer b.issuersLock.Unlock()
		defer b.invalidate()
		st := newStore(ctx, req.Storage)
		var data string
		if v, ok := d.Raw["pem_bundle"]; ok {
			data, _ = v.(string)
		}
		if v, ok := d.Raw["certificate"]; ok {
			if data != "" {
				return nil, logical.InvalidRequest("'pem_bundle' and 'certificate' parameters were both provided")
			}
			data, _ = v.(string)
			keysAllowed = false
		}
		if strings.TrimSpace(data) == "" {
			return nil, logical.InvalidRequest("'pem_bundle' and 'certificate' parameters were empty")
		}
		if len(data) < 75 {
			return nil, logical.InvalidRequest("provided data for import was too short; perhaps a path was passed to the API rather than the contents of a PEM file")
		}
		bundle, err := parsePEMBundle(data)
		if err != nil {
			return nil, err
		}
		if len(bundle.keys) > 0 && !keysAllowed {
			return nil, logical.InvalidRequest("private keys found in the PEM bundle but not allowed by the path; use /issuers/import/bundle")
		}
		if len(bundle.certs) == 0 && len(bundle.keys) == 0 {
			return nil, logical.InvalidRequest("no certificates or keys found in the PEM data")
		}
		imported, existing := []string{}, []string{}
		importedKeys, existingKeys := []string{}, []string{}
		for _, k := range bundle.keys {
			e, known, err := st.importKey(k, "")
			if err != nil {
				return nil, err
			}
			if known {
				existingKeys = append(existingKeys, e.ID)
			} else {
				importedKeys = append(importedKeys, e.ID)
			}
		}
		mapping := map[string]string{}
		for _, c := range bundle.certs {
			e, known, err := st.importIssuer(c, "")
			if err != nil {
				return nil, err
			}
			mapping[e.ID] = e.KeyID
			if known {
				existing = append(existing, e.ID)
			} else {
				imported = append(imported, e.ID)
			}
		}
		resp := &logical.Response{Data: map[string]interface{}{
			"mapping": mapping, "imported_issuers": imported, "existing_issuers": existing,
			"imported_keys": importedKeys, "existing_keys": existingKeys,
		}}
		cfg, err := st.issuersConfig()
		if err != nil {
			return nil, err
		}
		if keyID, ok := mapping[cfg.DefaultIssuerID]; ok && keyID == "" {
			resp.AddWarning("The default issuer has no key associated with it. Some operations like issuing certificates and signing CRLs will be unavailable with the requested default issuer until a key is imported or the default issuer is changed.")
		}
		if urls, err := st.urls(); err == nil && urls.empty() {
			resp.AddWarning(warnNoAIA)
		}
		if len(imported) > 0 {
			resp.Warnings = append(resp.Warnings, b.rebuildCRLsWarn(st, true)...)
		}
		return resp, nil
	}
}
