package pki

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const (
	ctCert      = "application/pkix-cert"
	ctCertChain = "application/pem-certificate-chain"
	ctCRL       = "application/pkix-crl"
	ctPEMFile   = "application/x-pem-file"
)

func (b *backend) fetchPaths() []*framework.Path {
	serial := framework.Fields{"serial": str("Serial number, colon or hyphen separated.")}
	return []*framework.Path{{
		Pattern:  `ca(/pem)?`,
		Ops:      framework.Ops{logical.ReadOperation: b.fetchCA},
		Synopsis: "The default issuer's certificate, DER or PEM (unauthenticated).",
	}, {
		Pattern:  `(cert/)?ca_chain`,
		Ops:      framework.Ops{logical.ReadOperation: b.fetchCAChain},
		Synopsis: "The default issuer's chain in PEM (unauthenticated).",
	}, {
		Pattern:  `crl(/pem|/delta(/pem)?)?`,
		Ops:      framework.Ops{logical.ReadOperation: b.fetchCRL},
		Synopsis: "The default issuer's CRL, DER or PEM (unauthenticated).",
	}, {
		Pattern:  `cert/(crl|delta-crl)`,
		Ops:      framework.Ops{logical.ReadOperation: b.fetchCRL},
		Synopsis: "The default issuer's CRL as JSON.",
	}, {
		Pattern:  `cert/(?P<serial>[0-9A-Fa-f-:]+)/raw(/pem)?`,
		Fields:   serial,
		Ops:      framework.Ops{logical.ReadOperation: b.fetchCert},
		Synopsis: "A certificate in DER or PEM (unauthenticated).",
	}, {
		Pattern:  `cert/(?P<serial>[0-9A-Fa-f-:]+)`,
		Fields:   serial,
		Ops:      framework.Ops{logical.ReadOperation: b.fetchCert},
		Synopsis: `A certificate with its revocation status; "ca" gives the default issuer.`,
	}, {
		Pattern:  "certs/?",
		Ops:      framework.Ops{logical.ListOperation: b.listCerts},
		Synopsis: "List the serial numbers of stored certificates.",
	}}
}

func (b *backend) fetchCA(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	ca, err := b.loadCA(newStore(ctx, req.Storage), defaultRef, "")
	if err != nil {
		b.logger.Debug("no CA certificate to serve", "error", err)
		return rawResponse(nil, ctCert), nil
	}
	if req.Path == "ca/pem" {
		return rawResponse([]byte(certPEM(ca.cert.Raw)), ctCertChain), nil
	}
	return rawResponse(ca.cert.Raw, ctCert), nil
}

func (b *backend) fetchCAChain(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	ca, err := b.loadCA(newStore(ctx, req.Storage), defaultRef, "")
	if err != nil {
		if req.Path == "ca_chain" {
			return rawResponse(nil, ctCert), nil
		}
		return nil, err
	}
	chain := strings.Join(ca.chainPEM, "\n")
	if req.Path == "ca_chain" {
		return rawResponse([]byte(chain), ctCert), nil
	}
	return &logical.Response{Data: map[string]interface{}{
		"certificate": chain, "ca_chain": chain, "revocation_time": int64(0), "revocation_time_rfc3339": "",
	}}, nil
}

func (b *backend) fetchCRL(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	var der []byte
	if !strings.Contains(req.Path, "delta") {
		var err error
		if der, err = b.crlDER(newStore(ctx, req.Storage), defaultRef); err != nil {
			b.logger.Debug("no CRL to serve", "error", err)
			der = nil
		}
	}
	switch {
	case req.Path == "crl" || req.Path == "crl/delta":
		return rawResponse(der, ctCRL), nil
	case strings.HasSuffix(req.Path, "/pem"):
		return rawResponse(crlPEM(der), ctPEMFile), nil
	}
	return &logical.Response{Data: map[string]interface{}{
		"certificate": string(crlPEM(der)), "revocation_time": int64(0), "revocation_time_rfc3339": "",
	}}, nil
}

func crlPEM(der []byte) []byte {
	if len(der) == 0 {
		return nil
	}
	return []byte(pemString("X509 CRL", der))
}

// readIssuerCRL serves issuer/<ref>/crl (JSON), /crl/pem and /crl/der.
func (b *backend) readIssuerCRL(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	der, err := b.crlDER(newStore(ctx, req.Storage), d.String("issuer_ref"))
	if err != nil {
		return nil, err
	}
	switch d.String("form") {
	case "/der":
		return rawResponse(der, ctCRL), nil
	case "/pem":
		return rawResponse(crlPEM(der), ctPEMFile), nil
	}
	return &logical.Response{Data: map[string]interface{}{"crl": string(crlPEM(der))}}, nil
}

func (b *backend) fetchCert(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	st := newStore(ctx, req.Storage)
	serial := d.String("serial")
	raw := strings.HasSuffix(req.Path, "/raw") || strings.HasSuffix(req.Path, "/raw/pem")
	asPEM := !raw || strings.HasSuffix(req.Path, "/pem")
	var der []byte
	if strings.EqualFold(serial, "ca") {
		ca, err := b.loadCA(st, defaultRef, "")
		if err != nil {
			if raw {
				return rawResponse(nil, ctCert), nil
			}
			return nil, err
		}
		der = ca.cert.Raw
	} else {
		c, err := st.fetchCert(serial)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, nil
		}
		der = c.Raw
	}
	if raw {
		if asPEM {
			return rawResponse([]byte(certPEM(der)), ctCertChain), nil
		}
		return rawResponse(der, ctCert), nil
	}
	data := map[string]interface{}{"certificate": certPEM(der), "revocation_time": int64(0), "revocation_time_rfc3339": ""}
	info := &revocationInfo{}
	ok, err := st.get(revokedPrefix+storageSerial(serial), info)
	if err != nil {
		return nil, err
	}
	if ok {
		data["revocation_time"] = info.RevocationTime
		data["revocation_time_rfc3339"] = info.RevocationTimeUTC.Format(time.RFC3339Nano)
		if info.IssuerID != "" {
			data["issuer_id"] = info.IssuerID
		}
	}
	return &logical.Response{Data: data}, nil
}

func (b *backend) listCerts(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, certPrefix)
	if err != nil {
		return nil, fmt.Errorf("list certificates: %w", err)
	}
	return framework.ListResponse(keys), nil
}
