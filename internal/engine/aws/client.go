package aws

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/coffer-dev/coffer/internal/logical"
)

// awsConfig builds the SDK configuration from config/root: static
// credentials when given, else the SDK's default chain (environment,
// shared files, instance role); the configured region, else AWS_REGION,
// AWS_DEFAULT_REGION or us-east-1; and max_retries (-1 = SDK default).
func awsConfig(ctx context.Context, rc *rootConfig) (aws.Config, error) {
	region := rc.Region
	for _, env := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" {
			region = os.Getenv(env)
		}
	}
	if region == "" {
		region = "us-east-1"
	}
	var cfg aws.Config
	if rc.AccessKey != "" {
		cfg = aws.Config{
			Region:      region,
			Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(rc.AccessKey, rc.SecretKey, "")),
		}
	} else {
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
		}
	}
	maxRetries := rc.MaxRetries
	cfg.Retryer = func() aws.Retryer {
		r := retry.NewStandard(func(o *retry.StandardOptions) {
			// Revocations queued during an outage must not be starved of
			// retries once AWS answers again.
			o.RateLimiter = ratelimit.None
		})
		if maxRetries >= 0 {
			return retry.AddWithMaxAttempts(r, maxRetries+1)
		}
		return r
	}
	return cfg, nil
}

// iamClient returns the mount's IAM client, building it from config/root
// on first use.
func (b *backend) iamClient(ctx context.Context, s logical.Storage) (*iam.Client, error) {
	b.clientMu.Lock()
	defer b.clientMu.Unlock()
	if b.iam != nil {
		return b.iam, nil
	}
	rc, cfg, err := b.loadAWSConfig(ctx, s)
	if err != nil {
		return nil, err
	}
	b.iam = iam.NewFromConfig(cfg, func(o *iam.Options) {
		if rc.IAMEndpoint != "" {
			o.BaseEndpoint = aws.String(rc.IAMEndpoint)
		}
	})
	return b.iam, nil
}

// stsClient returns the mount's STS client.
func (b *backend) stsClient(ctx context.Context, s logical.Storage) (*sts.Client, error) {
	b.clientMu.Lock()
	defer b.clientMu.Unlock()
	if b.sts != nil {
		return b.sts, nil
	}
	rc, cfg, err := b.loadAWSConfig(ctx, s)
	if err != nil {
		return nil, err
	}
	b.sts = sts.NewFromConfig(cfg, func(o *sts.Options) {
		if rc.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(rc.STSEndpoint)
		}
	})
	return b.sts, nil
}

func (b *backend) loadAWSConfig(ctx context.Context, s logical.Storage) (*rootConfig, aws.Config, error) {
	rc, err := readRootConfig(ctx, s)
	if err != nil {
		return nil, aws.Config{}, err
	}
	if rc == nil {
		rc = &rootConfig{MaxRetries: -1}
	}
	cfg, err := awsConfig(ctx, rc)
	return rc, cfg, err
}

// resetClients drops the cached clients so the next use reads config/root.
func (b *backend) resetClients() {
	b.clientMu.Lock()
	defer b.clientMu.Unlock()
	b.iam, b.sts = nil, nil
}

// errorCode is the AWS error code of err ("NoSuchEntity", ...), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isNoSuchEntity(err error) bool { return errorCode(err) == "NoSuchEntity" }
