package pki

import (
	"context"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) urlPaths() []*framework.Path {
	return []*framework.Path{{
		Pattern: "config/urls",
		Fields: framework.Fields{
			"issuing_certificates":    list("URLs of the issuing certificate (AIA caIssuers)."),
			"crl_distribution_points": list("CRL distribution point URLs."),
			"ocsp_servers":            list("OCSP responder URLs (AIA OCSP)."),
			"enable_templating":       flag("Allow {{issuer_id}} in the URLs."),
		},
		Ops:      framework.Ops{logical.ReadOperation: b.readURLs, logical.UpdateOperation: b.writeURLs},
		Synopsis: "Set the AIA and CRL URLs written into issued certificates.",
	}}
}

func urlData(u *urlConfig) map[string]interface{} {
	return map[string]interface{}{
		"issuing_certificates":    nonNil(u.IssuingCertificates),
		"crl_distribution_points": nonNil(u.CRLDistributionPoints),
		"ocsp_servers":            nonNil(u.OCSPServers),
		"enable_templating":       u.EnableTemplating,
	}
}

func (b *backend) readURLs(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	u, err := newStore(ctx, req.Storage).urls()
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: urlData(u)}, nil
}

func (b *backend) writeURLs(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	st := newStore(ctx, req.Storage)
	u, err := st.urls()
	if err != nil {
		return nil, err
	}
	if v, ok := d.GetOk("enable_templating"); ok {
		u.EnableTemplating = v.(bool)
	}
	for _, f := range []struct {
		name string
		dst  *[]string
	}{
		{"issuing_certificates", &u.IssuingCertificates},
		{"crl_distribution_points", &u.CRLDistributionPoints},
		{"ocsp_servers", &u.OCSPServers},
	} {
		if v, ok := d.GetOk(f.name); ok {
			*f.dst = v.([]string)
		}
	}
	for _, f := range []struct {
		name string
		v    []string
	}{
		{"issuing_certificates", u.IssuingCertificates},
		{"crl_distribution_points", u.CRLDistributionPoints},
		{"ocsp_servers", u.OCSPServers},
	} {
		if u.EnableTemplating {
			if _, err := u.expand("00000000-0000-0000-0000-000000000000"); err != nil {
				return nil, logical.InvalidRequest("%s", err.Error())
			}
			continue
		}
		if bad := invalidURL(f.v); bad != "" {
			return nil, logical.InvalidRequest("invalid URL found in Authority Information Access (AIA) parameter %s: %s", f.name, bad)
		}
	}
	if err := st.put(urlsConfigPath, u); err != nil {
		return nil, err
	}
	b.invalidate()
	return &logical.Response{Data: urlData(u)}, nil
}
