package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func TestResponseWrapping(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	if _, err := c.KVv2("secret").Put(t.Context(), "wrapped", map[string]interface{}{"password": "hunter2"}); err != nil {
		t.Fatal(err)
	}

	// Any request can be wrapped with X-Vault-Wrap-TTL.
	wc, _ := c.Clone()
	wc.SetToken(s.RootToken)
	wc.SetWrappingLookupFunc(func(op, path string) string { return "60s" })
	w, err := wc.Logical().Read("secret/data/wrapped")
	if err != nil {
		t.Fatal(err)
	}
	if w.WrapInfo == nil || w.WrapInfo.Token == "" || w.WrapInfo.TTL != 60 || w.Data != nil || w.WrapInfo.CreationPath != "secret/data/wrapped" {
		t.Fatalf("wrapped read: %+v / %+v", w, w.WrapInfo)
	}

	look, err := c.Logical().Write("sys/wrapping/lookup", map[string]interface{}{"token": w.WrapInfo.Token})
	if err != nil || look.Data["creation_path"] != "secret/data/wrapped" {
		t.Fatalf("lookup: %+v %v", look, err)
	}

	// Unwrap with the wrapping token itself as the client token.
	un, err := s.NewClient(w.WrapInfo.Token).Logical().Unwrap("")
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := un.Data["data"].(map[string]interface{})
	if inner["password"] != "hunter2" {
		t.Fatalf("unwrapped data: %+v", un.Data)
	}
	// Single use.
	_, err = s.NewClient(w.WrapInfo.Token).Logical().Unwrap("")
	mustStatus(t, err, http.StatusForbidden, "permission denied")
	_, err = c.Logical().Unwrap(w.WrapInfo.Token)
	mustStatus(t, err, http.StatusBadRequest, "wrapping token is not valid")

	// sys/wrapping/wrap, rewrap, unwrap with the token as a parameter.
	wrapped, err := wc.Logical().Write("sys/wrapping/wrap", map[string]interface{}{"zip": "zap"})
	if err != nil || wrapped.WrapInfo == nil {
		t.Fatalf("wrap: %+v %v", wrapped, err)
	}
	re, err := c.Logical().Write("sys/wrapping/rewrap", map[string]interface{}{"token": wrapped.WrapInfo.Token})
	if err != nil || re.WrapInfo == nil || re.WrapInfo.Token == wrapped.WrapInfo.Token {
		t.Fatalf("rewrap: %+v %v", re, err)
	}
	_, err = c.Logical().Unwrap(wrapped.WrapInfo.Token)
	mustStatus(t, err, http.StatusBadRequest, "not valid")
	un, err = c.Logical().Unwrap(re.WrapInfo.Token)
	if err != nil || un.Data["zip"] != "zap" {
		t.Fatalf("unwrap after rewrap: %+v %v", un, err)
	}

	// A wrapped token creation: the wrapped accessor is reported and the token works.
	tw, err := wc.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"default"}})
	if err != nil || tw.WrapInfo == nil || tw.WrapInfo.WrappedAccessor == "" {
		t.Fatalf("wrapped token create: %+v %v", tw, err)
	}
	ut, err := c.Logical().Unwrap(tw.WrapInfo.Token)
	if err != nil || ut.Auth == nil || ut.Auth.Accessor != tw.WrapInfo.WrappedAccessor {
		t.Fatalf("unwrapped auth: %+v %v", ut, err)
	}
	if _, err := s.NewClient(ut.Auth.ClientToken).Auth().Token().LookupSelf(); err != nil {
		t.Fatal(err)
	}

	// Policies bound the wrapping TTL.
	if err := c.Sys().PutPolicy("wrap-bounds", `
path "secret/data/*" {
  capabilities     = ["read"]
  min_wrapping_ttl = "30s"
  max_wrapping_ttl = "2m"
}`); err != nil {
		t.Fatal(err)
	}
	tok, err := c.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"wrap-bounds"}})
	if err != nil {
		t.Fatal(err)
	}
	bc := s.NewClient(tok.Auth.ClientToken)
	_, err = bc.Logical().Read("secret/data/wrapped")
	mustStatus(t, err, http.StatusForbidden, "permission denied")
	bc.SetWrappingLookupFunc(func(op, path string) string { return "10m" })
	_, err = bc.Logical().Read("secret/data/wrapped")
	mustStatus(t, err, http.StatusForbidden, "permission denied")
	bc.SetWrappingLookupFunc(func(op, path string) string { return "1m" })
	if w, err := bc.Logical().Read("secret/data/wrapped"); err != nil || w.WrapInfo == nil {
		t.Fatalf("wrap within bounds: %+v %v", w, err)
	}

	// An unused wrapping token expires with its TTL.
	wc.SetWrappingLookupFunc(func(op, path string) string { return "1s" })
	short, err := wc.Logical().Read("secret/data/wrapped")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_, err = c.Logical().Unwrap(short.WrapInfo.Token)
	mustStatus(t, err, http.StatusBadRequest, "not valid")
}
