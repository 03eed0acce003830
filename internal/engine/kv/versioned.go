package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Storage layout of a version 2 mount, all below "<backend uuid>/" so that
// it never collides with version 1 keys awaiting upgrade:
//
//	<uuid>/config                  mountConfig
//	<uuid>/upgrade                 upgradeMarker (present once upgraded)
//	<uuid>/metadata/<path>         keyMetadata
//	<uuid>/versions/<path>/<n>     version n's data, a JSON object
const (
	configKey      = "config"
	upgradeKey     = "upgrade"
	metadataPrefix = "metadata/"
	versionsPrefix = "versions/"

	// defaultMaxVersions applies when neither the key nor the mount sets one.
	defaultMaxVersions = 10
	// deleteVersionAfterDisabled in the mount config turns off
	// delete_version_after for every key.
	deleteVersionAfterDisabled = -time.Second
)

// mountConfig is the config endpoint's stored form.
type mountConfig struct {
	MaxVersions        uint32        `json:"max_versions"`
	CasRequired        bool          `json:"cas_required"`
	DeleteVersionAfter time.Duration `json:"delete_version_after"`
}

// keyMetadata is everything known about one key apart from its data.
type keyMetadata struct {
	Key                string                      `json:"key"`
	Versions           map[uint64]*versionMetadata `json:"versions"`
	CurrentVersion     uint64                      `json:"current_version"`
	OldestVersion      uint64                      `json:"oldest_version"`
	MaxVersions        uint32                      `json:"max_versions,omitempty"`
	CasRequired        bool                        `json:"cas_required,omitempty"`
	DeleteVersionAfter time.Duration               `json:"delete_version_after,omitempty"`
	CustomMetadata     map[string]string           `json:"custom_metadata,omitempty"`
	CreatedTime        time.Time                   `json:"created_time"`
	UpdatedTime        time.Time                   `json:"updated_time"`
}

// versionMetadata describes one version. A deletion time in the past means
// the version is soft-deleted; one in the future is a scheduled deletion.
type versionMetadata struct {
	CreatedTime  time.Time `json:"created_time"`
	DeletionTime time.Time `json:"deletion_time,omitzero"`
	Destroyed    bool      `json:"destroyed,omitempty"`
}

func (v *versionMetadata) deleted(now time.Time) bool {
	return !v.DeletionTime.IsZero() && v.DeletionTime.Before(now)
}

// response is the per-version block returned by data/ and subkeys/.
func (v *versionMetadata) response(version uint64, custom map[string]string) map[string]interface{} {
	return map[string]interface{}{
		"version":         version,
		"created_time":    formatTime(v.CreatedTime),
		"deletion_time":   formatTime(v.DeletionTime),
		"destroyed":       v.Destroyed,
		"custom_metadata": custom,
	}
}

// versioned is KV version 2.
type versioned struct {
	*framework.Backend
	prefix string
	locks  keyLocks
	now    func() time.Time
	logger *slog.Logger

	cfgMu sync.RWMutex
	cfg   *mountConfig // cached; nil until first loaded

	// metaCache saves reads the JSON decoding of unchanged metadata.
	metaCache metadataCache
}

func newVersioned(conf *logical.BackendConfig, now func() time.Time) (*versioned, error) {
	if conf.BackendUUID == "" {
		return nil, errors.New("kv: version 2 needs the mount's backend UUID")
	}
	b := &versioned{
		prefix: conf.BackendUUID + "/",
		now:    now,
		logger: loggerOrDiscard(conf.Logger),
	}
	b.Backend = &framework.Backend{
		Help:        versionedHelp,
		BackendType: logical.TypeLogical,
		Paths:       b.paths(),
	}
	return b, nil
}

func (b *versioned) paths() []*framework.Path {
	return []*framework.Path{
		b.pathConfig(),
		b.pathData(),
		b.pathMetadata(),
		b.pathDetailedMetadata(),
		b.pathDelete(),
		b.pathUndelete(),
		b.pathDestroy(),
		b.pathSubkeys(),
	}
}

// HandleRequest serves a request; paths outside the version 2 layout get a
// 404 with a warning pointing at the right endpoint, as Vault does.
func (b *versioned) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	resp, err := b.Backend.HandleRequest(ctx, req)
	if err == nil || !errors.Is(err, logical.ErrUnsupportedPath) || req.Operation == logical.HelpOperation {
		return resp, err
	}
	return invalidPathResponse(req), err
}

// invalidPathResponse explains why a path is not served by a version 2 mount.
func invalidPathResponse(req *logical.Request) *logical.Response {
	resp := &logical.Response{}
	switch req.Path {
	case "metadata", "data", "delete", "undelete", "destroy", "subkeys", "detailed-metadata":
		resp.AddWarning("Non-listing operations on the root of a K/V v2 mount are not supported.")
		return resp
	}
	sub := ""
	switch req.Operation {
	case logical.CreateOperation, logical.UpdateOperation:
		sub = "put"
	case logical.PatchOperation:
		sub = "patch"
	case logical.ReadOperation:
		sub = "get"
	case logical.ListOperation:
		sub = "list"
	case logical.DeleteOperation:
		sub = "delete"
	}
	resp.AddWarning(fmt.Sprintf("Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv %s' for this operation.", sub))
	return resp
}

// config returns a copy of the mount configuration.
func (b *versioned) config(ctx context.Context, s logical.Storage) (mountConfig, error) {
	b.cfgMu.RLock()
	if b.cfg != nil {
		c := *b.cfg
		b.cfgMu.RUnlock()
		return c, nil
	}
	b.cfgMu.RUnlock()
	b.cfgMu.Lock()
	defer b.cfgMu.Unlock()
	if b.cfg != nil {
		return *b.cfg, nil
	}
	var c mountConfig
	if _, err := logical.GetJSON(ctx, s, b.prefix+configKey, &c); err != nil {
		return mountConfig{}, fmt.Errorf("read config: %w", err)
	}
	b.cfg = &c
	return c, nil
}

func (b *versioned) putConfig(ctx context.Context, s logical.Storage, c mountConfig) error {
	b.cfgMu.Lock()
	defer b.cfgMu.Unlock()
	if err := logical.PutJSON(ctx, s, b.prefix+configKey, c); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	b.cfg = &c
	return nil
}

func (b *versioned) metadataKey(key string) string { return b.prefix + metadataPrefix + key }

func (b *versioned) versionKey(key string, version uint64) string {
	return b.prefix + versionsPrefix + key + "/" + strconv.FormatUint(version, 10)
}

// getMetadata reads a key's metadata; nil when the key does not exist.
func (b *versioned) getMetadata(ctx context.Context, s logical.Storage, key string) (*keyMetadata, error) {
	var m keyMetadata
	ok, err := logical.GetJSON(ctx, s, b.metadataKey(key), &m)
	if err != nil {
		return nil, fmt.Errorf("read metadata of %q: %w", key, err)
	}
	if !ok {
		return nil, nil
	}
	if m.Versions == nil {
		m.Versions = map[uint64]*versionMetadata{}
	}
	return &m, nil
}

// sharedMetadata is getMetadata for readers that do not modify the result:
// the metadata may be shared with other readers. It still reads the entry
// from storage on every call and decodes it again whenever its bytes
// differ from the ones decoded last time, so it sees every write, made on
// this node or anywhere else.
func (b *versioned) sharedMetadata(ctx context.Context, s logical.Storage, key string) (*keyMetadata, error) {
	mk := b.metadataKey(key)
	e, err := s.Get(ctx, mk)
	if err != nil {
		return nil, fmt.Errorf("read metadata of %q: %w", key, err)
	}
	if e == nil {
		return nil, nil
	}
	if m := b.metaCache.get(key, e.Value); m != nil {
		return m, nil
	}
	var m keyMetadata
	if err := e.DecodeJSON(&m); err != nil {
		return nil, fmt.Errorf("read metadata of %q: decode %q: %w", key, mk, err)
	}
	if m.Versions == nil {
		m.Versions = map[uint64]*versionMetadata{}
	}
	b.metaCache.put(key, e.Value, &m)
	return &m, nil
}

// metadataCache maps a key to its metadata as last decoded, together with
// the stored bytes it was decoded from. The decoded metadata is never
// modified. The bytes held are bounded; beyond the bound, arbitrary
// entries are dropped.
type metadataCache struct {
	mu    sync.RWMutex
	byKey map[string]*cachedMetadata
	bytes int
}

type cachedMetadata struct {
	raw  []byte
	meta *keyMetadata
}

const (
	// metadataCacheBytes bounds the stored metadata a mount keeps decoded.
	metadataCacheBytes = 1 << 20
	// metadataCacheEntryBytes: larger metadata is not kept.
	metadataCacheEntryBytes = 64 << 10
)

// get returns the cached metadata of key if it was decoded from raw.
func (c *metadataCache) get(key string, raw []byte) *keyMetadata {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.byKey[key]; e != nil && bytes.Equal(e.raw, raw) {
		return e.meta
	}
	return nil
}

// put remembers m as the decoding of raw, key's stored metadata.
func (c *metadataCache) put(key string, raw []byte, m *keyMetadata) {
	if len(raw) > metadataCacheEntryBytes {
		return
	}
	e := &cachedMetadata{raw: bytes.Clone(raw), meta: m}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[string]*cachedMetadata{}
	}
	if old := c.byKey[key]; old != nil {
		c.bytes -= len(old.raw)
		delete(c.byKey, key)
	}
	for k, old := range c.byKey {
		if c.bytes+len(raw) <= metadataCacheBytes {
			break
		}
		c.bytes -= len(old.raw)
		delete(c.byKey, k)
	}
	c.byKey[key] = e
	c.bytes += len(raw)
}

func (b *versioned) putMetadata(ctx context.Context, s logical.Storage, m *keyMetadata) error {
	if err := logical.PutJSON(ctx, s, b.metadataKey(m.Key), m); err != nil {
		return fmt.Errorf("write metadata of %q: %w", m.Key, err)
	}
	return nil
}

// getVersion reads one version's data.
func (b *versioned) getVersion(ctx context.Context, s logical.Storage, key string, version uint64) (map[string]interface{}, error) {
	e, err := s.Get(ctx, b.versionKey(key, version))
	if err != nil {
		return nil, fmt.Errorf("read version %d of %q: %w", version, key, err)
	}
	if e == nil {
		return nil, fmt.Errorf("version %d of %q: data missing from storage", version, key)
	}
	data, err := decodeVersionData(e.Value)
	if err != nil {
		return nil, fmt.Errorf("decode version %d of %q: %w", version, key, err)
	}
	return data, nil
}

// decodeVersionData is decodeObject, faster for the data almost every
// secret holds: objects, arrays, numbers, literals and strings of
// printable ASCII without escapes. Anything else (escapes, other
// characters, deep nesting, anything after the object) is left to
// decodeObject, so the result is always exactly decodeObject's.
func decodeVersionData(raw []byte) (map[string]interface{}, error) {
	p := simpleJSON{buf: raw}
	p.space()
	if p.peek() == '{' {
		if v, ok := p.value(0); ok {
			if p.space(); p.pos == len(p.buf) {
				return v.(map[string]interface{}), nil
			}
		}
	}
	return decodeObject(raw)
}

// simpleJSON parses the subset of JSON described at decodeVersionData into
// the values encoding/json gives with UseNumber; ok is false for anything
// outside it.
type simpleJSON struct {
	buf []byte
	pos int
}

const simpleJSONMaxDepth = 64

func (p *simpleJSON) peek() byte {
	if p.pos < len(p.buf) {
		return p.buf[p.pos]
	}
	return 0
}

func (p *simpleJSON) space() {
	for p.pos < len(p.buf) {
		switch p.buf[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *simpleJSON) value(depth int) (interface{}, bool) {
	if depth > simpleJSONMaxDepth {
		return nil, false
	}
	p.space()
	switch c := p.peek(); {
	case c == '{':
		p.pos++
		m := make(map[string]interface{})
		if p.space(); p.peek() == '}' {
			p.pos++
			return m, true
		}
		for {
			p.space()
			k, ok := p.string()
			if !ok {
				return nil, false
			}
			if p.space(); p.peek() != ':' {
				return nil, false
			}
			p.pos++
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[k] = v
			p.space()
			switch p.peek() {
			case ',':
				p.pos++
			case '}':
				p.pos++
				return m, true
			default:
				return nil, false
			}
		}
	case c == '[':
		p.pos++
		a := make([]interface{}, 0)
		if p.space(); p.peek() == ']' {
			p.pos++
			return a, true
		}
		for {
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			a = append(a, v)
			p.space()
			switch p.peek() {
			case ',':
				p.pos++
			case ']':
				p.pos++
				return a, true
			default:
				return nil, false
			}
		}
	case c == '"':
		return p.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for _, lit := range [...]struct {
		text string
		v    interface{}
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if bytes.HasPrefix(p.buf[p.pos:], []byte(lit.text)) {
			p.pos += len(lit.text)
			return lit.v, true
		}
	}
	return nil, false
}

// string reads a string of printable ASCII without escapes.
func (p *simpleJSON) string() (string, bool) {
	if p.peek() != '"' {
		return "", false
	}
	start := p.pos + 1
	for i := start; i < len(p.buf); i++ {
		switch c := p.buf[i]; {
		case c == '"':
			p.pos = i + 1
			return string(p.buf[start:i]), true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return "", false
		}
	}
	return "", false
}

// number reads a number as JSON's grammar defines it.
func (p *simpleJSON) number() (json.Number, bool) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.buf) && p.buf[p.pos] >= '0' && p.buf[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.peek() == '-' {
		p.pos++
	}
	if p.peek() == '0' {
		p.pos++
	} else if digits() == 0 {
		return "", false
	}
	if p.peek() == '.' {
		p.pos++
		if digits() == 0 {
			return "", false
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.pos++
		if c := p.peek(); c == '+' || c == '-' {
			p.pos++
		}
		if digits() == 0 {
			return "", false
		}
	}
	return json.Number(p.buf[start:p.pos]), true
}

// deletionTime works out when a version created at created is deleted
// automatically: after the smaller non-zero delete_version_after of the
// mount and the key; ok is false when neither sets one or the mount
// disables it.
func deletionTime(created time.Time, cfg mountConfig, meta *keyMetadata) (time.Time, bool) {
	mount, key := cfg.DeleteVersionAfter, meta.DeleteVersionAfter
	if mount == deleteVersionAfterDisabled {
		return time.Time{}, false
	}
	d := key
	if d == 0 || (mount > 0 && mount < d) {
		d = mount
	}
	if d <= 0 {
		return time.Time{}, false
	}
	return created.Add(d), true
}

// addVersion records a new current version created at created and moves
// the window of kept versions. It returns the new version's metadata and
// the versions that fell out of the window, whose data must be deleted.
func (m *keyMetadata) addVersion(created time.Time, cfg mountConfig) (*versionMetadata, []uint64) {
	vm := &versionMetadata{CreatedTime: created}
	if dt, ok := deletionTime(created, cfg, m); ok {
		vm.DeletionTime = dt
	}
	m.CurrentVersion++
	m.Versions[m.CurrentVersion] = vm
	m.UpdatedTime = created
	if m.CreatedTime.IsZero() {
		m.CreatedTime = created
	}
	// The larger of the key's and the mount's setting wins, as in Vault.
	limit := uint64(max(m.MaxVersions, cfg.MaxVersions))
	if limit == 0 {
		limit = defaultMaxVersions
	}
	if m.CurrentVersion-m.OldestVersion < limit {
		return vm, nil
	}
	last := m.CurrentVersion - limit
	var pruned []uint64
	for v := m.OldestVersion; v <= last; v++ {
		if _, ok := m.Versions[v]; ok {
			delete(m.Versions, v)
			pruned = append(pruned, v)
		}
	}
	m.OldestVersion = last + 1
	return vm, pruned
}

const versionedHelp = `
The kv backend in version 2 keeps a configurable number of versions of each
key. Data is read and written under data/, key settings and version history
live under metadata/, and versions can be soft-deleted (delete/), restored
(undelete/) or permanently removed (destroy/).
`

// Interface guard.
var _ logical.Backend = (*versioned)(nil)
