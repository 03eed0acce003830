package server_test

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/testserver"
)

// TestTransitAutoUnseal: server B unseals through server A's transit key;
// while A is sealed, B stays sealed and unseals once A is back.
func TestTransitAutoUnseal(t *testing.T) {
	a := testserver.Start(t, testserver.Options{DataDir: t.TempDir()})
	ac := a.Client
	if err := ac.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Logical().Write("transit/keys/autounseal", nil); err != nil {
		t.Fatal(err)
	}
	if err := ac.Sys().PutPolicy("autounseal", `
path "transit/encrypt/autounseal" { capabilities = ["update"] }
path "transit/decrypt/autounseal" { capabilities = ["update"] }
`); err != nil {
		t.Fatal(err)
	}
	tok, err := ac.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"autounseal"}, Period: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	transitSeal := &config.Seal{Type: config.SealTransit, Options: map[string]string{
		"address": a.Addr, "token": tok.Auth.ClientToken, "key_name": "autounseal",
		"mount_path": "transit/", "tls_ca_cert": a.CACertFile,
	}}

	b := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), Shares: 3, Threshold: 2, Seals: []*config.Seal{transitSeal}})
	if _, err := b.Client.KVv2("secret").Put(t.Context(), "k", map[string]interface{}{"v": "through transit"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.Client.Sys().SealStatus(); st.Type != "transit" || !st.RecoverySeal || st.N != 3 {
		t.Fatalf("seal status of B: %+v", st)
	}
	b.Restart()
	if v, err := b.Client.KVv2("secret").Get(t.Context(), "k"); err != nil || v.Data["v"] != "through transit" {
		t.Fatalf("after restart: %+v %v", v, err)
	}

	// A sealed: B restarts sealed and stays so until A is unsealed again.
	if err := ac.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	b.RestartSealed()
	time.Sleep(500 * time.Millisecond)
	if !b.Server.Core.Sealed() {
		t.Fatal("B unsealed while A was sealed")
	}
	for _, k := range a.UnsealKeys {
		if _, err := ac.Sys().Unseal(k); err != nil {
			t.Fatal(err)
		}
	}
	b.WaitUnsealed(15 * time.Second)
	if v, err := b.Client.KVv2("secret").Get(t.Context(), "k"); err != nil || v.Data["v"] != "through transit" {
		t.Fatalf("after A came back: %+v %v", v, err)
	}
}
