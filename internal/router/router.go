// Package router holds the mount table entries in memory and routes a
// request path to the backend mounted at its longest matching prefix.
package router

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Table names.
const (
	TableMounts = "mounts"
	TableAuth   = "auth"
)

// MountConfig holds a mount's tunable settings.
type MountConfig struct {
	DefaultLeaseTTL   time.Duration `json:"default_lease_ttl"`
	MaxLeaseTTL       time.Duration `json:"max_lease_ttl"`
	ListingVisibility string        `json:"listing_visibility,omitempty"`
	ForceNoCache      bool          `json:"force_no_cache,omitempty"`
}

// MountEntry describes one mounted engine or auth method.
type MountEntry struct {
	Table       string            `json:"table"`
	Path        string            `json:"path"` // "secret/"; auth entries without "auth/"
	Type        string            `json:"type"`
	Description string            `json:"description"`
	UUID        string            `json:"uuid"`
	Accessor    string            `json:"accessor"`
	Config      MountConfig       `json:"config"`
	Options     map[string]string `json:"options,omitempty"`
	Local       bool              `json:"local,omitempty"`
	SealWrap    bool              `json:"seal_wrap,omitempty"`
}

// RoutePath is the path requests use to reach the mount ("auth/x/" for
// auth methods).
func (m *MountEntry) RoutePath() string {
	if m.Table == TableAuth {
		return "auth/" + m.Path
	}
	return m.Path
}

// Clone returns a deep copy.
func (m *MountEntry) Clone() *MountEntry {
	c := *m
	if m.Options != nil {
		c.Options = make(map[string]string, len(m.Options))
		for k, v := range m.Options {
			c.Options[k] = v
		}
	}
	return &c
}

// Route is one mounted backend.
type Route struct {
	Entry   *MountEntry
	Backend logical.Backend
	Storage logical.Storage
	special *specialPaths
}

// Router maps path prefixes to routes.
type Router struct {
	mu     sync.RWMutex
	routes map[string]*Route // keyed by route path, with trailing "/"
}

// New returns an empty router.
func New() *Router { return &Router{routes: map[string]*Route{}} }

// Mount adds a route. Nested mounts (one prefix inside another) are refused.
func (r *Router) Mount(e *MountEntry, b logical.Backend, s logical.Storage) error {
	p := e.RoutePath()
	r.mu.Lock()
	defer r.mu.Unlock()
	for existing := range r.routes {
		if strings.HasPrefix(p, existing) || strings.HasPrefix(existing, p) {
			return logical.InvalidRequest("path is already in use at %s", existing)
		}
	}
	r.routes[p] = &Route{Entry: e, Backend: b, Storage: s, special: compileSpecial(b.SpecialPaths())}
	return nil
}

// Unmount removes the route at prefix and returns it.
func (r *Router) Unmount(prefix string) *Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	rt := r.routes[prefix]
	delete(r.routes, prefix)
	return rt
}

// Reset drops every route.
func (r *Router) Reset() []*Route {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Route, 0, len(r.routes))
	for _, rt := range r.routes {
		out = append(out, rt)
	}
	r.routes = map[string]*Route{}
	return out
}

// Match returns the route for a request path and the path relative to
// the mount. A path naming the mount without its trailing slash matches
// with an empty relative path.
func (r *Router) Match(path string) (*Route, string) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if rt, ok := r.routes[path+"/"]; ok && !strings.HasSuffix(path, "/") {
		return rt, ""
	}
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] != '/' {
			continue
		}
		if rt, ok := r.routes[path[:i+1]]; ok {
			return rt, path[i+1:]
		}
	}
	return nil, ""
}

// Get returns the route mounted exactly at prefix.
func (r *Router) Get(prefix string) *Route {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.routes[prefix]
}

// Routes lists all routes sorted by path.
func (r *Router) Routes() []*Route {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Route, 0, len(r.routes))
	for _, rt := range r.routes {
		out = append(out, rt)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Entry.RoutePath() < out[j].Entry.RoutePath() })
	return out
}

// IsUnauthenticated reports whether the relative path is served without a token.
func (rt *Route) IsUnauthenticated(rel string) bool { return rt.special.unauth.match(rel) }

// IsRootPath reports whether the relative path needs sudo.
func (rt *Route) IsRootPath(rel string) bool { return rt.special.root.match(rel) }

type pathSet struct {
	exact    map[string]bool
	prefixes []string
	// segments holds patterns with "+" segments (one path segment each),
	// optionally ending in "*".
	segments [][]string
}

func (s pathSet) match(p string) bool {
	if s.exact[p] {
		return true
	}
	for _, pre := range s.prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	for _, pat := range s.segments {
		if matchSegments(pat, p) {
			return true
		}
	}
	return false
}

// matchSegments matches a path against a pattern split on "/", where a
// "+" segment stands for any one segment and a final segment ending in
// "*" is a prefix.
func matchSegments(pat []string, p string) bool {
	parts := strings.Split(p, "/")
	for i, seg := range pat {
		last := i == len(pat)-1
		if last && strings.HasSuffix(seg, "*") {
			if i >= len(parts) {
				return false
			}
			return strings.HasPrefix(strings.Join(parts[i:], "/"), strings.TrimSuffix(seg, "*"))
		}
		if i >= len(parts) || (seg != "+" && seg != parts[i]) {
			return false
		}
	}
	return len(parts) == len(pat)
}

type specialPaths struct{ unauth, root pathSet }

func compileSpecial(p *logical.Paths) *specialPaths {
	sp := &specialPaths{}
	if p == nil {
		return sp
	}
	sp.unauth = compileSet(p.Unauthenticated)
	sp.root = compileSet(p.Root)
	return sp
}

func compileSet(paths []string) pathSet {
	s := pathSet{exact: map[string]bool{}}
	for _, p := range paths {
		if strings.Contains(p, "+") {
			s.segments = append(s.segments, strings.Split(p, "/"))
			continue
		}
		if strings.HasSuffix(p, "*") {
			s.prefixes = append(s.prefixes, strings.TrimSuffix(p, "*"))
		} else {
			s.exact[p] = true
		}
	}
	return s
}

// ValidateMountPath normalises a user-supplied mount path: trailing slash
// added, no leading slash, no "..", no empty segments.
func ValidateMountPath(p string) (string, error) {
	p = strings.TrimPrefix(strings.TrimSpace(p), "/")
	if p == "" {
		return "", logical.InvalidRequest("mount path cannot be empty")
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", logical.InvalidRequest("invalid mount path %q: empty, \".\" and \"..\" segments are not allowed", p)
		}
	}
	if strings.ContainsAny(p, "*+ \t\n") {
		return "", logical.InvalidRequest("invalid mount path %q: '*', '+' and white space are not allowed", p)
	}
	return p, nil
}

// String is for logs.
func (m *MountEntry) String() string { return fmt.Sprintf("%s (%s)", m.RoutePath(), m.Type) }
