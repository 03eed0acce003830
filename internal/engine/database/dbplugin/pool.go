package dbplugin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Pool is a driver's connection pool together with what goes with it: the
// secrets to scrub from its errors and driver-specific settings (extra).
// Initialize replaces all of it at once; the other calls read it together.
type Pool[T any] struct {
	mu      sync.RWMutex
	db      *sql.DB
	secrets []string
	extra   T
}

// DefaultMaxOpenConnections is max_open_connections when unset, as in Vault.
const DefaultMaxOpenConnections = 4

// SizePool applies max_open_connections (default 4), max_idle_connections
// (default and upper bound: the open limit) and max_connection_lifetime.
func SizePool(db *sql.DB, c ConnectionConfig) {
	maxOpen := c.MaxOpenConnections
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenConnections
	}
	maxIdle := c.MaxIdleConnections
	if maxIdle <= 0 || maxIdle > maxOpen {
		maxIdle = maxOpen
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxIdle)
	db.SetConnMaxLifetime(c.MaxConnectionLifetime)
}

// ErrNotInitialized is returned by Get before Install and after Close.
var ErrNotInitialized = errors.New("driver is not initialized")

// Install makes db the pool. With verify it pings db first; if that fails,
// db is closed and a ConnectionError (secrets scrubbed) is returned. The
// pool it replaces is closed.
func (p *Pool[T]) Install(ctx context.Context, db *sql.DB, secrets []string, extra T, verify bool) error {
	if verify {
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			return &ConnectionError{Err: fmt.Errorf("error verifying connection: %w", Scrub(err, secrets...))}
		}
	}
	p.mu.Lock()
	old := p.db
	p.db, p.secrets, p.extra = db, secrets, extra
	p.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// Get returns the pool, the secrets to scrub (callers may append to the
// slice) and the extra settings.
func (p *Pool[T]) Get() (*sql.DB, []string, T, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.db == nil {
		var zero T
		return nil, nil, zero, ErrNotInitialized
	}
	return p.db, slices.Clip(p.secrets), p.extra, nil
}

// Close closes the pool; closing an empty one does nothing.
func (p *Pool[T]) Close() error {
	p.mu.Lock()
	db := p.db
	p.db = nil
	p.mu.Unlock()
	if db == nil {
		return nil
	}
	return db.Close()
}
