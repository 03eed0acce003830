package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// depKind is how a template dependency is fetched.
type depKind int

const (
	depRead depKind = iota
	depWrite
	depList
)

func (k depKind) String() string {
	return [...]string{"read", "write", "list"}[k]
}

// source is the server as templates see it.
type source interface {
	Read(ctx context.Context, path string) (*api.Secret, error)
	Write(ctx context.Context, path string, data map[string]interface{}) (*api.Secret, error)
	List(ctx context.Context, path string) (*api.Secret, error)
	Renew(ctx context.Context, leaseID string, increment int) (*api.Secret, error)
	// KVVersion returns the mount path and KV version (1 or 2) of path,
	// or version 0 when path is not on a KV mount or cannot be checked.
	KVVersion(ctx context.Context, path string) (mount string, version int)
}

// dep is one secret that templates use, with when to look at it again.
type dep struct {
	kind    depKind
	path    string
	data    map[string]interface{}
	secret  *api.Secret
	next    time.Time
	lease   time.Duration // the lease duration to ask for on renewal
	renew   bool          // renew at next, rather than fetch again
	used    bool          // referenced by the current render pass
	fetches int
}

// deps is the dependency store: it fetches each secret once, serves it
// to every template, and refreshes it on its own schedule. Leased
// secrets are renewed at threshold (about 2/3) of their lease while the
// server extends them, and fetched anew when it stops (max TTL) or the
// lease is not renewable; certificates are fetched anew at threshold of
// their validity; other secrets are read again every static interval.
// It is used from the renderer's goroutine only.
type deps struct {
	src       source
	static    time.Duration
	threshold float64
	logger    *slog.Logger
	now       func() time.Time
	m         map[string]*dep
	kvMounts  map[string]string // path -> rewritten path
}

func newDeps(src source, static time.Duration, threshold float64, logger *slog.Logger) *deps {
	return &deps{src: src, static: static, threshold: threshold, logger: logger, now: time.Now,
		m: map[string]*dep{}, kvMounts: map[string]string{}}
}

func depKey(kind depKind, path string, data map[string]interface{}) string {
	var b strings.Builder
	b.WriteString(kind.String())
	b.WriteByte(' ')
	b.WriteString(path)
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, data[k])
	}
	return b.String()
}

// get returns the cached secret, fetching it first when it is new.
func (ds *deps) get(ctx context.Context, kind depKind, path string, data map[string]interface{}) (*api.Secret, error) {
	path = strings.Trim(path, "/")
	key := depKey(kind, path, data)
	d, ok := ds.m[key]
	if ok && d.secret != nil {
		d.used = true
		return d.secret, nil
	}
	if !ok {
		d = &dep{kind: kind, path: path, data: data}
	}
	s, err := ds.fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	d.used = true
	ds.m[key] = d
	ds.store(d, s)
	return s, nil
}

// fetch asks the server for a dependency.
func (ds *deps) fetch(ctx context.Context, d *dep) (*api.Secret, error) {
	var s *api.Secret
	var err error
	switch d.kind {
	case depRead:
		s, err = ds.src.Read(ctx, ds.kvPath(ctx, d.path))
	case depWrite:
		s, err = ds.src.Write(ctx, d.path, d.data)
	case depList:
		s, err = ds.src.List(ctx, d.path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", d.kind, d.path, err)
	}
	if s == nil {
		if d.kind == depList {
			return &api.Secret{Data: map[string]interface{}{"keys": []interface{}{}}}, nil
		}
		return nil, fmt.Errorf("%s %s: no secret exists at this path", d.kind, d.path)
	}
	d.fetches++
	return s, nil
}

// kvPath inserts "data/" into a read of a KV version 2 secret written
// without it ("secret/app" reads "secret/data/app"), as consul-template
// does.
func (ds *deps) kvPath(ctx context.Context, path string) string {
	if p, ok := ds.kvMounts[path]; ok {
		return p
	}
	out := path
	if mount, version := ds.src.KVVersion(ctx, path); version == 2 && strings.HasPrefix(path, mount) {
		rest := strings.TrimPrefix(path, mount)
		if !strings.HasPrefix(rest, "data/") && !strings.HasPrefix(rest, "metadata/") {
			out = mount + "data/" + rest
		}
	}
	ds.kvMounts[path] = out
	return out
}

// store records a fresh secret and schedules its next refresh.
func (ds *deps) store(d *dep, s *api.Secret) {
	now := ds.now()
	d.secret = s
	d.renew = false
	switch {
	case s.LeaseID != "" && s.LeaseDuration > 0:
		d.lease = time.Duration(s.LeaseDuration) * time.Second
		d.renew = s.Renewable
		d.next = now.Add(ds.fraction(d.lease))
	case certValidity(s) != nil:
		c := certValidity(s)
		d.next = c.NotBefore.Add(ds.fraction(c.NotAfter.Sub(c.NotBefore)))
		if d.next.Before(now) {
			d.next = now.Add(time.Second)
		}
	case s.Auth != nil && s.Auth.LeaseDuration > 0:
		d.next = now.Add(ds.fraction(time.Duration(s.Auth.LeaseDuration) * time.Second))
	default:
		d.next = now.Add(ds.static)
	}
}

func (ds *deps) fraction(d time.Duration) time.Duration {
	return time.Duration(float64(d) * ds.threshold)
}

type certTimes struct{ NotBefore, NotAfter time.Time }

// certValidity finds a certificate in a secret's data, best effort.
func certValidity(s *api.Secret) *certTimes {
	pemText, _ := s.Data["certificate"].(string)
	if pemText == "" {
		return nil
	}
	c := parseCert(pemText)
	if c == nil {
		return nil
	}
	return &certTimes{NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// nextDue is the earliest refresh time, or zero when nothing is cached.
func (ds *deps) nextDue() time.Time {
	var t time.Time
	for _, d := range ds.m {
		if d.secret != nil && (t.IsZero() || d.next.Before(t)) {
			t = d.next
		}
	}
	return t
}

// refreshDue renews or fetches every dependency whose time has come and
// reports whether any secret's contents changed. Failures keep the old
// secret and retry after retryAfter.
func (ds *deps) refreshDue(ctx context.Context, retryAfter time.Duration) bool {
	changed := false
	now := ds.now()
	for _, d := range ds.m {
		if d.secret == nil || d.next.After(now) {
			continue
		}
		if d.renew && ds.renew(ctx, d) {
			continue
		}
		s, err := ds.fetch(ctx, d)
		if err != nil {
			ds.logger.Warn("template dependency refresh failed; keeping the previous value", "dependency", d.kind.String()+" "+d.path, "error", err)
			d.next = ds.now().Add(retryAfter)
			continue
		}
		if !sameSecret(d.secret, s) {
			changed = true
		}
		ds.store(d, s)
	}
	return changed
}

// renew extends a dependency's lease. It reports false when the secret
// must be fetched anew now.
func (ds *deps) renew(ctx context.Context, d *dep) bool {
	asked := int(d.lease / time.Second)
	r, err := ds.src.Renew(ctx, d.secret.LeaseID, asked)
	if err != nil || r == nil {
		ds.logger.Info("lease renewal failed; fetching a new secret", "path", d.path, "error", err)
		return false
	}
	got := time.Duration(r.LeaseDuration) * time.Second
	if got <= 0 {
		return false
	}
	if r.LeaseDuration < asked || !r.Renewable {
		// The lease reached its max TTL: fetch new credentials before
		// the remaining time runs out.
		d.renew = false
		ds.logger.Debug("lease capped by its max TTL; a new secret will be fetched", "path", d.path, "remaining", got)
	}
	d.next = ds.now().Add(ds.fraction(got))
	return true
}

// sameSecret reports whether a refetch returned the same contents.
func sameSecret(a, b *api.Secret) bool {
	return a.LeaseID == b.LeaseID && reflect.DeepEqual(a.Data, b.Data)
}

// startPass marks every dependency unused before a render pass.
func (ds *deps) startPass() {
	for _, d := range ds.m {
		d.used = false
	}
}

// dropUnused forgets dependencies no template referenced in the last
// complete pass.
func (ds *deps) dropUnused() {
	for k, d := range ds.m {
		if !d.used {
			delete(ds.m, k)
		}
	}
}

// reset forgets everything, after the token changed.
func (ds *deps) reset() {
	ds.m = map[string]*dep{}
}

// expireStatic makes every dependency without a lease due now.
func (ds *deps) expireStatic() {
	now := ds.now()
	for _, d := range ds.m {
		if d.secret != nil && d.secret.LeaseID == "" {
			d.next = now
		}
	}
}

// apiSource is the server reached through a vault/api client.
type apiSource struct {
	client *api.Client
	// denied is told about permission failures, so that auto-auth can
	// check whether its token is still valid.
	denied func(token string)
}

func (a *apiSource) report(err error) error {
	var re *api.ResponseError
	if a.denied != nil && errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
		a.denied(a.client.Token())
	}
	return err
}

func (a *apiSource) Read(ctx context.Context, path string) (*api.Secret, error) {
	s, err := a.client.Logical().ReadWithContext(ctx, path)
	return s, a.report(err)
}

func (a *apiSource) Write(ctx context.Context, path string, data map[string]interface{}) (*api.Secret, error) {
	s, err := a.client.Logical().WriteWithContext(ctx, path, data)
	return s, a.report(err)
}

func (a *apiSource) List(ctx context.Context, path string) (*api.Secret, error) {
	s, err := a.client.Logical().ListWithContext(ctx, path)
	return s, a.report(err)
}

func (a *apiSource) Renew(ctx context.Context, leaseID string, increment int) (*api.Secret, error) {
	s, err := a.client.Sys().RenewWithContext(ctx, leaseID, increment)
	return s, a.report(err)
}

func (a *apiSource) KVVersion(ctx context.Context, path string) (string, int) {
	r := a.client.NewRequest(http.MethodGet, "/v1/sys/internal/ui/mounts/"+path)
	resp, err := a.client.RawRequestWithContext(ctx, r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return "", 0
	}
	var body struct {
		Data struct {
			Path    string            `json:"path"`
			Type    string            `json:"type"`
			Options map[string]string `json:"options"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Data.Type != "kv" {
		return "", 0
	}
	if body.Data.Options["version"] == "2" {
		return body.Data.Path, 2
	}
	return body.Data.Path, 1
}
