package server_test

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/awstest"
	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/testserver"
)

func kmsSeal(aws *awstest.Server, disabled bool) *config.Seal {
	return &config.Seal{Type: config.SealAWSKMS, Disabled: disabled, Options: map[string]string{
		"kms_key_id": aws.KeyID, "endpoint": aws.URL, "region": "us-east-1",
		"access_key": aws.AccessKeyID, "secret_key": aws.SecretAccessKey,
	}}
}

func TestAWSKMSAutoUnseal(t *testing.T) {
	aws := awstest.NewServer(t)
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), Shares: 3, Threshold: 2, Seals: []*config.Seal{kmsSeal(aws, false)}})
	if len(s.UnsealKeys) != 0 || len(s.RecoveryKeys) != 3 {
		t.Fatalf("init gave %d unseal and %d recovery keys, want 0 and 3", len(s.UnsealKeys), len(s.RecoveryKeys))
	}
	if _, err := s.Client.KVv2("secret").Put(t.Context(), "k", map[string]interface{}{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Client.Sys().SealStatus()
	if err != nil || st.Type != "awskms" || !st.RecoverySeal || st.T != 2 || st.N != 3 || st.Sealed {
		t.Fatalf("seal status: %+v %v", st, err)
	}

	// Restart: the server unseals itself.
	s.Restart()
	if v, err := s.Client.KVv2("secret").Get(t.Context(), "k"); err != nil || v.Data["v"] != "1" {
		t.Fatalf("after auto-unseal restart: %+v %v", v, err)
	}

	// KMS unreachable at start: the server stays sealed, refuses key
	// shares, and unseals once KMS is back.
	aws.SetDown(true)
	s.RestartSealed()
	time.Sleep(300 * time.Millisecond)
	if !s.Server.Core.Sealed() {
		t.Fatal("unsealed while KMS was down")
	}
	_, err = s.Client.Sys().Unseal(s.RecoveryKeys[0])
	mustStatus(t, err, http.StatusBadRequest, "unseals itself")
	aws.SetDown(false)
	s.WaitUnsealed(15 * time.Second)

	// Recovery keys authorise root generation.
	sys := s.Client.Sys()
	gr, err := sys.GenerateRootInit("", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.GenerateRootUpdate(s.RecoveryKeys[0], gr.Nonce); err != nil {
		t.Fatal(err)
	}
	done, err := sys.GenerateRootUpdate(s.RecoveryKeys[1], gr.Nonce)
	if err != nil || !done.Complete {
		t.Fatalf("generate-root with recovery keys: %+v %v", done, err)
	}
	raw, _ := base64.RawStdEncoding.DecodeString(done.EncodedToken)
	tok := make([]byte, len(raw))
	for i := range raw {
		tok[i] = raw[i] ^ gr.OTP[i]
	}
	if _, err := s.NewClient(string(tok)).Auth().Token().LookupSelf(); err != nil {
		t.Fatalf("root token from recovery keys: %v", err)
	}
}

func TestSealMigrationBothWays(t *testing.T) {
	aws := awstest.NewServer(t)
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), Shares: 3, Threshold: 2})
	if _, err := s.Client.KVv2("secret").Put(t.Context(), "k", map[string]interface{}{"v": "migrated"}); err != nil {
		t.Fatal(err)
	}
	shamirKeys := s.UnsealKeys

	// shamir -> awskms: add the awskms block and a disabled shamir block.
	s.SetSeals([]*config.Seal{kmsSeal(aws, false), {Type: config.SealShamir, Disabled: true}})
	s.RestartSealed()
	sys := s.Client.Sys()
	st, _ := sys.SealStatus()
	if !st.Sealed || !st.Migration {
		t.Fatalf("before migration: %+v", st)
	}
	_, err := sys.Unseal(shamirKeys[0])
	mustStatus(t, err, http.StatusBadRequest, "migrate")
	for _, k := range shamirKeys[:2] {
		if _, err := sys.UnsealWithOptions(&api.UnsealOpts{Key: k, Migrate: true}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = sys.SealStatus()
	if st.Sealed || st.Type != "awskms" || !st.RecoverySeal || st.T != 2 || st.N != 3 || st.Migration {
		t.Fatalf("after migration to awskms: %+v", st)
	}
	// Restart with only the awskms block: it unseals itself.
	s.SetSeals([]*config.Seal{kmsSeal(aws, false)})
	s.RestartSealed()
	s.WaitUnsealed(10 * time.Second)
	if v, err := s.Client.KVv2("secret").Get(t.Context(), "k"); err != nil || v.Data["v"] != "migrated" {
		t.Fatalf("data after migration: %+v %v", v, err)
	}

	// awskms -> shamir: disable the awskms block; the old shares (now
	// recovery shares) become unseal shares again.
	s.SetSeals([]*config.Seal{kmsSeal(aws, true)})
	s.RestartSealed()
	sys = s.Client.Sys()
	if st, _ := sys.SealStatus(); !st.Sealed || !st.Migration {
		t.Fatalf("before migration back: %+v", st)
	}
	for _, k := range shamirKeys[1:3] {
		if _, err := sys.UnsealWithOptions(&api.UnsealOpts{Key: k, Migrate: true}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ = sys.SealStatus()
	if st.Sealed || st.Type != "shamir" || st.T != 2 || st.N != 3 {
		t.Fatalf("after migration to shamir: %+v", st)
	}
	s.SetSeals(nil)
	s.SetKeys(decodeAll(t, shamirKeys), 2, s.RootToken)
	s.Restart()
	if v, err := s.Client.KVv2("secret").Get(t.Context(), "k"); err != nil || v.Data["v"] != "migrated" {
		t.Fatalf("data after migrating back: %+v %v", v, err)
	}
}

// TestClusterAutoUnsealJoin joins nodes with the same awskms seal: they
// complete the join and unseal by themselves, also after a restart.
func TestClusterAutoUnsealJoin(t *testing.T) {
	aws := awstest.NewServer(t)
	cl := testserver.StartCluster(t, 3, testserver.Options{Seals: []*config.Seal{kmsSeal(aws, false)}})
	standby := cl.Standbys()[0]
	if _, err := standby.Client.KVv2("secret").Put(t.Context(), "auto", map[string]interface{}{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	standby.Restart()
	cl.WaitVoters(3, 20*time.Second)
	if v, err := standby.Client.KVv2("secret").Get(t.Context(), "auto"); err != nil || v.Data["v"] != "1" {
		t.Fatalf("read via the restarted auto-unseal node: %+v %v", v, err)
	}
	st, err := standby.Client.Sys().SealStatus()
	if err != nil || st.Type != "awskms" || st.Sealed {
		t.Fatalf("seal status of the joined node: %+v %v", st, err)
	}
}
