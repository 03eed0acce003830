// Package httpapi serves the Vault-compatible HTTP API: the sys endpoints
// that must answer while sealed, and every other /v1/ path through the
// core's request pipeline. It alone maps errors to HTTP status codes.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/coffer-dev/coffer/internal/core"
)

// DefaultMaxRequestSize is the body limit when none is configured (32 MiB).
const DefaultMaxRequestSize = 32 << 20

// Options configure the handler.
type Options struct {
	// MaxRequestSize limits request bodies; 0 = default, negative = none.
	MaxRequestSize int64
	Logger         *slog.Logger
	// Version is reported by seal-status and health ("1.17.0+coffer.0.1.0").
	Version   string
	BuildDate string
	// HAEnabled is reported by sys/leader (raft storage).
	HAEnabled bool
	// UnauthenticatedMetrics serves sys/metrics without a token.
	UnauthenticatedMetrics bool
	// UI serves /ui/ when set (the web console).
	UI http.Handler
	// Forward carries requests to the active node's cluster port; when
	// set, a standby forwards every request it does not answer itself.
	Forward http.RoundTripper
}

type handler struct {
	core  *core.Core
	opts  Options
	mux   *http.ServeMux
	proxy *httputil.ReverseProxy
	// fixed maps the exact paths registered on mux to their handlers, so
	// that most requests skip the mux's routing.
	fixed map[string]http.HandlerFunc
}

// New returns the API handler for a core.
func New(c *core.Core, opts Options) http.Handler {
	if opts.MaxRequestSize == 0 {
		opts.MaxRequestSize = DefaultMaxRequestSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &handler{core: c, opts: opts, mux: http.NewServeMux(), fixed: map[string]http.HandlerFunc{}}
	if opts.Forward != nil {
		h.proxy = newProxy(opts.Forward)
	}
	h.handle("/v1/sys/init", h.handleInit)
	h.handle("/v1/sys/seal-status", h.handleSealStatus)
	h.handle("/v1/sys/unseal", h.handleUnseal)
	h.handle("/v1/sys/seal", h.handleSeal)
	h.handle("/v1/sys/health", h.handleHealth)
	h.handle("/v1/sys/leader", h.handleLeader)
	h.handle("/v1/sys/generate-root/attempt", h.handleRootGenAttempt)
	h.handle("/v1/sys/generate-root/update", h.handleRootGenUpdate)
	h.handle("/v1/sys/rekey/init", h.handleRekeyInit)
	h.handle("/v1/sys/rekey/update", h.handleRekeyUpdate)
	h.handle("/v1/sys/storage/raft/join", h.handleRaftJoin)
	if opts.UnauthenticatedMetrics {
		h.handle("/v1/sys/metrics", h.handleMetrics)
	}
	h.mux.HandleFunc("/v1/", h.handleLogical)
	return h
}

// handle registers fn for exactly path.
func (h *handler) handle(path string, fn http.HandlerFunc) {
	h.mux.HandleFunc(path, fn)
	h.fixed[path] = fn
}

// ServeHTTP checks the path before the mux sees it: the mux would
// otherwise redirect "..", which clients must get as a 400.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		if h.opts.UI != nil && strings.HasPrefix(r.URL.Path, "/ui/") {
			h.opts.UI.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/" || r.URL.Path == "/ui" {
			http.Redirect(w, r, "/ui/", http.StatusTemporaryRedirect)
			return
		}
		respondErrorStatus(w, http.StatusNotFound)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	if err := validPath(path); err != nil {
		respondError(w, err)
		return
	}
	if h.opts.MaxRequestSize > 0 && r.Body != nil && r.Body != http.NoBody && !isSnapshotUpload(r) {
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxRequestSize)
	}
	if h.forwardIfStandby(w, r, path) {
		return
	}
	if r.URL.RawPath == "" {
		// validPath leaves only clean paths, which the mux would route
		// to their exact pattern or else to "/v1/"; escaped paths are
		// matched by the mux as they are.
		if fn := h.fixed[r.URL.Path]; fn != nil {
			fn(w, r)
		} else {
			h.handleLogical(w, r)
		}
		return
	}
	h.mux.ServeHTTP(w, r)
}

// handleMetrics serves sys/metrics without a token (the listener's
// telemetry { unauthenticated_metrics_access = true }).
func (h *handler) handleMetrics(w http.ResponseWriter, r *http.Request) {
	body, ct, err := h.core.MetricsOutput(r.URL.Query().Get("format"), r.Header["Accept"])
	if err != nil {
		respondError(w, err)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
