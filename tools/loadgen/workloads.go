package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
)

// env is what workloads share during a run.
type env struct {
	api     *apiClient
	pgURL   string
	pgTable bool
	noopURL string
	// id is unique per run; mounts and roles carry it.
	id      string
	workers int
	log     io.Writer
	cleanup bool
}

// instance is a set-up workload.
type instance struct {
	op opFunc
	// teardown undoes the setup; nil when there is nothing to undo.
	teardown func(ctx context.Context) error
	// pid is the process whose memory is sampled after the run; 0 means
	// the server's for server workloads, none for the others.
	pid int
}

// workload is one entry of the suite. setup may return a non-nil instance
// together with an error, so that a partial setup is torn down.
type workload struct {
	name string
	// server workloads drive the server under test; the others are
	// ceilings measured without it.
	server bool
	setup  func(ctx context.Context, e *env) (*instance, error)
}

// workloadTable lists every workload in suite order: each ceiling runs
// before the workloads measured against it.
func workloadTable() []workload {
	return []workload{
		{name: "noop", setup: setupNoop},
		{name: "static-seal-status", setup: setupStaticSealStatus},
		{name: "seal-status", server: true, setup: setupSealStatus},
		{name: "kvv2-write", server: true, setup: setupKVWrite},
		{name: "kvv2-read", server: true, setup: setupKVRead},
		{name: "transit-encrypt", server: true, setup: setupTransitEncrypt},
		{name: "approle-login", server: true, setup: setupAppRole},
		{name: "pki-crypto", setup: setupPKICrypto},
		{name: "pki-issue", server: true, setup: setupPKI},
		{name: "postgres-direct", setup: setupPostgresDirect},
		{name: "postgres-creds", server: true, setup: setupPostgresCreds},
	}
}

func workloadNames() []string {
	var out []string
	for _, w := range workloadTable() {
		out = append(out, w.name)
	}
	return out
}

// suiteOrder is what "all" runs.
func suiteOrder() []string { return workloadNames() }

func lookupWorkload(name string) workload {
	for _, w := range workloadTable() {
		if w.name == name {
			return w
		}
	}
	panic("unknown workload " + name) // names are checked by selectWorkloads
}

// unmount returns a teardown that disables a secrets engine mount, or
// nothing when cleanup is off.
func (e *env) unmount(path string) func(context.Context) error {
	if !e.cleanup {
		return nil
	}
	return func(ctx context.Context) error {
		return e.api.call(ctx, http.MethodDelete, "sys/mounts/"+path, nil, nil)
	}
}

func (e *env) mount(ctx context.Context, path, typ string, extra map[string]any) error {
	body := map[string]any{"type": typ}
	for k, v := range extra {
		body[k] = v
	}
	if err := e.api.call(ctx, http.MethodPost, "sys/mounts/"+path, body, nil); err != nil {
		return fmt.Errorf("mount %s: %w", typ, err)
	}
	return nil
}

func setupSealStatus(_ context.Context, e *env) (*instance, error) {
	return &instance{op: func(ctx context.Context, _ *rand.Rand) error {
		return e.api.send(ctx, http.MethodGet, "sys/seal-status", nil, nil)
	}}, nil
}

// kvKeys and kvValueSize shape the KV workloads as the common Vault
// benchmark suite does: 100 keys with 100-byte values.
const (
	kvKeys      = 100
	kvValueSize = 100
)

// setupKV mounts KV v2 and writes every key once. It returns the mount
// and the pre-encoded write bodies, one per key.
func setupKV(ctx context.Context, e *env, name string) (string, [][]byte, *instance, error) {
	path := "bench-" + name + "-" + e.id
	inst := &instance{teardown: e.unmount(path)}
	if err := e.mount(ctx, path, "kv", map[string]any{"options": map[string]string{"version": "2"}}); err != nil {
		return "", nil, nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, kvKeys)
	for i := range bodies {
		b, err := json.Marshal(map[string]any{"data": map[string]string{"foo": randomString(rng, kvValueSize)}})
		if err != nil {
			return "", nil, inst, err
		}
		bodies[i] = b
		if err := e.api.send(ctx, http.MethodPost, kvPath(path, i), b, nil); err != nil {
			return "", nil, inst, fmt.Errorf("write key %d: %w", i, err)
		}
	}
	return path, bodies, inst, nil
}

func kvPath(mount string, i int) string { return mount + "/data/secret-" + strconv.Itoa(i) }

func setupKVWrite(ctx context.Context, e *env) (*instance, error) {
	path, bodies, inst, err := setupKV(ctx, e, "kvw")
	if err != nil {
		return inst, err
	}
	inst.op = func(ctx context.Context, rng *rand.Rand) error {
		i := rng.IntN(kvKeys)
		return e.api.send(ctx, http.MethodPost, kvPath(path, i), bodies[i], nil)
	}
	return inst, nil
}

func setupKVRead(ctx context.Context, e *env) (*instance, error) {
	path, _, inst, err := setupKV(ctx, e, "kvr")
	if err != nil {
		return inst, err
	}
	inst.op = func(ctx context.Context, rng *rand.Rand) error {
		return e.api.send(ctx, http.MethodGet, kvPath(path, rng.IntN(kvKeys)), nil, nil)
	}
	return inst, nil
}

// setupAppRole enables AppRole with one role (token_ttl=2m, unlimited
// secret_id uses) and logs in with its role_id and one secret_id.
func setupAppRole(ctx context.Context, e *env) (*instance, error) {
	path := "bench-approle-" + e.id
	if err := e.api.call(ctx, http.MethodPost, "sys/auth/"+path, map[string]string{"type": "approle"}, nil); err != nil {
		return nil, fmt.Errorf("enable approle: %w", err)
	}
	inst := &instance{}
	if e.cleanup {
		inst.teardown = func(ctx context.Context) error {
			return e.api.call(ctx, http.MethodDelete, "sys/auth/"+path, nil, nil)
		}
	}
	role := "auth/" + path + "/role/bench"
	if err := e.api.call(ctx, http.MethodPost, role, map[string]any{
		"token_ttl": "2m", "token_max_ttl": "2m", "secret_id_num_uses": 0, "token_policies": []string{"default"},
	}, nil); err != nil {
		return inst, err
	}
	roleID, err := e.api.dataString(ctx, http.MethodGet, role+"/role-id", nil, "role_id")
	if err != nil {
		return inst, err
	}
	secretID, err := e.api.dataString(ctx, http.MethodPost, role+"/secret-id", map[string]any{}, "secret_id")
	if err != nil {
		return inst, err
	}
	body, err := json.Marshal(map[string]string{"role_id": roleID, "secret_id": secretID})
	if err != nil {
		return inst, err
	}
	login := "auth/" + path + "/login"
	inst.op = func(ctx context.Context, _ *rand.Rand) error {
		return e.api.send(ctx, http.MethodPost, login, body, nil)
	}
	return inst, nil
}

// setupPKI builds an EC P-256 root and intermediate and a role (ttl=10m,
// generate_lease=true, no_store=false) issuing EC P-256 leaves.
func setupPKI(ctx context.Context, e *env) (*instance, error) {
	root, inter := "bench-pki-root-"+e.id, "bench-pki-int-"+e.id
	inst := &instance{}
	if e.cleanup {
		inst.teardown = func(ctx context.Context) error {
			// Unmounting revokes every lease. Coffer puts a burst of
			// lease revocations on the CRL in one rebuild; other servers
			// may rebuild it from all revocations so far on each one,
			// which makes the teardown quadratic unless rebuilds are
			// deferred.
			crlErr := e.api.call(ctx, http.MethodPost, inter+"/config/crl", map[string]any{"auto_rebuild": true}, nil)
			return errors.Join(crlErr, e.unmount(inter)(ctx), e.unmount(root)(ctx))
		}
	}
	if err := e.mount(ctx, root, "pki", map[string]any{"config": map[string]string{"max_lease_ttl": "87600h"}}); err != nil {
		return inst, err
	}
	if err := e.mount(ctx, inter, "pki", map[string]any{"config": map[string]string{"max_lease_ttl": "43800h"}}); err != nil {
		return inst, err
	}
	if err := e.api.call(ctx, http.MethodPost, root+"/root/generate/internal", map[string]any{
		"common_name": "Coffer Bench Root", "key_type": "ec", "key_bits": 256, "ttl": "87600h",
	}, nil); err != nil {
		return inst, fmt.Errorf("generate root: %w", err)
	}
	csr, err := e.api.dataString(ctx, http.MethodPost, inter+"/intermediate/generate/internal", map[string]any{
		"common_name": "Coffer Bench Intermediate", "key_type": "ec", "key_bits": 256,
	}, "csr")
	if err != nil {
		return inst, fmt.Errorf("generate intermediate: %w", err)
	}
	cert, err := e.api.dataString(ctx, http.MethodPost, root+"/root/sign-intermediate", map[string]any{
		"csr": csr, "format": "pem_bundle", "ttl": "43800h",
	}, "certificate")
	if err != nil {
		return inst, fmt.Errorf("sign intermediate: %w", err)
	}
	if err := e.api.call(ctx, http.MethodPost, inter+"/intermediate/set-signed", map[string]any{"certificate": cert}, nil); err != nil {
		return inst, fmt.Errorf("set signed intermediate: %w", err)
	}
	if err := e.api.call(ctx, http.MethodPost, inter+"/roles/bench", map[string]any{
		"allowed_domains": []string{"example.com"}, "allow_subdomains": true,
		"key_type": "ec", "key_bits": 256, "ttl": "10m", "max_ttl": "10m",
		"generate_lease": true, "no_store": false,
	}, nil); err != nil {
		return inst, fmt.Errorf("create role: %w", err)
	}
	issue := inter + "/issue/bench"
	inst.op = func(ctx context.Context, rng *rand.Rand) error {
		body := []byte(`{"common_name":"` + randomString(rng, 12) + `.example.com"}`)
		return e.api.send(ctx, http.MethodPost, issue, body, nil)
	}
	return inst, nil
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
