// Package framework turns declarative path tables into a logical.Backend.
// An engine lists its paths (pattern, typed fields, operations, help) and
// its secret types (renew and revoke callbacks); the framework routes
// requests, decodes and validates fields, answers help, and dispatches the
// lease manager's renew/revoke calls to the right secret type.
package framework

import (
	"context"
	"fmt"
	"hash/maphash"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// OperationFunc handles one operation on a path.
type OperationFunc func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error)

// ExistenceFunc reports whether the item a path names exists; the core uses
// it to tell create from update for ACL checks.
type ExistenceFunc func(ctx context.Context, req *logical.Request, d *FieldData) (bool, error)

// Ops maps operations to handlers.
type Ops map[logical.Operation]OperationFunc

// Fields maps field names to their schema.
type Fields map[string]*FieldSchema

// Path is one entry in a backend's path table.
type Path struct {
	// Pattern is a regular expression matched against the whole request
	// path (relative to the mount); named captures fill fields.
	Pattern string
	Fields  Fields
	Ops     Ops
	// Exists is the optional existence check.
	Exists ExistenceFunc
	// TakesArbitraryInput disables the unknown-field warning.
	TakesArbitraryInput bool
	Synopsis            string
	Description         string
}

// Secret declares a leased secret type an engine returns.
type Secret struct {
	Type            string
	Fields          Fields
	DefaultDuration time.Duration
	Renew           OperationFunc
	Revoke          OperationFunc
}

// Renewable reports whether the secret type can be renewed.
func (s *Secret) Renewable() bool { return s.Renew != nil }

// Response builds a response carrying this secret type. internal is kept
// with the lease and handed back on renew and revoke.
func (s *Secret) Response(data, internal map[string]interface{}) *logical.Response {
	in := map[string]interface{}{}
	for k, v := range internal {
		in[k] = v
	}
	in["secret_type"] = s.Type
	return &logical.Response{
		Data: data,
		Secret: &logical.Secret{
			LeaseOptions: logical.LeaseOptions{TTL: s.DefaultDuration, Renewable: s.Renewable()},
			InternalData: in,
		},
	}
}

// Backend implements logical.Backend from a path table.
type Backend struct {
	Help         string
	Paths        []*Path
	PathsSpecial *logical.Paths
	Secrets      []*Secret
	BackendType  logical.BackendType
	// AuthRenew handles renewal of tokens issued by this auth method.
	AuthRenew OperationFunc
	// WALRollback undoes one write-ahead record of the given kind; called
	// on RollbackOperation for records older than WALRollbackMinAge or
	// written before this process started.
	WALRollback       func(ctx context.Context, req *logical.Request, kind string, data interface{}) error
	WALRollbackMinAge time.Duration
	// Clean is called on unmount and seal.
	Clean func(ctx context.Context)
	// ResolveRole names the role a login request uses, for role-based
	// quotas; auth methods with roles set it.
	ResolveRole func(ctx context.Context, req *logical.Request) (string, error)

	once   sync.Once
	routes []route
	seed   maphash.Seed
	// matches caches recent routing results by request path, so the
	// existence check and the request that follows it (and repeated
	// requests to a hot path) run the path regexps once.
	matches [routeCacheSize]atomic.Pointer[routeMatch]
}

const (
	routeCacheSize = 64
	// maxCachedPath bounds the memory the route cache can hold.
	maxCachedPath = 256
)

// route is a compiled entry of the path table.
type route struct {
	path *Path
	re   *regexp.Regexp
	// prefix is a literal every match starts with: paths without it are
	// skipped without running the regexp.
	prefix string
	// names are re.SubexpNames(); named says whether any is non-empty.
	names []string
	named bool
	// required lists the Required fields, sorted.
	required []string
}

// routeMatch is the result of routing one request path. It is shared by
// concurrent requests through the cache and never modified.
type routeMatch struct {
	path  string
	route *route
	// caps are the named groups that matched something, in pattern
	// order; their values are boxed once here rather than per request.
	caps []capture
	buf  [2]capture // backs caps for the usual one or two captures
}

type capture struct {
	name  string
	value interface{}
}

// captured reports whether the named group matched something.
func (m *routeMatch) captured(name string) bool {
	for _, c := range m.caps {
		if c.name == name {
			return true
		}
	}
	return false
}

func (b *Backend) init() {
	b.once.Do(func() {
		b.seed = maphash.MakeSeed()
		b.routes = make([]route, len(b.Paths))
		for i, p := range b.Paths {
			r := &b.routes[i]
			r.path = p
			r.re = regexp.MustCompile("^" + p.Pattern + "$")
			r.prefix = literalPrefix(r.re.String())
			r.names = r.re.SubexpNames()
			for _, n := range r.names {
				r.named = r.named || n != ""
			}
			for name, s := range p.Fields {
				if s.Required {
					r.required = append(r.required, name)
				}
			}
			sort.Strings(r.required)
		}
	})
}

// literalPrefix returns the literal text every match of an anchored
// expression starts with ("" when there is none, e.g. for a top-level
// alternation or a case-insensitive start).
func literalPrefix(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return ""
	}
	if lit := re.Sub[1]; lit.Op == syntax.OpLiteral && lit.Flags&syntax.FoldCase == 0 {
		return string(lit.Rune)
	}
	return ""
}

// route finds the path entry and captured fields for a request path; nil
// when no pattern matches.
func (b *Backend) route(path string) *routeMatch {
	b.init()
	if len(path) > maxCachedPath {
		return b.match(path)
	}
	slot := &b.matches[maphash.String(b.seed, path)%routeCacheSize]
	if m := slot.Load(); m != nil && m.path == path {
		return m
	}
	m := b.match(path)
	if m != nil {
		slot.Store(m)
	}
	return m
}

// match tries the patterns in order; the first that matches wins.
func (b *Backend) match(path string) *routeMatch {
	for i := range b.routes {
		r := &b.routes[i]
		if !strings.HasPrefix(path, r.prefix) {
			continue
		}
		if !r.named {
			if r.re.MatchString(path) {
				return &routeMatch{path: path, route: r}
			}
			continue
		}
		groups := r.re.FindStringSubmatch(path)
		if groups == nil {
			continue
		}
		m := &routeMatch{path: path, route: r}
		m.caps = m.buf[:0]
		for j, name := range r.names {
			if name != "" && groups[j] != "" {
				m.caps = append(m.caps, capture{name, groups[j]})
			}
		}
		return m
	}
	return nil
}

// fieldData merges request data and captures (captures win) into
// FieldData. Without captures the request data is used as it is.
func fieldData(m *routeMatch, req *logical.Request) *FieldData {
	d := &FieldData{Raw: req.Data, Schema: m.route.path.Fields}
	if len(m.caps) == 0 {
		return d
	}
	d.Raw = make(map[string]interface{}, len(req.Data)+len(m.caps))
	for k, v := range req.Data {
		d.Raw[k] = v
	}
	for _, c := range m.caps {
		d.Raw[c.name] = c.value
	}
	return d
}

// HandleRequest implements logical.Backend.
func (b *Backend) HandleRequest(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	switch req.Operation {
	case logical.RenewOperation, logical.RevokeOperation:
		return b.handleLease(ctx, req)
	case logical.RollbackOperation:
		return nil, b.rollback(ctx, req)
	case logical.ResolveRoleOperation:
		if b.ResolveRole == nil {
			return nil, nil
		}
		role, err := b.ResolveRole(ctx, req)
		if err != nil || role == "" {
			return nil, err
		}
		return &logical.Response{Data: map[string]interface{}{"role": role}}, nil
	}
	m := b.route(req.Path)
	if m == nil {
		if req.Operation == logical.HelpOperation && req.Path == "" {
			return b.helpResponse(nil, ""), nil
		}
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "unsupported path")
	}
	p := m.route.path
	if req.Operation == logical.HelpOperation {
		return b.helpResponse(p, req.Path), nil
	}
	op := req.Operation
	fn, ok := p.Ops[op]
	if !ok && op == logical.CreateOperation {
		fn, ok = p.Ops[logical.UpdateOperation]
	}
	if !ok && op == logical.UpdateOperation && p.Exists == nil {
		fn, ok = p.Ops[logical.CreateOperation]
	}
	if !ok {
		return nil, logical.Errorf(logical.ErrUnsupportedOperation, "unsupported operation")
	}
	d := fieldData(m, req)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if op == logical.CreateOperation || op == logical.UpdateOperation {
		for _, name := range m.route.required {
			if _, ok := d.Raw[name]; !ok {
				return nil, logical.InvalidRequest("missing required field %q", name)
			}
		}
	}
	resp, err := fn(ctx, req, d)
	if err != nil {
		return resp, err
	}
	if !p.TakesArbitraryInput && op != logical.ReadOperation && op != logical.ListOperation {
		if unknown := unknownFields(req.Data, p.Fields, m); len(unknown) > 0 {
			if resp == nil {
				resp = &logical.Response{}
			}
			resp.AddWarning(fmt.Sprintf("Endpoint ignored these unrecognized parameters: [%s]", strings.Join(unknown, " ")))
		}
	}
	return resp, nil
}

func unknownFields(data map[string]interface{}, fields Fields, m *routeMatch) []string {
	var out []string
	for k := range data {
		if _, ok := fields[k]; ok {
			continue
		}
		if m.captured(k) {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (b *Backend) handleLease(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	if req.Auth != nil && req.Operation == logical.RenewOperation {
		if b.AuthRenew == nil {
			return nil, logical.Errorf(logical.ErrUnsupportedOperation, "this auth method does not support token renewal")
		}
		return b.AuthRenew(ctx, req, &FieldData{Raw: req.Data})
	}
	if req.Secret == nil {
		return nil, logical.InvalidRequest("no secret in %s request", req.Operation)
	}
	t, _ := req.Secret.InternalData["secret_type"].(string)
	s := b.secret(t)
	if s == nil {
		return nil, logical.InvalidRequest("unknown secret type %q", t)
	}
	fn := s.Renew
	if req.Operation == logical.RevokeOperation {
		fn = s.Revoke
		if fn == nil {
			// Nothing to undo on the target.
			return nil, nil
		}
	}
	if fn == nil {
		return nil, logical.InvalidRequest("lease is not renewable")
	}
	return fn(ctx, req, &FieldData{Raw: req.Data, Schema: s.Fields})
}

func (b *Backend) secret(t string) *Secret {
	for _, s := range b.Secrets {
		if s.Type == t {
			return s
		}
	}
	return nil
}

// HandleExistenceCheck implements logical.Backend.
func (b *Backend) HandleExistenceCheck(ctx context.Context, req *logical.Request) (bool, bool, error) {
	m := b.route(req.Path)
	if m == nil || m.route.path.Exists == nil {
		return false, false, nil
	}
	p := m.route.path
	d := fieldData(m, req)
	if err := d.Validate(); err != nil {
		return false, false, err
	}
	exists, err := p.Exists(ctx, req, d)
	return true, exists, err
}

// SpecialPaths implements logical.Backend.
func (b *Backend) SpecialPaths() *logical.Paths {
	if b.PathsSpecial == nil {
		return &logical.Paths{}
	}
	return b.PathsSpecial
}

// Type implements logical.Backend.
func (b *Backend) Type() logical.BackendType { return b.BackendType }

// Cleanup implements logical.Backend.
func (b *Backend) Cleanup(ctx context.Context) {
	if b.Clean != nil {
		b.Clean(ctx)
	}
}

func (b *Backend) helpResponse(p *Path, reqPath string) *logical.Response {
	var sb strings.Builder
	if p == nil {
		sb.WriteString(strings.TrimSpace(b.Help))
		sb.WriteString("\n\n## PATHS\n\n")
		for _, p := range b.Paths {
			fmt.Fprintf(&sb, "    ^%s$\n        %s\n\n", p.Pattern, p.Synopsis)
		}
		return &logical.Response{Data: map[string]interface{}{"help": sb.String(), "see_also": nil}}
	}
	fmt.Fprintf(&sb, "Request:        %s\nMatching Route: ^%s$\n\n%s\n", reqPath, p.Pattern, p.Synopsis)
	if len(p.Fields) > 0 {
		sb.WriteString("\n## PARAMETERS\n\n")
		names := make([]string, 0, len(p.Fields))
		for n := range p.Fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			f := p.Fields[n]
			fmt.Fprintf(&sb, "    %s (%s)\n\n        %s\n\n", n, f.Type, f.Description)
		}
	}
	if p.Description != "" {
		sb.WriteString("## DESCRIPTION\n\n" + strings.TrimSpace(p.Description) + "\n")
	}
	return &logical.Response{Data: map[string]interface{}{"help": sb.String(), "see_also": nil}}
}

// Interface guard.
var _ logical.Backend = (*Backend)(nil)
