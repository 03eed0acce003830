// Package framework turns declarative path tables into a logical.Backend.
// An engine lists its paths (pattern, typed fields, operations, help) and
// its secret types (renew and revoke callbacks); the framework routes
// requests, decodes and validates fields, answers help, and dispatches the
// lease manager's renew/revoke calls to the right secret type.
package framework

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
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

	once     sync.Once
	compiled []*regexp.Regexp
}

func (b *Backend) init() {
	b.once.Do(func() {
		b.compiled = make([]*regexp.Regexp, len(b.Paths))
		for i, p := range b.Paths {
			b.compiled[i] = regexp.MustCompile("^" + p.Pattern + "$")
		}
	})
}

// route finds the path entry and captured fields for a request path.
func (b *Backend) route(path string) (*Path, map[string]string) {
	b.init()
	for i, re := range b.compiled {
		m := re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		caps := map[string]string{}
		for j, name := range re.SubexpNames() {
			if name != "" && m[j] != "" {
				caps[name] = m[j]
			}
		}
		return b.Paths[i], caps
	}
	return nil, nil
}

// fieldData merges request data and captures (captures win) into FieldData.
func fieldData(p *Path, req *logical.Request, caps map[string]string) *FieldData {
	raw := make(map[string]interface{}, len(req.Data)+len(caps))
	for k, v := range req.Data {
		raw[k] = v
	}
	for k, v := range caps {
		raw[k] = v
	}
	return &FieldData{Raw: raw, Schema: p.Fields}
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
	p, caps := b.route(req.Path)
	if p == nil {
		if req.Operation == logical.HelpOperation && req.Path == "" {
			return b.helpResponse(nil, ""), nil
		}
		return nil, logical.Errorf(logical.ErrUnsupportedPath, "unsupported path")
	}
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
	d := fieldData(p, req, caps)
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if op == logical.CreateOperation || op == logical.UpdateOperation {
		for name, s := range p.Fields {
			if s.Required {
				if _, ok := d.Raw[name]; !ok {
					return nil, logical.InvalidRequest("missing required field %q", name)
				}
			}
		}
	}
	resp, err := fn(ctx, req, d)
	if err != nil {
		return resp, err
	}
	if !p.TakesArbitraryInput && op != logical.ReadOperation && op != logical.ListOperation {
		if unknown := unknownFields(req.Data, p.Fields, caps); len(unknown) > 0 {
			if resp == nil {
				resp = &logical.Response{}
			}
			resp.AddWarning(fmt.Sprintf("Endpoint ignored these unrecognized parameters: [%s]", strings.Join(unknown, " ")))
		}
	}
	return resp, nil
}

func unknownFields(data map[string]interface{}, fields Fields, caps map[string]string) []string {
	var out []string
	for k := range data {
		if _, ok := fields[k]; ok {
			continue
		}
		if _, ok := caps[k]; ok {
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
	p, caps := b.route(req.Path)
	if p == nil || p.Exists == nil {
		return false, false, nil
	}
	d := fieldData(p, req, caps)
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
