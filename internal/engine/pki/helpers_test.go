package pki

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// harness drives one PKI backend over in-memory storage.
type harness struct {
	t testing.TB
	b *backend
	s *logical.InmemStorage
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessOn(t, logical.NewInmemStorage(), staticSystem{def: 768 * time.Hour, max: 87600 * time.Hour})
}

func newHarnessOn(t testing.TB, s *logical.InmemStorage, sys logical.SystemView) *harness {
	t.Helper()
	lb, err := Factory(context.Background(), &logical.BackendConfig{StorageView: s, System: sys, BackendUUID: "test-uuid"})
	if err != nil {
		t.Fatalf("Factory: %v", err)
	}
	b := lb.(*backend)
	t.Cleanup(func() { b.Cleanup(context.Background()) })
	return &harness{t: t, b: b, s: s}
}

func (h *harness) do(op logical.Operation, path string, data map[string]interface{}) (*logical.Response, error) {
	return h.b.HandleRequest(context.Background(), &logical.Request{
		ID: "req-id", Operation: op, Path: path, Data: data, Storage: h.s, MountPoint: "pki/", MountType: "pki",
	})
}

// write performs an update and fails the test on error.
func (h *harness) write(path string, data map[string]interface{}) *logical.Response {
	h.t.Helper()
	resp, err := h.do(logical.UpdateOperation, path, data)
	if err != nil {
		h.t.Fatalf("write %s: %v", path, err)
	}
	return resp
}

func (h *harness) read(path string) *logical.Response {
	h.t.Helper()
	resp, err := h.do(logical.ReadOperation, path, nil)
	if err != nil {
		h.t.Fatalf("read %s: %v", path, err)
	}
	return resp
}

// badRequest performs a write that must fail with a 400 whose message
// contains want.
func (h *harness) badRequest(path string, data map[string]interface{}, want string) {
	h.t.Helper()
	resp, err := h.do(logical.UpdateOperation, path, data)
	if err == nil {
		h.t.Fatalf("write %s: expected an error containing %q, got response %+v", path, want, resp)
	}
	if !errors.Is(err, logical.ErrInvalidRequest) {
		h.t.Fatalf("write %s: expected a 400 (invalid request), got %v", path, err)
	}
	if !strings.Contains(err.Error(), want) {
		h.t.Fatalf("write %s: error %q does not contain %q", path, err.Error(), want)
	}
}

func respStr(resp *logical.Response, key string) string {
	s, _ := resp.Data[key].(string)
	return s
}

func mustCert(t testing.TB, s string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatalf("no PEM certificate in %q", s)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return c
}

// rootCA generates an EC P-256 root on the harness's mount.
func (h *harness) rootCA(extra map[string]interface{}) *x509.Certificate {
	h.t.Helper()
	data := map[string]interface{}{"common_name": "Test Root", "ttl": "87600h", "key_type": "ec", "key_bits": 256}
	for k, v := range extra {
		data[k] = v
	}
	return mustCert(h.t, respStr(h.write("root/generate/internal", data), "certificate"))
}
