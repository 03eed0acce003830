package framework

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func testBackend(calls *[]string) *Backend {
	rec := func(name string) OperationFunc {
		return func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error) {
			*calls = append(*calls, name)
			data := map[string]interface{}{}
			for _, f := range []string{"name", "ttl"} {
				if _, ok := d.Schema[f]; ok {
					data[f] = d.Get(f)
				}
			}
			return &logical.Response{Data: data}, nil
		}
	}
	return &Backend{
		Paths: []*Path{
			{
				Pattern: "roles/" + GenericNameRegex("name"),
				Fields: Fields{
					"name": {Type: TypeString},
					"ttl":  {Type: TypeDurationSecond, Default: 60},
					"mode": {Type: TypeString, AllowedValues: []interface{}{"a", "b"}},
					"req":  {Type: TypeString},
				},
				Ops: Ops{logical.ReadOperation: rec("read"), logical.UpdateOperation: rec("update"), logical.CreateOperation: rec("create")},
				Exists: func(ctx context.Context, req *logical.Request, d *FieldData) (bool, error) {
					return d.Get("name") == "existing", nil
				},
			},
			{
				Pattern: "roles/?",
				Ops:     Ops{logical.ListOperation: rec("list")},
			},
			{
				Pattern: "creds/" + GenericNameRegex("name"),
				Fields:  Fields{"name": {Type: TypeString, Required: true}},
				Ops:     Ops{logical.ReadOperation: rec("creds")},
			},
		},
		Secrets: []*Secret{{
			Type: "creds",
			Renew: func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error) {
				*calls = append(*calls, "renew:"+req.Secret.InternalData["user"].(string))
				return &logical.Response{Secret: req.Secret}, nil
			},
			Revoke: func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error) {
				*calls = append(*calls, "revoke:"+req.Secret.InternalData["user"].(string))
				return nil, nil
			},
		}},
	}
}

func TestRoutingAndFields(t *testing.T) {
	var calls []string
	b := testBackend(&calls)
	TestPaths(t, b.Paths)
	ctx := context.Background()

	resp, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: "roles/web"})
	if err != nil || resp.Data["name"] != "web" || resp.Data["ttl"] != 60 {
		t.Fatalf("read: %+v %v", resp, err)
	}
	resp, err = b.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "roles/web", Data: map[string]interface{}{"ttl": "2h", "bogus": 1}})
	if err != nil || resp.Data["ttl"] != 7200 {
		t.Fatalf("update with duration string: %+v %v", resp, err)
	}
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "bogus") {
		t.Fatalf("unknown field warning: %v", resp.Warnings)
	}
	_, err = b.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "roles/web", Data: map[string]interface{}{"ttl": "soon"}})
	if !errors.Is(err, logical.ErrInvalidRequest) || !strings.Contains(err.Error(), `field "ttl"`) {
		t.Fatalf("bad duration: %v", err)
	}
	_, err = b.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "roles/web", Data: map[string]interface{}{"mode": "c"}})
	if !errors.Is(err, logical.ErrInvalidRequest) || !strings.Contains(err.Error(), `"a", "b"`) {
		t.Fatalf("allowed values: %v", err)
	}
	_, err = b.HandleRequest(ctx, &logical.Request{Operation: logical.DeleteOperation, Path: "roles/web"})
	if !errors.Is(err, logical.ErrUnsupportedOperation) {
		t.Fatalf("unsupported op: %v", err)
	}
	_, err = b.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: "nope/x"})
	if !errors.Is(err, logical.ErrUnsupportedPath) {
		t.Fatalf("unknown path: %v", err)
	}
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.ListOperation, Path: "roles/"}); err != nil {
		t.Fatal(err)
	}

	found, exists, err := b.HandleExistenceCheck(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "roles/existing"})
	if err != nil || !found || !exists {
		t.Fatalf("existence check: %v %v %v", found, exists, err)
	}
	found, _, _ = b.HandleExistenceCheck(ctx, &logical.Request{Path: "creds/x"})
	if found {
		t.Fatal("a path without an existence check reported one")
	}
	help, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.HelpOperation, Path: "roles/web"})
	if err != nil || !strings.Contains(help.Data["help"].(string), "roles/web") {
		t.Fatalf("help: %+v %v", help, err)
	}
	if want := []string{"read", "update", "list"}; strings.Join(calls, ",") != strings.Join(want, ",") {
		t.Fatalf("calls %v, want %v", calls, want)
	}
}

func TestSecretDispatch(t *testing.T) {
	var calls []string
	b := testBackend(&calls)
	s := b.Secrets[0].Response(map[string]interface{}{"u": "x"}, map[string]interface{}{"user": "alice"})
	if s.Secret.InternalData["secret_type"] != "creds" || !s.Secret.Renewable {
		t.Fatalf("secret response: %+v", s.Secret)
	}
	ctx := context.Background()
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.RenewOperation, Secret: s.Secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.RevokeOperation, Secret: s.Secret}); err != nil {
		t.Fatal(err)
	}
	bad := &logical.Secret{InternalData: map[string]interface{}{"secret_type": "other"}}
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.RevokeOperation, Secret: bad}); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("unknown secret type: %v", err)
	}
	if strings.Join(calls, ",") != "renew:alice,revoke:alice" {
		t.Fatalf("calls %v", calls)
	}
}

func TestFieldConversions(t *testing.T) {
	cases := []struct {
		typ  FieldType
		in   interface{}
		want string
		bad  bool
	}{
		{TypeDurationSecond, "90", "90", false},
		{TypeDurationSecond, "1h30m", "5400", false},
		{TypeDurationSecond, "2d", "172800", false},
		{TypeDurationSecond, int64(5), "5", false},
		{TypeDurationSecond, "-5s", "", true},
		{TypeSignedDurationSecond, "-5s", "-5", false},
		{TypeBool, "true", "true", false},
		{TypeBool, "yes", "", true},
		{TypeInt, "42", "42", false},
		{TypeInt, 4.5, "", true},
		{TypeCommaStringSlice, "a, b,,c", "[a b c]", false},
		{TypeCommaStringSlice, []interface{}{"a,b", "c"}, "[a b c]", false},
		{TypeStringSlice, `["x","y"]`, "[x y]", false},
		{TypeKVPairs, []interface{}{"a=1", "b=2"}, "map[a:1 b:2]", false},
		{TypeKVPairs, []interface{}{"nokey"}, "", true},
		{TypeMap, `{"a":1}`, "map[a:1]", false},
		{TypeMap, `[1]`, "", true},
		{TypeNameString, "ok-name.1", "ok-name.1", false},
		{TypeNameString, "bad/name", "", true},
		{TypeLowerCaseString, "MiXed", "mixed", false},
	}
	for _, c := range cases {
		d := &FieldData{Raw: map[string]interface{}{"f": c.in}, Schema: map[string]*FieldSchema{"f": {Type: c.typ}}}
		v, ok, err := d.GetOkErr("f")
		if c.bad {
			if err == nil {
				t.Errorf("%v %#v: expected an error, got %v", c.typ, c.in, v)
			}
			continue
		}
		if err != nil || !ok {
			t.Errorf("%v %#v: %v", c.typ, c.in, err)
			continue
		}
		if got := fmtValue(v); got != c.want {
			t.Errorf("%v %#v = %s, want %s", c.typ, c.in, got, c.want)
		}
	}
}

func fmtValue(v interface{}) string {
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(sprint(v), "  ", " "), "\n", ""))
}

func TestTestPathsFindsOverlaps(t *testing.T) {
	ft := &fakeT{}
	TestPaths(ft, []*Path{
		{Pattern: "roles/" + GenericNameRegex("name"), Fields: Fields{"name": {Type: TypeString}}, Ops: Ops{logical.ReadOperation: nil}},
		{Pattern: "roles/" + MatchAllRegex("rest"), Fields: Fields{"rest": {Type: TypeString}}, Ops: Ops{logical.ReadOperation: nil}},
		{Pattern: "undeclared/(?P<x>.+)", Ops: Ops{logical.ReadOperation: nil}},
	})
	joined := strings.Join(ft.errs, "\n")
	if !strings.Contains(joined, "both match") || !strings.Contains(joined, `captures "x"`) {
		t.Fatalf("TestPaths missed problems:\n%s", joined)
	}
}

type fakeT struct {
	testing.TB
	errs []string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...interface{}) {
	f.errs = append(f.errs, sprintf(format, args...))
}
func (f *fakeT) Fatalf(format string, args ...interface{}) {
	f.errs = append(f.errs, sprintf(format, args...))
}

func TestWALRollback(t *testing.T) {
	s := logical.NewInmemStorage()
	ctx := context.Background()
	var rolled []string
	b := &Backend{
		WALRollbackMinAge: time.Hour,
		WALRollback: func(ctx context.Context, req *logical.Request, kind string, data interface{}) error {
			rolled = append(rolled, kind+":"+data.(map[string]interface{})["user"].(string))
			return nil
		},
	}
	id, err := PutWAL(ctx, s, "creds", map[string]string{"user": "u1"})
	if err != nil {
		t.Fatal(err)
	}
	// Fresh records written by this process are left alone.
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.RollbackOperation, Storage: s}); err != nil {
		t.Fatal(err)
	}
	if len(rolled) != 0 {
		t.Fatalf("fresh record rolled back: %v", rolled)
	}
	// A record older than the process (left by a crash) is rolled back and deleted.
	e, _ := GetWAL(ctx, s, id)
	e.CreatedAt = processStart.Add(-time.Minute).UnixNano()
	if err := logical.PutJSON(ctx, s, walPrefix+id, e); err != nil {
		t.Fatal(err)
	}
	if _, err := b.HandleRequest(ctx, &logical.Request{Operation: logical.RollbackOperation, Storage: s}); err != nil {
		t.Fatal(err)
	}
	if len(rolled) != 1 || rolled[0] != "creds:u1" {
		t.Fatalf("rolled %v", rolled)
	}
	if ids, _ := ListWAL(ctx, s); len(ids) != 0 {
		t.Fatalf("record left after rollback: %v", ids)
	}
}

func TestCalculateTTL(t *testing.T) {
	now := time.Now()
	h := time.Hour
	ttl, warns, err := CalculateTTL(h, 10*h, 0, 0, 0, now, now)
	if err != nil || ttl != h || len(warns) != 0 {
		t.Fatalf("default: %v %v %v", ttl, warns, err)
	}
	ttl, warns, _ = CalculateTTL(h, 10*h, 20*h, 0, 0, now, now)
	if ttl != 10*h || len(warns) != 1 {
		t.Fatalf("capped by system max: %v %v", ttl, warns)
	}
	ttl, _, _ = CalculateTTL(h, 10*h, 0, 2*h, 3*h, now.Add(-2*h), now)
	if ttl != h {
		t.Fatalf("capped by remaining role max: %v", ttl)
	}
	if _, _, err := CalculateTTL(h, 10*h, 0, 0, h, now.Add(-2*h), now); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("past max: %v", err)
	}
}
