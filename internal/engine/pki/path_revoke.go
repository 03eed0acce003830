package pki

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *backend) revokePaths() []*framework.Path {
	return []*framework.Path{{
		Pattern: "revoke",
		Fields: framework.Fields{
			"serial_number": str("Serial number of the certificate (colon or hyphen separated)."),
			"certificate":   str("PEM certificate to revoke, instead of the serial number."),
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.handleRevoke},
		Synopsis: "Revoke a certificate and publish it in the CRL.",
	}, {
		Pattern:  "certs/revoked/?",
		Ops:      framework.Ops{logical.ListOperation: b.listRevoked},
		Synopsis: "List the serial numbers of revoked certificates.",
	}}
}

func (b *backend) handleRevoke(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	serial, pemCert := d.String("serial_number"), d.String("certificate")
	switch {
	case serial != "" && pemCert != "":
		return nil, logical.InvalidRequest("Must provide either the certificate or the serial to revoke; not both.")
	case serial == "" && pemCert == "":
		return nil, logical.InvalidRequest("The serial number or certificate to revoke must be provided.")
	}
	st := newStore(ctx, req.Storage)
	var given *x509.Certificate
	if pemCert != "" {
		c, err := parseCertificatePEM(pemCert)
		if err != nil {
			return nil, logical.InvalidRequest("certificate could not be parsed: %v", err)
		}
		if _, ok, err := st.issuerOf(c); err != nil {
			return nil, err
		} else if !ok {
			return nil, logical.InvalidRequest("unable to verify signature on presented cert from any present issuer in this mount; certificates from previous CAs will need to have their issuing CA and key re-imported if revoked")
		}
		given, serial = c, formatSerial(c.SerialNumber)
	}
	return b.revoke(st, apiSerial(serial), given, false)
}

// revokeLease is the Revoke callback of certificates issued with
// generate_lease.
func (b *backend) revokeLease(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	serial, _ := req.Secret.InternalData["serial_number"].(string)
	if serial == "" {
		return nil, logical.InvalidRequest("lease has no serial_number")
	}
	_, err := b.revoke(newStore(ctx, req.Storage), apiSerial(serial), nil, true)
	return nil, err
}

// revoke records a revocation and rebuilds the CRLs (unless auto_rebuild
// defers that). Revoking twice returns the first revocation's time.
//
// Revocations of expiring or revoked leases come in bursts (a token's or a
// mount's leases all at once), and re-signing the whole CRL for each one
// costs time and storage quadratic in the burst. Those are recorded
// together with a pending marker instead; the CRLs are rebuilt once, by
// the next CRL fetch, the next periodic tick (every minute and right after
// unseal) or the next explicit rebuild, whichever comes first. OCSP reads
// the revocation records and answers "revoked" at once.
func (b *backend) revoke(st *store, serial string, cert *x509.Certificate, fromLease bool) (*logical.Response, error) {
	issuers, err := st.allIssuers()
	if err != nil {
		return nil, err
	}
	for _, e := range issuers {
		if e.SerialNumber == serial {
			return nil, logical.InvalidRequest("adding issuer (id: %s) to its own CRL is not allowed", e.ID)
		}
	}
	key := revokedPrefix + storageSerial(serial)
	info := &revocationInfo{}
	if ok, err := st.get(key, info); err != nil {
		return nil, err
	} else if ok {
		return revocationResponse(info), nil
	}
	if cert == nil {
		if cert, err = st.fetchCert(serial); err != nil {
			return nil, err
		}
		if cert == nil {
			if fromLease {
				b.logger.Warn("certificate of a revoked lease is not in storage; treating as revoked", "serial", serial)
				return nil, nil
			}
			return nil, logical.InvalidRequest("certificate with serial %s not found", serial)
		}
	}
	now := b.now()
	if cert.NotAfter.Before(now.Add(2 * time.Second)) {
		resp := &logical.Response{}
		resp.AddWarning(fmt.Sprintf("certificate with serial %s already expired; refusing to add to CRL", serial))
		return resp, nil
	}
	if cert.IsCA && fromLease {
		return nil, nil
	}
	issuerID, _, err := st.issuerOf(cert)
	if err != nil {
		return nil, err
	}
	info = &revocationInfo{CertificateBytes: cert.Raw, RevocationTime: now.Unix(), RevocationTimeUTC: now.UTC(), IssuerID: issuerID}
	cfg, err := st.crlConfig()
	if err != nil {
		return nil, err
	}
	record, err := logical.StorageEntryJSON(key, info)
	if err != nil {
		return nil, err
	}
	ops := []logical.StorageOp{{Entry: record}}
	deferred := fromLease && !cfg.AutoRebuild && !cfg.Disable
	if deferred {
		ops = append(ops, logical.PutOp(crlPendingPath, []byte(`{}`)))
	}
	if err := logical.Transaction(st.ctx, st.s, ops); err != nil {
		return nil, fmt.Errorf("error saving revoked certificate: %w", err)
	}
	resp := revocationResponse(info)
	if !cfg.AutoRebuild && !deferred {
		warnings, err := b.rebuildCRLs(st, false)
		if err != nil {
			return nil, fmt.Errorf("error encountered during CRL building: %w", err)
		}
		resp.Warnings = warnings
	}
	return resp, nil
}

func revocationResponse(info *revocationInfo) *logical.Response {
	data := map[string]interface{}{"revocation_time": info.RevocationTime, "state": "revoked"}
	if !info.RevocationTimeUTC.IsZero() {
		data["revocation_time_rfc3339"] = info.RevocationTimeUTC.Format(time.RFC3339Nano)
	}
	return &logical.Response{Data: data}
}

// issuerOf finds the mount's issuer whose key signed c.
func (st *store) issuerOf(c *x509.Certificate) (string, bool, error) {
	issuers, err := st.allIssuers()
	if err != nil {
		return "", false, err
	}
	for _, e := range issuers {
		ic, err := e.parse()
		if err != nil {
			return "", false, err
		}
		if string(ic.RawSubject) == string(c.RawIssuer) && c.CheckSignatureFrom(ic) == nil {
			return e.ID, true, nil
		}
	}
	return "", false, nil
}

func (b *backend) listRevoked(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, revokedPrefix)
	if err != nil {
		return nil, fmt.Errorf("list revoked: %w", err)
	}
	return framework.ListResponse(keys), nil
}
