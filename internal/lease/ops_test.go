package lease

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestRegisterLookup(t *testing.T) {
	ctx := context.Background()
	s := logical.NewInmemStorage()
	m := New(s, newFakeRevoker(), Options{})
	sec := secret(time.Hour, true)
	e, err := m.Register(ctx, "database/creds/ro/", "hvs.parent", sec)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^database/creds/ro/[0-9A-Za-z]{24}$`).MatchString(e.ID) {
		t.Fatalf("lease ID %q has not the form <path>/<24 base62 chars>", e.ID)
	}
	if sec.LeaseID != e.ID || sec.IssueTime.IsZero() {
		t.Fatalf("secret not updated: %+v", sec)
	}
	if !exists(t, s, "id/"+e.ID) || !exists(t, s, tokenIndexKey("hvs.parent", e.ID)) {
		t.Fatal("entry or token index not persisted before Register returned")
	}
	got, err := m.Lookup(ctx, e.ID)
	if err != nil || got == nil {
		t.Fatalf("Lookup: %v %v", got, err)
	}
	if got.Path != "database/creds/ro" || got.ClientToken != "hvs.parent" || got.Secret == nil ||
		got.Secret.InternalData["username"] != "v-user" || got.ExpireTime.Sub(got.IssueTime) != time.Hour {
		t.Fatalf("Lookup returned %+v", got)
	}
	if c := m.Count(); c.Active != 1 || c.ByMount["database/"] != 1 {
		t.Fatalf("Count = %+v", c)
	}
	if got, _ := m.Lookup(ctx, "database/creds/ro/nope"); got != nil {
		t.Fatalf("Lookup of unknown lease = %+v", got)
	}
}

func TestRegisterRejects(t *testing.T) {
	m := New(logical.NewInmemStorage(), newFakeRevoker(), Options{})
	tests := []struct {
		name, path string
		sec        *logical.Secret
	}{
		{"no secret", "db/creds/ro", nil},
		{"no ttl", "db/creds/ro", secret(0, true)},
		{"negative ttl", "db/creds/ro", secret(-time.Second, true)},
		{"empty path", "", secret(time.Hour, true)},
		{"parent reference", "db/../sys", secret(time.Hour, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.Register(context.Background(), tt.path, "tok", tt.sec); err == nil {
				t.Fatal("Register succeeded")
			}
		})
	}
	if c := m.Count(); c.Active != 0 {
		t.Fatalf("rejected registrations were counted: %+v", c)
	}
}

// failingStorage fails writes of keys with a given prefix.
type failingStorage struct {
	*logical.InmemStorage
	prefix string
}

func (s failingStorage) Put(ctx context.Context, e *logical.StorageEntry) error {
	if len(e.Key) >= len(s.prefix) && e.Key[:len(s.prefix)] == s.prefix {
		return errors.New("disk full")
	}
	return s.InmemStorage.Put(ctx, e)
}

func TestRegisterRollsBackWhenStorageFails(t *testing.T) {
	s := failingStorage{logical.NewInmemStorage(), "token/"}
	f := newFakeRevoker()
	m := New(s, f, Options{})
	_, err := m.Register(context.Background(), "db/creds/ro", "tok", secret(time.Hour, true))
	if err == nil {
		t.Fatal("Register succeeded although the index could not be written")
	}
	keys, _ := logical.CollectKeys(context.Background(), s, "")
	if len(keys) != 0 {
		t.Fatalf("left behind %v", keys)
	}
	if len(f.revoked) != 1 {
		t.Fatalf("the unregistered secret was not revoked: %v", f.revoked)
	}
}

func TestRenew(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFakeRevoker()
	m := New(logical.NewInmemStorage(), f, Options{Now: clock.Now})

	renewable := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	fixed, _ := m.Register(ctx, "db/creds/ro", "tok", secret(time.Hour, false))
	short := mustRegister(t, m, "db/creds/ro", "tok", time.Minute)
	if err := m.RegisterToken(ctx, "", "auth/token/create", "hvs.tok", clock.Now().Add(time.Hour), &logical.Auth{LeaseOptions: logical.LeaseOptions{Renewable: true}}); err != nil {
		t.Fatal(err)
	}
	irrevocable := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	e, _ := m.Lookup(ctx, irrevocable.ID)
	e.Irrevocable = true
	if err := m.persist(ctx, e); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Minute) // "short" is now expired

	tests := []struct {
		name    string
		id      string
		wantErr error
	}{
		{"unknown", "db/creds/ro/missing", ErrLeaseNotFound},
		{"not renewable", fixed.ID, ErrNotRenewable},
		{"expired", short.ID, ErrLeaseExpired},
		{"token lease", TokenLeaseID("auth/token/create", "hvs.tok"), ErrTokenLease},
		{"irrevocable", irrevocable.ID, ErrIrrevocable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Renew(ctx, tt.id, time.Hour)
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, logical.ErrInvalidRequest) {
				t.Fatalf("Renew error = %v, want %v (a 400)", err, tt.wantErr)
			}
		})
	}
	if len(f.renews) != 0 {
		t.Fatalf("refused renewals reached the backend: %v", f.renews)
	}

	resp, err := m.Renew(ctx, renewable.ID, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Secret == nil || resp.Secret.LeaseID != renewable.ID || resp.Secret.TTL != 30*time.Minute || !resp.Secret.Renewable {
		t.Fatalf("renew response secret = %+v", resp.Secret)
	}
	got, _ := m.Lookup(ctx, renewable.ID)
	if !got.ExpireTime.Equal(clock.Now().Add(30*time.Minute)) || !got.LastRenewalTime.Equal(clock.Now()) || !got.IssueTime.Equal(renewable.IssueTime) {
		t.Fatalf("renewed entry times: issue %v expire %v last %v", got.IssueTime, got.ExpireTime, got.LastRenewalTime)
	}
	if got.Secret.InternalData["username"] != "v-user" {
		t.Fatalf("internal data lost on renew: %+v", got.Secret.InternalData)
	}

	f.renewErr = errors.New("target down")
	if _, err := m.Renew(ctx, renewable.ID, 0); err == nil || !errors.Is(err, f.renewErr) {
		t.Fatalf("backend renew error not returned: %v", err)
	}
}

func TestRevokeSyncIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := logical.NewInmemStorage()
	f := newFakeRevoker()
	m := New(s, f, Options{})
	e := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	for i := 0; i < 2; i++ {
		if err := m.Revoke(ctx, e.ID, true); err != nil {
			t.Fatalf("Revoke #%d: %v", i+1, err)
		}
	}
	if n := f.revokedCount(e.ID); n != 1 {
		t.Fatalf("revoked %d times, want once", n)
	}
	if exists(t, s, "id/"+e.ID) || exists(t, s, tokenIndexKey("tok", e.ID)) {
		t.Fatal("entry or index left after revoke")
	}
	if c := m.Count(); c.Active != 0 {
		t.Fatalf("Count after revoke = %+v", c)
	}
	if err := m.Revoke(ctx, "db/creds/ro/unknown", true); err != nil {
		t.Fatalf("revoking an unknown lease: %v", err)
	}
	if err := m.Revoke(ctx, "", true); !errors.Is(err, logical.ErrInvalidRequest) {
		t.Fatalf("revoke without ID: %v", err)
	}
}

func TestRevokeSyncFailureKeepsLease(t *testing.T) {
	ctx := context.Background()
	s := logical.NewInmemStorage()
	f := newFakeRevoker()
	f.fail = func(*Entry, int) error { return errTargetDown }
	m := New(s, f, Options{})
	e := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	if err := m.Revoke(ctx, e.ID, true); !errors.Is(err, errTargetDown) {
		t.Fatalf("Revoke error = %v", err)
	}
	if !exists(t, s, "id/"+e.ID) {
		t.Fatal("lease deleted although its revocation failed")
	}
}

func TestRevokeAsync(t *testing.T) {
	m, f, s := newStarted(t, testOptions())
	e := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	if err := m.Revoke(context.Background(), e.ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "background revocation", func() bool { return !exists(t, s, "id/"+e.ID) })
	if n := f.revokedCount(e.ID); n != 1 {
		t.Fatalf("revoked %d times", n)
	}
	waitFor(t, "count to drop", func() bool { return m.Count().Active == 0 })
}

func TestRevokePrefix(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*Manager, *fakeRevoker, logical.Storage, []*Entry) {
		s := logical.NewInmemStorage()
		f := newFakeRevoker()
		m := New(s, f, Options{})
		var es []*Entry
		for _, p := range []string{"db/creds/ro", "db/creds/ro", "db/creds/ro", "db/creds/rw", "aws/creds/x"} {
			es = append(es, mustRegister(t, m, p, "tok", time.Hour))
		}
		return m, f, s, es
	}
	tests := []struct {
		name    string
		prefix  string
		want    int
		wantIDs []int // indexes of es that must be gone
	}{
		{"folder", "db/creds/ro", 3, []int{0, 1, 2}},
		{"folder with slash", "db/creds/", 4, []int{0, 1, 2, 3}},
		{"mount", "db", 4, []int{0, 1, 2, 3}},
		{"exact lease", "", 1, []int{4}},
		{"nothing", "pki/", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, f, s, es := setup(t)
			prefix := tt.prefix
			if prefix == "" {
				prefix = es[4].ID
			}
			n, err := m.RevokePrefix(ctx, prefix, false, true)
			if err != nil || n != tt.want {
				t.Fatalf("RevokePrefix = %d, %v; want %d", n, err, tt.want)
			}
			gone := map[int]bool{}
			for _, i := range tt.wantIDs {
				gone[i] = true
			}
			for i, e := range es {
				if exists(t, s, "id/"+e.ID) == gone[i] {
					t.Errorf("lease %d (%s): gone=%v, want %v", i, e.ID, !gone[i], gone[i])
				}
				if gone[i] && f.revokedCount(e.ID) != 1 {
					t.Errorf("lease %d revoked %d times", i, f.revokedCount(e.ID))
				}
			}
			if c := m.Count(); c.Active != len(es)-tt.want {
				t.Errorf("Count = %+v", c)
			}
		})
	}
	if _, err := New(logical.NewInmemStorage(), newFakeRevoker(), Options{}).RevokePrefix(ctx, "", false, true); err == nil {
		t.Fatal("empty prefix accepted")
	}
}

func TestRevokePrefixFailureAndForce(t *testing.T) {
	ctx := context.Background()
	s := logical.NewInmemStorage()
	f := newFakeRevoker()
	m := New(s, f, Options{})
	a := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	b := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	f.fail = func(e *Entry, _ int) error {
		if e.ID == a.ID {
			return errTargetDown
		}
		return nil
	}
	if _, err := m.RevokePrefix(ctx, "db/", false, true); !errors.Is(err, errTargetDown) {
		t.Fatalf("RevokePrefix error = %v", err)
	}
	if !exists(t, s, "id/"+a.ID) {
		t.Fatal("failed lease deleted without force")
	}
	n, err := m.RevokePrefix(ctx, "db/", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if exists(t, s, "id/"+a.ID) || exists(t, s, "id/"+b.ID) || exists(t, s, tokenIndexKey("tok", a.ID)) {
		t.Fatal("revoke-force left leases behind")
	}
	if n < 1 || m.Count().Active != 0 {
		t.Fatalf("revoke-force count %d, Count %+v", n, m.Count())
	}
}

func TestRevokeByToken(t *testing.T) {
	ctx := context.Background()
	m, f, s := newStarted(t, testOptions())
	a1 := mustRegister(t, m, "db/creds/ro", "hvs.A", time.Hour)
	a2 := mustRegister(t, m, "aws/creds/x", "hvs.A", time.Hour)
	b1 := mustRegister(t, m, "db/creds/ro", "hvs.B", time.Hour)
	if err := m.RegisterToken(ctx, "", "auth/token/create", "hvs.A", time.Now().Add(time.Hour), &logical.Auth{}); err != nil {
		t.Fatal(err)
	}
	tokenLease := TokenLeaseID("auth/token/create", "hvs.A")
	if err := m.RevokeByToken(ctx, "hvs.A"); err != nil {
		t.Fatal(err)
	}
	if exists(t, s, "id/"+tokenLease) {
		t.Fatal("token's own lease not deleted")
	}
	waitFor(t, "leases of the token to be revoked", func() bool {
		return !exists(t, s, "id/"+a1.ID) && !exists(t, s, "id/"+a2.ID)
	})
	if f.callCount(tokenLease) != 0 {
		t.Fatal("the token's own lease went through the Revoker")
	}
	if f.revokedCount(a1.ID) != 1 || f.revokedCount(a2.ID) != 1 {
		t.Fatalf("revocations: %v", f.revoked)
	}
	if !exists(t, s, "id/"+b1.ID) || f.callCount(b1.ID) != 0 {
		t.Fatal("a lease of another token was touched")
	}
	keys, _ := s.List(ctx, "token/"+hashToken("hvs.A")+"/")
	if len(keys) != 0 {
		t.Fatalf("token index left: %v", keys)
	}
	waitFor(t, "count", func() bool { return m.Count().Active == 1 })
}

// TestTokenExpiryRevokesItsLeases plays the token store: revoking the token
// lease calls back RevokeByToken from inside the Revoker.
func TestTokenExpiryRevokesItsLeases(t *testing.T) {
	ctx := context.Background()
	m, f, s := newStarted(t, testOptions())
	f.onRevoke = func(e *Entry) {
		if e.Auth != nil {
			if err := m.RevokeByToken(ctx, e.Auth.ClientToken); err != nil {
				t.Errorf("RevokeByToken: %v", err)
			}
		}
	}
	child := mustRegister(t, m, "db/creds/ro", "hvs.T", time.Hour)
	err := m.RegisterToken(ctx, "", "auth/approle/login", "hvs.T", time.Now().Add(30*time.Millisecond), &logical.Auth{Policies: []string{"default"}})
	if err != nil {
		t.Fatal(err)
	}
	tokenLease := TokenLeaseID("auth/approle/login", "hvs.T")
	waitFor(t, "token and its lease revoked", func() bool {
		return f.revokedCount(tokenLease) == 1 && f.revokedCount(child.ID) == 1
	})
	waitFor(t, "storage clean", func() bool {
		keys, _ := logical.CollectKeys(ctx, s, "")
		return len(keys) == 0
	})
	if c := m.Count(); c.Active != 0 || c.ByMount["auth/approle/"] != 0 {
		t.Fatalf("Count = %+v", c)
	}
}

func TestRegisterTokenUpsert(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := New(logical.NewInmemStorage(), newFakeRevoker(), Options{Now: clock.Now})
	issue := clock.Now()
	if err := m.RegisterToken(ctx, "salted", "auth/token/create/", "hvs.X", issue.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	clock.Add(10 * time.Minute)
	if err := m.RegisterToken(ctx, "salted", "auth/token/create", "hvs.X", clock.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	e, _ := m.Lookup(ctx, "auth/token/create/salted")
	if e == nil || e.Auth == nil || e.Auth.ClientToken != "hvs.X" {
		t.Fatalf("token lease = %+v", e)
	}
	if !e.IssueTime.Equal(issue) || !e.LastRenewalTime.Equal(clock.Now()) || !e.ExpireTime.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("times after upsert: issue %v last %v expire %v", e.IssueTime, e.LastRenewalTime, e.ExpireTime)
	}
	if c := m.Count(); c.Active != 1 || c.ByMount["auth/token/"] != 1 {
		t.Fatalf("Count = %+v", c)
	}
	// A root token does not expire: tracked, never fired.
	if err := m.RegisterToken(ctx, "", "auth/token/root", "hvs.root", time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	if c := m.Count(); c.Active != 2 {
		t.Fatalf("Count with root token = %+v", c)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	m := New(logical.NewInmemStorage(), newFakeRevoker(), Options{})
	ro := mustRegister(t, m, "db/creds/ro", "tok", time.Hour)
	mustRegister(t, m, "db/creds/rw", "tok", time.Hour)
	mustRegister(t, m, "aws/creds/x", "tok", time.Hour)
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"aws/", "db/"}},
		{"db", []string{"creds/"}},
		{"db/creds/", []string{"ro/", "rw/"}},
		{"db/creds/ro", []string{ro.ID[len("db/creds/ro/"):]}},
		{"pki/", []string{}},
	}
	for _, tt := range tests {
		got, err := m.List(ctx, tt.prefix)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("List(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
}

func TestConcurrentRegisters(t *testing.T) {
	ctx := context.Background()
	m, _, s := newStarted(t, testOptions())
	const goroutines, each = 8, 200
	ids := make(chan string, goroutines*each)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				e, err := m.Register(ctx, fmt.Sprintf("mount%d/creds/r", g%3), fmt.Sprintf("tok%d", g), secret(time.Hour, true))
				if err != nil {
					t.Error(err)
					return
				}
				ids <- e.ID
			}
		}(g)
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("duplicate lease ID %s", id)
		}
		seen[id] = true
	}
	keys, _ := logical.CollectKeys(ctx, s, "id/")
	if len(seen) != goroutines*each || len(keys) != len(seen) {
		t.Fatalf("%d IDs, %d stored", len(seen), len(keys))
	}
	if c := m.Count(); c.Active != len(seen) || c.ByMount["mount0/"]+c.ByMount["mount1/"]+c.ByMount["mount2/"] != len(seen) {
		t.Fatalf("Count = %+v", c)
	}
}

func TestTidy(t *testing.T) {
	ctx := context.Background()
	s := logical.NewInmemStorage()
	f := newFakeRevoker()
	live := map[string]bool{"hvs.live": true}
	m := New(s, f, Options{TokenExists: func(_ context.Context, tok string) (bool, error) { return live[tok], nil }})
	kept := mustRegister(t, m, "db/creds/ro", "hvs.live", time.Hour)
	orphan := mustRegister(t, m, "db/creds/ro", "hvs.dead", time.Hour)
	if err := m.RegisterToken(ctx, "", "auth/token/create", "hvs.dead", time.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	// An index entry whose lease is gone, and an unreadable lease.
	stale := tokenIndexKey("hvs.live", "db/creds/ro/gone")
	if err := s.Put(ctx, &logical.StorageEntry{Key: stale, Value: []byte("db/creds/ro/gone")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, &logical.StorageEntry{Key: "id/db/creds/ro/garbage", Value: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	n, err := m.Tidy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// stale index + garbage + orphan secret (queued) + dead token lease
	if n != 4 {
		t.Fatalf("Tidy fixed %d things, want 4", n)
	}
	if exists(t, s, stale) || exists(t, s, "id/db/creds/ro/garbage") || exists(t, s, "id/"+TokenLeaseID("auth/token/create", "hvs.dead")) {
		t.Fatal("tidy left stale entries")
	}
	if !exists(t, s, "id/"+kept.ID) {
		t.Fatal("tidy removed a live lease")
	}
	e, _ := m.Lookup(ctx, orphan.ID)
	if e == nil || e.ExpireTime.After(time.Now()) {
		t.Fatalf("lease of a dead token not queued for revocation: %+v", e)
	}
}
