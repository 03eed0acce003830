package transit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
)

// signOptions are the signing parameters of sign and verify.
type signOptions struct {
	hash hashAlgorithm
	// jws selects JWS marshaling (raw r||s for ECDSA, URL-safe base64).
	jws bool
	// saltLength is the RSA-PSS salt length (rsa.PSSSaltLengthAuto, ...).
	saltLength int
	// sigAlgorithm is "pss" (the default) or "pkcs1v15" for RSA keys.
	sigAlgorithm string
	prehashed    bool
}

type ecdsaSignature struct {
	R, S *big.Int
}

// prepareInput hashes the input for key types that sign a digest.
func (p *policy) prepareInput(input []byte, o signOptions) []byte {
	if p.Type.hashSignatureInput() && !o.prehashed {
		return o.hash.digest(input)
	}
	return input
}

// sign signs input with version ver (0 for latest). For derived ed25519
// keys it also returns the public key derived from the context.
func (p *policy) sign(rnd io.Reader, ver int, context, input []byte, o signOptions) (string, []byte, int, error) {
	if !p.Type.signingSupported() {
		return "", nil, 0, userErrorf("key type %v does not support signing", p.Type)
	}
	ver, err := p.encryptionVersion("signing", ver)
	if err != nil {
		return "", nil, 0, err
	}
	m, err := p.version(ver)
	if err != nil {
		return "", nil, 0, err
	}
	input = p.prepareInput(input, o)
	var sig, pub []byte
	switch {
	case p.Type.isECDSA():
		if m.ecPriv == nil {
			return "", nil, 0, userErrorf("requested version for signing does not contain a private part")
		}
		r, s, err := ecdsa.Sign(rnd, m.ecPriv, input)
		if err != nil {
			return "", nil, 0, userErrorf("failed to sign: %v", err)
		}
		if o.jws {
			n := (m.ecPriv.Curve.Params().BitSize + 7) / 8
			sig = make([]byte, 2*n)
			r.FillBytes(sig[:n])
			s.FillBytes(sig[n:])
		} else if sig, err = asn1.Marshal(ecdsaSignature{R: r, S: s}); err != nil {
			return "", nil, 0, fmt.Errorf("marshal signature: %w", err)
		}
	case p.Type == typeED25519:
		key := m.edPriv
		if p.Derived {
			if key, err = p.derivedEd25519(m, context); err != nil {
				return "", nil, 0, err
			}
			pub = key.Public().(ed25519.PublicKey)
		}
		if key == nil {
			return "", nil, 0, userErrorf("requested version for signing does not contain a private part")
		}
		sig = ed25519.Sign(key, input)
	default:
		if m.rsa == nil {
			return "", nil, 0, userErrorf("requested version for signing does not contain a private part")
		}
		if sig, err = rsaSign(rnd, m.rsa, input, o); err != nil {
			return "", nil, 0, err
		}
	}
	enc := base64.StdEncoding
	if o.jws {
		enc = base64.RawURLEncoding
	}
	return p.versionPrefix(ver) + enc.EncodeToString(sig), pub, ver, nil
}

func rsaSign(rnd io.Reader, key *rsa.PrivateKey, digest []byte, o signOptions) ([]byte, error) {
	var sig []byte
	var err error
	switch o.sigAlgorithm {
	case "", "pss":
		if !validPSSSalt(key.N.BitLen(), o.hash.crypto, o.saltLength) {
			return nil, userErrorf("requested salt length %d is invalid", o.saltLength)
		}
		sig, err = rsa.SignPSS(rnd, key, o.hash.crypto, digest, &rsa.PSSOptions{SaltLength: o.saltLength})
	case "pkcs1v15":
		sig, err = rsa.SignPKCS1v15(rnd, key, o.hash.crypto, digest)
	default:
		return nil, userErrorf("unsupported rsa signature algorithm %s", o.sigAlgorithm)
	}
	if err != nil {
		return nil, userErrorf("failed to sign: %v", err)
	}
	return sig, nil
}

// validPSSSalt checks an RSA-PSS salt length against the key and hash.
func validPSSSalt(bits int, h crypto.Hash, salt int) bool {
	if h == 0 {
		return false
	}
	return salt >= rsa.PSSSaltLengthEqualsHash && salt <= (bits-1+7)/8-2-h.Size()
}

// verify checks a "vault:v<N>:..." signature over input.
func (p *policy) verify(context, input []byte, sig string, o signOptions) (bool, error) {
	if !p.Type.signingSupported() {
		return false, userErrorf("key type %v does not support verification", p.Type)
	}
	ver, payload, err := p.splitVersioned("signature", sig)
	if err != nil {
		return false, err
	}
	enc := base64.StdEncoding
	if o.jws {
		enc = base64.RawURLEncoding
	}
	raw, err := enc.DecodeString(payload)
	if err != nil {
		return false, userErrorf("invalid base64 signature value")
	}
	m, err := p.version(ver)
	if err != nil {
		return false, err
	}
	input = p.prepareInput(input, o)
	switch {
	case p.Type.isECDSA():
		var es ecdsaSignature
		if o.jws {
			half := len(raw) / 2
			es.R, es.S = new(big.Int).SetBytes(raw[:half]), new(big.Int).SetBytes(raw[half:])
		} else {
			rest, err := asn1.Unmarshal(raw, &es)
			if err != nil || es.R == nil || es.S == nil {
				return false, userErrorf("supplied signature is invalid")
			}
			if len(rest) != 0 {
				return false, userErrorf("supplied signature contains extra data")
			}
		}
		return ecdsa.Verify(m.ecPub, input, es.R, es.S), nil
	case p.Type == typeED25519:
		pub := m.edPub
		if p.Derived {
			key, err := p.derivedEd25519(m, context)
			if err != nil {
				return false, err
			}
			pub = key.Public().(ed25519.PublicKey)
		}
		return ed25519.Verify(pub, input, raw), nil
	}
	switch o.sigAlgorithm {
	case "", "pss":
		if !validPSSSalt(m.rsaPub.N.BitLen(), o.hash.crypto, o.saltLength) {
			return false, userErrorf("requested salt length %d is invalid", o.saltLength)
		}
		return rsa.VerifyPSS(m.rsaPub, o.hash.crypto, input, raw, &rsa.PSSOptions{SaltLength: o.saltLength}) == nil, nil
	case "pkcs1v15":
		return rsa.VerifyPKCS1v15(m.rsaPub, o.hash.crypto, input, raw) == nil, nil
	}
	return false, userErrorf("unsupported rsa signature algorithm %s", o.sigAlgorithm)
}
