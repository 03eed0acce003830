package httpapi_test

import (
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/coffer-dev/coffer/internal/httpapi"
	"github.com/coffer-dev/coffer/internal/testserver"
)

// The handler routes clean paths itself; it must answer as its mux does.
func TestRoutingMatchesMux(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	h := httpapi.New(s.Server.Core, httpapi.Options{Version: "1.17.0", UnauthenticatedMetrics: true})
	mux := httpapi.MuxOf(h)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/sys/seal-status"}, {"GET", "/v1/sys/health"}, {"GET", "/v1/sys/leader"}, {"GET", "/v1/sys/init"},
		{"POST", "/v1/sys/seal-status"}, {"GET", "/v1/sys/seal-status/"}, {"GET", "/v1/sys/mounts"},
		{"GET", "/v1/secret/data/missing"}, {"LIST", "/v1/secret/metadata/"}, {"GET", "/v1/sys/rekey/init"},
		{"GET", "/v1/sys/Seal-Status"}, {"GET", "/v1/sys/sealstatus"}, {"GET", "/v1/sys/seal"},
		{"GET", "/v1/sys/generate-root/attempt"}, {"GET", "/v1/nonexistent/path"},
	} {
		for _, tok := range []string{"", s.RootToken} {
			r1 := httptest.NewRequest(tc.method, tc.path, nil)
			r2 := httptest.NewRequest(tc.method, tc.path, nil)
			if tok != "" {
				r1.Header.Set("X-Vault-Token", tok)
				r2.Header.Set("X-Vault-Token", tok)
			}
			w1, w2 := httptest.NewRecorder(), httptest.NewRecorder()
			h.ServeHTTP(w1, r1)
			mux.ServeHTTP(w2, r2)
			if w1.Code != w2.Code || !sameBody(w1.Body.String(), w2.Body.String()) {
				t.Errorf("%s %s (token %v): handler %d %s, mux %d %s", tc.method, tc.path, tok != "", w1.Code, w1.Body, w2.Code, w2.Body)
			}
		}
	}
}

// volatile matches the parts of a body that differ between two requests.
var volatile = regexp.MustCompile(`"(request_id|server_time_utc)":("[^"]*"|[0-9]+)`)

func sameBody(a, b string) bool {
	return volatile.ReplaceAllString(a, "") == volatile.ReplaceAllString(b, "")
}
