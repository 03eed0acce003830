package core

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/router"
)

// Types of the built-in mounts that are not engines from the table.
const (
	typeSystem = "system"
	typeToken  = "token"
)

// reservedMounts cannot be enabled, disabled or moved by users.
var reservedMounts = map[string]bool{"sys/": true, "auth/": true, "cubbyhole/": true, "identity/": true}

type ttls struct{ def, max time.Duration }

// mountTTLs returns the effective default and max lease TTLs of the mount
// serving routePath.
func (c *Core) mountTTLs(routePath string) ttls {
	rt, _ := c.router.Match(routePath)
	if rt == nil {
		return ttls{def: c.conf.DefaultLeaseTTL, max: c.conf.MaxLeaseTTL}
	}
	return c.entryTTLs(rt.Entry)
}

// entryTTLs returns a mount entry's effective TTLs.
func (c *Core) entryTTLs(e *router.MountEntry) ttls {
	t := ttls{def: c.conf.DefaultLeaseTTL, max: c.conf.MaxLeaseTTL}
	if e.Config.MaxLeaseTTL > 0 {
		t.max = e.Config.MaxLeaseTTL
	}
	if e.Config.DefaultLeaseTTL > 0 {
		t.def = e.Config.DefaultLeaseTTL
	}
	if t.def > t.max {
		t.def = t.max
	}
	return t
}

// systemView is the logical.SystemView handed to one mount.
type systemView struct {
	c     *Core
	entry *router.MountEntry
}

func (s systemView) DefaultLeaseTTL() time.Duration { return s.c.entryTTLs(s.entry).def }
func (s systemView) MaxLeaseTTL() time.Duration     { return s.c.entryTTLs(s.entry).max }
func (s systemView) GeneratePasswordFromPolicy(ctx context.Context, name string) (string, error) {
	return s.c.generatePassword(ctx, name)
}

func (c *Core) tableView() logical.Storage { return c.barrier.View("core/") }

func defaultMounts() []*router.MountEntry {
	return []*router.MountEntry{
		{Table: router.TableMounts, Path: "cubbyhole/", Type: "cubbyhole", Description: "per-token private secret storage", Local: true},
		{Table: router.TableMounts, Path: "sys/", Type: typeSystem, Description: "system endpoints used for control, policy and debugging"},
	}
}

func defaultAuths() []*router.MountEntry {
	return []*router.MountEntry{{Table: router.TableAuth, Path: "token/", Type: typeToken, Description: "token based credentials"}}
}

// loadMounts reads both mount tables (creating the defaults on first
// unseal) and mounts every entry.
func (c *Core) loadMounts(ctx context.Context) error {
	c.mountLock.Lock()
	defer c.mountLock.Unlock()
	for _, table := range []string{router.TableMounts, router.TableAuth} {
		var entries []*router.MountEntry
		ok, err := logical.GetJSON(ctx, c.tableView(), table, &entries)
		if err != nil {
			return fmt.Errorf("read %s table: %w", table, err)
		}
		if !ok {
			if table == router.TableMounts {
				entries = defaultMounts()
			} else {
				entries = defaultAuths()
			}
			for _, e := range entries {
				e.UUID = randomUUID()
				e.Accessor = e.Type + "_" + randomHex(4)
			}
			if err := logical.PutJSON(ctx, c.tableView(), table, entries); err != nil {
				return fmt.Errorf("write %s table: %w", table, err)
			}
		}
		for _, e := range entries {
			if err := c.mountBackend(ctx, e); err != nil {
				return fmt.Errorf("mount %s: %w", e.RoutePath(), err)
			}
		}
		if table == router.TableMounts {
			c.mounts = entries
		} else {
			c.auths = entries
		}
	}
	return nil
}

// viewPrefix is where a mount's data lives inside the barrier.
func viewPrefix(e *router.MountEntry) string {
	if e.Table == router.TableAuth {
		return "auth/" + e.UUID + "/"
	}
	return "logical/" + e.UUID + "/"
}

// mountBackend creates the backend for an entry and adds its route.
func (c *Core) mountBackend(ctx context.Context, e *router.MountEntry) error {
	view := c.barrier.View(viewPrefix(e))
	var b logical.Backend
	switch {
	case e.Type == typeSystem:
		b = c.sys
	case e.Type == typeToken && e.Table == router.TableAuth:
		b = c.tokens.Backend()
	default:
		f, err := c.factory(e)
		if err != nil {
			return err
		}
		b, err = f(ctx, &logical.BackendConfig{
			StorageView: view,
			Logger:      c.logger.With("mount", e.RoutePath()),
			System:      systemView{c: c, entry: e},
			Config:      e.Options,
			BackendUUID: e.UUID,
			MountPath:   e.RoutePath(),
		})
		if err != nil {
			return err
		}
	}
	return c.router.Mount(e, b, view)
}

func (c *Core) factory(e *router.MountEntry) (logical.Factory, error) {
	table := c.conf.Engines
	kind := "secrets engine"
	if e.Table == router.TableAuth {
		table, kind = c.conf.AuthMethods, "auth method"
	}
	f, ok := table[e.Type]
	if !ok {
		names := make([]string, 0, len(table))
		for n := range table {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, logical.InvalidRequest("plugin not found in the catalog: %s (no %s of that type; available: %s)", e.Type, kind, strings.Join(names, ", "))
	}
	return f, nil
}

func (c *Core) persistTable(ctx context.Context, table string) error {
	entries := c.mounts
	if table == router.TableAuth {
		entries = c.auths
	}
	return logical.PutJSON(ctx, c.tableView(), table, entries)
}

// EnableMount mounts a new engine or auth method.
func (c *Core) EnableMount(ctx context.Context, e *router.MountEntry) error {
	p, err := router.ValidateMountPath(e.Path)
	if err != nil {
		return err
	}
	e.Path = p
	if e.Table == router.TableMounts && reservedMounts[p] {
		return logical.InvalidRequest("cannot mount at %q: the path is reserved", p)
	}
	if e.Table == router.TableAuth && p == "token/" {
		return logical.InvalidRequest("token credential backend cannot be instantiated")
	}
	if e.Type == "kv-v2" {
		e.Type = "kv"
		if e.Options == nil {
			e.Options = map[string]string{}
		}
		e.Options["version"] = "2"
	}
	if e.Type == "" {
		return logical.InvalidRequest("missing field \"type\": name the %s to enable", map[string]string{router.TableMounts: "secrets engine", router.TableAuth: "auth method"}[e.Table])
	}
	if e.Config.MaxLeaseTTL > 0 && e.Config.DefaultLeaseTTL > e.Config.MaxLeaseTTL {
		return logical.InvalidRequest("invalid config: default_lease_ttl (%s) cannot be greater than max_lease_ttl (%s)", e.Config.DefaultLeaseTTL, e.Config.MaxLeaseTTL)
	}
	c.mountLock.Lock()
	defer c.mountLock.Unlock()
	if rt := c.router.Get(e.RoutePath()); rt != nil {
		return logical.InvalidRequest("path is already in use at %s", e.RoutePath())
	}
	e.UUID = randomUUID()
	e.Accessor = strings.ReplaceAll(e.Type, "-", "_") + "_" + randomHex(4)
	if err := c.mountBackend(ctx, e); err != nil {
		return err
	}
	if e.Table == router.TableAuth {
		c.auths = append(c.auths, e)
	} else {
		c.mounts = append(c.mounts, e)
	}
	if err := c.persistTable(ctx, e.Table); err != nil {
		c.removeEntry(e)
		if rt := c.router.Unmount(e.RoutePath()); rt != nil {
			rt.Backend.Cleanup(ctx)
		}
		return fmt.Errorf("persist mount table: %w", err)
	}
	c.logger.Info("enabled mount", "path", e.RoutePath(), "type", e.Type)
	return nil
}

func (c *Core) removeEntry(e *router.MountEntry) {
	list := &c.mounts
	if e.Table == router.TableAuth {
		list = &c.auths
	}
	out := (*list)[:0]
	for _, x := range *list {
		if x != e {
			out = append(out, x)
		}
	}
	*list = out
}

// DisableMount revokes a mount's leases, unmounts it and deletes its data.
// Disabling a path that is not mounted succeeds, as in Vault.
func (c *Core) DisableMount(ctx context.Context, table, path string) error {
	p, err := router.ValidateMountPath(path)
	if err != nil {
		return err
	}
	routePath := p
	if table == router.TableAuth {
		routePath = "auth/" + p
		if p == "token/" {
			return logical.InvalidRequest("token credential backend cannot be disabled")
		}
	} else if reservedMounts[p] {
		return logical.InvalidRequest("cannot unmount %q: the path is reserved", p)
	}
	c.mountLock.Lock()
	defer c.mountLock.Unlock()
	rt := c.router.Get(routePath)
	if rt == nil {
		return nil
	}
	if _, err := c.leases.RevokePrefix(ctx, routePath, false, true); err != nil {
		return fmt.Errorf("revoke leases under %s before unmounting: %w", routePath, err)
	}
	c.router.Unmount(routePath)
	rt.Backend.Cleanup(ctx)
	c.removeEntry(rt.Entry)
	if err := c.persistTable(ctx, table); err != nil {
		return fmt.Errorf("persist mount table: %w", err)
	}
	if err := logical.ClearView(ctx, rt.Storage); err != nil {
		c.logger.Warn("could not clear data of disabled mount", "path", routePath, "error", err)
	}
	c.logger.Info("disabled mount", "path", routePath)
	return nil
}

// TuneMount changes a mount's TTLs, description or options. A changed
// "version" option re-creates the backend (KV upgrade).
func (c *Core) TuneMount(ctx context.Context, routePath string, fn func(e *router.MountEntry) error) error {
	c.mountLock.Lock()
	defer c.mountLock.Unlock()
	rt := c.router.Get(routePath)
	if rt == nil {
		return logical.InvalidRequest("no mount at %q; list mounts with sys/mounts or sys/auth", routePath)
	}
	updated := rt.Entry.Clone()
	if err := fn(updated); err != nil {
		return err
	}
	max := updated.Config.MaxLeaseTTL
	if max == 0 {
		max = c.conf.MaxLeaseTTL
	}
	if updated.Config.DefaultLeaseTTL > max {
		return logical.InvalidRequest("default_lease_ttl (%s) cannot be greater than max_lease_ttl (%s)", updated.Config.DefaultLeaseTTL, max)
	}
	reload := updated.Options["version"] != rt.Entry.Options["version"]
	*rt.Entry = *updated
	if reload {
		c.router.Unmount(routePath)
		rt.Backend.Cleanup(ctx)
		if err := c.mountBackend(ctx, rt.Entry); err != nil {
			return err
		}
	}
	return c.persistTable(ctx, rt.Entry.Table)
}

// Remount moves a mount to a new path; its leases are revoked first.
func (c *Core) Remount(ctx context.Context, from, to string) error {
	table := router.TableMounts
	if strings.HasPrefix(from, "auth/") {
		table = router.TableAuth
		if !strings.HasPrefix(to, "auth/") {
			return logical.InvalidRequest("cannot move an auth method (%q) to a secrets engine path (%q)", from, to)
		}
		from, to = strings.TrimPrefix(from, "auth/"), strings.TrimPrefix(to, "auth/")
	}
	src, err := router.ValidateMountPath(from)
	if err != nil {
		return err
	}
	dst, err := router.ValidateMountPath(to)
	if err != nil {
		return err
	}
	if reservedMounts[src] || reservedMounts[dst] || (table == router.TableAuth && (src == "token/" || dst == "token/")) {
		return logical.InvalidRequest("cannot move %q to %q: reserved path", src, dst)
	}
	prefix := ""
	if table == router.TableAuth {
		prefix = "auth/"
	}
	c.mountLock.Lock()
	defer c.mountLock.Unlock()
	rt := c.router.Get(prefix + src)
	if rt == nil {
		return logical.InvalidRequest("no mount at %q", prefix+src)
	}
	if m, _ := c.router.Match(prefix + dst); m != nil || c.router.Get(prefix+dst) != nil {
		return logical.InvalidRequest("path is already in use at %s", prefix+dst)
	}
	if _, err := c.leases.RevokePrefix(ctx, prefix+src, false, true); err != nil {
		return fmt.Errorf("revoke leases under %s: %w", prefix+src, err)
	}
	c.router.Unmount(prefix + src)
	old := rt.Entry.Path
	rt.Entry.Path = dst
	if err := c.router.Mount(rt.Entry, rt.Backend, rt.Storage); err != nil {
		rt.Entry.Path = old
		_ = c.router.Mount(rt.Entry, rt.Backend, rt.Storage)
		return err
	}
	return c.persistTable(ctx, table)
}

// Mounts returns a copy of a mount table.
func (c *Core) Mounts(table string) []*router.MountEntry {
	c.mountLock.Lock()
	defer c.mountLock.Unlock()
	src := c.mounts
	if table == router.TableAuth {
		src = c.auths
	}
	out := make([]*router.MountEntry, len(src))
	for i, e := range src {
		out[i] = e.Clone()
	}
	return out
}
