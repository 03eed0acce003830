package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/seal"
	"github.com/coffer-dev/coffer/internal/seal/awskms"
	"github.com/coffer-dev/coffer/internal/seal/transit"
)

// buildSeal creates an auto-unseal seal from a seal block; Shamir is nil.
func buildSeal(sc *config.Seal, logger *slog.Logger) (seal.Seal, error) {
	if sc == nil {
		return nil, nil
	}
	switch sc.Type {
	case config.SealShamir, "":
		return nil, nil
	case config.SealAWSKMS:
		return awskms.New(sc.Options)
	case config.SealTransit:
		return transit.New(sc.Options, logger.With("component", "transit-seal"))
	}
	return nil, fmt.Errorf("unsupported seal type %q; accepted: shamir, awskms, transit", sc.Type)
}

// seals returns the active seal and, when a disabled seal block is
// present, the seal to migrate away from.
func seals(cfg *config.Config, logger *slog.Logger) (active, migration seal.Seal, err error) {
	if active, err = buildSeal(cfg.ActiveSeal(), logger); err != nil {
		return nil, nil, err
	}
	if m := cfg.MigrationSeal(); m != nil {
		if migration, err = buildSeal(m, logger); err != nil {
			return nil, nil, fmt.Errorf("disabled seal block: %w", err)
		}
	}
	return active, migration, nil
}

// autoUnsealLoop keeps trying to unseal through the auto-unseal seal
// until it succeeds or the server stops, backing off up to 30 seconds and
// saying why each attempt failed.
func (s *Server) autoUnsealLoop(ctx context.Context) {
	defer s.wg.Done()
	wait := time.Second
	for {
		err := s.Core.AutoUnseal(ctx)
		if err == nil {
			return
		}
		s.logger.Error("auto-unseal failed; the server stays sealed and retries", "retry_in", wait.String(), "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if wait *= 2; wait > 30*time.Second {
			wait = 30 * time.Second
		}
	}
}
