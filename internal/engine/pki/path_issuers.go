package pki

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) issuerPaths() []*framework.Path {
	ref := "issuer/" + framework.GenericNameRegex("issuer_ref")
	update := merge(issuerRefField(), framework.Fields{
		"issuer_name":                    str("New name of the issuer."),
		"manual_chain":                   list(`Issuer references forming this issuer's chain ("self" first).`),
		"leaf_not_after_behavior":        strDefault(notAfterErr, `"err", "truncate" or "permit" for leaves outliving the issuer.`),
		"usage":                          {Type: framework.TypeCommaStringSlice, Default: allUsages, Description: "Allowed usages."},
		"revocation_signature_algorithm": str("Signature algorithm for CRLs, e.g. SHA256WithRSA."),
		"issuing_certificates":           list("Issuer-specific AIA issuing certificate URLs."),
		"crl_distribution_points":        list("Issuer-specific CRL distribution points."),
		"ocsp_servers":                   list("Issuer-specific OCSP servers."),
		"enable_aia_url_templating":      flag("Allow {{issuer_id}} in the AIA URLs."),
	})
	return []*framework.Path{{
		Pattern:  "issuers/?",
		Ops:      framework.Ops{logical.ListOperation: b.listIssuers},
		Synopsis: "List issuers with their names and default flag.",
	}, {
		Pattern: ref,
		Fields:  update,
		Ops: framework.Ops{
			logical.ReadOperation:   b.readIssuer,
			logical.UpdateOperation: b.updateIssuer(false),
			logical.PatchOperation:  b.updateIssuer(true),
			logical.DeleteOperation: b.deleteIssuer,
		},
		Synopsis: "Read, update or delete an issuer.",
	}, {
		Pattern:  ref + "/(?P<form>json|der|pem)",
		Fields:   merge(issuerRefField(), framework.Fields{"form": str("json, der or pem.")}),
		Ops:      framework.Ops{logical.ReadOperation: b.readIssuerCert},
		Synopsis: "Fetch an issuer's certificate (unauthenticated).",
	}, {
		Pattern:  ref + "/crl(?P<form>/pem|/der)?",
		Fields:   merge(issuerRefField(), framework.Fields{"form": str("/pem or /der.")}),
		Ops:      framework.Ops{logical.ReadOperation: b.readIssuerCRL},
		Synopsis: "Fetch an issuer's CRL (unauthenticated).",
	}, {
		Pattern: "config/issuers",
		Fields: framework.Fields{
			"default":                       str("Issuer to use when none is named."),
			"default_follows_latest_issuer": flag("Make each new issuer with a key the default."),
		},
		Ops:      framework.Ops{logical.ReadOperation: b.readIssuersConfig, logical.UpdateOperation: b.writeIssuersConfig},
		Synopsis: "Read or set the default issuer.",
	}}
}

func (b *backend) listIssuers(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	st := newStore(ctx, req.Storage)
	all, err := st.allIssuers()
	if err != nil {
		return nil, err
	}
	cfg, err := st.issuersConfig()
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(all))
	info := map[string]interface{}{}
	for _, e := range all {
		keys = append(keys, e.ID)
		info[e.ID] = map[string]interface{}{
			"issuer_name": e.Name, "is_default": e.ID == cfg.DefaultIssuerID,
			"serial_number": e.SerialNumber, "key_id": e.KeyID,
		}
	}
	return framework.ListResponseWithInfo(keys, info), nil
}

func (b *backend) issuerByRef(st *store, ref string) (*issuerEntry, error) {
	id, err := st.resolveIssuer(ref)
	if err != nil {
		return nil, refError(err)
	}
	e, err := st.issuer(id)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, logical.InvalidRequest("unable to resolve issuer id for reference: %s", ref)
	}
	return e, nil
}

func issuerData(e *issuerEntry) map[string]interface{} {
	usage := append([]string(nil), e.Usage...)
	sort.Strings(usage)
	data := map[string]interface{}{
		"issuer_id": e.ID, "issuer_name": e.Name, "key_id": e.KeyID,
		"certificate": e.Certificate, "ca_chain": nonNil(e.CAChain), "manual_chain": nonNil(e.ManualChain),
		"leaf_not_after_behavior":        e.LeafNotAfterBehavior,
		"usage":                          strings.Join(usage, ","),
		"revocation_signature_algorithm": e.RevocationSigAlg,
		"revoked":                        e.Revoked,
		"issuing_certificates":           []string{}, "crl_distribution_points": []string{}, "ocsp_servers": []string{},
		"enable_aia_url_templating": false,
	}
	if e.AIA != nil {
		data["issuing_certificates"] = nonNil(e.AIA.IssuingCertificates)
		data["crl_distribution_points"] = nonNil(e.AIA.CRLDistributionPoints)
		data["ocsp_servers"] = nonNil(e.AIA.OCSPServers)
		data["enable_aia_url_templating"] = e.AIA.EnableTemplating
	}
	if e.Revoked {
		data["revocation_time"] = e.RevocationTime
		data["revocation_time_rfc3339"] = e.RevocationTimeUTC.Format(time.RFC3339Nano)
	}
	return data
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (b *backend) readIssuer(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.issuerByRef(newStore(ctx, req.Storage), d.String("issuer_ref"))
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: issuerData(e)}, nil
}

func (b *backend) readIssuerCert(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	e, err := b.issuerByRef(newStore(ctx, req.Storage), d.String("issuer_ref"))
	if err != nil {
		return nil, err
	}
	switch d.String("form") {
	case "pem":
		return rawResponse([]byte(e.Certificate), "application/pem-certificate-chain"), nil
	case "der":
		block, _ := pem.Decode([]byte(e.Certificate))
		if block == nil {
			return nil, fmt.Errorf("issuer %s: stored certificate is not PEM", e.ID)
		}
		return rawResponse(block.Bytes, "application/pkix-cert"), nil
	}
	return &logical.Response{Data: map[string]interface{}{
		"certificate": e.Certificate, "ca_chain": nonNil(e.CAChain), "issuer_id": e.ID, "issuer_name": e.Name,
	}}, nil
}

// rawResponse is a body sent verbatim; empty bodies answer 204 as Vault.
func rawResponse(body []byte, contentType string) *logical.Response {
	status := 200
	if len(body) == 0 {
		status, body = 204, []byte{}
	}
	return &logical.Response{Raw: body, RawContentType: contentType, RawStatus: status}
}

// updateIssuer writes name, usage, chain, AIA and behaviour settings; a
// patch only changes the fields present.
func (b *backend) updateIssuer(patch bool) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		b.issuersLock.Lock()
		defer b.issuersLock.Unlock()
		defer b.invalidate()
		st := newStore(ctx, req.Storage)
		e, err := b.issuerByRef(st, d.String("issuer_ref"))
		if err != nil {
			return nil, err
		}
		given := func(k string) bool { _, ok := d.GetOk(k); return !patch || ok }
		if given("issuer_name") {
			name := strings.TrimSpace(d.String("issuer_name"))
			if err := checkName("issuer", name, e.ID, st.resolveIssuer); err != nil {
				return nil, err
			}
			e.Name = name
		}
		if given("leaf_not_after_behavior") {
			switch v := d.String("leaf_not_after_behavior"); v {
			case notAfterErr, notAfterTruncate, notAfterPermit:
				e.LeafNotAfterBehavior = v
			default:
				return nil, logical.InvalidRequest("Unknown value for field `leaf_not_after_behavior`. Possible values are `err`, `truncate`, and `permit`.")
			}
		}
		if given("usage") {
			usage, err := parseUsages(d.Strings("usage"))
			if err != nil {
				return nil, err
			}
			cert, err := e.parse()
			if err != nil {
				return nil, err
			}
			if contains(usage, usageCRL) && cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
				return nil, logical.InvalidRequest("This issuer's underlying certificate lacks the CRLSign KeyUsage value; unable to set CRLSigningUsage on this issuer as a result.")
			}
			e.Usage = usage
		}
		if given("revocation_signature_algorithm") {
			v := d.String("revocation_signature_algorithm")
			if _, err := parseSignatureAlgorithm(v); err != nil {
				return nil, logical.InvalidRequest("%s", err.Error())
			}
			e.RevocationSigAlg = v
		}
		if err := updateIssuerAIA(e, d, given); err != nil {
			return nil, err
		}
		if given("manual_chain") {
			e.ManualChain = nil
			for i, r := range d.Strings("manual_chain") {
				if i == 0 && r == "self" {
					r = e.ID
				}
				id, err := st.resolveIssuer(r)
				if err != nil {
					return nil, refError(err)
				}
				if i == 0 && id != e.ID {
					return nil, logical.InvalidRequest("expected first cert in chain to be a self-reference, but was: %s/%s", r, id)
				}
				e.ManualChain = append(e.ManualChain, id)
			}
		}
		if err := st.put(issuerPrefix+e.ID, e); err != nil {
			return nil, err
		}
		if err := st.rebuildChains(); err != nil {
			return nil, err
		}
		if e, err = st.issuer(e.ID); err != nil {
			return nil, err
		}
		return &logical.Response{Data: issuerData(e)}, nil
	}
}

func updateIssuerAIA(e *issuerEntry, d *framework.FieldData, given func(string) bool) error {
	aia := e.AIA
	if aia == nil {
		aia = &urlConfig{}
	}
	if given("enable_aia_url_templating") {
		aia.EnableTemplating = d.Bool("enable_aia_url_templating")
	}
	for _, f := range []struct {
		name string
		dst  *[]string
	}{
		{"issuing_certificates", &aia.IssuingCertificates},
		{"crl_distribution_points", &aia.CRLDistributionPoints},
		{"ocsp_servers", &aia.OCSPServers},
	} {
		if !given(f.name) {
			continue
		}
		v := d.Strings(f.name)
		if bad := invalidURL(v); bad != "" && !aia.EnableTemplating {
			return logical.InvalidRequest("invalid URL found in Authority Information Access (AIA) parameter %s: %s", f.name, bad)
		}
		*f.dst = v
	}
	if aia.empty() {
		aia = nil
	}
	e.AIA = aia
	return nil
}

// invalidURL returns the first entry that is not an absolute URL.
func invalidURL(urls []string) string {
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || p.Host == "" || strings.Contains(u, "{{") {
			return u
		}
	}
	return ""
}

func parseUsages(in []string) ([]string, error) {
	out := []string{usageReadOnly}
	for _, u := range in {
		u = strings.TrimSpace(u)
		if !contains(allUsages, u) {
			return nil, logical.InvalidRequest("Unable to parse specified usages: %v - valid values are %s", in, strings.Join(allUsages, ","))
		}
		if !contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (b *backend) deleteIssuer(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	ref := d.String("issuer_ref")
	id, err := st.resolveIssuer(ref)
	if err != nil {
		return nil, nil // deleting an unknown issuer succeeds, as in Vault
	}
	if err := req.Storage.Delete(ctx, issuerPrefix+id); err != nil {
		return nil, fmt.Errorf("delete issuer: %w", err)
	}
	if err := req.Storage.Delete(ctx, crlPrefix+id); err != nil {
		return nil, fmt.Errorf("delete issuer CRL: %w", err)
	}
	resp := &logical.Response{}
	cfg, err := st.issuersConfig()
	if err != nil {
		return nil, err
	}
	if cfg.DefaultIssuerID == id {
		cfg.DefaultIssuerID = ""
		if err := st.put(issuersConfigPath, cfg); err != nil {
			return nil, err
		}
		resp.AddWarning(fmt.Sprintf("Deleted issuer %s (via issuer_ref %s); this was configured as the default issuer. Operations without an explicit issuer will not work until a new default is configured.", id, ref))
	}
	if err := st.rebuildChains(); err != nil {
		resp.AddWarning(fmt.Sprintf("Failed to rebuild remaining issuers' chains: %v", err))
	}
	resp.Warnings = append(resp.Warnings, b.rebuildCRLsWarn(st, true)...)
	return resp, nil
}

func (b *backend) readIssuersConfig(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	cfg, err := newStore(ctx, req.Storage).issuersConfig()
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{
		"default": cfg.DefaultIssuerID, "default_follows_latest_issuer": cfg.DefaultFollowsLatestIssuer,
	}}, nil
}

func (b *backend) writeIssuersConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if v, ok := d.GetOk("default_follows_latest_issuer"); ok {
		st := newStore(ctx, req.Storage)
		b.issuersLock.Lock()
		cfg, err := st.issuersConfig()
		if err == nil {
			cfg.DefaultFollowsLatestIssuer = v.(bool)
			err = st.put(issuersConfigPath, cfg)
		}
		b.issuersLock.Unlock()
		if err != nil {
			return nil, err
		}
	}
	if ref := d.String("default"); ref != "" {
		return b.setDefaultIssuer(ctx, req, ref)
	}
	return b.readIssuersConfig(ctx, req, d)
}

// setDefaultIssuer makes ref the default issuer and rebuilds the CRLs so
// that the legacy crl paths follow it.
func (b *backend) setDefaultIssuer(ctx context.Context, req *logical.Request, ref string) (*logical.Response, error) {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	st := newStore(ctx, req.Storage)
	e, err := b.issuerByRef(st, ref)
	if err != nil {
		return nil, err
	}
	cfg, err := st.issuersConfig()
	if err != nil {
		return nil, err
	}
	resp := &logical.Response{}
	if cfg.DefaultIssuerID != e.ID {
		cfg.DefaultIssuerID = e.ID
		if err := st.put(issuersConfigPath, cfg); err != nil {
			return nil, err
		}
		resp.Warnings = b.rebuildCRLsWarn(st, true)
	}
	if e.KeyID == "" {
		resp.AddWarning("This selected default issuer has no key associated with it. Some operations like issuing certificates and signing CRLs will be unavailable with the requested default issuer until a key is imported or the default issuer is changed.")
	}
	resp.Data = map[string]interface{}{"default": cfg.DefaultIssuerID, "default_follows_latest_issuer": cfg.DefaultFollowsLatestIssuer}
	return resp, nil
}
