package server

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer/internal/core"
	"github.com/coffer-dev/coffer/internal/router"
)

// InitResult is what initialising a server gives back.
type InitResult struct {
	Keys      [][]byte
	RootToken string
}

// InitAndUnseal initialises the server with shares/threshold, unseals it
// with the first threshold shares, and returns the keys and root token.
func (s *Server) InitAndUnseal(ctx context.Context, shares, threshold int, rootTokenID string) (*InitResult, error) {
	res, err := s.Core.Initialize(ctx, core.InitRequest{SecretShares: shares, SecretThreshold: threshold, RootTokenID: rootTokenID})
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if err := s.Unseal(ctx, res.Keys); err != nil {
		return nil, err
	}
	return &InitResult{Keys: res.Keys, RootToken: res.RootToken}, nil
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
	err = s.Core.EnableMount(ctx, &router.MountEntry{
		Table: router.TableMounts, Path: "secret/", Type: "kv",
		Description: "key/value secret storage", Options: map[string]string{"version": "2"},
	})
	if err != nil {
		return nil, fmt.Errorf("mount secret/: %w", err)
	}
	return res, nil
}
