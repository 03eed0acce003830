package ui_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/testserver"
)

// The server serves the console only when the config enables it.
func TestConsoleServedByServer(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, url string) (int, http.Header, string) {
		t.Helper()
		resp, err := noRedirect.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	tests := []struct {
		name    string
		ui      bool
		path    string
		status  int
		bodyHas string
	}{
		{"enabled index", true, "/ui/", 200, `<div id="app">`},
		{"enabled client route", true, "/ui/leases", 200, `<div id="app">`},
		{"enabled redirect", true, "/ui", 307, ""},
		{"enabled root redirect", true, "/", 307, ""},
		{"enabled missing asset", true, "/ui/assets/missing.js", 404, ""},
		{"enabled api still answers", true, "/v1/sys/health", 200, `"initialized":true`},
		{"disabled", false, "/ui/", 404, ""},
		{"disabled client route", false, "/ui/leases", 404, ""},
	}
	servers := map[bool]*testserver.Server{
		true:  testserver.Start(t, testserver.Options{NoTLS: true, UI: true}),
		false: testserver.Start(t, testserver.Options{NoTLS: true}),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := servers[tt.ui]
			status, hdr, body := get(t, s.Addr+tt.path)
			if status != tt.status {
				t.Fatalf("GET %s: %d, want %d", tt.path, status, tt.status)
			}
			if !strings.Contains(body, tt.bodyHas) {
				t.Errorf("GET %s: body lacks %q", tt.path, tt.bodyHas)
			}
			if status == 307 && hdr.Get("Location") != "/ui/" {
				t.Errorf("redirect to %q", hdr.Get("Location"))
			}
		})
	}
}
