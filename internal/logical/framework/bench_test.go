package framework

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// benchBackend is a path table shaped like an engine's (transit): about
// twenty paths, most starting with a literal, the hot one near the end.
func benchBackend() *Backend {
	nop := func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error) {
		return nil, nil
	}
	ops := Ops{logical.ReadOperation: nop, logical.UpdateOperation: nop}
	named := func(prefix, suffix string) *Path {
		return &Path{Pattern: prefix + GenericNameRegex("name") + suffix, Fields: Fields{"name": {Type: TypeString}}, Ops: ops}
	}
	encrypt := func(ctx context.Context, req *logical.Request, d *FieldData) (*logical.Response, error) {
		// What an encrypt handler reads: the capture, the sent fields and
		// a defaulted one.
		_ = d.String("name")
		_ = d.String("plaintext")
		_ = d.String("context")
		_ = d.Int("key_version")
		_ = d.String("type")
		return &logical.Response{}, nil
	}
	exists := func(ctx context.Context, req *logical.Request, d *FieldData) (bool, error) {
		return d.String("name") != "", nil
	}
	return &Backend{Paths: []*Path{
		{Pattern: "keys/?", Ops: Ops{logical.ListOperation: nop}},
		named("keys/", ""),
		named("keys/", "/config"),
		named("keys/", "/rotate"),
		named("keys/", "/trim"),
		{Pattern: "config/keys", Ops: ops},
		{Pattern: "export/" + GenericNameRegex("type") + "/" + GenericNameRegex("name") + OptionalParamRegex("version"),
			Fields: Fields{"type": {Type: TypeString}, "name": {Type: TypeString}, "version": {Type: TypeString}}, Ops: ops},
		named("backup/", ""),
		{Pattern: "restore" + OptionalParamRegex("name"), Fields: Fields{"name": {Type: TypeString}}, Ops: ops},
		{Pattern: "random(/" + GenericNameRegex("source") + ")?" + OptionalParamRegex("urlbytes"),
			Fields: Fields{"source": {Type: TypeString}, "urlbytes": {Type: TypeString}}, Ops: ops},
		{Pattern: "hash" + OptionalParamRegex("urlalgorithm"), Fields: Fields{"urlalgorithm": {Type: TypeString}}, Ops: ops},
		named("rewrap/", ""),
		{Pattern: "datakey/" + GenericNameRegex("plaintext") + "/" + GenericNameRegex("name"),
			Fields: Fields{"plaintext": {Type: TypeString}, "name": {Type: TypeString}}, Ops: ops},
		named("sign/", OptionalParamRegex("urlalgorithm")),
		named("verify/", OptionalParamRegex("urlalgorithm")),
		named("hmac/", OptionalParamRegex("urlalgorithm")),
		named("decrypt/", ""),
		{Pattern: "cache-config", Ops: ops},
		{Pattern: "wrapping/" + MatchAllRegex("rest"), Fields: Fields{"rest": {Type: TypeString}}, Ops: ops},
		{
			Pattern: "encrypt/" + GenericNameRegex("name"),
			Fields: Fields{
				"name":                  {Type: TypeString},
				"plaintext":             {Type: TypeString, Sensitive: true},
				"context":               {Type: TypeString},
				"nonce":                 {Type: TypeString},
				"key_version":           {Type: TypeInt},
				"type":                  {Type: TypeString, Default: "aes256-gcm96"},
				"convergent_encryption": {Type: TypeBool},
				"batch_input":           {Type: TypeSlice},
			},
			Ops:    Ops{logical.CreateOperation: encrypt, logical.UpdateOperation: encrypt},
			Exists: exists,
		},
	}}
}

// BenchmarkRouteAndFields is one write request as the core sends it: the
// existence check, then the request, for a path with a capture and three
// body fields as the HTTP layer decodes them.
func BenchmarkRouteAndFields(b *testing.B) {
	be := benchBackend()
	ctx := context.Background()
	data := map[string]interface{}{
		"plaintext":   "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=",
		"context":     "Y29udGV4dA==",
		"key_version": json.Number("2"),
	}
	b.ReportAllocs()
	for b.Loop() {
		req := &logical.Request{Operation: logical.UpdateOperation, Path: "encrypt/bench", Data: data}
		probe := *req
		found, exists, err := be.HandleExistenceCheck(ctx, &probe)
		if err != nil || !found || !exists {
			b.Fatal(found, exists, err)
		}
		if _, err := be.HandleRequest(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRouteRead is a read of a path with a capture and no body.
func BenchmarkRouteRead(b *testing.B) {
	be := benchBackend()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: "keys/bench/config"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRouteReadManyPaths reads far more distinct paths than the
// route cache holds, so nearly every request runs the path regexps.
func BenchmarkRouteReadManyPaths(b *testing.B) {
	be := benchBackend()
	ctx := context.Background()
	paths := make([]string, 1000)
	for i := range paths {
		paths[i] = "keys/key-" + strconv.Itoa(i) + "/config"
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := be.HandleRequest(ctx, &logical.Request{Operation: logical.ReadOperation, Path: paths[i%len(paths)]}); err != nil {
			b.Fatal(err)
		}
	}
}
