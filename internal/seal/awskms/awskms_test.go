package awskms

import (
	"bytes"
	"context"
	"testing"

	"github.com/coffer-dev/coffer/internal/awstest"
)

func TestWrapUnwrapAgainstKMS(t *testing.T) {
	aws := awstest.NewServer(t)
	s, err := New(map[string]string{
		"kms_key_id": aws.KeyID, "endpoint": aws.URL, "region": "us-east-1",
		"access_key": aws.AccessKeyID, "secret_key": aws.SecretAccessKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := bytes.Repeat([]byte{7}, 32)
	ct, err := s.Wrap(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, key) {
		t.Fatal("ciphertext contains the plaintext")
	}
	pt, err := s.Unwrap(ctx, ct)
	if err != nil || !bytes.Equal(pt, key) {
		t.Fatalf("unwrap: %x %v", pt, err)
	}
	aws.SetDown(true)
	if _, err := s.Unwrap(ctx, ct); err == nil {
		t.Fatal("unwrap succeeded while KMS was down")
	}
	aws.SetDown(false)
	if _, err := New(map[string]string{"endpoint": aws.URL, "access_key": "a", "secret_key": "b"}); err == nil {
		t.Fatal("missing kms_key_id accepted")
	}
}
