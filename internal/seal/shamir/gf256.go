package shamir

// Arithmetic in GF(2^8) with the AES reduction polynomial
// x^8 + x^4 + x^3 + x + 1 (0x11b). Addition and subtraction are XOR.
//
// Multiplication is done bit by bit with masks instead of log/exp table
// lookups, so its running time and memory access pattern do not depend on
// the (secret) operands. Inversion is a fixed chain of multiplications
// (a^254), equally free of branches on secret data.

// mul returns a*b in GF(2^8) in constant time.
func mul(a, b uint8) uint8 {
	var p uint8
	for i := 0; i < 8; i++ {
		// mask is 0xff when the low bit of b is set, else 0.
		mask := -(b & 1)
		p ^= a & mask
		// Multiply a by x, reducing by 0x11b when the high bit overflows.
		carry := -(a >> 7)
		a = (a << 1) ^ (0x1b & carry)
		b >>= 1
	}
	return p
}

// inv returns the multiplicative inverse of a, computed as a^254 (Fermat's
// little theorem in a field of 256 elements). inv(0) is 0; callers never
// divide by zero because x coordinates are distinct and non-zero.
func inv(a uint8) uint8 {
	// 254 = 0b11111110: square-and-multiply with a fixed sequence.
	a2 := mul(a, a)        // a^2
	a3 := mul(a2, a)       // a^3
	a6 := mul(a3, a3)      // a^6
	a7 := mul(a6, a)       // a^7
	a14 := mul(a7, a7)     // a^14
	a15 := mul(a14, a)     // a^15
	a30 := mul(a15, a15)   // a^30
	a31 := mul(a30, a)     // a^31
	a62 := mul(a31, a31)   // a^62
	a63 := mul(a62, a)     // a^63
	a126 := mul(a63, a63)  // a^126
	a127 := mul(a126, a)   // a^127
	return mul(a127, a127) // a^254
}

// div returns a/b in GF(2^8).
func div(a, b uint8) uint8 {
	return mul(a, inv(b))
}

// evaluate returns the value at x of the polynomial whose coefficients are
// given lowest degree first, using Horner's rule.
func evaluate(coeffs []uint8, x uint8) uint8 {
	var y uint8
	for i := len(coeffs) - 1; i >= 0; i-- {
		y = mul(y, x) ^ coeffs[i]
	}
	return y
}

// interpolateAtZero returns f(0) for the unique polynomial of degree
// len(xs)-1 through the points (xs[i], ys[i]), by Lagrange interpolation.
// The xs must be distinct.
func interpolateAtZero(xs, ys []uint8) uint8 {
	var result uint8
	for i := range xs {
		// basis_i(0) = prod_{j != i} (0 - x_j) / (x_i - x_j)
		//            = prod_{j != i} x_j / (x_i ^ x_j)
		basis := uint8(1)
		for j := range xs {
			if i == j {
				continue
			}
			basis = mul(basis, div(xs[j], xs[i]^xs[j]))
		}
		result ^= mul(ys[i], basis)
	}
	return result
}
