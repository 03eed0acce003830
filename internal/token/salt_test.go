package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestSaltIsHMAC(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := newSalter(key)
	for _, v := range []string{"", "root", "hvs.abcdefghijklmnopqrstuvwx", strings.Repeat("x", 191), strings.Repeat("y", 192), strings.Repeat("z", 1000)} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(v))
		want := hex.EncodeToString(m.Sum(nil))
		if got := s.salt(v); got != want {
			t.Fatalf("salt(%d bytes) = %s, want %s", len(v), got, want)
		}
		if d := digestOf(want); d != s.sum(v) {
			t.Fatalf("digestOf does not invert salt for %d bytes", len(v))
		}
	}
	if digestOf("not hex") != (digest{}) {
		t.Fatal("malformed key should give the zero digest")
	}
}

func TestRandomString(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s, err := randomString(strings.NewReader(strings.Repeat("\xff\x01\xf8\x3d", 200)), 24)
		if err != nil {
			t.Fatal(err)
		}
		if !accessorRe.MatchString(s) {
			t.Fatalf("%q is not 24 base62 characters", s)
		}
		seen[s] = true
	}
	// Bytes >= 248 are skipped: the fixed input yields "1" and "z" only.
	for s := range seen {
		if strings.Trim(s, "1z") != "" {
			t.Fatalf("rejection sampling kept a biased byte: %q", s)
		}
	}
}
