package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Storage keys inside the broker's view.
const (
	tableKey   = "table"
	saltPrefix = "salt/"
)

// DeviceInfo is one row of the audit device table, as persisted and as
// listed by sys/audit.
type DeviceInfo struct {
	Path        string            `json:"path"`
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Options     map[string]string `json:"options"`
	Local       bool              `json:"local"`
	UUID        string            `json:"uuid"`
	Accessor    string            `json:"accessor"`
}

// Stats counts events and per-device failures since the broker was made.
type Stats struct {
	Requests         uint64 // request events logged by at least one device
	Responses        uint64 // response events logged by at least one device
	RequestFailures  uint64 // device writes of request events that failed
	ResponseFailures uint64 // device writes of response events that failed
}

type liveDevice struct {
	info DeviceInfo
	dev  Device // nil when the device could not be created on Load
	salt *Salt
}

// Broker owns the enabled audit devices and fans events out to them.
type Broker struct {
	view      logical.Storage
	logger    *slog.Logger
	factories map[string]Factory

	cfgMu   sync.Mutex   // serialises Load, Enable, Disable and Close
	mu      sync.RWMutex // guards devices; held for reading while logging
	devices []*liveDevice

	requests, responses, reqFailures, respFailures atomic.Uint64
}

// NewBroker returns a broker that keeps its device table and the
// devices' salts in view (a barrier view the core owns). It starts empty;
// call Load after unseal.
func NewBroker(view logical.Storage, logger *slog.Logger) *Broker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Broker{view: view, logger: logger, factories: Factories()}
}

type storedTable struct {
	Entries []DeviceInfo `json:"entries"`
}

// Load re-creates the devices of the stored table, closing any open ones
// first. A device that cannot be created is logged and skipped (events
// then need one of the others); Load fails if devices are configured and
// none of them could be created, so the server does not run unaudited.
func (b *Broker) Load(ctx context.Context) error {
	b.cfgMu.Lock()
	defer b.cfgMu.Unlock()
	var t storedTable
	if _, err := logical.GetJSON(ctx, b.view, tableKey, &t); err != nil {
		return fmt.Errorf("read audit table: %w", err)
	}
	loaded := make([]*liveDevice, 0, len(t.Entries))
	created := 0
	for _, info := range t.Entries {
		salt, err := b.salt(ctx, info.UUID)
		if err != nil {
			closeAll(loaded)
			return err
		}
		ld := &liveDevice{info: info, salt: salt}
		ld.dev, err = b.create(ctx, info, salt)
		if err != nil {
			b.logger.Error("failed to create audit device", "path", info.Path, "type", info.Type, "error", err)
		} else {
			created++
		}
		loaded = append(loaded, ld)
	}
	if len(loaded) > 0 && created == 0 {
		closeAll(loaded)
		return fmt.Errorf("failed to set up the audit table: none of %d audit devices could be created", len(loaded))
	}
	b.mu.Lock()
	old := b.devices
	b.devices = loaded
	b.mu.Unlock()
	closeAll(old)
	return nil
}

// salt returns the stored salt of a device, creating it when missing.
func (b *Broker) salt(ctx context.Context, uuid string) (*Salt, error) {
	e, err := b.view.Get(ctx, saltPrefix+uuid)
	if err != nil {
		return nil, fmt.Errorf("read audit salt: %w", err)
	}
	if e != nil && len(e.Value) > 0 {
		return NewSalt(string(e.Value)), nil
	}
	s, err := GenerateSalt()
	if err != nil {
		return nil, err
	}
	if err := b.view.Put(ctx, &logical.StorageEntry{Key: saltPrefix + uuid, Value: []byte(s.Key())}); err != nil {
		return nil, fmt.Errorf("store audit salt: %w", err)
	}
	return s, nil
}

func (b *Broker) create(ctx context.Context, info DeviceInfo, salt *Salt) (Device, error) {
	f, ok := b.factories[info.Type]
	if !ok {
		return nil, fmt.Errorf("unknown backend type: %q", info.Type)
	}
	opts := make(map[string]string, len(info.Options))
	for k, v := range info.Options {
		opts[k] = v
	}
	return f(ctx, &DeviceConfig{
		Path:    info.Path,
		Options: opts,
		Salt:    salt,
		Logger:  b.logger.With("audit_device", info.Path),
	})
}

func closeAll(ds []*liveDevice) {
	for _, d := range ds {
		if d.dev != nil {
			d.dev.Close()
		}
	}
}

// normalizePath gives an audit path its stored form: no leading slash,
// one trailing slash.
func normalizePath(p string) string {
	p = strings.TrimLeft(p, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// Enable creates a device, persists it with a new salt and starts sending
// events to it. Configuration problems are 400s (logical.ErrInvalidRequest).
func (b *Broker) Enable(ctx context.Context, path, typ, description string, options map[string]string, local bool) error {
	path = normalizePath(path)
	if path == "/" {
		return logical.InvalidRequest("backend path must be specified")
	}
	b.cfgMu.Lock()
	defer b.cfgMu.Unlock()
	b.mu.RLock()
	for _, d := range b.devices {
		if strings.HasPrefix(d.info.Path, path) || strings.HasPrefix(path, d.info.Path) {
			b.mu.RUnlock()
			return logical.InvalidRequest("path already in use")
		}
	}
	b.mu.RUnlock()
	if _, ok := b.factories[typ]; !ok {
		return logical.InvalidRequest("unknown backend type: %q", typ)
	}
	uuid, err := randomHex(16)
	if err != nil {
		return err
	}
	acc, err := randomHex(4)
	if err != nil {
		return err
	}
	opts := map[string]string{}
	for k, v := range options {
		opts[k] = v
	}
	info := DeviceInfo{Path: path, Type: typ, Description: description, Options: opts, Local: local,
		UUID: uuid, Accessor: "audit_" + typ + "_" + acc}
	salt, err := GenerateSalt()
	if err != nil {
		return err
	}
	dev, err := b.create(ctx, info, salt)
	if err != nil {
		return logical.InvalidRequest("%v", err)
	}
	if err := b.view.Put(ctx, &logical.StorageEntry{Key: saltPrefix + uuid, Value: []byte(salt.Key())}); err != nil {
		dev.Close()
		return fmt.Errorf("store audit salt: %w", err)
	}
	ld := &liveDevice{info: info, dev: dev, salt: salt}
	b.mu.RLock()
	next := append(append([]*liveDevice(nil), b.devices...), ld)
	b.mu.RUnlock()
	if err := b.persist(ctx, next); err != nil {
		dev.Close()
		b.view.Delete(ctx, saltPrefix+uuid)
		return err
	}
	b.mu.Lock()
	b.devices = next
	b.mu.Unlock()
	b.logger.Info("enabled audit device", "path", path, "type", typ)
	return nil
}

// Disable removes a device and its salt. Disabling a path that is not
// enabled is not an error.
func (b *Broker) Disable(ctx context.Context, path string) error {
	path = normalizePath(path)
	b.cfgMu.Lock()
	defer b.cfgMu.Unlock()
	b.mu.RLock()
	var gone *liveDevice
	next := make([]*liveDevice, 0, len(b.devices))
	for _, d := range b.devices {
		if d.info.Path == path {
			gone = d
			continue
		}
		next = append(next, d)
	}
	b.mu.RUnlock()
	if gone == nil {
		return nil
	}
	if err := b.persist(ctx, next); err != nil {
		return err
	}
	b.mu.Lock()
	b.devices = next
	b.mu.Unlock()
	if gone.dev != nil {
		if err := gone.dev.Close(); err != nil {
			b.logger.Warn("closing disabled audit device", "path", path, "error", err)
		}
	}
	if err := b.view.Delete(ctx, saltPrefix+gone.info.UUID); err != nil {
		return fmt.Errorf("delete audit salt: %w", err)
	}
	b.logger.Info("disabled audit device", "path", path)
	return nil
}

func (b *Broker) persist(ctx context.Context, ds []*liveDevice) error {
	t := storedTable{Entries: make([]DeviceInfo, len(ds))}
	for i, d := range ds {
		t.Entries[i] = d.info
	}
	if err := logical.PutJSON(ctx, b.view, tableKey, t); err != nil {
		return fmt.Errorf("store audit table: %w", err)
	}
	return nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// List returns the device table sorted by path.
func (b *Broker) List() []DeviceInfo {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]DeviceInfo, 0, len(b.devices))
	for _, d := range b.devices {
		info := d.info
		info.Options = make(map[string]string, len(d.info.Options))
		for k, v := range d.info.Options {
			info.Options[k] = v
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Enabled reports whether any audit device is configured; while it is,
// every event must reach at least one device.
func (b *Broker) Enabled() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.devices) > 0
}

// LogRequest sends a request event to every device. It fails (wrapping
// ErrNotAudited) when devices are configured and none wrote the event;
// the core must then refuse the request.
func (b *Broker) LogRequest(ctx context.Context, in *LogInput) error {
	return b.log(ctx, in, false)
}

// LogResponse is LogRequest for the response event.
func (b *Broker) LogResponse(ctx context.Context, in *LogInput) error {
	return b.log(ctx, in, true)
}

func (b *Broker) log(ctx context.Context, in *LogInput, response bool) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.devices) == 0 {
		return nil
	}
	var errs []error
	ok := false
	for _, d := range b.devices {
		if d.dev == nil {
			errs = append(errs, fmt.Errorf("%s: device not available", d.info.Path))
			continue
		}
		var err error
		if response {
			err = d.dev.LogResponse(ctx, in)
		} else {
			err = d.dev.LogRequest(ctx, in)
		}
		if err != nil {
			b.logger.Error("audit device failed to log", "path", d.info.Path, "response", response, "error", err)
			errs = append(errs, fmt.Errorf("%s: %w", d.info.Path, err))
			continue
		}
		ok = true
	}
	fails, count := &b.reqFailures, &b.requests
	if response {
		fails, count = &b.respFailures, &b.responses
	}
	fails.Add(uint64(len(errs)))
	if !ok {
		return fmt.Errorf("%w: %w", ErrNotAudited, errors.Join(errs...))
	}
	count.Add(1)
	return nil
}

// Hash returns the HMAC the device at path would log for input
// (sys/audit-hash).
func (b *Broker) Hash(ctx context.Context, path, input string) (string, error) {
	path = normalizePath(path)
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, d := range b.devices {
		if d.info.Path == path {
			return d.salt.HMAC(input), nil
		}
	}
	return "", logical.InvalidRequest("unknown audit backend %q", path)
}

// Reload reopens every device's target (SIGHUP, after log rotation).
func (b *Broker) Reload(ctx context.Context) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var errs []error
	for _, d := range b.devices {
		if d.dev == nil {
			continue
		}
		if err := d.dev.Reload(ctx); err != nil {
			errs = append(errs, fmt.Errorf("reload audit device %s: %w", d.info.Path, err))
		}
	}
	return errors.Join(errs...)
}

// Stats returns the event counters.
func (b *Broker) Stats() Stats {
	return Stats{
		Requests:         b.requests.Load(),
		Responses:        b.responses.Load(),
		RequestFailures:  b.reqFailures.Load(),
		ResponseFailures: b.respFailures.Load(),
	}
}

// Close closes every device and forgets the table (on seal); Load brings
// them back.
func (b *Broker) Close() error {
	b.cfgMu.Lock()
	defer b.cfgMu.Unlock()
	b.mu.Lock()
	old := b.devices
	b.devices = nil
	b.mu.Unlock()
	var errs []error
	for _, d := range old {
		if d.dev == nil {
			continue
		}
		if err := d.dev.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close audit device %s: %w", d.info.Path, err))
		}
	}
	return errors.Join(errs...)
}
