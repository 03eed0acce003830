// Package awskms is the AWS KMS auto-unseal seal: the root key is
// encrypted by a KMS key and decrypted at start, so the server unseals
// itself.
package awskms

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/coffer-dev/coffer/internal/seal"
)

// Seal wraps keys with a KMS key.
type Seal struct {
	client *kms.Client
	keyID  string
}

// New builds the seal from a `seal "awskms" {}` block's options: region,
// kms_key_id, endpoint, access_key, secret_key, session_token. Missing
// values fall back to VAULT_AWSKMS_SEAL_KEY_ID, AWS_KMS_ENDPOINT,
// AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// and AWS_SESSION_TOKEN, as Vault reads them.
func New(opts map[string]string) (*Seal, error) {
	get := func(key string, envs ...string) string {
		if v := opts[key]; v != "" {
			return v
		}
		for _, e := range envs {
			if v := os.Getenv(e); v != "" {
				return v
			}
		}
		return ""
	}
	keyID := get("kms_key_id", "VAULT_AWSKMS_SEAL_KEY_ID")
	if keyID == "" {
		return nil, fmt.Errorf(`seal "awskms": kms_key_id is required (or set VAULT_AWSKMS_SEAL_KEY_ID)`)
	}
	region := get("region", "AWS_REGION", "AWS_DEFAULT_REGION")
	if region == "" {
		region = "us-east-1"
	}
	cfg := aws.Config{Region: region, RetryMaxAttempts: 3}
	ak, sk := get("access_key", "AWS_ACCESS_KEY_ID"), get("secret_key", "AWS_SECRET_ACCESS_KEY")
	if ak == "" || sk == "" {
		return nil, fmt.Errorf(`seal "awskms": access_key and secret_key are required (or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`)
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider(ak, sk, get("session_token", "AWS_SESSION_TOKEN"))
	var kopts []func(*kms.Options)
	if ep := get("endpoint", "AWS_KMS_ENDPOINT"); ep != "" {
		kopts = append(kopts, func(o *kms.Options) { o.BaseEndpoint = aws.String(ep) })
	}
	return &Seal{client: kms.NewFromConfig(cfg, kopts...), keyID: keyID}, nil
}

// Type implements seal.Seal.
func (s *Seal) Type() string { return seal.TypeAWSKMS }

// Wrap encrypts plaintext with the KMS key.
func (s *Seal) Wrap(ctx context.Context, plaintext []byte) ([]byte, error) {
	out, err := s.client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(s.keyID), Plaintext: plaintext})
	if err != nil {
		return nil, fmt.Errorf("awskms: encrypt with key %s: %w", s.keyID, err)
	}
	return out.CiphertextBlob, nil
}

// Unwrap decrypts what Wrap produced.
func (s *Seal) Unwrap(ctx context.Context, ciphertext []byte) ([]byte, error) {
	out, err := s.client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(s.keyID), CiphertextBlob: ciphertext})
	if err != nil {
		return nil, fmt.Errorf("awskms: decrypt with key %s: %w", s.keyID, err)
	}
	return out.Plaintext, nil
}

var _ seal.Seal = (*Seal)(nil)
