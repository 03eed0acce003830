package awstest

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func kmsClient(s *Server, akid, secret string) *kms.Client {
	return kms.NewFromConfig(sdkConfig(akid, secret, ""), func(o *kms.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func TestKMSEncryptDecrypt(t *testing.T) {
	s := NewServer(t)
	ctx := context.Background()
	c := kmsClient(s, s.AccessKeyID, s.SecretAccessKey)
	ec := map[string]string{"purpose": "unseal"}
	for _, keyID := range []string{s.KeyID, "alias/coffer", "arn:aws:kms:us-east-1:123456789012:key/" + s.KeyID, "arn:aws:kms:us-east-1:123456789012:alias/coffer"} {
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("root key"), EncryptionContext: ec})
		if err != nil {
			t.Fatalf("encrypt with %s: %v", keyID, err)
		}
		if aws.ToString(enc.KeyId) != "arn:aws:kms:us-east-1:123456789012:key/"+s.KeyID || enc.EncryptionAlgorithm != kmstypes.EncryptionAlgorithmSpecSymmetricDefault {
			t.Fatalf("encrypt answer = %+v", enc)
		}
		if bytes.Contains(enc.CiphertextBlob, []byte("root key")) {
			t.Fatal("ciphertext contains the plaintext")
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
		if err != nil || string(dec.Plaintext) != "root key" {
			t.Fatalf("decrypt = %v, %v", dec, err)
		}
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(s.KeyID), Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	other := s.CreateKey("alias/other")
	tampered := append([]byte(nil), enc.CiphertextBlob...)
	tampered[len(tampered)-1] ^= 1
	cases := []struct {
		name string
		call func() error
		want any
	}{
		{"wrong context", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"purpose": "other"}})
			return err
		}, &kmstypes.InvalidCiphertextException{}},
		{"tampered", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec})
			return err
		}, &kmstypes.InvalidCiphertextException{}},
		{"garbage", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("garbage")})
			return err
		}, &kmstypes.InvalidCiphertextException{}},
		{"other key named", func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String(other)})
			return err
		}, &kmstypes.IncorrectKeyException{}},
		{"unknown key", func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/missing"), Plaintext: []byte("x")})
			return err
		}, &kmstypes.NotFoundException{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			if got, want := errCode(err), errCode(tc.want.(error)); got != want {
				t.Fatalf("code = %q (%v), want %q", got, err, want)
			}
		})
	}

	s.SetKeyEnabled(s.KeyID, false)
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}); errCode(err) != "DisabledException" {
		t.Fatalf("disabled key: %v", err)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/coffer")})
	if err != nil || aws.ToString(d.KeyMetadata.KeyId) != s.KeyID || d.KeyMetadata.Enabled || d.KeyMetadata.KeyState != kmstypes.KeyStateDisabled || d.KeyMetadata.CreationDate == nil {
		t.Fatalf("describe = %+v, %v", d, err)
	}
	s.SetKeyEnabled(s.KeyID, true)

	if _, err := kmsClient(s, "AKIAUNKNOWNUNKNOWN00", "x").DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(s.KeyID)}); errCode(err) != "UnrecognizedClientException" {
		t.Fatalf("unknown access key: %v", err)
	}
	if _, err := kmsClient(s, s.AccessKeyID, "wrong").DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(s.KeyID)}); errCode(err) != "InvalidSignatureException" {
		t.Fatalf("wrong secret: %v", err)
	}
	s.FailNext("Decrypt", "KMSInternalException")
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}); errCode(err) != "KMSInternalException" {
		t.Fatalf("injected failure: %v", err)
	}
	s.SetDown(true)
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(s.KeyID)}); errCode(err) != "ServiceUnavailableException" {
		t.Fatalf("down: %v", err)
	}
	s.SetDown(false)
	if s.Calls("Decrypt") < 6 || s.Calls("DescribeKey") != 4 {
		t.Fatalf("calls: decrypt %d, describe %d", s.Calls("Decrypt"), s.Calls("DescribeKey"))
	}
}
