package lease

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// statusAccepted is HTTP 202, sent for work that continues in the
// background (async revoke, tidy).
const statusAccepted = 202

// maxIrrevocableListed is how many irrevocable leases GET sys/leases lists
// unless limit is "none".
const maxIrrevocableListed = 10000

// SudoPaths are the lease paths (relative to sys/) that need sudo, for the
// sys backend's special paths.
func SudoPaths() []string {
	return []string{
		"leases/lookup/*",
		"leases/revoke-prefix/*",
		"leases/revoke-force/*",
		"revoke-prefix/*",
		"revoke-force/*",
	}
}

// Paths returns the lease endpoints of the sys backend; patterns are
// relative to "sys/".
func Paths(m *Manager) []*framework.Path {
	h := &handlers{m: m}
	leaseID := &framework.FieldSchema{Type: framework.TypeString, Description: "The ID of the lease."}
	urlLeaseID := &framework.FieldSchema{Type: framework.TypeString, Description: "The ID of the lease, in the URL."}
	syncField := &framework.FieldSchema{Type: framework.TypeBool, Default: true,
		Description: "Revoke before answering (true) or in the background (false, answers 202)."}
	typeField := &framework.FieldSchema{Type: framework.TypeString, Query: true,
		Description: `Type of leases: "irrevocable".`}
	children := &framework.FieldSchema{Type: framework.TypeBool, Query: true,
		Description: "Accepted for compatibility; there are no namespaces."}
	return []*framework.Path{{
		Pattern:     "leases/lookup/" + framework.MatchAllRegex("prefix"),
		Fields:      framework.Fields{"prefix": {Type: framework.TypeString, Description: "The lease ID prefix to list."}},
		Ops:         framework.Ops{logical.ListOperation: h.lookupList},
		Synopsis:    "List lease IDs under a prefix.",
		Description: "Lists one level below the prefix; folders end in a slash. Needs sudo.",
	}, {
		Pattern:  "leases/lookup",
		Fields:   framework.Fields{"lease_id": leaseID},
		Ops:      framework.Ops{logical.UpdateOperation: h.lookup},
		Synopsis: "Read the metadata of a lease.",
	}, {
		Pattern: "(leases/)?renew" + framework.OptionalParamRegex("url_lease_id"),
		Fields: framework.Fields{"lease_id": leaseID, "url_lease_id": urlLeaseID,
			"increment": {Type: framework.TypeDurationSecond, Description: "The requested extension of the lease."}},
		Ops:      framework.Ops{logical.UpdateOperation: h.renew},
		Synopsis: "Renew a lease, asking to extend it.",
	}, {
		Pattern:  "(leases/)?revoke" + framework.OptionalParamRegex("url_lease_id"),
		Fields:   framework.Fields{"lease_id": leaseID, "url_lease_id": urlLeaseID, "sync": syncField},
		Ops:      framework.Ops{logical.UpdateOperation: h.revoke},
		Synopsis: "Revoke a lease.",
	}, {
		Pattern:  "(leases/)?revoke-prefix/" + framework.MatchNonEmptyRegex("prefix"),
		Fields:   framework.Fields{"prefix": {Type: framework.TypeString, Description: "The lease ID prefix to revoke."}, "sync": syncField},
		Ops:      framework.Ops{logical.UpdateOperation: h.revokePrefix},
		Synopsis: "Revoke every lease under a prefix.",
	}, {
		Pattern:     "(leases/)?revoke-force/" + framework.MatchNonEmptyRegex("prefix"),
		Fields:      framework.Fields{"prefix": {Type: framework.TypeString, Description: "The lease ID prefix to revoke."}},
		Ops:         framework.Ops{logical.UpdateOperation: h.revokeForce},
		Synopsis:    "Revoke every lease under a prefix, deleting leases whose revocation fails.",
		Description: "Errors of the backends are ignored: the leases are removed even when the credentials may still exist on the target. For emergencies only.",
	}, {
		Pattern:  "leases/tidy",
		Ops:      framework.Ops{logical.UpdateOperation: h.tidy},
		Synopsis: "Clean up the lease storage.",
	}, {
		Pattern:  "leases/count",
		Fields:   framework.Fields{"type": typeField, "include_child_namespaces": children, "include_child_leases": children},
		Ops:      framework.Ops{logical.ReadOperation: h.count},
		Synopsis: "Count leases, in total and per mount.",
		Description: `With type=irrevocable counts the irrevocable leases, as Vault does; ` +
			`without a type counts the active ones.`,
	}, {
		Pattern: "leases/?",
		Fields: framework.Fields{"type": typeField, "include_child_namespaces": children,
			"limit": {Type: framework.TypeString, Query: true,
				Description: `Maximum number of leases to return (default 10000), or "none" for all.`}},
		Ops:      framework.Ops{logical.ReadOperation: h.list, logical.ListOperation: h.list},
		Synopsis: "List irrevocable leases (type=irrevocable).",
	}}
}

type handlers struct{ m *Manager }

func (h *handlers) lookupList(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	keys, err := h.m.List(ctx, d.String("prefix"))
	if err != nil {
		return nil, err
	}
	return framework.ListResponse(keys), nil
}

func (h *handlers) lookup(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := d.String("lease_id")
	if id == "" {
		return nil, logical.InvalidRequest("lease_id must be specified")
	}
	e, err := h.m.Lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, logical.InvalidRequest("invalid lease")
	}
	now := h.m.now()
	data := map[string]interface{}{
		"id":           id,
		"issue_time":   e.IssueTime,
		"expire_time":  nil,
		"last_renewal": nil,
		"renewable":    e.Renewable(now) == nil,
		"ttl":          int64(0),
	}
	if !e.LastRenewalTime.IsZero() {
		data["last_renewal"] = e.LastRenewalTime
	}
	if !e.ExpireTime.IsZero() {
		data["expire_time"] = e.ExpireTime
		data["ttl"] = int64(e.TTL(now) / time.Second)
	}
	return &logical.Response{Data: data}, nil
}

// idField returns lease_id from the body, else from the URL.
func idField(d *framework.FieldData) string {
	if id := d.String("lease_id"); id != "" {
		return id
	}
	return d.String("url_lease_id")
}

func (h *handlers) renew(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := idField(d)
	if id == "" {
		return nil, logical.InvalidRequest("lease_id must be specified")
	}
	return h.m.Renew(ctx, id, d.Duration("increment"))
}

func (h *handlers) revoke(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	id := idField(d)
	if id == "" {
		return nil, logical.InvalidRequest("lease_id must be specified")
	}
	sync := d.Bool("sync")
	if err := h.m.Revoke(ctx, id, sync); err != nil {
		return nil, err
	}
	if !sync {
		return accepted(), nil
	}
	return nil, nil
}

func (h *handlers) revokePrefix(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	sync := d.Bool("sync")
	if _, err := h.m.RevokePrefix(ctx, d.String("prefix"), false, sync); err != nil {
		return nil, err
	}
	if !sync {
		return accepted(), nil
	}
	return nil, nil
}

func (h *handlers) revokeForce(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if _, err := h.m.RevokePrefix(ctx, d.String("prefix"), true, true); err != nil {
		return nil, err
	}
	return nil, nil
}

func (h *handlers) tidy(_ context.Context, _ *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	ctx := h.m.background()
	go func() {
		n, err := h.m.Tidy(ctx)
		if err != nil {
			h.m.log.Error("lease tidy failed", "fixed", n, "error", err)
			return
		}
		h.m.log.Info("lease tidy finished", "fixed", n)
	}()
	return accepted(), nil
}

func (h *handlers) count(_ context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	c := h.m.Count()
	switch strings.ToLower(d.String("type")) {
	case "irrevocable":
		return countResponse(c.Irrevocable, c.IrrevocableByMount), nil
	case "":
		return countResponse(c.Active, c.ByMount), nil
	}
	return nil, nil
}

func countResponse(total int, byMount map[string]int) *logical.Response {
	counts := make(map[string]interface{}, len(byMount))
	for k, v := range byMount {
		counts[k] = v
	}
	return &logical.Response{Data: map[string]interface{}{"lease_count": total, "counts": counts}}
}

func (h *handlers) list(ctx context.Context, _ *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if strings.ToLower(d.String("type")) != "irrevocable" {
		return nil, nil
	}
	limit := maxIrrevocableListed
	switch raw := strings.ToLower(d.String("limit")); raw {
	case "":
	case "none":
		limit = 0
	default:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return nil, logical.InvalidRequest("invalid 'limit' provided: %v", err)
		}
		if n < 1 {
			return nil, logical.InvalidRequest("limit must be 'none' or a positive integer")
		}
		limit = n
	}
	type row struct {
		id, mount, err string
		expire         time.Time
	}
	var rows []row
	for _, id := range h.m.Irrevocable() {
		e, err := h.m.Lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		if e == nil || !e.Irrevocable {
			continue
		}
		rows = append(rows, row{id: id, mount: h.m.opts.MountOf(id), err: e.LastError, expire: e.ExpireTime})
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].expire.Equal(rows[j].expire) {
			return rows[i].expire.Before(rows[j].expire)
		}
		return rows[i].id < rows[j].id
	})
	resp := &logical.Response{}
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
		resp.AddWarning(fmt.Sprintf("More than %d irrevocable leases; listed the first %d. Set limit to \"none\" to list them all.", limit, limit))
	}
	leases := make([]interface{}, 0, len(rows))
	for _, r := range rows {
		leases = append(leases, map[string]interface{}{"lease_id": r.id, "mount_id": r.mount, "error": r.err})
	}
	resp.Data = map[string]interface{}{"lease_count": len(rows), "leases": leases}
	return resp, nil
}

// accepted is an empty 202 Accepted, for work that goes on in the
// background (Vault answers async revokes and tidy so).
func accepted() *logical.Response {
	return &logical.Response{Raw: []byte{}, RawStatus: statusAccepted}
}
