package lease

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

func TestEntryEncoding(t *testing.T) {
	exp := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC)
	tests := []struct {
		name string
		e    Entry
	}{
		{"secret", Entry{ID: "db/creds/ro/x", Path: "db/creds/ro", Secret: secret(time.Hour, true), ExpireTime: exp}},
		{"irrevocable", Entry{ID: "db/creds/ro/y", ExpireTime: exp, Irrevocable: true, RevokeAttempts: 6, LastError: "boom"}},
		{"never expires", Entry{ID: "auth/token/root/z", Auth: &logical.Auth{ClientToken: "hvs.root"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := encodeEntry(&tt.e)
			if err != nil {
				t.Fatal(err)
			}
			times, err := decodeTimes(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !times.ExpireTime.Equal(tt.e.ExpireTime) || times.Irrevocable != tt.e.Irrevocable {
				t.Fatalf("header = %+v, want expire %v irrevocable %v", times, tt.e.ExpireTime, tt.e.Irrevocable)
			}
			js, err := entryJSON(raw)
			if err != nil {
				t.Fatal(err)
			}
			var back Entry
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if back.ID != tt.e.ID || !back.ExpireTime.Equal(tt.e.ExpireTime) || back.Irrevocable != tt.e.Irrevocable || back.LastError != tt.e.LastError {
				t.Fatalf("round trip = %+v", back)
			}
			// Plain JSON (no header) is read too.
			times, err = decodeTimes(js)
			if err != nil || !times.ExpireTime.Equal(tt.e.ExpireTime) || times.Irrevocable != tt.e.Irrevocable {
				t.Fatalf("plain JSON header = %+v, %v", times, err)
			}
		})
	}
	for _, bad := range [][]byte{nil, []byte("x"), {9, 1, 2}} {
		if _, err := decodeTimes(bad); err == nil {
			t.Errorf("decodeTimes(%q) accepted garbage", bad)
		}
	}
}

func TestLoadPlainJSONEntry(t *testing.T) {
	ctx := context.Background()
	s := logical.NewInmemStorage()
	e := Entry{ID: "db/creds/ro/plain", Path: "db/creds/ro", Secret: secret(time.Hour, true), ExpireTime: time.Now().Add(time.Hour)}
	if err := logical.PutJSON(ctx, s, "id/"+e.ID, &e); err != nil {
		t.Fatal(err)
	}
	got, err := New(s, newFakeRevoker(), Options{}).Lookup(ctx, e.ID)
	if err != nil || got == nil || got.Path != e.Path {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
}

func TestKeyLocksAreReleased(t *testing.T) {
	var k keyLocks
	k.m = map[string]*keyLock{}
	unlock := k.lock("a")
	done := make(chan struct{})
	go func() {
		u := k.lock("a")
		u()
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("second lock taken while the first is held")
	case <-time.After(20 * time.Millisecond):
	}
	unlock()
	<-done
	if len(k.m) != 0 {
		t.Fatalf("locks left: %v", k.m)
	}
}
