package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Key types as the API names them.
const (
	keyTypeRSA     = "rsa"
	keyTypeEC      = "ec"
	keyTypeEd25519 = "ed25519"
	keyTypeAny     = "any"
)

// normalizeKeySpec applies the defaults for key_bits (2048 for RSA, 256 for
// EC) and signature_bits (256 for RSA) and rejects combinations the engine
// does not issue, with the same rules and texts as Vault.
func normalizeKeySpec(keyType string, keyBits, sigBits int) (int, int, error) {
	if keyBits == 0 {
		switch keyType {
		case keyTypeRSA:
			keyBits = 2048
		case keyTypeEC:
			keyBits = 256
		}
	}
	switch keyType {
	case keyTypeRSA:
		if keyBits < 2048 {
			return keyBits, sigBits, fmt.Errorf("RSA keys < 2048 bits are unsafe and not supported: got %d", keyBits)
		}
		switch keyBits {
		case 2048, 3072, 4096, 8192:
		default:
			return keyBits, sigBits, fmt.Errorf("unsupported bit length for RSA key: %d", keyBits)
		}
		if sigBits == 0 {
			sigBits = 256
		}
		switch sigBits {
		case 256, 384, 512:
		default:
			return keyBits, sigBits, fmt.Errorf("unsupported hash signature algorithm: %d", sigBits)
		}
	case keyTypeEC:
		switch keyBits {
		case 224, 256, 384, 521:
		default:
			return keyBits, sigBits, fmt.Errorf("unsupported bit length for EC key: %d", keyBits)
		}
	case keyTypeEd25519, keyTypeAny:
		sigBits = 0
	default:
		return keyBits, sigBits, fmt.Errorf("unknown key type %s", keyType)
	}
	return keyBits, sigBits, nil
}

// generateKey creates a private key of a concrete type ("any" is not one).
func generateKey(keyType string, keyBits int) (crypto.Signer, error) {
	switch keyType {
	case keyTypeRSA:
		return rsa.GenerateKey(rand.Reader, keyBits)
	case keyTypeEC:
		curve, err := curveForBits(keyBits)
		if err != nil {
			return nil, err
		}
		return ecdsa.GenerateKey(curve, rand.Reader)
	case keyTypeEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("key_type %q cannot be generated; use rsa, ec or ed25519", keyType)
}

func curveForBits(bits int) (elliptic.Curve, error) {
	switch bits {
	case 224:
		return elliptic.P224(), nil
	case 256:
		return elliptic.P256(), nil
	case 384:
		return elliptic.P384(), nil
	case 521:
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("unsupported bit length for EC key: %d", bits)
}

// publicKeyInfo reports the API key type and size of a public key.
func publicKeyInfo(pub crypto.PublicKey) (string, int, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return keyTypeRSA, k.N.BitLen(), nil
	case *ecdsa.PublicKey:
		return keyTypeEC, k.Curve.Params().BitSize, nil
	case ed25519.PublicKey:
		return keyTypeEd25519, 0, nil
	}
	return "", 0, fmt.Errorf("unsupported public key type %T", pub)
}

// marshalPrivateKey encodes a key the way Vault returns it by default:
// PKCS#1 for RSA, SEC 1 for EC and PKCS#8 for Ed25519. pkcs8 forces PKCS#8.
func marshalPrivateKey(k crypto.Signer, pkcs8 bool) (der []byte, blockType string, err error) {
	if !pkcs8 {
		switch key := k.(type) {
		case *rsa.PrivateKey:
			return x509.MarshalPKCS1PrivateKey(key), "RSA PRIVATE KEY", nil
		case *ecdsa.PrivateKey:
			der, err := x509.MarshalECPrivateKey(key)
			return der, "EC PRIVATE KEY", err
		}
	}
	der, err = x509.MarshalPKCS8PrivateKey(k)
	return der, "PRIVATE KEY", err
}

// encodePrivateKey renders a key for a response in the requested format
// ("der" gives base64 DER, anything else PEM).
func encodePrivateKey(k crypto.Signer, format string, pkcs8 bool) (string, error) {
	der, blockType, err := marshalPrivateKey(k, pkcs8)
	if err != nil {
		return "", fmt.Errorf("encode private key: %w", err)
	}
	if format == "der" {
		return base64.StdEncoding.EncodeToString(der), nil
	}
	return pemString(blockType, der), nil
}

// parsePrivateKey reads one PEM private key in PKCS#1, SEC 1 or PKCS#8 form.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM data found")
	}
	return parsePrivateKeyDER(block.Bytes)
}

func parsePrivateKeyDER(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("unknown private key format; expected PKCS#1, SEC 1 or PKCS#8")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	if _, _, err := publicKeyInfo(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// samePublicKey reports whether two public keys are equal.
func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return false
}

// subjectKeyID is the SHA-1 of the DER public key, as Vault computes it.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha1.Sum(der)
	return sum[:], nil
}

// signatureAlgorithm picks the algorithm a signer uses: the curve's hash for
// ECDSA, sigBits (default SHA-256) with optional PSS for RSA.
func signatureAlgorithm(pub crypto.PublicKey, sigBits int, pss bool) x509.SignatureAlgorithm {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch sigBits {
		case 384:
			if pss {
				return x509.SHA384WithRSAPSS
			}
			return x509.SHA384WithRSA
		case 512:
			if pss {
				return x509.SHA512WithRSAPSS
			}
			return x509.SHA512WithRSA
		}
		if pss {
			return x509.SHA256WithRSAPSS
		}
		return x509.SHA256WithRSA
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 384:
			return x509.ECDSAWithSHA384
		case 521:
			return x509.ECDSAWithSHA512
		}
		return x509.ECDSAWithSHA256
	case ed25519.PublicKey:
		return x509.PureEd25519
	}
	return x509.UnknownSignatureAlgorithm
}

// signatureAlgorithmNames maps revocation_signature_algorithm values.
var signatureAlgorithmNames = map[string]x509.SignatureAlgorithm{
	"sha256withrsa":    x509.SHA256WithRSA,
	"sha384withrsa":    x509.SHA384WithRSA,
	"sha512withrsa":    x509.SHA512WithRSA,
	"ecdsawithsha256":  x509.ECDSAWithSHA256,
	"ecdsawithsha384":  x509.ECDSAWithSHA384,
	"ecdsawithsha512":  x509.ECDSAWithSHA512,
	"sha256withrsapss": x509.SHA256WithRSAPSS,
	"sha384withrsapss": x509.SHA384WithRSAPSS,
	"sha512withrsapss": x509.SHA512WithRSAPSS,
	"pureed25519":      x509.PureEd25519,
	"ed25519":          x509.PureEd25519,
}

func parseSignatureAlgorithm(name string) (x509.SignatureAlgorithm, error) {
	if name == "" {
		return x509.UnknownSignatureAlgorithm, nil
	}
	alg, ok := signatureAlgorithmNames[strings.ToLower(strings.ReplaceAll(name, "-", ""))]
	if !ok {
		return 0, fmt.Errorf("unknown signature algorithm value: %s", name)
	}
	return alg, nil
}

// pemString encodes one PEM block without a trailing newline.
func pemString(blockType string, der []byte) string {
	return string(bytes.TrimSpace(pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})))
}
