package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const maxProxyBody = 32 << 20

// hopHeaders are not forwarded in either direction.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}

// proxy forwards client requests to the server. It adds the auto-auth
// token when the client sends none (use_auto_auth_token = true) or always
// ("force"), and with a cache it answers repeated leased requests from
// the cache.
type proxy struct {
	target *url.URL
	client *http.Client
	tokens *tokenState // nil without auto_auth
	mode   string      // "", "true" or "force"
	cache  *leaseCache // nil without a cache block
	denied func(token string)
	logger *slog.Logger
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/agent/v1/cache-clear" {
		p.cacheClear(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxProxyBody))
	if err != nil {
		proxyError(w, http.StatusRequestEntityTooLarge, "request body too large or unreadable")
		return
	}
	token := requestToken(r.Header)
	injected := false
	if p.tokens != nil && (p.mode == "force" || (p.mode == "true" && token == "")) {
		tok, _, ok := p.tokens.wait(r.Context())
		if !ok {
			return
		}
		token, injected = tok, true
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	key := ""
	if p.cache != nil && (r.Method == http.MethodGet || r.Method == http.MethodPut || r.Method == http.MethodPost) {
		key = cacheKey(r.Method, r.URL.Path, r.URL.RawQuery, body, token)
		if e := p.cache.get(key); e != nil {
			p.logger.Debug("proxy: cache hit", "path", path)
			writeResponse(w, e.status, e.header, e.body)
			return
		}
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target.String()+r.URL.EscapedPath(), bytes.NewReader(body))
	if err != nil {
		proxyError(w, http.StatusBadRequest, err.Error())
		return
	}
	out.URL.RawQuery = r.URL.RawQuery
	copyHeaders(out.Header, r.Header)
	if injected {
		out.Header.Del("Authorization")
		out.Header.Set("X-Vault-Token", token)
	}
	resp, err := p.client.Do(out)
	if err != nil {
		if r.Context().Err() == nil {
			p.logger.Warn("proxy: forwarding failed", "path", path, "error", err)
		}
		proxyError(w, http.StatusBadGateway, "error forwarding the request to the server: "+err.Error())
		return
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		proxyError(w, http.StatusBadGateway, "error reading the server's response: "+err.Error())
		return
	}
	if injected && resp.StatusCode == http.StatusForbidden && p.denied != nil {
		p.denied(token)
	}
	if p.cache != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		p.cache.observe(path, token, body, respBody)
		if key != "" && p.cache.store(key, path, token, resp.StatusCode, resp.Header, respBody) {
			p.logger.Debug("proxy: cached a leased response", "path", path)
		}
	}
	writeResponse(w, resp.StatusCode, resp.Header, respBody)
}

// requestToken finds the client's token in X-Vault-Token or a bearer
// Authorization header.
func requestToken(h http.Header) string {
	if t := h.Get("X-Vault-Token"); t != "" {
		return t
	}
	if v, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(v)
	}
	return ""
}

func copyHeaders(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
	for _, h := range hopHeaders {
		dst.Del(h)
	}
}

func writeResponse(w http.ResponseWriter, status int, header http.Header, body []byte) {
	copyHeaders(w.Header(), header)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func proxyError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
}

// cacheClear serves /agent/v1/cache-clear: {"type": "all" | "lease" |
// "token" | "request_path", "value": "..."}.
func (p *proxy) cacheClear(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		proxyError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if p.cache == nil {
		proxyError(w, http.StatusBadRequest, "caching is not enabled; add a cache {} block")
		return
	}
	var req struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		proxyError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	switch req.Type {
	case "all":
		p.cache.evict(func(*cacheEntry) bool { return true })
	case "lease":
		p.cache.evictLease(req.Value)
	case "token":
		p.cache.evictToken(req.Value)
	case "request_path":
		p.cache.evictPath(strings.TrimPrefix(strings.TrimPrefix(req.Value, "/"), "v1/"))
	default:
		proxyError(w, http.StatusBadRequest, `type must be one of all, lease, token, request_path`)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// requireRequestHeader refuses requests without X-Vault-Request: true,
// a guard against requests forged by web pages.
func requireRequestHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Vault-Request") != "true" {
			proxyError(w, http.StatusPreconditionFailed, "missing 'X-Vault-Request' header")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// listen opens a listener block's socket.
func listen(l *Listener) (net.Listener, error) {
	var ln net.Listener
	var err error
	if l.Type == "unix" {
		_ = os.Remove(l.Address)
		ln, err = net.Listen("unix", l.Address)
	} else {
		ln, err = net.Listen("tcp", l.Address)
	}
	if err != nil {
		return nil, fmt.Errorf("listener %q %s: %w", l.Type, l.Address, err)
	}
	if l.Type == "tcp" && !l.TLSDisable {
		cert, err := tls.LoadX509KeyPair(l.TLSCertFile, l.TLSKeyFile)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("listener %q %s: %w", l.Type, l.Address, err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	return ln, nil
}

// serveProxy serves one listener until ctx ends.
func serveProxy(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("proxy listener %s: %w", ln.Addr(), err)
	}
}
