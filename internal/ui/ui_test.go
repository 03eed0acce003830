package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func testFS() fstest.MapFS {
	js := strings.Repeat("console.log('coffer');\n", 100)
	return fstest.MapFS{
		"index.html":          {Data: []byte(`<!doctype html><script type="module" src="/ui/assets/index-abc.js"></script>` + strings.Repeat(" ", 300))},
		"assets/index-abc.js": {Data: []byte(js)},
		"assets/tiny-abc.css": {Data: []byte("a{}")},
		"assets/logo-abc.png": {Data: []byte("\x89PNG")},
	}
}

func serve(h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerRoutes(t *testing.T) {
	h := newHandler(testFS())
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		ctype, cache, enc  string
		bodyHas            string
	}{
		{name: "root", method: "GET", path: "/ui/", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", bodyHas: "<!doctype html>"},
		{name: "client route", method: "GET", path: "/ui/leases", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", bodyHas: "index-abc.js"},
		{name: "nested client route", method: "GET", path: "/ui/secrets/database", status: 200, ctype: "text/html; charset=utf-8", bodyHas: "<!doctype html>"},
		{name: "index by name", method: "GET", path: "/ui/index.html", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache"},
		{name: "hashed js", method: "GET", path: "/ui/assets/index-abc.js", status: 200, ctype: "text/javascript; charset=utf-8", cache: "public, max-age=31536000, immutable", bodyHas: "console.log"},
		{name: "gzip", method: "GET", path: "/ui/assets/index-abc.js", hdr: map[string]string{"Accept-Encoding": "br, gzip;q=0.8"}, status: 200, ctype: "text/javascript; charset=utf-8", enc: "gzip", bodyHas: "console.log"},
		{name: "gzip refused", method: "GET", path: "/ui/assets/index-abc.js", hdr: map[string]string{"Accept-Encoding": "gzip;q=0"}, status: 200, enc: "", bodyHas: "console.log"},
		{name: "tiny css not compressed", method: "GET", path: "/ui/assets/tiny-abc.css", hdr: map[string]string{"Accept-Encoding": "gzip"}, status: 200, ctype: "text/css; charset=utf-8", enc: "", bodyHas: "a{}"},
		{name: "png", method: "GET", path: "/ui/assets/logo-abc.png", hdr: map[string]string{"Accept-Encoding": "gzip"}, status: 200, ctype: "image/png", enc: ""},
		{name: "missing asset", method: "GET", path: "/ui/assets/nope.js", status: 404},
		{name: "missing file with extension", method: "GET", path: "/ui/favicon.ico", status: 404},
		{name: "dot dot stays inside", method: "GET", path: "/ui/../../etc/passwd", status: 200, ctype: "text/html; charset=utf-8"},
		{name: "head", method: "HEAD", path: "/ui/assets/index-abc.js", status: 200, ctype: "text/javascript; charset=utf-8"},
		{name: "post", method: "POST", path: "/ui/", status: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, tt.method, tt.path, tt.hdr)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if tt.ctype != "" && rec.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tt.ctype)
			}
			if tt.cache != "" && rec.Header().Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", rec.Header().Get("Cache-Control"), tt.cache)
			}
			if got := rec.Header().Get("Content-Encoding"); got != tt.enc {
				t.Errorf("Content-Encoding %q, want %q", got, tt.enc)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Error("missing nosniff")
			}
			body := rec.Body.Bytes()
			if tt.method == "HEAD" {
				if len(body) != 0 {
					t.Errorf("HEAD sent %d bytes", len(body))
				}
				return
			}
			if tt.enc == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(string(body), tt.bodyHas) {
				t.Errorf("body %.80q lacks %q", body, tt.bodyHas)
			}
		})
	}
}

func TestHandlerETag(t *testing.T) {
	h := newHandler(testFS())
	for _, enc := range []string{"", "gzip"} {
		first := serve(h, "GET", "/ui/assets/index-abc.js", map[string]string{"Accept-Encoding": enc})
		etag := first.Header().Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		again := serve(h, "GET", "/ui/assets/index-abc.js", map[string]string{"Accept-Encoding": enc, "If-None-Match": `"x", ` + etag})
		if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("enc %q: revalidation gave %d with %d bytes", enc, again.Code, again.Body.Len())
		}
	}
	plain := serve(h, "GET", "/ui/assets/index-abc.js", nil).Header().Get("ETag")
	gz := serve(h, "GET", "/ui/assets/index-abc.js", map[string]string{"Accept-Encoding": "gzip"}).Header().Get("ETag")
	if plain == gz {
		t.Errorf("plain and gzip share ETag %s", plain)
	}
}

func TestIndexSecurityHeaders(t *testing.T) {
	rec := serve(newHandler(testFS()), "GET", "/ui/", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Error("index can be framed")
	}
}

func TestHandlerIf(t *testing.T) {
	if HandlerIf(false) != nil {
		t.Error("disabled console is served")
	}
	if HandlerIf(true) == nil {
		t.Error("enabled console is missing")
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false}, {"gzip", true}, {"GZIP", true}, {"deflate, gzip;q=1.0", true}, {"gzip;q=0", false},
		{"gzip; q=0.000", false}, {"gzip;q=0.5", true}, {"*", true}, {"br", false}, {"identity", false},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.header); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// The committed build must load in under 300 KB compressed: everything
// index.html references, as the server sends it gzipped.
func TestEmbeddedFirstLoadBudget(t *testing.T) {
	h := Handler()
	idx := serve(h, "GET", "/ui/", map[string]string{"Accept-Encoding": "gzip"})
	if idx.Code != 200 {
		t.Fatalf("index: %d", idx.Code)
	}
	total := idx.Body.Len()
	page := string(mustGunzip(t, idx))
	refs := regexp.MustCompile(`(?:src|href)="(/ui/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatalf("index references no assets:\n%s", page)
	}
	for _, m := range refs {
		rec := serve(h, "GET", m[1], map[string]string{"Accept-Encoding": "gzip"})
		if rec.Code != 200 {
			t.Fatalf("%s: %d", m[1], rec.Code)
		}
		total += rec.Body.Len()
		t.Logf("%s: %d bytes sent", m[1], rec.Body.Len())
	}
	t.Logf("first load: %d bytes compressed", total)
	if total > 300*1024 {
		t.Errorf("first load is %d bytes compressed, over the 300 KB budget", total)
	}
}

func mustGunzip(t *testing.T, rec *httptest.ResponseRecorder) []byte {
	t.Helper()
	if rec.Header().Get("Content-Encoding") != "gzip" {
		return rec.Body.Bytes()
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
