package framework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// echoBackend answers every path with the fields it decoded.
func echoBackend(paths ...*Path) *Backend {
	echo := func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error) {
		data := map[string]interface{}{}
		for k := range d.Schema {
			if v, ok := d.GetOk(k); ok {
				data[k] = v
			}
		}
		return &logical.Response{Data: data}, nil
	}
	for _, p := range paths {
		p.Ops = Ops{logical.ReadOperation: echo, logical.UpdateOperation: echo}
	}
	return &Backend{Paths: paths}
}

func TestRouteCacheKeepsRequestsApart(t *testing.T) {
	b := echoBackend(
		&Path{Pattern: "keys/" + GenericNameRegex("name"), Fields: Fields{"name": {Type: TypeString}}},
		&Path{Pattern: "keys/" + GenericNameRegex("name") + "/config", Fields: Fields{"name": {Type: TypeString}, "ttl": {Type: TypeDurationSecond}}},
		&Path{Pattern: "data/" + MatchAllRegex("path"), Fields: Fields{"path": {Type: TypeString}}},
	)
	ctx := context.Background()
	read := func(path string) map[string]interface{} {
		t.Helper()
		resp, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: path})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.Data
	}
	// More distinct paths than the cache holds, each read twice, and one
	// longer than the cache keeps.
	long := "data/" + strings.Repeat("x", 2*maxCachedPath)
	for round := 0; round < 2; round++ {
		for i := 0; i < 3*routeCacheSize; i++ {
			name := fmt.Sprintf("k%d", i)
			if got := read("keys/" + name); got["name"] != name || len(got) != 1 {
				t.Fatalf("keys/%s = %v", name, got)
			}
			if got := read("keys/" + name + "/config"); got["name"] != name || len(got) != 1 {
				t.Fatalf("keys/%s/config = %v", name, got)
			}
			if got := read("data/a/" + name); got["path"] != "a/"+name {
				t.Fatalf("data/a/%s = %v", name, got)
			}
		}
		if got := read(long); got["path"] != long[len("data/"):] {
			t.Fatalf("long path routed to %v", got)
		}
		// An empty capture is no capture.
		if got := read("data/"); len(got) != 0 {
			t.Fatalf("data/ = %v", got)
		}
	}
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: "keys/"}); !errors.Is(err, logical.ErrUnsupportedPath) {
		t.Fatalf("unmatched path: %v", err)
	}
}

func TestRouteMatchIsCached(t *testing.T) {
	b := echoBackend(&Path{Pattern: "keys/" + GenericNameRegex("name"), Fields: Fields{"name": {Type: TypeString}}})
	first := b.route("keys/a")
	if first == nil || b.route("keys/a") != first {
		t.Fatal("a repeated path was routed again")
	}
	if allocs := testing.AllocsPerRun(100, func() { b.route("keys/a") }); allocs != 0 {
		t.Fatalf("a cached route allocates %v times", allocs)
	}
	if b.route("keys/b") == first || b.route("keys/b").caps[0].value != "b" {
		t.Fatal("another path got the cached match")
	}
}

func TestLiteralPrefix(t *testing.T) {
	for expr, want := range map[string]string{
		"^encrypt/" + GenericNameRegex("name") + "$": "encrypt/",
		"^keys/?$":                     "keys",
		"^config/keys$":                "config/keys",
		"^" + MatchAllRegex("p") + "$": "",
		"^ab|ac$":                      "", // (^ab)|(ac$): "xac" matches
		"^(?i)abc$":                    "",
		"^(?P<a>x)y$":                  "",
	} {
		if got := literalPrefix(expr); got != want {
			t.Errorf("literalPrefix(%q) = %q, want %q", expr, got, want)
		}
	}
	// Patterns without a usable prefix still route as before.
	b := echoBackend(&Path{Pattern: "ab|ac"}, &Path{Pattern: "(?i)upper"})
	for _, path := range []string{"ab", "xac", "UPPER", "Upper"} {
		if _, err := b.HandleRequest(context.Background(), &logical.Request{Operation: logical.ReadOperation, Path: path}); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestCapturesAndBody(t *testing.T) {
	var seen *FieldData
	b := &Backend{Paths: []*Path{
		{
			Pattern: "roles/" + GenericNameRegex("name"),
			Fields:  Fields{"name": {Type: TypeString}, "ttl": {Type: TypeDurationSecond}},
		},
		{Pattern: "login", Fields: Fields{"role_id": {Type: TypeString, Required: true}, "secret_id": {Type: TypeString, Required: true}}},
	}}
	op := func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error) {
		seen = d
		return nil, nil
	}
	for _, p := range b.Paths {
		p.Ops = Ops{logical.UpdateOperation: op}
	}
	ctx := context.Background()

	// A capture wins over a body field of the same name, and the
	// request's own data is left as it was.
	data := map[string]interface{}{"name": "body", "ttl": json.Number("90")}
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "roles/web", Data: data}); err != nil {
		t.Fatal(err)
	}
	if seen.Get("name") != "web" || seen.Raw["name"] != "web" || seen.Get("ttl") != 90 {
		t.Fatalf("decoded name %v ttl %v", seen.Get("name"), seen.Get("ttl"))
	}
	if data["name"] != "body" || len(data) != 2 {
		t.Fatalf("request data changed: %v", data)
	}

	// Without captures the body is read as sent.
	login := map[string]interface{}{"role_id": "r", "secret_id": "s"}
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "login", Data: login}); err != nil {
		t.Fatal(err)
	}
	if seen.String("role_id") != "r" || seen.String("secret_id") != "s" {
		t.Fatalf("login fields: %v", seen.Raw)
	}
	// Missing required fields are named in order.
	_, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "login"})
	if !errors.Is(err, logical.ErrInvalidRequest) || !strings.Contains(err.Error(), `missing required field "role_id"`) {
		t.Fatalf("missing fields: %v", err)
	}
}

func TestRouteCacheConcurrent(t *testing.T) {
	b := echoBackend(&Path{Pattern: "keys/" + GenericNameRegex("name"), Fields: Fields{"name": {Type: TypeString}}})
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func(w int) {
			for i := 0; i < 500; i++ {
				name := fmt.Sprintf("k%d", (i*7+w)%(2*routeCacheSize))
				resp, err := b.HandleRequest(context.Background(), &logical.Request{Operation: logical.ReadOperation, Path: "keys/" + name})
				if err == nil && resp.Data["name"] != name {
					err = fmt.Errorf("keys/%s read as %v", name, resp.Data["name"])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
