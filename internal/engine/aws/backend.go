// Package aws is the AWS secrets engine. It issues AWS credentials on
// demand, each under a lease: IAM users with their own access key
// (credential_type iam_user, removed on revocation), and STS credentials
// from AssumeRole (assumed_role) or GetFederationToken (federation_token),
// which expire on their own. Its API is Vault's AWS secrets engine.
//
// Creating an IAM user touches AWS before the lease exists, so the engine
// writes a write-ahead record first; the core deletes it once the lease is
// stored, and a record left behind by a crash is rolled back (the user
// deleted) after restart.
package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

const (
	// secretAccessKeys is the secret type of every credential, as Vault.
	secretAccessKeys = "access_keys"
	// walKindUser is the write-ahead record of an IAM user being created.
	walKindUser = "user"
	// walRollbackMinAge keeps rollback away from records of requests that
	// may still be in flight.
	walRollbackMinAge = 5 * time.Minute
)

// backend is one AWS mount.
type backend struct {
	*framework.Backend

	system logical.SystemView
	logger *slog.Logger
	now    func() time.Time

	// roleMu serializes role writes (read-merge-write).
	roleMu sync.Mutex
	// clientMu guards the cached clients, dropped when config/root changes.
	clientMu sync.Mutex
	iam      *iam.Client
	sts      *sts.Client
}

// Factory creates an AWS secrets engine for a mount.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	if conf == nil {
		return nil, errors.New("aws: no backend configuration")
	}
	return newBackend(conf), nil
}

func newBackend(conf *logical.BackendConfig) *backend {
	logger := conf.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &backend{system: conf.System, logger: logger, now: time.Now}
	b.Backend = &framework.Backend{
		Help:        backendHelp,
		BackendType: logical.TypeLogical,
		PathsSpecial: &logical.Paths{
			SealWrapStorage: []string{configRootKey},
		},
		Paths:             b.paths(),
		Secrets:           []*framework.Secret{b.accessKeysSecret()},
		WALRollback:       b.walRollback,
		WALRollbackMinAge: walRollbackMinAge,
		Clean:             func(context.Context) { b.resetClients() },
	}
	return b
}

func (b *backend) paths() []*framework.Path {
	return []*framework.Path{
		b.configRootPath(),
		b.rotateRootPath(),
		b.configLeasePath(),
		b.rolesListPath(),
		b.rolePath(),
		b.credsPath("creds/"),
		b.credsPath("sts/"),
	}
}

// sysTTLs returns the mount's default and max lease TTL (0 when unknown).
func (b *backend) sysTTLs() (def, max time.Duration) {
	if b.system == nil {
		return 0, 0
	}
	return b.system.DefaultLeaseTTL(), b.system.MaxLeaseTTL()
}

// walRollback undoes a write-ahead record: the IAM user it names is
// deleted with everything attached to it.
func (b *backend) walRollback(ctx context.Context, req *logical.Request, kind string, data interface{}) error {
	if kind != walKindUser {
		return fmt.Errorf("unknown write-ahead record kind %q", kind)
	}
	m, _ := data.(map[string]interface{})
	name, _ := m["UserName"].(string)
	if name == "" {
		// Nothing was named, so nothing can have been created.
		return nil
	}
	client, err := b.iamClient(ctx, req.Storage)
	if err != nil {
		return err
	}
	if err := deleteIAMUser(ctx, client, name); err != nil {
		return err
	}
	b.logger.Info("rolled back IAM user left by an interrupted request", "user", name)
	return nil
}

const backendHelp = `
The AWS secrets engine generates AWS access credentials dynamically from
roles: IAM users with an access key (removed when the lease ends), or STS
credentials from AssumeRole or GetFederationToken.

Configure the credentials the engine uses with "config/root", the lease of
IAM users with "config/lease", write roles under "roles/", then read
"creds/<role>" or write "sts/<role>".
`
