package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// formatOptions are the options every device type shares.
type formatOptions struct {
	raw          bool // log_raw
	hmacAccessor bool // hmac_accessor
	elideLists   bool // elide_list_responses
	jsonx        bool // format=jsonx
	prefix       string
}

// parseFormatOptions reads the shared options, with Vault's defaults.
func parseFormatOptions(opts map[string]string) (formatOptions, error) {
	o := formatOptions{hmacAccessor: true}
	var err error
	if o.raw, err = boolOption(opts, "log_raw", false); err != nil {
		return o, err
	}
	if o.hmacAccessor, err = boolOption(opts, "hmac_accessor", true); err != nil {
		return o, err
	}
	if o.elideLists, err = boolOption(opts, "elide_list_responses", false); err != nil {
		return o, err
	}
	switch f := opts["format"]; f {
	case "", "json":
	case "jsonx":
		o.jsonx = true
	default:
		return o, fmt.Errorf("unknown format type %q (supported: json, jsonx)", f)
	}
	o.prefix = opts["prefix"]
	return o, nil
}

func boolOption(opts map[string]string, name string, def bool) (bool, error) {
	v, ok := opts[name]
	if !ok || v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("unable to parse %q: %w", name, err)
	}
	return b, nil
}

// The entry types below give Vault's audit line layout and field names.

type entry struct {
	Time     string         `json:"time,omitempty"`
	Type     string         `json:"type,omitempty"`
	Auth     *authEntry     `json:"auth,omitempty"`
	Request  *requestEntry  `json:"request,omitempty"`
	Response *responseEntry `json:"response,omitempty"`
	Error    string         `json:"error,omitempty"`
}

type authEntry struct {
	ClientToken    string             `json:"client_token,omitempty"`
	Accessor       string             `json:"accessor,omitempty"`
	DisplayName    string             `json:"display_name,omitempty"`
	Policies       []string           `json:"policies,omitempty"`
	TokenPolicies  []string           `json:"token_policies,omitempty"`
	PolicyResults  *policyResultsJSON `json:"policy_results,omitempty"`
	Metadata       map[string]string  `json:"metadata,omitempty"`
	NumUses        int                `json:"num_uses,omitempty"`
	RemainingUses  int                `json:"remaining_uses,omitempty"`
	EntityID       string             `json:"entity_id,omitempty"`
	TokenType      string             `json:"token_type,omitempty"`
	TokenTTL       int64              `json:"token_ttl,omitempty"`
	TokenIssueTime string             `json:"token_issue_time,omitempty"`
}

type policyResultsJSON struct {
	Allowed          bool             `json:"allowed"`
	GrantingPolicies []policyInfoJSON `json:"granting_policies,omitempty"`
}

type policyInfoJSON struct {
	Name        string `json:"name,omitempty"`
	NamespaceID string `json:"namespace_id,omitempty"`
	Type        string `json:"type"`
}

type namespaceEntry struct {
	ID   string `json:"id,omitempty"`
	Path string `json:"path,omitempty"`
}

type requestEntry struct {
	ID                  string                 `json:"id,omitempty"`
	Operation           string                 `json:"operation,omitempty"`
	MountPoint          string                 `json:"mount_point,omitempty"`
	MountType           string                 `json:"mount_type,omitempty"`
	MountAccessor       string                 `json:"mount_accessor,omitempty"`
	ClientToken         string                 `json:"client_token,omitempty"`
	ClientTokenAccessor string                 `json:"client_token_accessor,omitempty"`
	Namespace           *namespaceEntry        `json:"namespace,omitempty"`
	Path                string                 `json:"path,omitempty"`
	Data                map[string]interface{} `json:"data,omitempty"`
	RemoteAddr          string                 `json:"remote_address,omitempty"`
	RemotePort          int                    `json:"remote_port,omitempty"`
	WrapTTL             int                    `json:"wrap_ttl,omitempty"`
	Headers             map[string][]string    `json:"headers,omitempty"`
}

type responseEntry struct {
	Auth          *authEntry             `json:"auth,omitempty"`
	MountPoint    string                 `json:"mount_point,omitempty"`
	MountType     string                 `json:"mount_type,omitempty"`
	MountAccessor string                 `json:"mount_accessor,omitempty"`
	Secret        *secretEntry           `json:"secret,omitempty"`
	Data          map[string]interface{} `json:"data,omitempty"`
	Warnings      []string               `json:"warnings,omitempty"`
	WrapInfo      *wrapInfoEntry         `json:"wrap_info,omitempty"`
}

type secretEntry struct {
	LeaseID string `json:"lease_id,omitempty"`
}

type wrapInfoEntry struct {
	TTL             int    `json:"ttl,omitempty"`
	Token           string `json:"token,omitempty"`
	Accessor        string `json:"accessor,omitempty"`
	CreationTime    string `json:"creation_time,omitempty"`
	CreationPath    string `json:"creation_path,omitempty"`
	WrappedAccessor string `json:"wrapped_accessor,omitempty"`
}

// formatter turns LogInputs into lines for one device.
type formatter struct {
	opts formatOptions
	salt *Salt
}

var bufPool = sync.Pool{New: func() interface{} { return new(bytes.Buffer) }}

// format renders one event as a complete line (prefix, JSON or JSONx,
// newline) into a pooled buffer; the caller returns it with putBuffer.
func (f *formatter) format(in *LogInput, kind string) (*bytes.Buffer, error) {
	if in == nil || in.Request == nil {
		return nil, fmt.Errorf("audit %s: no request in the event", kind)
	}
	e := f.entry(in, kind)
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	buf.WriteString(f.opts.prefix)
	var err error
	if f.opts.jsonx {
		err = writeJSONx(buf, e)
	} else {
		err = json.NewEncoder(buf).Encode(e)
	}
	if err != nil {
		putBuffer(buf)
		return nil, fmt.Errorf("encode audit %s: %w", kind, err)
	}
	return buf, nil
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 {
		bufPool.Put(b)
	}
}

// hmac hashes v unless the device logs raw; empty stays empty.
func (f *formatter) hmac(v string) string {
	if f.opts.raw || v == "" {
		return v
	}
	return f.salt.HMAC(v)
}

// hmacAcc hashes an accessor unless raw or hmac_accessor=false.
func (f *formatter) hmacAcc(v string) string {
	if !f.opts.hmacAccessor {
		return v
	}
	return f.hmac(v)
}

func (f *formatter) hashFn() func(string) string {
	if f.opts.raw {
		return nil
	}
	return f.salt.HMAC
}

func (f *formatter) entry(in *LogInput, kind string) *entry {
	typ := in.Type
	if typ == "" {
		typ = kind
	}
	t := in.Time
	if t.IsZero() {
		t = time.Now()
	}
	e := &entry{
		Time:    t.UTC().Format(time.RFC3339Nano),
		Type:    typ,
		Auth:    f.callerAuth(in.Auth),
		Request: f.request(in),
	}
	if in.Err != nil {
		e.Error = in.Err.Error()
	}
	if kind == "response" {
		e.Response = f.response(in)
	}
	return e
}

func (f *formatter) callerAuth(a *AuthInfo) *authEntry {
	if a == nil {
		return &authEntry{TokenType: "default"}
	}
	out := &authEntry{
		ClientToken:   f.hmac(a.ClientToken),
		Accessor:      f.hmacAcc(a.Accessor),
		DisplayName:   a.DisplayName,
		Policies:      a.Policies,
		TokenPolicies: a.TokenPolicies,
		Metadata:      a.Metadata,
		NumUses:       a.NumUses,
		RemainingUses: a.RemainingUses,
		EntityID:      a.EntityID,
		TokenType:     a.TokenType,
		TokenTTL:      int64(a.TokenTTL / time.Second),
	}
	if out.TokenType == "" {
		out.TokenType = "default"
	}
	if !a.IssueTime.IsZero() {
		out.TokenIssueTime = a.IssueTime.Format(time.RFC3339)
	}
	if pr := a.PolicyResults; pr != nil {
		out.PolicyResults = &policyResultsJSON{Allowed: pr.Allowed}
		for _, p := range pr.GrantingPolicies {
			out.PolicyResults.GrantingPolicies = append(out.PolicyResults.GrantingPolicies,
				policyInfoJSON{Name: p.Name, NamespaceID: p.NamespaceID, Type: p.Type})
		}
	}
	return out
}

func mountInfo(in *LogInput) (typ, accessor string) {
	typ, accessor = in.MountType, in.MountAccessor
	if typ == "" {
		typ = in.Request.MountType
	}
	if accessor == "" {
		accessor = in.Request.MountAccessor
	}
	return typ, accessor
}

func (f *formatter) request(in *LogInput) *requestEntry {
	req := in.Request
	mt, ma := mountInfo(in)
	out := &requestEntry{
		ID:            req.ID,
		Operation:     string(req.Operation),
		MountPoint:    req.MountPoint,
		MountType:     mt,
		MountAccessor: ma,
		Namespace:     &namespaceEntry{ID: "root"},
		Path:          req.Path,
		Data:          hashData(req.Data, f.hashFn(), in.NonHMACRequestKeys),
		WrapTTL:       int(req.WrapTTL / time.Second),
	}
	token, acc := req.ClientToken, req.ClientTokenAccessor
	if token == "" && in.Auth != nil {
		token = in.Auth.ClientToken
	}
	if acc == "" && in.Auth != nil {
		acc = in.Auth.Accessor
	}
	out.ClientToken = f.hmac(token)
	out.ClientTokenAccessor = f.hmacAcc(acc)
	if req.Connection != nil {
		out.RemoteAddr, out.RemotePort = splitRemote(req.Connection.RemoteAddr)
	}
	if len(in.Headers) > 0 {
		out.Headers = f.headers(in.Headers, in.HMACHeaders)
	}
	return out
}

func splitRemote(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

func (f *formatter) headers(h map[string][]string, hmacNames []string) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, vals := range h {
		hashed := false
		for _, n := range hmacNames {
			if equalFoldASCII(n, k) {
				hashed = true
				break
			}
		}
		cp := make([]string, len(vals))
		for i, v := range vals {
			if hashed {
				v = f.hmac(v)
			}
			cp[i] = v
		}
		out[k] = cp
	}
	return out
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (f *formatter) response(in *LogInput) *responseEntry {
	mt, ma := mountInfo(in)
	out := &responseEntry{MountPoint: in.Request.MountPoint, MountType: mt, MountAccessor: ma}
	resp := in.Response
	if resp == nil {
		return out
	}
	out.Warnings = resp.Warnings
	if resp.Auth != nil {
		out.Auth = f.issuedAuth(resp.Auth)
	}
	if resp.Secret != nil {
		out.Secret = &secretEntry{LeaseID: resp.Secret.LeaseID}
	}
	data := resp.Data
	if resp.Raw != nil {
		status := resp.RawStatus
		if status == 0 {
			status = 200
		}
		data = map[string]interface{}{
			"http_content_type": resp.RawContentType,
			"http_raw_body":     string(resp.Raw),
			"http_status_code":  status,
		}
	}
	if data != nil {
		if f.opts.elideLists && in.Request.Operation == logical.ListOperation {
			// Elide on a shallow copy before hashing: the caller's map
			// stays untouched and elided lists are never hashed.
			cp := make(map[string]interface{}, len(data))
			for k, v := range data {
				cp[k] = v
			}
			elideList(cp)
			data = cp
		}
		out.Data = hashData(data, f.hashFn(), in.NonHMACResponseKeys)
	}
	if w := resp.WrapInfo; w != nil {
		out.WrapInfo = &wrapInfoEntry{
			TTL:             int(w.TTL / time.Second),
			Token:           f.hmac(w.Token),
			Accessor:        f.hmacAcc(w.Accessor),
			CreationPath:    w.CreationPath,
			WrappedAccessor: f.hmacAcc(w.WrappedAccessor),
		}
		if !w.CreationTime.IsZero() {
			out.WrapInfo.CreationTime = w.CreationTime.UTC().Format(time.RFC3339Nano)
		}
	}
	return out
}

// issuedAuth describes a token a login or token-create response issued.
func (f *formatter) issuedAuth(a *logical.Auth) *authEntry {
	out := &authEntry{
		ClientToken:   f.hmac(a.ClientToken),
		Accessor:      f.hmacAcc(a.Accessor),
		DisplayName:   a.DisplayName,
		Policies:      a.Policies,
		TokenPolicies: a.TokenPolicies,
		Metadata:      a.Metadata,
		NumUses:       a.NumUses,
		EntityID:      a.EntityID,
		TokenType:     a.TokenType,
		TokenTTL:      int64(a.TTL / time.Second),
	}
	if out.TokenType == "" {
		out.TokenType = "service"
	}
	if !a.IssueTime.IsZero() {
		out.TokenIssueTime = a.IssueTime.Format(time.RFC3339)
	}
	return out
}
