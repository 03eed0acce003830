package shamir

import (
	"bytes"
	"crypto/rand"
	"errors"
	mrand "math/rand/v2"
	"testing"
)

func randomSecret(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSplitRejectsBadParameters(t *testing.T) {
	tests := []struct {
		name      string
		secret    []byte
		parts     int
		threshold int
	}{
		{"empty secret", nil, 5, 3},
		{"zero parts", []byte("s"), 0, 0},
		{"threshold above parts", []byte("s"), 3, 4},
		{"threshold one of many", []byte("s"), 5, 1},
		{"threshold zero", []byte("s"), 5, 0},
		{"threshold zero of one", []byte("s"), 1, 0},
		{"too many parts", []byte("s"), 256, 3},
		{"negative", []byte("s"), -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shares, err := Split(tt.secret, tt.parts, tt.threshold)
			if !errors.Is(err, ErrInvalidSplit) {
				t.Fatalf("Split error = %v, want ErrInvalidSplit", err)
			}
			if shares != nil {
				t.Fatalf("Split returned shares on error")
			}
		})
	}
}

func TestSplitShape(t *testing.T) {
	secret := randomSecret(t, 32)
	shares, err := Split(secret, 255, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) != 255 {
		t.Fatalf("got %d shares, want 255", len(shares))
	}
	seen := map[byte]bool{}
	for i, s := range shares {
		if len(s) != len(secret)+1 {
			t.Fatalf("share %d has %d bytes, want %d", i, len(s), len(secret)+1)
		}
		x := s[len(s)-1]
		if x == 0 || seen[x] {
			t.Fatalf("share %d has bad or repeated x coordinate %d", i, x)
		}
		seen[x] = true
	}
}

func TestSplitOneOfOne(t *testing.T) {
	secret := randomSecret(t, 32)
	shares, err := Split(secret, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) != 1 || !bytes.Equal(shares[0], secret) {
		t.Fatalf("1-of-1 share should be the secret itself")
	}
	shares[0][0] ^= 0xff
	if bytes.Equal(shares[0], secret) {
		t.Fatalf("share aliases the secret")
	}
	got, err := Combine([][]byte{secret})
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Combine of the single share = %x, %v", got, err)
	}
}

// subsets calls fn with every k-subset of indices 0..n-1.
func subsets(n, k int, fn func([]int)) {
	idx := make([]int, k)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if depth == k {
			fn(idx)
			return
		}
		for i := start; i <= n-(k-depth); i++ {
			idx[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
}

func pick(shares [][]byte, idx []int) [][]byte {
	out := make([][]byte, len(idx))
	for i, j := range idx {
		out[i] = shares[j]
	}
	return out
}

func TestEveryThresholdSubsetReconstructs(t *testing.T) {
	configs := []struct{ n, k int }{{2, 2}, {3, 2}, {5, 3}, {6, 4}, {7, 7}, {8, 5}}
	for _, c := range configs {
		secret := randomSecret(t, 1+mrand.IntN(64))
		shares, err := Split(secret, c.n, c.k)
		if err != nil {
			t.Fatal(err)
		}
		// Every subset of size k or larger recovers the secret.
		for size := c.k; size <= c.n; size++ {
			subsets(c.n, size, func(idx []int) {
				got, err := Combine(pick(shares, idx))
				if err != nil {
					t.Fatalf("%d/%d subset %v: %v", c.k, c.n, idx, err)
				}
				if !bytes.Equal(got, secret) {
					t.Fatalf("%d/%d subset %v: wrong secret", c.k, c.n, idx)
				}
			})
		}
		// No subset of size k-1 does.
		if c.k-1 >= 2 {
			subsets(c.n, c.k-1, func(idx []int) {
				got, err := Combine(pick(shares, idx))
				if err != nil {
					t.Fatalf("%d/%d subset %v: %v", c.k, c.n, idx, err)
				}
				if bytes.Equal(got, secret) {
					t.Fatalf("%d/%d: %d shares %v recovered the secret", c.k, c.n, c.k-1, idx)
				}
			})
		}
	}
}

func TestRandomSubsetsLarge(t *testing.T) {
	for round := 0; round < 20; round++ {
		n := 2 + mrand.IntN(254)
		k := 2 + mrand.IntN(n-1)
		secret := randomSecret(t, 32)
		shares, err := Split(secret, n, k)
		if err != nil {
			t.Fatal(err)
		}
		perm := mrand.Perm(n)
		got, err := Combine(pick(shares, perm[:k]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatalf("%d/%d: wrong secret", k, n)
		}
		if k > 2 {
			got, err := Combine(pick(shares, perm[:k-1]))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(got, secret) {
				t.Fatalf("%d/%d: k-1 shares recovered a 32-byte secret", k, n)
			}
		}
	}
}

func TestCombineRejectsBadShares(t *testing.T) {
	secret := randomSecret(t, 16)
	shares, err := Split(secret, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	zeroX := append([]byte(nil), shares[2]...)
	zeroX[len(zeroX)-1] = 0
	sameX := append([]byte(nil), shares[1]...)
	sameX[0] ^= 1 // different y values, same x coordinate as shares[1]

	tests := []struct {
		name  string
		parts [][]byte
	}{
		{"none", nil},
		{"single empty", [][]byte{{}}},
		{"duplicate share", [][]byte{shares[0], shares[1], shares[0]}},
		{"duplicate x coordinate", [][]byte{shares[0], shares[1], sameX}},
		{"different lengths", [][]byte{shares[0], shares[1], shares[2][1:]}},
		{"too short", [][]byte{{1}, {2}}},
		{"zero x", [][]byte{shares[0], shares[1], zeroX}},
		{"too many", make([][]byte, 256)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Combine(tt.parts)
			if !errors.Is(err, ErrInvalidShares) {
				t.Fatalf("Combine error = %v, want ErrInvalidShares", err)
			}
			if got != nil {
				t.Fatalf("Combine returned a secret on error")
			}
		})
	}
}

func TestSplitIsRandomized(t *testing.T) {
	secret := []byte("the same secret")
	a, err := Split(secret, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Split(secret, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[0], b[0]) && bytes.Equal(a[1], b[1]) && bytes.Equal(a[2], b[2]) {
		t.Fatal("two splits of the same secret produced identical shares")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestSplitRandomFailure(t *testing.T) {
	if _, err := split(failingReader{}, []byte("secret"), 3, 2); err == nil {
		t.Fatal("split succeeded without randomness")
	}
}

func FuzzCombine(f *testing.F) {
	shares, err := Split([]byte("fuzz seed secret"), 3, 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(shares[0], shares[1], shares[2], uint8(3))
	f.Add([]byte{}, []byte{1}, []byte{1, 0}, uint8(2))
	f.Add([]byte{7, 1}, []byte{7, 1}, []byte{}, uint8(2))
	f.Fuzz(func(t *testing.T, a, b, c []byte, n uint8) {
		parts := [][]byte{a, b, c}[:int(n)%4]
		got, err := Combine(parts)
		if err == nil && len(parts) > 1 && len(got) != len(parts[0])-1 {
			t.Fatalf("secret length %d for shares of length %d", len(got), len(parts[0]))
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	secret := randomSecret(b, 32)
	for b.Loop() {
		if _, err := Split(secret, 5, 3); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCombine(b *testing.B) {
	secret := randomSecret(b, 32)
	shares, err := Split(secret, 5, 3)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Combine(shares[:3]); err != nil {
			b.Fatal(err)
		}
	}
}
