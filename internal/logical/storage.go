package logical

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// StorageEntry is one key/value pair in a backend's storage view.
type StorageEntry struct {
	Key   string
	Value []byte
}

// Storage is a backend's view of persistent storage, already scoped to its
// mount and encrypted by the barrier.
type Storage interface {
	// List returns the keys directly under prefix; sub-folders end in "/".
	List(ctx context.Context, prefix string) ([]string, error)
	Get(ctx context.Context, key string) (*StorageEntry, error)
	Put(ctx context.Context, entry *StorageEntry) error
	Delete(ctx context.Context, key string) error
}

// StorageEntryJSON encodes v as JSON into an entry.
func StorageEntryJSON(key string, v interface{}) (*StorageEntry, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %q: %w", key, err)
	}
	return &StorageEntry{Key: key, Value: b}, nil
}

// DecodeJSON decodes the entry's JSON value into out.
func (e *StorageEntry) DecodeJSON(out interface{}) error {
	return json.Unmarshal(e.Value, out)
}

// GetJSON reads key into out; it reports false when the key does not exist.
func GetJSON(ctx context.Context, s Storage, key string, out interface{}) (bool, error) {
	e, err := s.Get(ctx, key)
	if err != nil {
		return false, err
	}
	if e == nil {
		return false, nil
	}
	if err := e.DecodeJSON(out); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

// PutJSON writes v as JSON under key.
func PutJSON(ctx context.Context, s Storage, key string, v interface{}) error {
	e, err := StorageEntryJSON(key, v)
	if err != nil {
		return err
	}
	return s.Put(ctx, e)
}

// CollectKeys lists every key below prefix, recursively.
func CollectKeys(ctx context.Context, s Storage, prefix string) ([]string, error) {
	var out []string
	queue := []string{prefix}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		keys, err := s.List(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if strings.HasSuffix(k, "/") {
				queue = append(queue, p+k)
			} else {
				out = append(out, p+k)
			}
		}
	}
	return out, nil
}

// ClearView deletes every key in the storage view.
func ClearView(ctx context.Context, s Storage) error {
	keys, err := CollectKeys(ctx, s, "")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// CubbyholePrefix is the storage prefix, inside the cubbyhole mount, of the
// private area of the token with this accessor. The cubbyhole engine stores
// under it and the core clears it when the token is revoked.
func CubbyholePrefix(accessor string) string {
	sum := sha256.Sum256([]byte("cubbyhole:" + accessor))
	return hex.EncodeToString(sum[:]) + "/"
}
