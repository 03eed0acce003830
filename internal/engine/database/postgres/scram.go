package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const (
	scramSaltLen    = 16
	scramIterations = 4096
)

// SCRAMVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for
// a password (the same text pg_authid.rolpassword holds), so that a
// password can be set without the server ever seeing it. r supplies the
// salt; nil means crypto/rand.
func SCRAMVerifier(password string, r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, scramSaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	stored, server, err := scramKeys(password, salt, scramIterations)
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, enc(salt), enc(stored), enc(server)), nil
}

// scramKeys derives StoredKey and ServerKey (RFC 5802).
func scramKeys(password string, salt []byte, iter int) (stored, server []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("derive key: %w", err)
	}
	client := hmacSum(salted, "Client Key")
	sum := sha256.Sum256(client)
	return sum[:], hmacSum(salted, "Server Key"), nil
}

func hmacSum(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// SCRAMVerifierMatches reports whether a stored SCRAM-SHA-256 verifier
// (as in pg_authid.rolpassword) was made from password.
func SCRAMVerifierMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	head, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	it, salt64, ok := strings.Cut(head, ":")
	if !ok {
		return false
	}
	iter, err := strconv.Atoi(it)
	if err != nil || iter <= 0 {
		return false
	}
	stored64, server64, ok := strings.Cut(keys, ":")
	if !ok {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(salt64)
	wantStored, err2 := base64.StdEncoding.DecodeString(stored64)
	wantServer, err3 := base64.StdEncoding.DecodeString(server64)
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	stored, server, err := scramKeys(password, salt, iter)
	if err != nil {
		return false
	}
	return hmac.Equal(stored, wantStored) && hmac.Equal(server, wantServer)
}
