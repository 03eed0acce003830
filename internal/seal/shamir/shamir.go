// Package shamir splits a secret into shares with Shamir's secret sharing
// over GF(2^8), and combines enough shares back into the secret.
//
// Each byte of the secret is the constant term of its own random polynomial
// of degree threshold-1. A share is the polynomials' values at one x
// coordinate followed by that coordinate as a final byte, so a share is one
// byte longer than the secret. The x coordinates are random, distinct and
// non-zero. This is the same share layout Vault uses for unseal keys.
package shamir

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// MaxParts is the largest number of shares: there are 255 non-zero x
// coordinates in GF(2^8).
const MaxParts = 255

var (
	// ErrInvalidSplit is wrapped by every error Split returns for bad
	// arguments.
	ErrInvalidSplit = errors.New("invalid split parameters")
	// ErrInvalidShares is wrapped by every error Combine returns for a bad
	// set of shares.
	ErrInvalidShares = errors.New("invalid shares")
)

// Split divides secret into parts shares, any threshold of which recover it
// with Combine. It needs 2 <= threshold <= parts <= 255; the one exception is
// parts == threshold == 1, where the single share is the secret itself.
func Split(secret []byte, parts, threshold int) ([][]byte, error) {
	return split(rand.Reader, secret, parts, threshold)
}

func split(random io.Reader, secret []byte, parts, threshold int) ([][]byte, error) {
	if err := checkSplit(secret, parts, threshold); err != nil {
		return nil, err
	}
	if parts == 1 {
		return [][]byte{append([]byte(nil), secret...)}, nil
	}

	xs, err := randomCoordinates(random, parts)
	if err != nil {
		return nil, err
	}
	shares := make([][]byte, parts)
	for i := range shares {
		shares[i] = make([]byte, len(secret)+1)
		shares[i][len(secret)] = xs[i]
	}

	coeffs := make([]uint8, threshold)
	defer clear(coeffs)
	for idx, b := range secret {
		coeffs[0] = b
		if _, err := io.ReadFull(random, coeffs[1:]); err != nil {
			return nil, fmt.Errorf("generate polynomial: %w", err)
		}
		for i, x := range xs {
			shares[i][idx] = evaluate(coeffs, x)
		}
	}
	return shares, nil
}

func checkSplit(secret []byte, parts, threshold int) error {
	switch {
	case len(secret) == 0:
		return fmt.Errorf("%w: cannot split an empty secret", ErrInvalidSplit)
	case parts < 1:
		return fmt.Errorf("%w: parts must be at least 1, got %d", ErrInvalidSplit, parts)
	case parts > MaxParts:
		return fmt.Errorf("%w: parts cannot exceed %d, got %d", ErrInvalidSplit, MaxParts, parts)
	case threshold > parts:
		return fmt.Errorf("%w: threshold (%d) cannot be larger than parts (%d)", ErrInvalidSplit, threshold, parts)
	case parts == 1 && threshold == 1:
		return nil
	case threshold < 2:
		return fmt.Errorf("%w: threshold must be at least 2 when there is more than one part, got %d", ErrInvalidSplit, threshold)
	}
	return nil
}

// randomCoordinates returns n distinct random values in 1..255: the head of
// a uniformly shuffled list of all non-zero field elements.
func randomCoordinates(random io.Reader, n int) ([]uint8, error) {
	all := make([]uint8, MaxParts)
	for i := range all {
		all[i] = uint8(i + 1)
	}
	// Fisher-Yates, stopping once the first n positions are fixed.
	for i := 0; i < n; i++ {
		j, err := uniform(random, MaxParts-i)
		if err != nil {
			return nil, fmt.Errorf("generate x coordinates: %w", err)
		}
		all[i], all[i+j] = all[i+j], all[i]
	}
	return all[:n], nil
}

// uniform returns a uniformly distributed integer in [0, n) for 1 <= n <= 256,
// rejecting random bytes that would bias the result.
func uniform(random io.Reader, n int) (int, error) {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := io.ReadFull(random, b[:]); err != nil {
			return 0, err
		}
		if int(b[0]) < limit {
			return int(b[0]) % n, nil
		}
	}
}

// Combine reconstructs a secret from shares produced by Split. With fewer
// shares than the split's threshold it returns a wrong value rather than an
// error: nothing in the shares reveals the threshold. A single share is
// returned unchanged, which is the secret for a 1-of-1 split.
func Combine(parts [][]byte) ([]byte, error) {
	switch len(parts) {
	case 0:
		return nil, fmt.Errorf("%w: no shares given", ErrInvalidShares)
	case 1:
		if len(parts[0]) == 0 {
			return nil, fmt.Errorf("%w: share is empty", ErrInvalidShares)
		}
		return append([]byte(nil), parts[0]...), nil
	}
	if len(parts) > MaxParts {
		return nil, fmt.Errorf("%w: at most %d shares can be combined, got %d", ErrInvalidShares, MaxParts, len(parts))
	}

	size := len(parts[0])
	if size < 2 {
		return nil, fmt.Errorf("%w: shares must be at least 2 bytes long", ErrInvalidShares)
	}
	xs := make([]uint8, len(parts))
	var seen [256]bool
	for i, p := range parts {
		if len(p) != size {
			return nil, fmt.Errorf("%w: all shares must be the same length (share 1 has %d bytes, share %d has %d)",
				ErrInvalidShares, size, i+1, len(p))
		}
		x := p[size-1]
		if x == 0 {
			return nil, fmt.Errorf("%w: share %d has x coordinate 0", ErrInvalidShares, i+1)
		}
		if seen[x] {
			return nil, fmt.Errorf("%w: duplicate share detected", ErrInvalidShares)
		}
		seen[x] = true
		xs[i] = x
	}

	secret := make([]byte, size-1)
	ys := make([]uint8, len(parts))
	defer clear(ys)
	for idx := range secret {
		for i, p := range parts {
			ys[i] = p[idx]
		}
		secret[idx] = interpolateAtZero(xs, ys)
	}
	return secret, nil
}
