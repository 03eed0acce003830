package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// fakeSource answers reads and writes from functions and records calls.
type fakeSource struct {
	read   func(path string) (*api.Secret, error)
	write  func(path string, data map[string]interface{}) (*api.Secret, error)
	renew  func(leaseID string, increment int) (*api.Secret, error)
	kv     map[string]string // path prefix -> mount of a KV v2 mount
	calls  []string
	writes []map[string]interface{}
}

func (f *fakeSource) Read(_ context.Context, path string) (*api.Secret, error) {
	f.calls = append(f.calls, "read "+path)
	return f.read(path)
}

func (f *fakeSource) Write(_ context.Context, path string, data map[string]interface{}) (*api.Secret, error) {
	f.calls = append(f.calls, "write "+path)
	f.writes = append(f.writes, data)
	return f.write(path, data)
}

func (f *fakeSource) List(_ context.Context, path string) (*api.Secret, error) {
	f.calls = append(f.calls, "list "+path)
	return &api.Secret{Data: map[string]interface{}{"keys": []interface{}{"b", "a/", "c"}}}, nil
}

func (f *fakeSource) Renew(_ context.Context, leaseID string, increment int) (*api.Secret, error) {
	f.calls = append(f.calls, fmt.Sprintf("renew %s %d", leaseID, increment))
	return f.renew(leaseID, increment)
}

func (f *fakeSource) KVVersion(_ context.Context, path string) (string, int) {
	for mount := range f.kv {
		if len(path) >= len(mount) && path[:len(mount)] == mount {
			return mount, 2
		}
	}
	return "", 0
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }
func discardLogger() *slog.Logger        { return slog.New(slog.DiscardHandler) }
func leased(id string, secs int, renewable bool, data map[string]interface{}) *api.Secret {
	return &api.Secret{LeaseID: id, LeaseDuration: secs, Renewable: renewable, Data: data}
}

func newTestDeps(src source, clock *fakeClock) *deps {
	ds := newDeps(src, time.Minute, 2.0/3.0, discardLogger())
	ds.now = clock.now
	return ds
}

func TestDepsRenewWhileRenewableThenFetchNew(t *testing.T) {
	clock := newFakeClock()
	n := 0
	src := &fakeSource{
		read: func(string) (*api.Secret, error) {
			n++
			return leased(fmt.Sprintf("database/creds/app/L%d", n), 30, true, map[string]interface{}{"username": fmt.Sprint("u", n)}), nil
		},
	}
	renewals := []int{30, 10} // the second renewal is capped by the max TTL
	src.renew = func(id string, inc int) (*api.Secret, error) {
		d := renewals[0]
		renewals = renewals[1:]
		return leased(id, d, true, nil), nil
	}
	ds := newTestDeps(src, clock)
	ctx := context.Background()
	s, err := ds.get(ctx, depRead, "database/creds/app", nil)
	if err != nil || s.Data["username"] != "u1" {
		t.Fatalf("get = %v, %v", s, err)
	}
	if want := clock.t.Add(20 * time.Second); !ds.nextDue().Equal(want) {
		t.Fatalf("next due %s, want 2/3 of 30s", ds.nextDue().Sub(clock.t))
	}
	// A second template asking for it gets the cache.
	if _, err := ds.get(ctx, depRead, "/database/creds/app/", nil); err != nil || len(src.calls) != 1 {
		t.Fatalf("second get fetched again: %v %v", src.calls, err)
	}

	clock.add(20 * time.Second)
	if ds.refreshDue(ctx, time.Second) {
		t.Fatal("a renewal counted as a change")
	}
	clock.add(20 * time.Second)
	if ds.refreshDue(ctx, time.Second) {
		t.Fatal("a capped renewal counted as a change")
	}
	if got := ds.nextDue().Sub(clock.t); got < 6*time.Second || got > 7*time.Second {
		t.Fatalf("after a capped renewal of 10s the next refresh is in %s, want ~6.7s", got)
	}
	clock.add(7 * time.Second)
	if !ds.refreshDue(ctx, time.Second) {
		t.Fatal("new credentials did not count as a change")
	}
	s, _ = ds.get(ctx, depRead, "database/creds/app", nil)
	if s.Data["username"] != "u2" {
		t.Fatalf("after the max TTL the secret is %v, want new credentials", s.Data)
	}
	want := []string{"read database/creds/app", "renew database/creds/app/L1 30", "renew database/creds/app/L1 30", "read database/creds/app"}
	if !reflect.DeepEqual(src.calls, want) {
		t.Errorf("calls = %q\nwant   %q", src.calls, want)
	}
}

func TestDepsRefreshSchedules(t *testing.T) {
	notBefore := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Hour)
	certPEM, _ := testCert(t, notBefore, notBefore.Add(30*time.Hour))
	tests := []struct {
		name   string
		secret *api.Secret
		next   time.Duration // after now
	}{
		{"non-renewable lease", leased("aws/creds/x/1", 90, false, nil), 60 * time.Second},
		{"static secret", &api.Secret{Data: map[string]interface{}{"a": "b"}}, time.Minute},
		{"kv v1 ttl without lease id", &api.Secret{LeaseDuration: 2764800, Data: map[string]interface{}{"a": "b"}}, time.Minute},
		{"certificate validity", &api.Secret{Data: map[string]interface{}{"certificate": certPEM}}, 19 * time.Hour},
		{"token creation", &api.Secret{Auth: &api.SecretAuth{ClientToken: "t", LeaseDuration: 300}}, 200 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			src := &fakeSource{read: func(string) (*api.Secret, error) { return tt.secret, nil }}
			ds := newTestDeps(src, clock)
			if _, err := ds.get(context.Background(), depRead, "p", nil); err != nil {
				t.Fatal(err)
			}
			if got := ds.nextDue().Sub(clock.t); got != tt.next {
				t.Errorf("next refresh in %s, want %s", got, tt.next)
			}
		})
	}
}

func TestDepsStaticSecretChangeDetection(t *testing.T) {
	clock := newFakeClock()
	value := "one"
	src := &fakeSource{read: func(string) (*api.Secret, error) {
		return &api.Secret{RequestID: fmt.Sprint(clock.t.Unix()), Data: map[string]interface{}{"v": value}}, nil
	}}
	ds := newTestDeps(src, clock)
	ctx := context.Background()
	if _, err := ds.get(ctx, depRead, "kv/app", nil); err != nil {
		t.Fatal(err)
	}
	clock.add(time.Minute)
	if ds.refreshDue(ctx, time.Second) {
		t.Error("the same data (another request ID) counted as a change")
	}
	value = "two"
	clock.add(30 * time.Second)
	if ds.refreshDue(ctx, time.Second) {
		t.Error("refreshed before the interval")
	}
	ds.expireStatic()
	if !ds.refreshDue(ctx, time.Second) {
		t.Error("changed data did not count as a change")
	}
}

func TestDepsFailuresKeepThePreviousSecret(t *testing.T) {
	clock := newFakeClock()
	fail := false
	src := &fakeSource{
		read: func(string) (*api.Secret, error) {
			if fail {
				return nil, errors.New("connection refused")
			}
			return leased("db/creds/r/1", 30, true, map[string]interface{}{"u": "x"}), nil
		},
		renew: func(string, int) (*api.Secret, error) { return nil, errors.New("lease not found") },
	}
	ds := newTestDeps(src, clock)
	ctx := context.Background()
	if _, err := ds.get(ctx, depRead, "db/creds/r", nil); err != nil {
		t.Fatal(err)
	}
	fail = true
	clock.add(20 * time.Second)
	if ds.refreshDue(ctx, 3*time.Second) {
		t.Error("a failed refresh counted as a change")
	}
	if got := ds.nextDue().Sub(clock.t); got != 3*time.Second {
		t.Errorf("retry in %s, want 3s", got)
	}
	if s, _ := ds.get(ctx, depRead, "db/creds/r", nil); s.Data["u"] != "x" {
		t.Error("the previous secret was dropped")
	}
	// A failed renewal falls back to a fetch.
	want := []string{"read db/creds/r", "renew db/creds/r/1 30", "read db/creds/r"}
	if !reflect.DeepEqual(src.calls, want) {
		t.Errorf("calls = %q, want %q", src.calls, want)
	}
	fail = false
	src.read = func(string) (*api.Secret, error) { return nil, nil }
	if _, err := ds.get(ctx, depRead, "missing", nil); err == nil || err.Error() != "read missing: no secret exists at this path" {
		t.Errorf("404: %v", err)
	}
}

func TestDepsKVv2PathAndUnusedDependencies(t *testing.T) {
	clock := newFakeClock()
	src := &fakeSource{
		kv:   map[string]string{"secret/": "secret/"},
		read: func(p string) (*api.Secret, error) { return &api.Secret{Data: map[string]interface{}{"path": p}}, nil },
	}
	ds := newTestDeps(src, clock)
	ctx := context.Background()
	for path, want := range map[string]string{
		"secret/app":          "secret/data/app",
		"secret/data/app":     "secret/data/app",
		"secret/metadata/app": "secret/metadata/app",
		"other/app":           "other/app",
	} {
		s, err := ds.get(ctx, depRead, path, nil)
		if err != nil || s.Data["path"] != want {
			t.Errorf("read %s went to %v (%v), want %s", path, s.Data["path"], err, want)
		}
	}
	ds.startPass()
	_, _ = ds.get(ctx, depRead, "other/app", nil)
	ds.dropUnused()
	if len(ds.m) != 1 {
		t.Errorf("%d dependencies kept, want the one used in the last pass", len(ds.m))
	}
	if depKey(depWrite, "p", map[string]interface{}{"b": "2", "a": "1"}) != depKey(depWrite, "p", map[string]interface{}{"a": "1", "b": "2"}) {
		t.Error("dependency keys depend on map order")
	}
	ds.reset()
	if !ds.nextDue().IsZero() {
		t.Error("reset kept dependencies")
	}
}

// testCert makes a self-signed certificate and its key in PEM.
func testCert(t testing.TB, notBefore, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app.example.com"},
		NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
}
