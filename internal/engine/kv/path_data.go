package kv

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func (b *versioned) pathData() *framework.Path {
	return &framework.Path{
		// Key names may contain slashes but must not end in one.
		Pattern: "data/(?P<path>.*[^/])",
		Fields: framework.Fields{
			"path": {Type: framework.TypeString, Description: "Location of the secret."},
			"version": {Type: framework.TypeInt, Query: true,
				Description: "On read, the version to return; the current version when unset."},
			"options": {Type: framework.TypeMap,
				Description: `Write options. "cas" makes the write a check-and-set: 0 writes only if the key does not exist, N only if the current version is N.`},
			"data": {Type: framework.TypeMap, Description: "The data to store; returned on read."},
		},
		Ops: framework.Ops{
			logical.ReadOperation:   b.readData,
			logical.UpdateOperation: b.writeData,
			logical.PatchOperation:  b.patchData,
			logical.DeleteOperation: b.deleteLatest,
		},
		Exists:   b.keyExists,
		Synopsis: "Write, patch, read and delete versioned data.",
		Description: `
Each write creates a new version. A read returns the current version, or the
one named by "version". A patch merges its data (JSON merge patch) into the
current version and writes the result as a new version. A delete marks the
current version deleted; it can be undone with undelete/.
`,
	}
}

func (b *versioned) keyExists(ctx context.Context, req *logical.Request, d *framework.FieldData) (bool, error) {
	e, err := req.Storage.Get(ctx, b.metadataKey(d.String("path")))
	return e != nil, err
}

// notFound answers a read of a deleted or destroyed version the way Vault
// does: the metadata block with null data, and a 404 status.
func notFound(resp *logical.Response) (*logical.Response, error) {
	return resp, logical.ErrNotFound
}

func (b *versioned) readData(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	lock := b.locks.get(key)
	lock.RLock()
	defer lock.RUnlock()

	// m is shared with other readers: it must not be modified.
	m, err := b.sharedMetadata(ctx, req.Storage, key)
	if err != nil || m == nil {
		return nil, err
	}
	num := m.CurrentVersion
	if v := d.Int("version"); v > 0 {
		num = uint64(v)
	}
	vm := m.Versions[num]
	if vm == nil {
		return nil, nil
	}
	resp := &logical.Response{Data: map[string]interface{}{
		"data":     nil,
		"metadata": vm.response(num, maps.Clone(m.CustomMetadata)),
	}}
	if vm.Destroyed || vm.deleted(b.now()) {
		return notFound(resp)
	}
	data, err := b.getVersion(ctx, req.Storage, key, num)
	if err != nil {
		return nil, err
	}
	resp.Data["data"] = data
	return resp, nil
}

// checkCAS enforces the cas option and the cas_required settings.
func checkCAS(d *framework.FieldData, cfg mountConfig, m *keyMetadata) error {
	var raw interface{}
	given := false
	if opts, ok := d.GetOk("options"); ok {
		raw, given = opts.(map[string]interface{})["cas"]
	}
	if !given || raw == nil {
		if cfg.CasRequired || m.CasRequired {
			return logical.InvalidRequest("check-and-set parameter required for this call")
		}
		return nil
	}
	cas, err := parseCAS(raw)
	if err != nil {
		return logical.InvalidRequest("error parsing check-and-set parameter")
	}
	if cas < 0 || uint64(cas) != m.CurrentVersion {
		return logical.InvalidRequest("check-and-set parameter did not match the current version")
	}
	return nil
}

// parseCAS reads the cas option: a whole number, or a string holding one.
func parseCAS(raw interface{}) (int64, error) {
	switch v := raw.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case float64:
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%v is not a whole number", v)
		}
		return int64(v), nil
	case json.Number:
		return strconv.ParseInt(v.String(), 10, 64)
	case string:
		return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	return 0, fmt.Errorf("%T is not a number", raw)
}

func (b *versioned) writeData(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	raw, ok := d.GetOk("data")
	if !ok {
		return nil, logical.InvalidRequest("no data provided")
	}
	buf, err := json.Marshal(raw)
	if err != nil {
		return nil, logical.InvalidRequest("cannot encode data as JSON: %v", err)
	}
	cfg, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}

	lock := b.locks.get(key)
	lock.Lock()
	defer lock.Unlock()

	m, err := b.getMetadata(ctx, req.Storage, key)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = &keyMetadata{Key: key, Versions: map[uint64]*versionMetadata{}}
	}
	if err := checkCAS(d, cfg, m); err != nil {
		return nil, err
	}
	return b.storeVersion(ctx, req.Storage, m, buf, cfg)
}

// storeVersion writes buf as the key's next version, updates its metadata,
// prunes versions beyond max_versions and answers with the new version's
// metadata. The three changes are one storage transaction, so the metadata
// never refers to a version that was not written. The caller holds the
// key's lock.
func (b *versioned) storeVersion(ctx context.Context, s logical.Storage, m *keyMetadata, buf []byte, cfg mountConfig) (*logical.Response, error) {
	next := m.CurrentVersion + 1
	vm, pruned := m.addVersion(b.now().UTC(), cfg)
	meta, err := logical.StorageEntryJSON(b.metadataKey(m.Key), m)
	if err != nil {
		return nil, err
	}
	ops := make([]logical.StorageOp, 0, 2+len(pruned))
	ops = append(ops, logical.PutOp(b.versionKey(m.Key, next), buf), logical.StorageOp{Entry: meta})
	for _, v := range pruned {
		ops = append(ops, logical.DeleteOp(b.versionKey(m.Key, v)))
	}
	if err := logical.Transaction(ctx, s, ops); err != nil {
		return nil, fmt.Errorf("write version %d of %q: %w", next, m.Key, err)
	}
	return &logical.Response{Data: vm.response(m.CurrentVersion, m.CustomMetadata)}, nil
}

func (b *versioned) patchData(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	patch, ok := d.GetOk("data")
	if !ok {
		return nil, logical.InvalidRequest("no data provided")
	}
	cfg, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}

	lock := b.locks.get(key)
	lock.Lock()
	defer lock.Unlock()

	m, err := b.getMetadata(ctx, req.Storage, key)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, logical.ErrNotFound
	}
	if err := checkCAS(d, cfg, m); err != nil {
		return nil, err
	}
	vm := m.Versions[m.CurrentVersion]
	if vm == nil {
		return nil, logical.ErrNotFound
	}
	if vm.Destroyed || vm.deleted(b.now()) {
		return notFound(&logical.Response{Data: vm.response(m.CurrentVersion, m.CustomMetadata)})
	}
	current, err := b.getVersion(ctx, req.Storage, key, m.CurrentVersion)
	if err != nil {
		return nil, err
	}
	merged := mergePatch(current, patch)
	buf, err := json.Marshal(merged)
	if err != nil {
		return nil, logical.InvalidRequest("cannot encode data as JSON: %v", err)
	}
	return b.storeVersion(ctx, req.Storage, m, buf, cfg)
}

// mergePatch applies an RFC 7396 JSON merge patch to target: objects merge
// recursively, null removes a member, anything else replaces.
func mergePatch(target, patch interface{}) interface{} {
	p, ok := patch.(map[string]interface{})
	if !ok {
		return patch
	}
	t, ok := target.(map[string]interface{})
	if !ok {
		t = make(map[string]interface{}, len(p))
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// deleteLatest soft-deletes the current version.
func (b *versioned) deleteLatest(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	lock := b.locks.get(key)
	lock.Lock()
	defer lock.Unlock()

	m, err := b.getMetadata(ctx, req.Storage, key)
	if err != nil || m == nil {
		return nil, err
	}
	now := b.now()
	vm := m.Versions[m.CurrentVersion]
	if vm == nil || vm.Destroyed || vm.deleted(now) {
		return nil, nil
	}
	vm.DeletionTime = now.UTC()
	return nil, b.putMetadata(ctx, req.Storage, m)
}
