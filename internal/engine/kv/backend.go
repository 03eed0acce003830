// Package kv is the key/value secrets engine in both of Vault's flavours:
// version 1 stores one JSON object per path and overwrites it on write;
// version 2 keeps numbered versions per key with metadata, check-and-set,
// soft delete, undelete and destroy, under data/, metadata/, delete/,
// undelete/, destroy/, subkeys/ and config. A version 1 mount that is
// re-created as version 2 has its data upgraded in place by Factory.
package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Factory creates a KV backend for a mount. conf.Config["version"] picks the
// flavour: "1" or "" for version 1, "2" for version 2.
func Factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	if conf == nil {
		return nil, errors.New("kv: no backend configuration")
	}
	switch v := conf.Config["version"]; v {
	case "", "1":
		return newPassthrough(), nil
	case "2":
		b, err := newVersioned(conf, time.Now)
		if err != nil {
			return nil, err
		}
		if conf.StorageView == nil {
			return nil, errors.New("kv: version 2 needs the mount's storage view")
		}
		if err := b.upgrade(ctx, conf.StorageView); err != nil {
			return nil, fmt.Errorf("kv: upgrade to version 2: %w", err)
		}
		return b, nil
	default:
		return nil, logical.InvalidRequest("invalid kv version %q: accepted values are \"1\" and \"2\"", v)
	}
}

// formatTime renders t for a response as Vault does: RFC 3339 in UTC with
// as many fractional digits as needed; the zero time is the empty string.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// keyLocks stripes per-key mutexes so that writers to one key serialize
// while writers to different keys rarely contend.
type keyLocks [256]sync.RWMutex

// get returns the lock for key (FNV-1a over the key's bytes).
func (l *keyLocks) get(key string) *sync.RWMutex {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return &l[h%uint32(len(l))]
}

func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
