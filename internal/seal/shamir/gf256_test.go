package shamir

import "testing"

// tables builds exp/log tables for generator 3 the textbook way, as an
// independent reference for the constant-time arithmetic.
func tables() (exp [510]uint8, log [256]uint8) {
	x := uint8(1)
	for i := 0; i < 255; i++ {
		exp[i] = x
		exp[i+255] = x
		log[x] = uint8(i)
		// x *= 3, i.e. x ^ (x * 2) with reduction.
		x2 := x << 1
		if x&0x80 != 0 {
			x2 ^= 0x1b
		}
		x ^= x2
	}
	return exp, log
}

func TestMulMatchesLogTables(t *testing.T) {
	exp, log := tables()
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			want := uint8(0)
			if a != 0 && b != 0 {
				want = exp[int(log[a])+int(log[b])]
			}
			if got := mul(uint8(a), uint8(b)); got != want {
				t.Fatalf("mul(%#x, %#x) = %#x, want %#x", a, b, got, want)
			}
		}
	}
}

func TestInverse(t *testing.T) {
	if inv(0) != 0 {
		t.Fatalf("inv(0) = %#x, want 0", inv(0))
	}
	for a := 1; a < 256; a++ {
		if got := mul(uint8(a), inv(uint8(a))); got != 1 {
			t.Fatalf("a * inv(a) = %#x for a = %#x", got, a)
		}
		if got := div(uint8(a), uint8(a)); got != 1 {
			t.Fatalf("a / a = %#x for a = %#x", got, a)
		}
	}
}

func TestKnownProducts(t *testing.T) {
	// FIPS-197 section 4.2: {57} * {83} = {c1}, {57} * {13} = {fe}.
	tests := []struct{ a, b, want uint8 }{
		{0x57, 0x83, 0xc1},
		{0x57, 0x13, 0xfe},
		{0x00, 0x99, 0x00},
		{0x01, 0x99, 0x99},
	}
	for _, tt := range tests {
		if got := mul(tt.a, tt.b); got != tt.want {
			t.Errorf("mul(%#x, %#x) = %#x, want %#x", tt.a, tt.b, got, tt.want)
		}
		if got := mul(tt.b, tt.a); got != tt.want {
			t.Errorf("mul(%#x, %#x) = %#x, want %#x", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestEvaluateAndInterpolate(t *testing.T) {
	// f(x) = 0x42 + 0x17 x + 0xa0 x^2
	coeffs := []uint8{0x42, 0x17, 0xa0}
	if got := evaluate(coeffs, 0); got != 0x42 {
		t.Fatalf("f(0) = %#x, want 0x42", got)
	}
	want1 := uint8(0x42 ^ 0x17 ^ 0xa0)
	if got := evaluate(coeffs, 1); got != want1 {
		t.Fatalf("f(1) = %#x, want %#x", got, want1)
	}
	xs := []uint8{5, 77, 200}
	ys := make([]uint8, len(xs))
	for i, x := range xs {
		ys[i] = evaluate(coeffs, x)
	}
	if got := interpolateAtZero(xs, ys); got != 0x42 {
		t.Fatalf("interpolated f(0) = %#x, want 0x42", got)
	}
}
