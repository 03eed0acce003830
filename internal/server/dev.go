package server

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer/internal/core"
	"github.com/coffer-dev/coffer/internal/router"
)

// InitResult is what initialising a server gives back.
type InitResult struct {
	Keys         [][]byte
	RecoveryKeys [][]byte
	RootToken    string
}

// InitAndUnseal initialises the server with shares/threshold, unseals it
// with the first threshold shares, and returns the keys and root token.
func (s *Server) InitAndUnseal(ctx context.Context, shares, threshold int, rootTokenID string) (*InitResult, error) {
	req := core.InitRequest{SecretShares: shares, SecretThreshold: threshold, RootTokenID: rootTokenID}
	if s.seal != nil {
		req = core.InitRequest{RecoveryShares: shares, RecoveryThreshold: threshold, RootTokenID: rootTokenID}
	}
	res, err := s.Core.Initialize(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if s.seal == nil {
		// An auto-unseal seal has already unsealed the server.
		if err := s.Unseal(ctx, res.Keys); err != nil {
			return nil, err
		}
	}
	return &InitResult{Keys: res.Keys, RecoveryKeys: res.RecoveryKeys, RootToken: res.RootToken}, nil
}

// Unseal feeds key shares until the server is unsealed.
func (s *Server) Unseal(ctx context.Context, keys [][]byte) error {
	for _, k := range keys {
		done, err := s.Core.Unseal(ctx, k)
		if err != nil {
			return fmt.Errorf("unseal: %w", err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("unseal: not enough key shares")
}

// SetupDev prepares a dev server: initialised with one share, unsealed,
// and KV version 2 mounted at secret/.
func (s *Server) SetupDev(ctx context.Context, rootTokenID string) (*InitResult, error) {
	res, err := s.InitAndUnseal(ctx, 1, 1, rootTokenID)
	if err != nil {
		return nil, err
	}
	return res, s.MountDevKV(ctx)
}

// MountDevKV mounts KV version 2 at secret/, as dev mode does.
func (s *Server) MountDevKV(ctx context.Context) error {
	err := s.Core.EnableMount(ctx, &router.MountEntry{
		Table: router.TableMounts, Path: "secret/", Type: "kv",
		Description: "key/value secret storage", Options: map[string]string{"version": "2"},
	})
	if err != nil {
		return fmt.Errorf("mount secret/: %w", err)
	}
	return nil
}
