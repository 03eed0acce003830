package kv

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// Limits on custom_metadata, as Vault enforces them.
const (
	maxCustomMetadataKeys        = 64
	maxCustomMetadataKeyLength   = 128
	maxCustomMetadataValueLength = 512
	customMetadataErrPrefix      = "custom_metadata validation failed"
)

const casMandatedWarning = `"cas_required" set to false, but is mandated by backend config. This value will be ignored.`

func metadataFields() framework.Fields {
	return framework.Fields{
		"path": {Type: framework.TypeString, Description: "Location of the secret."},
		"cas_required": {Type: framework.TypeBool,
			Description: "If true, writes to the key must carry the cas option. If false, the mount's setting applies."},
		"max_versions": {Type: framework.TypeInt,
			Description: "The number of versions to keep. If unset, the mount's setting applies."},
		"delete_version_after": {Type: framework.TypeDurationSecond,
			Description: "The time after which a version is deleted. If unset, the mount's setting applies; zero clears it."},
		"custom_metadata": {Type: framework.TypeMap,
			Description: "User-provided key-value pairs describing the secret, independent of its versions."},
	}
}

func (b *versioned) pathMetadata() *framework.Path {
	return &framework.Path{
		Pattern: "metadata/" + framework.MatchAllRegex("path"),
		Fields:  metadataFields(),
		Ops: framework.Ops{
			logical.ReadOperation:   b.readMetadata,
			logical.UpdateOperation: b.writeMetadata,
			logical.PatchOperation:  b.patchMetadata,
			logical.DeleteOperation: b.deleteMetadata,
			logical.ListOperation:   b.listMetadata,
		},
		Exists:   b.keyExists,
		Synopsis: "Read key metadata and version history, change key settings, or delete a key and all its versions.",
	}
}

func (b *versioned) pathDetailedMetadata() *framework.Path {
	return &framework.Path{
		Pattern: "detailed-metadata/" + framework.MatchAllRegex("path"),
		Fields: framework.Fields{
			"path": {Type: framework.TypeString, Description: "Folder to list."},
		},
		Ops:      framework.Ops{logical.ListOperation: b.listDetailedMetadata},
		Synopsis: "List keys together with their metadata.",
	}
}

// metadataResponse renders a key's metadata as the metadata/ read returns it.
func metadataResponse(m *keyMetadata) map[string]interface{} {
	versions := make(map[string]interface{}, len(m.Versions))
	for n, v := range m.Versions {
		versions[strconv.FormatUint(n, 10)] = map[string]interface{}{
			"created_time":  formatTime(v.CreatedTime),
			"deletion_time": formatTime(v.DeletionTime),
			"destroyed":     v.Destroyed,
		}
	}
	return map[string]interface{}{
		"versions":             versions,
		"current_version":      m.CurrentVersion,
		"oldest_version":       m.OldestVersion,
		"created_time":         formatTime(m.CreatedTime),
		"updated_time":         formatTime(m.UpdatedTime),
		"max_versions":         m.MaxVersions,
		"cas_required":         m.CasRequired,
		"delete_version_after": m.DeleteVersionAfter.String(),
		"custom_metadata":      m.CustomMetadata,
	}
}

func (b *versioned) readMetadata(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	lock := b.locks.get(key)
	lock.RLock()
	defer lock.RUnlock()
	m, err := b.getMetadata(ctx, req.Storage, key)
	if err != nil || m == nil {
		return nil, err
	}
	return &logical.Response{Data: metadataResponse(m)}, nil
}

func listPrefix(p string) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

func (b *versioned) listMetadata(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	prefix := listPrefix(d.String("path"))
	keys, err := req.Storage.List(ctx, b.metadataKey(prefix))
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	return framework.ListResponse(keys), nil
}

func (b *versioned) listDetailedMetadata(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	prefix := listPrefix(d.String("path"))
	keys, err := req.Storage.List(ctx, b.metadataKey(prefix))
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	info := make(map[string]interface{}, len(keys))
	for _, k := range keys {
		if strings.HasSuffix(k, "/") {
			continue
		}
		m, err := b.getMetadata(ctx, req.Storage, prefix+k)
		if err != nil {
			return nil, err
		}
		if m != nil {
			info[k] = metadataResponse(m)
		}
	}
	return framework.ListResponseWithInfo(keys, info), nil
}

// parseCustomMetadata turns a custom_metadata object into strings. With
// keepNulls, null values survive as deletion markers (for PATCH).
func parseCustomMetadata(raw map[string]interface{}, keepNulls bool) (map[string]*string, error) {
	out := make(map[string]*string, len(raw))
	for k, v := range raw {
		if v == nil {
			if keepNulls {
				out[k] = nil
				continue
			}
			s := ""
			out[k] = &s
			continue
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case bool, float64, int, int64, fmt.Stringer:
			s = fmt.Sprint(x)
		default:
			return nil, logical.InvalidRequest("%s: value of %q must be a string, got %T", customMetadataErrPrefix, k, v)
		}
		out[k] = &s
	}
	return out, nil
}

// validateCustomMetadata applies Vault's limits and reports every problem.
func validateCustomMetadata(cm map[string]string) error {
	if n := len(cm); n > maxCustomMetadataKeys {
		return logical.InvalidRequest("%s", joinErrors([]string{fmt.Sprintf(
			"%s: payload must contain at most %d keys, provided %d", customMetadataErrPrefix, maxCustomMetadataKeys, n)}))
	}
	keys := make([]string, 0, len(cm))
	for k := range cm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []string
	for _, k := range keys {
		v := cm[k]
		if n := len(k); n == 0 || n > maxCustomMetadataKeyLength {
			errs = append(errs, fmt.Sprintf("%s: length of key %q is %d but must be 0 < len(key) <= %d",
				customMetadataErrPrefix, k, n, maxCustomMetadataKeyLength))
		}
		if n := len(v); n == 0 || n > maxCustomMetadataValueLength {
			errs = append(errs, fmt.Sprintf("%s: length of value for key %q is %d but must be 0 < len(value) <= %d",
				customMetadataErrPrefix, k, n, maxCustomMetadataValueLength))
		}
		if !printable(k) {
			errs = append(errs, fmt.Sprintf("%s: key %q (%s) contains unprintable characters", customMetadataErrPrefix, k, k))
		}
		if !printable(v) {
			errs = append(errs, fmt.Sprintf("%s: value for key %q contains unprintable characters", customMetadataErrPrefix, k))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return logical.InvalidRequest("%s", joinErrors(errs))
}

// joinErrors formats several problems the way Vault's multi-errors read.
func joinErrors(errs []string) string {
	var sb strings.Builder
	if len(errs) == 1 {
		sb.WriteString("1 error occurred:\n")
	} else {
		fmt.Fprintf(&sb, "%d errors occurred:\n", len(errs))
	}
	for _, e := range errs {
		sb.WriteString("\t* " + e + "\n")
	}
	sb.WriteString("\n")
	return sb.String()
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func (b *versioned) writeMetadata(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	if key == "" {
		return nil, logical.InvalidRequest("missing path")
	}
	maxRaw, maxOK := d.GetOk("max_versions")
	casRaw, casOK := d.GetOk("cas_required")
	dvaRaw, dvaOK := d.GetOk("delete_version_after")
	cmRaw, cmOK := d.GetOk("custom_metadata")
	if !maxOK && !casOK && !dvaOK && !cmOK {
		return nil, nil
	}
	var maxV uint32
	if maxOK {
		n, err := maxVersions(maxRaw.(int))
		if err != nil {
			return nil, err
		}
		maxV = n
	}
	var custom map[string]string
	if cmOK {
		parsed, err := parseCustomMetadata(cmRaw.(map[string]interface{}), false)
		if err != nil {
			return nil, err
		}
		custom = make(map[string]string, len(parsed))
		for k, v := range parsed {
			custom[k] = *v
		}
		if err := validateCustomMetadata(custom); err != nil {
			return nil, err
		}
	}
	cfg, err := b.config(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	var resp *logical.Response
	if casOK && cfg.CasRequired && !casRaw.(bool) {
		resp = &logical.Response{}
		resp.AddWarning(casMandatedWarning)
	}

	lock := b.locks.get(key)
	lock.Lock()
	defer lock.Unlock()
	m, err := b.getMetadata(ctx, req.Storage, key)
	if err != nil {
		return nil, err
	}
	if m == nil {
		now := b.now().UTC()
		m = &keyMetadata{Key: key, Versions: map[uint64]*versionMetadata{}, CreatedTime: now, UpdatedTime: now}
	}
	if maxOK {
		m.MaxVersions = maxV
	}
	if casOK {
		m.CasRequired = casRaw.(bool)
	}
	if dvaOK {
		m.DeleteVersionAfter = time.Duration(dvaRaw.(int)) * time.Second
	}
	if cmOK {
		m.CustomMetadata = custom
	}
	return resp, b.putMetadata(ctx, req.Storage, m)
}

// patchMetadata merges the given settings into an existing key's metadata;
// a null resets a setting, and a null inside custom_metadata removes that
// entry.
func (b *versioned) patchMetadata(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	if key == "" {
		return nil, logical.InvalidRequest("missing path")
	}
	var cmPatch map[string]*string
	if raw, ok := d.GetOk("custom_metadata"); ok {
		p, err := parseCustomMetadata(raw.(map[string]interface{}), true)
		if err != nil {
			return nil, err
		}
		cmPatch = p
	}
	var maxV uint32
	if raw, ok := d.GetOk("max_versions"); ok {
		n, err := maxVersions(raw.(int))
		if err != nil {
			return nil, err
		}
		maxV = n
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
	var resp *logical.Response
	present := func(name string) bool { _, ok := d.Raw[name]; return ok }
	if present("max_versions") {
		m.MaxVersions = maxV
	}
	if present("cas_required") {
		m.CasRequired = d.Bool("cas_required")
		if cfg.CasRequired && !m.CasRequired {
			resp = &logical.Response{}
			resp.AddWarning(casMandatedWarning)
		}
	}
	if present("delete_version_after") {
		m.DeleteVersionAfter = d.Duration("delete_version_after")
	}
	if present("custom_metadata") {
		merged := map[string]string{}
		if d.Raw["custom_metadata"] != nil {
			for k, v := range m.CustomMetadata {
				merged[k] = v
			}
			for k, v := range cmPatch {
				if v == nil {
					delete(merged, k)
				} else {
					merged[k] = *v
				}
			}
		}
		if err := validateCustomMetadata(merged); err != nil {
			return nil, err
		}
		m.CustomMetadata = merged
		if len(merged) == 0 {
			m.CustomMetadata = nil
		}
	}
	return resp, b.putMetadata(ctx, req.Storage, m)
}

// deleteMetadata removes a key with every version and its metadata.
func (b *versioned) deleteMetadata(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	lock := b.locks.get(key)
	lock.Lock()
	defer lock.Unlock()
	m, err := b.getMetadata(ctx, req.Storage, key)
	if err != nil || m == nil {
		return nil, err
	}
	for n := range m.Versions {
		if err := req.Storage.Delete(ctx, b.versionKey(key, n)); err != nil {
			return nil, fmt.Errorf("delete version %d of %q: %w", n, key, err)
		}
	}
	if err := req.Storage.Delete(ctx, b.metadataKey(key)); err != nil {
		return nil, fmt.Errorf("delete metadata of %q: %w", key, err)
	}
	return nil, nil
}
