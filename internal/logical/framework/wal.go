package framework

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// walPrefix is where write-ahead records live in a backend's storage view.
const walPrefix = "wal/"

// WALInternalKey is the Secret.InternalData key through which an engine
// hands the core the ID of the write-ahead record covering a new secret.
// The core deletes that record once the secret's lease is stored, so a
// crash before that point leaves the record for rollback to undo.
const WALInternalKey = "wal_id"

// processStart marks this process's start: a record written before it
// cannot belong to a request still in flight.
var processStart = time.Now()

// WALEntry is a write-ahead record: what an engine is about to create on a
// target system, so that an interrupted operation can be undone.
type WALEntry struct {
	ID        string          `json:"-"`
	Kind      string          `json:"kind"`
	Data      json.RawMessage `json:"data"`
	CreatedAt int64           `json:"created_at"` // unix nanoseconds
}

// PutWAL stores a write-ahead record and returns its ID. Store it before
// creating anything external; delete it once the lease is persisted.
func PutWAL(ctx context.Context, s logical.Storage, kind string, data interface{}) (string, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("encode write-ahead record: %w", err)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	e := WALEntry{Kind: kind, Data: raw, CreatedAt: time.Now().UnixNano()}
	if err := logical.PutJSON(ctx, s, walPrefix+id, e); err != nil {
		return "", fmt.Errorf("store write-ahead record: %w", err)
	}
	return id, nil
}

// GetWAL reads a write-ahead record; nil when it does not exist.
func GetWAL(ctx context.Context, s logical.Storage, id string) (*WALEntry, error) {
	var e WALEntry
	ok, err := logical.GetJSON(ctx, s, walPrefix+id, &e)
	if err != nil || !ok {
		return nil, err
	}
	e.ID = id
	return &e, nil
}

// DeleteWAL removes a write-ahead record.
func DeleteWAL(ctx context.Context, s logical.Storage, id string) error {
	return s.Delete(ctx, walPrefix+id)
}

// ListWAL lists the IDs of stored write-ahead records.
func ListWAL(ctx context.Context, s logical.Storage) ([]string, error) {
	return s.List(ctx, walPrefix)
}

// rollback undoes stale write-ahead records through WALRollback.
func (b *Backend) rollback(ctx context.Context, req *logical.Request) error {
	if b.WALRollback == nil {
		return nil
	}
	ids, err := ListWAL(ctx, req.Storage)
	if err != nil {
		return err
	}
	minAge := b.WALRollbackMinAge
	if minAge == 0 {
		minAge = time.Minute
	}
	var firstErr error
	for _, id := range ids {
		e, err := GetWAL(ctx, req.Storage, id)
		if err != nil || e == nil {
			continue
		}
		created := time.Unix(0, e.CreatedAt)
		if created.After(processStart) && time.Since(created) < minAge {
			continue
		}
		var data interface{}
		_ = json.Unmarshal(e.Data, &data)
		if err := b.WALRollback(ctx, req, e.Kind, data); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("roll back %s record %s: %w", e.Kind, id, err)
			}
			continue
		}
		if err := DeleteWAL(ctx, req.Storage, id); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}
