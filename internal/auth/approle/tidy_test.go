package approle

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestTidy(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", nil)
	rid := h.roleID("r")
	var expiring []string
	for i := 0; i < 3; i++ {
		sid, _ := h.secretID("r", map[string]interface{}{"ttl": "1m"})
		expiring = append(expiring, sid)
	}
	keep, _ := h.secretID("r", map[string]interface{}{"ttl": "1h"})
	forever, _ := h.secretID("r", nil)

	// A dangling accessor (its secret ID gone) and a secret ID without
	// its accessor, as an interrupted destroy would leave them.
	danglingSID, _ := h.secretID("r", nil)
	roleHMAC, secretHMAC, err := h.b.secretIDKeys(context.Background(), h.s, "r", danglingSID)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.s.Delete(context.Background(), prefixSecretID+roleHMAC+"/"+secretHMAC); err != nil {
		t.Fatal(err)
	}
	orphanSID, orphanAcc := h.secretID("r", nil)
	accKey, _ := h.b.hmac(context.Background(), h.s, "accessor", orphanAcc)
	if err := h.s.Delete(context.Background(), prefixAccessor+accKey); err != nil {
		t.Fatal(err)
	}

	h.clock.advance(2 * time.Minute)
	resp := h.ok(logical.UpdateOperation, "tidy/secret-id", nil)
	if w := strings.Join(resp.Warnings, ""); !strings.Contains(w, "removed 4 expired secret IDs and 1 dangling accessor entries") {
		t.Fatalf("tidy warnings = %v", resp.Warnings)
	}
	if n, m := h.countPrefix(prefixSecretID), h.countPrefix(prefixAccessor); n != 2 || m != 2 {
		t.Fatalf("after tidy: %d secret IDs and %d accessors, want 2 and 2", n, m)
	}
	for _, sid := range append(expiring, orphanSID) {
		_, err := h.login(rid, sid, testRemote)
		checkErr(t, err, logical.ErrInvalidRequest, "invalid role or secret ID")
	}
	h.mustLogin(rid, keep)
	h.mustLogin(rid, forever)

	// Nothing left to do the second time.
	resp = h.ok(logical.UpdateOperation, "tidy/secret-id", nil)
	if w := strings.Join(resp.Warnings, ""); !strings.Contains(w, "removed 0 expired secret IDs and 0 dangling") {
		t.Fatalf("second tidy warnings = %v", resp.Warnings)
	}

	// A tidy already running is reported, not run twice.
	h.b.tidying.Store(true)
	resp = h.ok(logical.UpdateOperation, "tidy/secret-id", nil)
	if resp.Warnings[0] != "Tidy operation already in progress." {
		t.Fatalf("concurrent tidy = %v", resp.Warnings)
	}
	h.b.tidying.Store(false)
}

func TestPeriodicTidy(t *testing.T) {
	h := newHarness(t)
	h.createRole("r", nil)
	h.secretID("r", map[string]interface{}{"ttl": "30s"})
	rollback := func() {
		t.Helper()
		if _, err := h.b.HandleRequest(context.Background(), &logical.Request{Operation: logical.RollbackOperation, Storage: h.s}); err != nil {
			t.Fatal(err)
		}
	}
	rollback() // first run: nothing expired yet
	if h.countPrefix(prefixSecretID) != 1 {
		t.Fatal("a live secret ID was tidied")
	}
	h.clock.advance(40 * time.Second)
	rollback() // expired, but the last tidy was under a minute ago
	if h.countPrefix(prefixSecretID) != 1 {
		t.Fatal("tidy ran more than once a minute")
	}
	h.clock.advance(30 * time.Second)
	rollback()
	if n := h.countPrefix(prefixSecretID) + h.countPrefix(prefixAccessor); n != 0 {
		t.Fatalf("%d entries left after the periodic tidy", n)
	}
}
