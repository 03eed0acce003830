package kv

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func versionsFields(what string) framework.Fields {
	return framework.Fields{
		"path":     {Type: framework.TypeString, Description: "Location of the secret."},
		"versions": {Type: framework.TypeCommaIntSlice, Description: "The versions to " + what + "."},
	}
}

func (b *versioned) pathDelete() *framework.Path {
	return &framework.Path{
		Pattern:  "delete/" + framework.MatchAllRegex("path"),
		Fields:   versionsFields("mark deleted; their data is kept and can be restored with undelete"),
		Ops:      framework.Ops{logical.UpdateOperation: b.deleteVersionsOp},
		Synopsis: "Mark one or more versions deleted.",
	}
}

func (b *versioned) pathUndelete() *framework.Path {
	return &framework.Path{
		Pattern:  "undelete/" + framework.MatchAllRegex("path"),
		Fields:   versionsFields("restore"),
		Ops:      framework.Ops{logical.UpdateOperation: b.undeleteVersions},
		Synopsis: "Restore one or more deleted versions.",
	}
}

func (b *versioned) pathDestroy() *framework.Path {
	return &framework.Path{
		Pattern:  "destroy/" + framework.MatchAllRegex("path"),
		Fields:   versionsFields("destroy; their data is removed for good"),
		Ops:      framework.Ops{logical.UpdateOperation: b.destroyVersions},
		Synopsis: "Permanently remove the data of one or more versions.",
	}
}

// changeVersions runs fn on each named version of key that still exists
// and is not destroyed, stores the metadata, and then, still holding the
// key's lock, calls after (if set) with the versions fn ran on. emptyMsg is
// the error for an empty version list.
func (b *versioned) changeVersions(ctx context.Context, req *logical.Request, d *framework.FieldData, emptyMsg string,
	fn func(cfg mountConfig, m *keyMetadata, vm *versionMetadata), after func(changed []uint64) error) error {
	key := d.String("path")
	versions := d.Get("versions").([]int)
	if len(versions) == 0 {
		return logical.InvalidRequest("%s", emptyMsg)
	}
	cfg, err := b.config(ctx, req.Storage)
	if err != nil {
		return err
	}
	lock := b.locks.get(key)
	lock.Lock()
	defer lock.Unlock()
	m, err := b.getMetadata(ctx, req.Storage, key)
	if err != nil || m == nil {
		return err
	}
	var changed []uint64
	for _, n := range versions {
		if n <= 0 {
			continue
		}
		vm := m.Versions[uint64(n)]
		if vm == nil || vm.Destroyed {
			continue
		}
		fn(cfg, m, vm)
		changed = append(changed, uint64(n))
	}
	if err := b.putMetadata(ctx, req.Storage, m); err != nil {
		return err
	}
	if after != nil {
		return after(changed)
	}
	return nil
}

func (b *versioned) deleteVersionsOp(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	now := b.now()
	return nil, b.changeVersions(ctx, req, d, "No version number provided", func(_ mountConfig, _ *keyMetadata, vm *versionMetadata) {
		if !vm.deleted(now) {
			vm.DeletionTime = now.UTC()
		}
	}, nil)
}

func (b *versioned) undeleteVersions(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	now := b.now().UTC()
	return nil, b.changeVersions(ctx, req, d, "No version number provided", func(cfg mountConfig, m *keyMetadata, vm *versionMetadata) {
		vm.DeletionTime = time.Time{}
		// A restored version gets a fresh automatic deletion time.
		if dt, ok := deletionTime(now, cfg, m); ok {
			vm.DeletionTime = dt
		}
	}, nil)
}

func (b *versioned) destroyVersions(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	key := d.String("path")
	// The metadata is stored before the data goes, so a failure part way
	// leaves unreachable data at worst, never a version without its data
	// that still claims to have it.
	return nil, b.changeVersions(ctx, req, d, "no version number provided", func(_ mountConfig, _ *keyMetadata, vm *versionMetadata) {
		vm.Destroyed = true
	}, func(changed []uint64) error {
		for _, n := range changed {
			if err := req.Storage.Delete(ctx, b.versionKey(key, n)); err != nil {
				return fmt.Errorf("destroy version %d of %q: %w", n, key, err)
			}
		}
		return nil
	})
}
