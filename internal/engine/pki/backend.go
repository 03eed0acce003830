// Package pki is the PKI secrets engine: root and intermediate CAs kept as
// issuers and keys, roles that decide which certificates may be issued,
// issue/sign endpoints, revocation with CRLs and OCSP, and tidying of the
// certificate store. Paths, fields and responses follow Vault's PKI API.
package pki

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// secretTypeCert is the lease type of certificates issued with
// generate_lease; revoking the lease revokes the certificate.
const secretTypeCert = "pki"

// Factory creates a PKI backend for a mount.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	if conf == nil {
		return nil, errors.New("pki: no backend configuration")
	}
	return newBackend(conf), nil
}

// backend is one PKI mount.
type backend struct {
	*framework.Backend

	system logical.SystemView
	logger *slog.Logger
	now    func() time.Time
	roles  map[string]roleField
	cert   *framework.Secret

	// issuersLock serialises changes to issuers, keys and their defaults.
	issuersLock sync.Mutex
	// crlLock serialises CRL builds and revocations.
	crlLock sync.Mutex
	cache   caCache
	tidy    tidyRunner
}

func newBackend(conf *logical.BackendConfig) *backend {
	b := &backend{
		system: conf.System,
		logger: conf.Logger,
		now:    time.Now,
		roles:  roleFields(),
	}
	if b.system == nil {
		b.system = staticSystem{def: 768 * time.Hour, max: 768 * time.Hour}
	}
	if b.logger == nil {
		b.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b.cert = &framework.Secret{
		Type:   secretTypeCert,
		Fields: framework.Fields{"serial_number": str("Serial number of the certificate.")},
		Revoke: b.revokeLease,
	}
	b.tidy.init()
	b.Backend = &framework.Backend{
		Help:         backendHelp,
		BackendType:  logical.TypeLogical,
		Paths:        b.paths(),
		Secrets:      []*framework.Secret{b.cert},
		PathsSpecial: specialPaths(),
		Clean:        b.cleanup,
	}
	return b
}

// specialPaths are Vault's unauthenticated and sudo paths for PKI. The
// "+" entries match one path segment.
func specialPaths() *logical.Paths {
	return &logical.Paths{
		Unauthenticated: []string{
			"cert/*", "ca/pem", "ca_chain", "ca", "crl/delta", "crl/delta/pem", "crl/pem", "crl",
			"issuer/+/crl/der", "issuer/+/crl/pem", "issuer/+/crl",
			"issuer/+/crl/delta/der", "issuer/+/crl/delta/pem", "issuer/+/crl/delta",
			"issuer/+/pem", "issuer/+/der", "issuer/+/json",
			"issuers/", "ocsp", "ocsp/*",
		},
		Root:            []string{"root", "root/sign-self-issued"},
		SealWrapStorage: []string{keyPrefix},
	}
}

func (b *backend) paths() []*framework.Path {
	var out []*framework.Path
	for _, group := range [][]*framework.Path{
		b.rolePaths(),
		b.rootPaths(),
		b.intermediatePaths(),
		b.issuerPaths(),
		b.keyPaths(),
		b.issuePaths(),
		b.revokePaths(),
		b.crlPaths(),
		b.fetchPaths(),
		b.urlPaths(),
		b.tidyPaths(),
		b.ocspPaths(),
	} {
		out = append(out, group...)
	}
	return out
}

// HandleRequest serves requests through the path table; the periodic
// rollback call also drives CRL auto-rebuilding.
func (b *backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if req.Operation == logical.RollbackOperation && req.Storage != nil {
		if err := b.periodic(ctx, req.Storage); err != nil {
			b.logger.Warn("pki periodic maintenance failed", "mount", req.MountPoint, "error", err)
		}
	}
	return b.Backend.HandleRequest(ctx, req)
}

func (b *backend) cleanup(ctx context.Context) {
	b.tidy.stop()
	b.cache.reset()
}

// invalidate drops cached issuers after a change to issuers, keys or URLs.
func (b *backend) invalidate() { b.cache.reset() }

// staticSystem stands in for the server's view when none is given (tests).
type staticSystem struct{ def, max time.Duration }

func (s staticSystem) DefaultLeaseTTL() time.Duration { return s.def }
func (s staticSystem) MaxLeaseTTL() time.Duration     { return s.max }
func (s staticSystem) GeneratePasswordFromPolicy(context.Context, string) (string, error) {
	return "", errors.New("password policies are not available")
}

const backendHelp = `
The PKI secrets engine issues X.509 certificates. Generate or import a CA
(root/generate, intermediate/generate with root/sign-intermediate and
intermediate/set-signed, or config/ca), define roles, then request
certificates with issue/<role> or sign/<role>. Revoked certificates are
published in the CRL (crl, crl/pem) and through OCSP.
`

// Interface guards.
var (
	_ logical.Backend    = (*backend)(nil)
	_ logical.SystemView = staticSystem{}
	_ logical.Factory    = Factory
)
