// Package transit is the transit auto-unseal seal: the root key is
// encrypted by a key of another server's transit secrets engine, so this
// server unseals itself as long as that one answers.
package transit

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/seal"
)

// Seal wraps keys with a transit key on another server.
type Seal struct {
	client  *api.Client
	mount   string
	keyName string
	logger  *slog.Logger

	stopOnce sync.Once
	stop     chan struct{}
}

// New builds the seal from a `seal "transit" {}` block's options: address,
// token, key_name, mount_path, tls_ca_cert, tls_client_cert, tls_client_key,
// tls_server_name, tls_skip_verify, disable_renewal. Missing values fall
// back to VAULT_TRANSIT_SEAL_KEY_NAME, VAULT_TRANSIT_SEAL_MOUNT_PATH,
// VAULT_ADDR, VAULT_TOKEN and VAULT_CACERT, as Vault reads them.
func New(opts map[string]string, logger *slog.Logger) (*Seal, error) {
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
	if logger == nil {
		logger = slog.Default()
	}
	addr := get("address", "VAULT_ADDR")
	keyName := get("key_name", "VAULT_TRANSIT_SEAL_KEY_NAME")
	if addr == "" || keyName == "" {
		return nil, fmt.Errorf(`seal "transit": address and key_name are required`)
	}
	mount := strings.Trim(get("mount_path", "VAULT_TRANSIT_SEAL_MOUNT_PATH"), "/")
	if mount == "" {
		mount = "transit"
	}
	conf := api.DefaultConfig()
	conf.Address = addr
	conf.MaxRetries = 0
	conf.Timeout = 10 * time.Second
	tlsConf := &api.TLSConfig{
		CACert:        get("tls_ca_cert", "VAULT_CACERT"),
		ClientCert:    get("tls_client_cert"),
		ClientKey:     get("tls_client_key"),
		TLSServerName: get("tls_server_name"),
		Insecure:      get("tls_skip_verify") == "true",
	}
	if err := conf.ConfigureTLS(tlsConf); err != nil {
		return nil, fmt.Errorf(`seal "transit": TLS settings: %w`, err)
	}
	client, err := api.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf(`seal "transit": %w`, err)
	}
	client.SetToken(get("token", "VAULT_TOKEN"))
	s := &Seal{client: client, mount: mount, keyName: keyName, logger: logger, stop: make(chan struct{})}
	if get("disable_renewal") != "true" {
		go s.renewLoop()
	}
	return s, nil
}

// Type implements seal.Seal.
func (s *Seal) Type() string { return seal.TypeTransit }

// Wrap encrypts plaintext with the transit key.
func (s *Seal) Wrap(ctx context.Context, plaintext []byte) ([]byte, error) {
	sec, err := s.client.Logical().WriteWithContext(ctx, s.mount+"/encrypt/"+s.keyName, map[string]interface{}{
		"plaintext": base64.StdEncoding.EncodeToString(plaintext),
	})
	if err != nil {
		return nil, fmt.Errorf("transit seal: encrypt with %s/keys/%s at %s: %w", s.mount, s.keyName, s.client.Address(), err)
	}
	ct, _ := sec.Data["ciphertext"].(string)
	if ct == "" {
		return nil, fmt.Errorf("transit seal: encrypt returned no ciphertext")
	}
	return []byte(ct), nil
}

// Unwrap decrypts what Wrap produced.
func (s *Seal) Unwrap(ctx context.Context, ciphertext []byte) ([]byte, error) {
	sec, err := s.client.Logical().WriteWithContext(ctx, s.mount+"/decrypt/"+s.keyName, map[string]interface{}{
		"ciphertext": string(ciphertext),
	})
	if err != nil {
		return nil, fmt.Errorf("transit seal: decrypt with %s/keys/%s at %s: %w", s.mount, s.keyName, s.client.Address(), err)
	}
	pt, _ := sec.Data["plaintext"].(string)
	return base64.StdEncoding.DecodeString(pt)
}

// renewLoop keeps the seal's token alive, renewing it at half its TTL.
func (s *Seal) renewLoop() {
	wait := time.Minute
	if sec, err := s.client.Auth().Token().LookupSelf(); err == nil && sec != nil {
		if ttl, _ := sec.TokenTTL(); ttl == 0 {
			return // a token that never expires needs no renewal
		} else if ttl > 0 {
			wait = ttl / 2
		}
	}
	for {
		select {
		case <-s.stop:
			return
		case <-time.After(wait):
		}
		sec, err := s.client.Auth().Token().RenewSelf(0)
		if err != nil {
			s.logger.Warn("transit seal: could not renew the token", "error", err)
			wait = time.Minute
			continue
		}
		if sec != nil && sec.Auth != nil && sec.Auth.LeaseDuration > 0 {
			wait = time.Duration(sec.Auth.LeaseDuration) * time.Second / 2
		} else {
			wait = time.Hour
		}
	}
}

// Close stops token renewal.
func (s *Seal) Close() { s.stopOnce.Do(func() { close(s.stop) }) }

var _ seal.Seal = (*Seal)(nil)
