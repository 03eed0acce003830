package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// respErr returns the API error's status code, or 0.
func respErr(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func mustStatus(t *testing.T, err error, want int, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected HTTP %d, got success", want)
	}
	if got := respErr(err); got != want {
		t.Fatalf("expected HTTP %d, got %d: %v", want, got, err)
	}
	if contains != "" && !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not contain %q", err.Error(), contains)
	}
}

func TestInitUnsealSealLifecycle(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), NoInit: true})
	sys := s.Client.Sys()

	init, err := sys.InitStatus()
	if err != nil || init {
		t.Fatalf("InitStatus = %v, %v; want false", init, err)
	}
	h, err := sys.Health()
	if err != nil {
		t.Fatal(err)
	}
	if h.Initialized || !h.Sealed {
		t.Fatalf("health before init: %+v", h)
	}
	// Requests before init are refused as sealed.
	_, err = s.Client.Logical().Read("secret/data/x")
	mustStatus(t, err, http.StatusServiceUnavailable, "Vault is sealed")

	// Invalid init parameters change nothing.
	_, err = sys.Init(&api.InitRequest{SecretShares: 3, SecretThreshold: 5})
	mustStatus(t, err, http.StatusBadRequest, "threshold cannot be larger than shares")
	_, err = sys.Init(&api.InitRequest{SecretShares: 3, SecretThreshold: 2, PGPKeys: []string{"x", "y", "z"}})
	mustStatus(t, err, http.StatusBadRequest, "pgp_keys")
	if init, _ := sys.InitStatus(); init {
		t.Fatal("a refused init left the server initialised")
	}

	resp, err := sys.Init(&api.InitRequest{SecretShares: 3, SecretThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Keys) != 3 || len(resp.KeysB64) != 3 || !strings.HasPrefix(resp.RootToken, "hvs.") || len(resp.RootToken) != 28 {
		t.Fatalf("init response: %d keys, root token %q", len(resp.Keys), resp.RootToken)
	}
	_, err = sys.Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	mustStatus(t, err, http.StatusBadRequest, "already initialized")

	st, err := sys.SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Sealed || st.T != 2 || st.N != 3 || st.Progress != 0 || st.Type != "shamir" || !strings.HasPrefix(st.Version, "1.17.0+coffer") || st.StorageType != "raft" {
		t.Fatalf("seal status after init: %+v", st)
	}

	// Malformed keys.
	_, err = sys.Unseal("not-hex-or-base64!")
	mustStatus(t, err, http.StatusBadRequest, "valid hex or base64")
	_, err = sys.Unseal(hex.EncodeToString([]byte("short")))
	mustStatus(t, err, http.StatusBadRequest, "expected 33")
	if st, _ := sys.SealStatus(); st.Progress != 0 {
		t.Fatalf("malformed keys counted toward progress: %d", st.Progress)
	}

	// One right share, then the same share again: refused, progress unchanged.
	st, err = sys.Unseal(resp.Keys[0])
	if err != nil || st.Progress != 1 || !st.Sealed {
		t.Fatalf("first share: %+v %v", st, err)
	}
	_, err = sys.Unseal(resp.KeysB64[0]) // same share, base64 form
	mustStatus(t, err, http.StatusBadRequest, "already provided")
	if st, _ := sys.SealStatus(); st.Progress != 1 {
		t.Fatalf("reused key changed progress to %d", st.Progress)
	}

	// A foreign share completes the threshold but does not open the barrier.
	bogus := make([]byte, 33)
	_, _ = rand.Read(bogus)
	_, err = sys.Unseal(hex.EncodeToString(bogus))
	mustStatus(t, err, http.StatusBadRequest, "do not reconstruct")
	st, _ = sys.SealStatus()
	if !st.Sealed || st.Progress != 0 {
		t.Fatalf("after wrong shares: sealed=%v progress=%d", st.Sealed, st.Progress)
	}

	// Reset clears progress.
	if _, err := sys.Unseal(resp.Keys[1]); err != nil {
		t.Fatal(err)
	}
	if st, err := sys.ResetUnsealProcess(); err != nil || st.Progress != 0 {
		t.Fatalf("reset: %+v %v", st, err)
	}

	// Two right shares unseal.
	if _, err := sys.Unseal(resp.Keys[2]); err != nil {
		t.Fatal(err)
	}
	st, err = sys.Unseal(resp.KeysB64[0])
	if err != nil || st.Sealed {
		t.Fatalf("unseal with two shares: %+v %v", st, err)
	}
	s.SetKeys(decodeAll(t, resp.Keys), 2, resp.RootToken)
	c := s.NewClient(resp.RootToken)

	// Works; sealing needs a privileged token.
	if _, err := c.Logical().Write("cubbyhole/x", map[string]interface{}{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.NewClient(tok.Auth.ClientToken).Sys().Seal()
	mustStatus(t, err, http.StatusForbidden, "permission denied")
	if err := c.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Logical().Read("cubbyhole/x")
	mustStatus(t, err, http.StatusServiceUnavailable, "Vault is sealed")
	h, _ = sys.Health()
	if !h.Sealed {
		t.Fatal("health does not report sealed")
	}
	for _, k := range resp.Keys[:2] {
		if _, err := sys.Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	sec, err := c.Logical().Read("cubbyhole/x")
	if err != nil || sec == nil || sec.Data["a"] != "b" {
		t.Fatalf("data after re-unseal: %v %v", sec, err)
	}
}

func decodeAll(t *testing.T, keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		b, err := hex.DecodeString(k)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func TestHealthStatusCodes(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	get := func(q string) int {
		req, _ := http.NewRequest(http.MethodGet, s.Addr+"/v1/sys/health"+q, nil)
		resp, err := s.Client.CloneConfig().HttpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(""); c != 200 {
		t.Fatalf("active: %d", c)
	}
	if c := get("?activecode=299"); c != 299 {
		t.Fatalf("activecode override: %d", c)
	}
	if err := s.Client.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	if c := get(""); c != 503 {
		t.Fatalf("sealed: %d", c)
	}
	if c := get("?sealedcode=200"); c != 200 {
		t.Fatalf("sealedcode override: %d", c)
	}
}

func TestGenerateRootWithOTP(t *testing.T) {
	s := testserver.Start(t, testserver.Options{Shares: 3, Threshold: 2})
	sys := s.Client.Sys()
	st, err := sys.GenerateRootInit("", "")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Started || st.OTP == "" || st.OTPLength != 28 || st.Required != 2 {
		t.Fatalf("attempt: %+v", st)
	}
	_, err = sys.GenerateRootInit("", "")
	mustStatus(t, err, http.StatusBadRequest, "already in progress")
	_, err = sys.GenerateRootUpdate(s.UnsealKeys[0], "wrong-nonce")
	mustStatus(t, err, http.StatusBadRequest, "incorrect nonce")
	if _, err := sys.GenerateRootUpdate(s.UnsealKeys[0], st.Nonce); err != nil {
		t.Fatal(err)
	}
	done, err := sys.GenerateRootUpdate(s.UnsealKeys[1], st.Nonce)
	if err != nil || !done.Complete || done.EncodedToken == "" {
		t.Fatalf("complete: %+v %v", done, err)
	}
	raw, err := base64.RawStdEncoding.DecodeString(done.EncodedToken)
	if err != nil {
		t.Fatal(err)
	}
	tok := make([]byte, len(raw))
	for i := range raw {
		tok[i] = raw[i] ^ st.OTP[i]
	}
	sec, err := s.NewClient(string(tok)).Auth().Token().LookupSelf()
	if err != nil {
		t.Fatalf("generated root token does not work: %v", err)
	}
	if pol, _ := sec.TokenPolicies(); len(pol) != 1 || pol[0] != "root" {
		t.Fatalf("generated token policies %v", pol)
	}
}

func TestRekeyReplacesShares(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), Shares: 3, Threshold: 2})
	sys := s.Client.Sys()
	st, err := sys.RekeyInit(&api.RekeyInitRequest{SecretShares: 5, SecretThreshold: 3})
	if err != nil || !st.Started || st.N != 5 || st.T != 3 {
		t.Fatalf("rekey init: %+v %v", st, err)
	}
	if _, err := sys.RekeyUpdate(s.UnsealKeys[0], st.Nonce); err != nil {
		t.Fatal(err)
	}
	up, err := sys.RekeyUpdate(s.UnsealKeys[1], st.Nonce)
	if err != nil || !up.Complete || len(up.Keys) != 5 {
		t.Fatalf("rekey update: %+v %v", up, err)
	}
	if err := sys.Seal(); err != nil {
		t.Fatal(err)
	}
	// The old shares no longer open the barrier.
	if _, err := sys.Unseal(s.UnsealKeys[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Unseal(s.UnsealKeys[1]); err == nil {
		st, _ := sys.SealStatus()
		if !st.Sealed {
			t.Fatal("old key shares still unseal after rekey")
		}
	}
	if _, err := sys.ResetUnsealProcess(); err != nil {
		t.Fatal(err)
	}
	for _, k := range up.Keys[2:] {
		if _, err := sys.Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := sys.SealStatus(); st.Sealed || st.N != 5 || st.T != 3 {
		t.Fatalf("after unseal with new shares: %+v", st)
	}
	// And the new keys survive a restart.
	s.SetKeys(decodeAll(t, up.Keys), 3, s.RootToken)
	s.Restart()
	if _, err := s.Client.Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}
}
