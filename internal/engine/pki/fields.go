package pki

import (
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Field tables shared by several paths, with Vault's names and defaults.

func str(desc string) *framework.FieldSchema {
	return &framework.FieldSchema{Type: framework.TypeString, Description: desc}
}

func strDefault(def, desc string) *framework.FieldSchema {
	return &framework.FieldSchema{Type: framework.TypeString, Default: def, Description: desc}
}

func list(desc string) *framework.FieldSchema {
	return &framework.FieldSchema{Type: framework.TypeCommaStringSlice, Description: desc}
}

func flag(desc string) *framework.FieldSchema {
	return &framework.FieldSchema{Type: framework.TypeBool, Description: desc}
}

func merge(sets ...framework.Fields) framework.Fields {
	out := framework.Fields{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

// nameFields are the names a caller may request.
func nameFields() framework.Fields {
	return framework.Fields{
		"common_name":          str("Requested common name; added to the DNS or e-mail SANs unless exclude_cn_from_sans."),
		"alt_names":            str("Comma-separated DNS names and e-mail addresses to add as SANs."),
		"ip_sans":              list("IP subject alternative names."),
		"uri_sans":             list("URI subject alternative names."),
		"other_sans":           list(`Other names, each "<oid>;UTF8:<value>".`),
		"exclude_cn_from_sans": flag("Do not add the common name to the SANs."),
		"serial_number":        str("Subject serialNumber attribute (not the certificate serial)."),
		"user_ids":             list("Subject user IDs (UID attributes)."),
	}
}

// outputFields choose how certificates and keys are returned.
func outputFields() framework.Fields {
	return framework.Fields{
		"ttl":                     {Type: framework.TypeDurationSecond, Description: "Requested lifetime; capped by the role or mount maximum."},
		"not_after":               str("Explicit NotAfter (RFC 3339); excludes ttl."),
		"format":                  strDefault("pem", `Output format: "pem", "der" or "pem_bundle".`),
		"private_key_format":      strDefault("der", `Private key encoding: "der" (PKCS#1/SEC 1 in PEM or DER) or "pkcs8".`),
		"remove_roots_from_chain": flag("Leave self-signed certificates out of ca_chain."),
	}
}

// subjectFields are the CA subject attributes.
func subjectFields() framework.Fields {
	return framework.Fields{
		"ou":             list("Organizational unit(s)."),
		"organization":   list("Organization(s)."),
		"country":        list("Country."),
		"locality":       list("Locality."),
		"province":       list("Province."),
		"street_address": list("Street address."),
		"postal_code":    list("Postal code."),
	}
}

// caFields are the parameters of root and intermediate generation.
func caFields() framework.Fields {
	return merge(nameFields(), outputFields(), subjectFields(), framework.Fields{
		"exported":              str(`"internal", "exported", "existing" or "kms".`),
		"key_type":              strDefault(keyTypeRSA, `Key type: "rsa", "ec" or "ed25519".`),
		"key_bits":              {Type: framework.TypeInt, Description: "Key size; 0 for the default."},
		"signature_bits":        {Type: framework.TypeInt, Description: "RSA signature hash size: 256, 384 or 512."},
		"use_pss":               flag("Use PSS signatures with an RSA key."),
		"max_path_length":       {Type: framework.TypeInt, Default: -1, Description: "Maximum path length; -1 for no limit."},
		"permitted_dns_domains": list("DNS name constraints (permitted subtrees)."),
		"not_before_duration":   {Type: framework.TypeDurationSecond, Default: 30, Description: "Backdating of NotBefore."},
		"key_usage":             list("Additional key usages for the CA certificate."),
		"issuer_name":           str("Name for the new issuer."),
		"key_name":              str("Name for the new key."),
		"key_ref":               strDefault(defaultRef, `Existing key to use with "existing".`),
		"managed_key_name":      str("Not supported: managed keys."),
		"managed_key_id":        str("Not supported: managed keys."),
		"add_basic_constraints": flag("Add a CA basic constraints extension to the CSR."),
	})
}

// issueFields are the parameters of issue/<role> and sign/<role>.
func issueFields() framework.Fields {
	return merge(nameFields(), outputFields(), framework.Fields{
		"role":       str("Role name."),
		"issuer_ref": str("Issuer reference (issuer/<ref>/... paths)."),
		"key_type":   str(`Key type, only when the role's key_type is "any".`),
		"key_bits":   {Type: framework.TypeInt, Description: `Key size, only when the role's key_type is "any".`},
		"csr":        str("PEM CSR to sign."),
	})
}

// verbatimFields are the parameters of sign-verbatim.
func verbatimFields() framework.Fields {
	return merge(issueFields(), framework.Fields{
		"key_usage":          {Type: framework.TypeCommaStringSlice, Default: []string{"DigitalSignature", "KeyAgreement", "KeyEncipherment"}, Description: "Key usages."},
		"ext_key_usage":      list("Extended key usages."),
		"ext_key_usage_oids": list("Extended key usage OIDs."),
		"signature_bits":     {Type: framework.TypeInt, Description: "RSA signature hash size."},
		"use_pss":            flag("Use PSS with an RSA issuer."),
	})
}

// signIntermediateFields are the parameters of root/sign-intermediate.
func signIntermediateFields() framework.Fields {
	return merge(nameFields(), outputFields(), subjectFields(), framework.Fields{
		"csr":                   str("PEM CSR of the intermediate."),
		"issuer_ref":            str("Issuer reference."),
		"max_path_length":       {Type: framework.TypeInt, Default: -1, Description: "Maximum path length; -1 derives it from the issuer."},
		"permitted_dns_domains": list("DNS name constraints (permitted subtrees)."),
		"use_csr_values":        flag("Copy the subject, SANs and extensions from the CSR."),
		"not_before_duration":   {Type: framework.TypeDurationSecond, Default: 30, Description: "Backdating of NotBefore."},
		"signature_bits":        {Type: framework.TypeInt, Description: "RSA signature hash size."},
		"use_pss":               flag("Use PSS with an RSA issuer."),
		"skid":                  str("Subject key identifier (hex) to use."),
		"key_usage":             list("Additional key usages."),
	})
}

func issuerRefField() framework.Fields {
	return framework.Fields{"issuer_ref": str("Issuer ID, name, or \"default\".")}
}

// checkFormat validates the format field with Vault's message.
func checkFormat(format string) error {
	switch format {
	case "pem", "der", "pem_bundle":
		return nil
	}
	return logical.InvalidRequest(`the "format" path parameter must be "pem", "der", or "pem_bundle"`)
}

// checkKeyFormat validates private_key_format.
func checkKeyFormat(f string) error {
	switch f {
	case "", "der", "pem", "pkcs8":
		return nil
	}
	return logical.InvalidRequest(`the "private_key_format" parameter must be "der", "pem" or "pkcs8"`)
}
