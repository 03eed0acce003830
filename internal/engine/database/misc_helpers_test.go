package database

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func readFileIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// framework_PutWAL stores a write-ahead record as a handler would.
func framework_PutWAL(ctx context.Context, h *harness, kind string, data interface{}) (string, error) {
	return framework.PutWAL(ctx, h.s, kind, data)
}
