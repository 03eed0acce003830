package kv

import (
	"context"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// maxSubkeysDepth bounds how deep subkeys/ walks nested objects.
const maxSubkeysDepth = 100

func (b *versioned) pathSubkeys() *framework.Path {
	return &framework.Path{
		Pattern: "subkeys/" + framework.MatchAllRegex("path"),
		Fields: framework.Fields{
			"path": {Type: framework.TypeString, Description: "Location of the secret."},
			"version": {Type: framework.TypeInt, Query: true,
				Description: "The version to read; the current version when unset."},
			"depth": {Type: framework.TypeInt, Query: true,
				Description: "The deepest nesting level to show; 0 means no limit. Keys at that level are shown as leaves (null)."},
		},
		Ops:      framework.Ops{logical.ReadOperation: b.readSubkeys},
		Synopsis: "Read the structure of a secret with every value replaced by null.",
	}
}

func (b *versioned) readSubkeys(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	lock := b.locks.get(key)
	lock.RLock()
	defer lock.RUnlock()

	m, err := b.getMetadata(ctx, req.Storage, key)
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
		"subkeys":  nil,
		"metadata": vm.response(num, m.CustomMetadata),
	}}
	if vm.Destroyed || vm.deleted(b.now()) {
		return notFound(resp)
	}
	data, err := b.getVersion(ctx, req.Storage, key, num)
	if err != nil {
		return nil, err
	}
	stripValues(data, d.Int("depth"), 1)
	resp.Data["subkeys"] = data
	return resp, nil
}

// stripValues replaces every leaf of m (a non-object, or an empty object)
// with nil, in place. Objects below maxDepth levels (0: no limit other than
// maxSubkeysDepth) become leaves too, so no value can leak.
func stripValues(m map[string]interface{}, maxDepth, depth int) {
	for k, v := range m {
		child, ok := v.(map[string]interface{})
		next := depth + 1
		if ok && len(child) > 0 && next <= maxSubkeysDepth && (maxDepth == 0 || next <= maxDepth) {
			stripValues(child, maxDepth, next)
			continue
		}
		m[k] = nil
	}
}
