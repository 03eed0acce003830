package kv

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// upgradeMarker is stored once a mount's version 1 data has been moved to
// the version 2 layout.
type upgradeMarker struct {
	Done       bool      `json:"done"`
	UpgradedAt time.Time `json:"upgraded_at"`
	Keys       int       `json:"keys"`
}

// upgrade moves every version 1 key of the storage view into the version 2
// layout as version 1 of that key, then records that the mount is
// upgraded. It runs before the backend serves requests and is idempotent:
// a run interrupted part way picks up where it stopped, and a key whose
// metadata already exists is only removed from its old place.
func (b *versioned) upgrade(ctx context.Context, s logical.Storage) error {
	var marker upgradeMarker
	ok, err := logical.GetJSON(ctx, s, b.prefix+upgradeKey, &marker)
	if err != nil {
		return fmt.Errorf("read upgrade marker: %w", err)
	}
	if ok && marker.Done {
		return nil
	}
	keys, err := logical.CollectKeys(ctx, s, "")
	if err != nil {
		return fmt.Errorf("list version 1 keys: %w", err)
	}
	cfg, err := b.config(ctx, s)
	if err != nil {
		return err
	}
	moved := 0
	for _, key := range keys {
		if strings.HasPrefix(key, b.prefix) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		done, err := b.upgradeKey(ctx, s, key, cfg)
		if err != nil {
			return err
		}
		if done {
			moved++
		}
	}
	marker = upgradeMarker{Done: true, UpgradedAt: b.now().UTC(), Keys: moved}
	if err := logical.PutJSON(ctx, s, b.prefix+upgradeKey, marker); err != nil {
		return fmt.Errorf("write upgrade marker: %w", err)
	}
	if moved > 0 {
		b.logger.Info("kv: upgraded version 1 data to version 2", "keys", moved)
	}
	return nil
}

// upgradeKey moves one version 1 key; it reports whether the key was moved.
// Data that is not a JSON object is left where it is and logged.
func (b *versioned) upgradeKey(ctx context.Context, s logical.Storage, key string, cfg mountConfig) (bool, error) {
	e, err := s.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("read %q: %w", key, err)
	}
	if e == nil {
		return false, nil
	}
	m, err := b.getMetadata(ctx, s, key)
	if err != nil {
		return false, err
	}
	if m == nil {
		if _, err := decodeObject(e.Value); err != nil {
			b.logger.Warn("kv: skipping version 1 key that is not a JSON object", "key", key, "error", err)
			return false, nil
		}
		m = &keyMetadata{Key: key, Versions: map[uint64]*versionMetadata{}}
		if err := s.Put(ctx, &logical.StorageEntry{Key: b.versionKey(key, 1), Value: e.Value}); err != nil {
			return false, fmt.Errorf("write version 1 of %q: %w", key, err)
		}
		m.addVersion(b.now().UTC(), cfg)
		if err := b.putMetadata(ctx, s, m); err != nil {
			return false, err
		}
	}
	if err := s.Delete(ctx, key); err != nil {
		return false, fmt.Errorf("remove upgraded key %q: %w", key, err)
	}
	return true, nil
}
