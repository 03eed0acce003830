package aws

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Storage keys.
const (
	configRootKey  = "config/root"
	configLeaseKey = "config/lease"
)

// rootConfig is config/root: the credentials and endpoints the engine
// talks to AWS with.
type rootConfig struct {
	AccessKey        string `json:"access_key"`
	SecretKey        string `json:"secret_key"`
	IAMEndpoint      string `json:"iam_endpoint"`
	STSEndpoint      string `json:"sts_endpoint"`
	Region           string `json:"region"`
	MaxRetries       int    `json:"max_retries"`
	UsernameTemplate string `json:"username_template"`
}

// leaseConfig is config/lease: the lease of iam_user credentials.
type leaseConfig struct {
	Lease    time.Duration `json:"lease"`
	LeaseMax time.Duration `json:"lease_max"`
}

func readRootConfig(ctx context.Context, s logical.Storage) (*rootConfig, error) {
	var rc rootConfig
	ok, err := logical.GetJSON(ctx, s, configRootKey, &rc)
	if err != nil || !ok {
		return nil, err
	}
	return &rc, nil
}

func readLeaseConfig(ctx context.Context, s logical.Storage) (*leaseConfig, error) {
	var lc leaseConfig
	ok, err := logical.GetJSON(ctx, s, configLeaseKey, &lc)
	if err != nil || !ok {
		return nil, err
	}
	return &lc, nil
}

func (b *backend) configRootPath() *framework.Path {
	return &framework.Path{
		Pattern: "config/root",
		Fields: framework.Fields{
			"access_key":        {Type: framework.TypeString, Description: "Access key with permission to create new keys."},
			"secret_key":        {Type: framework.TypeString, Sensitive: true, Description: "Secret key with permission to create new keys."},
			"region":            {Type: framework.TypeString, Description: "Region for API calls."},
			"iam_endpoint":      {Type: framework.TypeString, Description: "Endpoint to custom IAM server URL."},
			"sts_endpoint":      {Type: framework.TypeString, Description: "Endpoint to custom STS server URL."},
			"max_retries":       {Type: framework.TypeInt, Default: -1, Description: "Maximum number of retries for recoverable exceptions of AWS APIs; -1 uses the SDK's default."},
			"username_template": {Type: framework.TypeString, Description: "Template to generate IAM user names and STS session names."},
		},
		Ops: framework.Ops{
			logical.ReadOperation:   b.readConfigRoot,
			logical.UpdateOperation: b.writeConfigRoot,
		},
		Synopsis:    "Configure the root credentials that are used to manage IAM.",
		Description: "The engine needs credentials able to manage IAM users, policies and access keys, and to call STS.",
	}
}

func (b *backend) readConfigRoot(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	rc, err := readRootConfig(ctx, req.Storage)
	if err != nil || rc == nil {
		return nil, err
	}
	// secret_key is never returned.
	return &logical.Response{Data: map[string]interface{}{
		"access_key":        rc.AccessKey,
		"region":            rc.Region,
		"iam_endpoint":      rc.IAMEndpoint,
		"sts_endpoint":      rc.STSEndpoint,
		"max_retries":       rc.MaxRetries,
		"username_template": rc.UsernameTemplate,
	}}, nil
}

func (b *backend) writeConfigRoot(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	rc := &rootConfig{
		AccessKey:        d.String("access_key"),
		SecretKey:        d.String("secret_key"),
		Region:           d.String("region"),
		IAMEndpoint:      d.String("iam_endpoint"),
		STSEndpoint:      d.String("sts_endpoint"),
		MaxRetries:       d.Int("max_retries"),
		UsernameTemplate: d.String("username_template"),
	}
	if rc.UsernameTemplate == "" {
		rc.UsernameTemplate = defaultUsernameTemplate
	}
	if _, err := newUsernameTemplate(rc.UsernameTemplate); err != nil {
		return nil, logical.InvalidRequest("invalid username_template: %v", err)
	}
	if (rc.AccessKey == "") != (rc.SecretKey == "") {
		return nil, logical.InvalidRequest("access_key and secret_key must be given together")
	}
	b.clientMu.Lock()
	defer b.clientMu.Unlock()
	if err := logical.PutJSON(ctx, req.Storage, configRootKey, rc); err != nil {
		return nil, err
	}
	b.iam, b.sts = nil, nil
	return nil, nil
}

func (b *backend) rotateRootPath() *framework.Path {
	return &framework.Path{
		Pattern:     "config/rotate-root",
		Ops:         framework.Ops{logical.UpdateOperation: b.rotateRoot},
		Synopsis:    "Rotate the AWS access key the engine uses.",
		Description: "Creates a new access key for the configured IAM user, stores it, then deletes the old one. The user must have only the one access key.",
	}
}

func (b *backend) rotateRoot(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	client, err := b.iamClient(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	b.clientMu.Lock()
	defer b.clientMu.Unlock()
	rc, err := readRootConfig(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	if rc == nil {
		return nil, logical.InvalidRequest("no configuration found for config/root")
	}
	if rc.AccessKey == "" || rc.SecretKey == "" {
		return nil, logical.InvalidRequest("Cannot call config/rotate-root when either access_key or secret_key is empty")
	}
	me, err := client.GetUser(ctx, &iam.GetUserInput{})
	if err != nil {
		return nil, fmt.Errorf("error calling GetUser: %w", err)
	}
	if me.User == nil || me.User.UserName == nil {
		return nil, fmt.Errorf("GetUser returned no user name")
	}
	created, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: me.User.UserName})
	if err != nil {
		return nil, fmt.Errorf("error calling CreateAccessKey: %w", err)
	}
	if created.AccessKey == nil || created.AccessKey.AccessKeyId == nil || created.AccessKey.SecretAccessKey == nil {
		return nil, fmt.Errorf("CreateAccessKey returned no key")
	}
	old := rc.AccessKey
	rc.AccessKey, rc.SecretKey = aws.ToString(created.AccessKey.AccessKeyId), aws.ToString(created.AccessKey.SecretAccessKey)
	if err := logical.PutJSON(ctx, req.Storage, configRootKey, rc); err != nil {
		// The new key is unknown to anyone: remove it, keep the old one.
		if _, derr := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: created.AccessKey.AccessKeyId, UserName: me.User.UserName}); derr != nil {
			b.logger.Error("could not delete the new root access key after failing to store it", "access_key", rc.AccessKey, "error", derr)
		}
		return nil, fmt.Errorf("error saving new config/root: %w", err)
	}
	b.iam, b.sts = nil, nil
	// The old key still signs this call; it deletes itself.
	if _, err := client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{AccessKeyId: aws.String(old), UserName: me.User.UserName}); err != nil {
		return nil, fmt.Errorf("error deleting old access key: %w", err)
	}
	return &logical.Response{Data: map[string]interface{}{"access_key": rc.AccessKey}}, nil
}

func (b *backend) configLeasePath() *framework.Path {
	return &framework.Path{
		Pattern: "config/lease",
		Fields: framework.Fields{
			"lease":     {Type: framework.TypeString, Description: "Default lease of iam_user credentials, e.g. \"1h\"."},
			"lease_max": {Type: framework.TypeString, Description: "Maximum lifetime of iam_user credentials, e.g. \"24h\"."},
		},
		Ops: framework.Ops{
			logical.ReadOperation:   b.readConfigLease,
			logical.UpdateOperation: b.writeConfigLease,
		},
		Synopsis:    "Configure the default lease of generated IAM users.",
		Description: "lease is the TTL of a new iam_user credential and of each renewal; lease_max bounds its lifetime from issue. Without it, the mount's TTLs apply.",
	}
}

func (b *backend) readConfigLease(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	lc, err := readLeaseConfig(ctx, req.Storage)
	if err != nil || lc == nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{
		"lease":     lc.Lease.String(),
		"lease_max": lc.LeaseMax.String(),
	}}, nil
}

func (b *backend) writeConfigLease(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	leaseRaw, maxRaw := d.String("lease"), d.String("lease_max")
	if leaseRaw == "" {
		return nil, logical.InvalidRequest("'lease' is a required parameter")
	}
	if maxRaw == "" {
		return nil, logical.InvalidRequest("'lease_max' is a required parameter")
	}
	lease, err := framework.ParseDurationSecond(leaseRaw)
	if err != nil {
		return nil, logical.InvalidRequest("Invalid lease: %v", err)
	}
	leaseMax, err := framework.ParseDurationSecond(maxRaw)
	if err != nil {
		return nil, logical.InvalidRequest("Invalid lease_max: %v", err)
	}
	if lease < 0 || leaseMax < 0 {
		return nil, logical.InvalidRequest("lease and lease_max cannot be negative")
	}
	if err := logical.PutJSON(ctx, req.Storage, configLeaseKey, &leaseConfig{Lease: lease, LeaseMax: leaseMax}); err != nil {
		return nil, err
	}
	return nil, nil
}
