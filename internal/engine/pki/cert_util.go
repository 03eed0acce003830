package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"

	"github.com/coffer-dev/coffer/internal/logical"
)

// serialLimit bounds random serial numbers to 159 bits, as Vault does.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 159)

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, serialLimit)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n, nil
}

// formatSerial renders a serial as colon-separated hex bytes ("1a:2b:...").
func formatSerial(n *big.Int) string {
	b := n.Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// storageSerial is the form used in storage keys and LIST output:
// lower case with hyphens.
func storageSerial(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), ":", "-")
}

// apiSerial is the colon form shown in responses.
func apiSerial(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", ":")
}

func certPEM(der []byte) string { return pemString("CERTIFICATE", der) }

// caBundle is an issuer ready to sign: its certificate, key (when held),
// full chain (itself first) and effective AIA URLs.
type caBundle struct {
	entry    *issuerEntry
	cert     *x509.Certificate
	signer   crypto.Signer
	chainPEM []string
	urls     *urlConfig
}

// caCache keeps parsed issuers by reference; any change to issuers, keys,
// their configuration or the URLs clears it. The generation counter keeps
// a bundle read before a change from being cached after it.
type caCache struct {
	mu    sync.RWMutex
	gen   uint64
	byRef map[string]*caBundle
}

// get returns the cached bundle (or nil) and the current generation.
func (c *caCache) get(ref string) (*caBundle, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byRef[ref], c.gen
}

// put caches b unless the cache was reset since generation gen.
func (c *caCache) put(ref string, b *caBundle, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.byRef == nil {
		c.byRef = map[string]*caBundle{}
	}
	c.byRef[ref] = b
}

func (c *caCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.byRef = nil
}

// loadCA resolves ref and returns the issuer. usage, when set, must be
// allowed on the issuer, and a signing usage needs the issuer's key.
func (b *backend) loadCA(st *store, ref, usage string) (*caBundle, error) {
	ca, gen := b.cache.get(ref)
	if ca == nil {
		var err error
		if ca, err = b.readCA(st, ref); err != nil {
			return nil, err
		}
		b.cache.put(ref, ca, gen)
	}
	if usage == "" || usage == usageReadOnly {
		return ca, nil
	}
	if !ca.entry.hasUsage(usage) {
		return nil, logical.InvalidRequest("error while attempting to use issuer %s: requested usage %s but the issuer only allows %s",
			ca.entry.ID, usage, strings.Join(ca.entry.Usage, ","))
	}
	if ca.signer == nil {
		return nil, logical.InvalidRequest("unable to fetch corresponding key for issuer %s; unable to use this issuer for signing", ca.entry.ID)
	}
	return ca, nil
}

func (b *backend) readCA(st *store, ref string) (*caBundle, error) {
	id, err := st.resolveIssuer(ref)
	if err != nil {
		return nil, refError(err)
	}
	e, err := st.issuer(id)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, logical.InvalidRequest("unable to find PKI issuer for reference: %s", ref)
	}
	cert, err := e.parse()
	if err != nil {
		return nil, err
	}
	ca := &caBundle{entry: e, cert: cert, chainPEM: e.CAChain}
	if len(ca.chainPEM) == 0 {
		ca.chainPEM = []string{strings.TrimSpace(e.Certificate)}
	}
	if e.KeyID != "" {
		k, err := st.key(e.KeyID)
		if err != nil {
			return nil, err
		}
		if k != nil {
			if ca.signer, err = k.signer(); err != nil {
				return nil, err
			}
		}
	}
	urls := e.AIA
	if urls.empty() {
		if urls, err = st.urls(); err != nil {
			return nil, err
		}
	}
	if ca.urls, err = urls.expand(e.ID); err != nil {
		return nil, logical.InvalidRequest("%s", err.Error())
	}
	return ca, nil
}

// pemBundle is a parsed PEM bundle: certificates and private keys.
type pemBundle struct {
	certs []*x509.Certificate
	keys  []crypto.Signer
}

// parsePEMBundle reads certificates and keys in any order; CRLs and EC
// parameter blocks are skipped.
func parsePEMBundle(data string) (*pemBundle, error) {
	out := &pemBundle{}
	rest := []byte(data)
	for n := 1; len(bytes.TrimSpace(rest)) > 0; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, logical.InvalidRequest("error when parsing block %d: invalid PEM data", n)
		}
		switch block.Type {
		case "CERTIFICATE", "X509 CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, logical.InvalidRequest("error parsing certificate in block %d: %v", n, err)
			}
			out.certs = append(out.certs, c)
		case "CRL", "X509 CRL", "EC PARAMS", "EC PARAMETERS":
		default:
			k, err := parsePrivateKeyDER(block.Bytes)
			if err != nil {
				return nil, logical.InvalidRequest("error parsing key in block %d: %v", n, err)
			}
			out.keys = append(out.keys, k)
		}
	}
	return out, nil
}

// parseCertificatePEM reads exactly one certificate.
func parseCertificatePEM(data string) (*x509.Certificate, error) {
	block, rest := pem.Decode([]byte(data))
	if block == nil {
		return nil, errors.New("certificate could not be PEM-decoded")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("expected a single PEM certificate, found trailing data")
	}
	return x509.ParseCertificate(block.Bytes)
}

// importKey stores a private key, or finds the existing entry holding the
// same key. A new key becomes the default when none is set, and is linked
// to issuers that lacked it.
func (st *store) importKey(k crypto.Signer, name string) (*keyEntry, bool, error) {
	keys, err := st.allKeys()
	if err != nil {
		return nil, false, err
	}
	for _, e := range keys {
		s, err := e.signer()
		if err != nil {
			return nil, false, err
		}
		if samePublicKey(s.Public(), k.Public()) {
			return e, true, nil
		}
	}
	typ, _, err := publicKeyInfo(k.Public())
	if err != nil {
		return nil, false, logical.InvalidRequest("%s", err.Error())
	}
	der, blockType, err := marshalPrivateKey(k, false)
	if err != nil {
		return nil, false, fmt.Errorf("encode key: %w", err)
	}
	id, err := newID()
	if err != nil {
		return nil, false, err
	}
	e := &keyEntry{ID: id, Name: name, Type: typ, PrivateKey: pemString(blockType, der)}
	if err := st.put(keyPrefix+id, e); err != nil {
		return nil, false, err
	}
	cfg, err := st.keysConfig()
	if err != nil {
		return nil, false, err
	}
	if cfg.DefaultKeyID == "" {
		cfg.DefaultKeyID = id
		if err := st.put(keysConfigPath, cfg); err != nil {
			return nil, false, err
		}
	}
	issuers, err := st.allIssuers()
	if err != nil {
		return nil, false, err
	}
	for _, is := range issuers {
		if is.KeyID != "" {
			continue
		}
		c, err := is.parse()
		if err != nil {
			return nil, false, err
		}
		if samePublicKey(c.PublicKey, k.Public()) {
			is.KeyID = id
			if err := st.put(issuerPrefix+is.ID, is); err != nil {
				return nil, false, err
			}
		}
	}
	return e, false, nil
}

// importIssuer stores a CA certificate, or finds the existing entry. The
// key is linked when the mount holds it. A new issuer with a key becomes
// the default when none is set (or when the default follows the latest).
func (st *store) importIssuer(c *x509.Certificate, name string) (*issuerEntry, bool, error) {
	issuers, err := st.allIssuers()
	if err != nil {
		return nil, false, err
	}
	for _, e := range issuers {
		ec, err := e.parse()
		if err != nil {
			return nil, false, err
		}
		if bytes.Equal(ec.Raw, c.Raw) {
			return e, true, nil
		}
	}
	if !c.IsCA || !c.BasicConstraintsValid {
		return nil, false, logical.InvalidRequest("refusing to import non-CA certificate with serial %s as an issuer", formatSerial(c.SerialNumber))
	}
	id, err := newID()
	if err != nil {
		return nil, false, err
	}
	e := &issuerEntry{
		ID: id, Name: name, Certificate: certPEM(c.Raw), SerialNumber: formatSerial(c.SerialNumber),
		LeafNotAfterBehavior: notAfterErr, Usage: append([]string(nil), allUsages...),
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCRLSign == 0 {
		e.Usage = []string{usageReadOnly, usageIssuing, usageOCSP}
	}
	keys, err := st.allKeys()
	if err != nil {
		return nil, false, err
	}
	for _, k := range keys {
		s, err := k.signer()
		if err != nil {
			return nil, false, err
		}
		if samePublicKey(s.Public(), c.PublicKey) {
			e.KeyID = k.ID
			break
		}
	}
	if err := st.put(issuerPrefix+id, e); err != nil {
		return nil, false, err
	}
	cfg, err := st.issuersConfig()
	if err != nil {
		return nil, false, err
	}
	if e.KeyID != "" && (cfg.DefaultIssuerID == "" || cfg.DefaultFollowsLatestIssuer) {
		cfg.DefaultIssuerID = id
		if err := st.put(issuersConfigPath, cfg); err != nil {
			return nil, false, err
		}
	}
	if err := st.rebuildChains(); err != nil {
		return nil, false, err
	}
	e, err = st.issuer(id)
	return e, false, err
}

// storeCert records an issued certificate under certs/<serial>.
func (st *store) storeCert(c *x509.Certificate) error {
	key := certPrefix + storageSerial(formatSerial(c.SerialNumber))
	if err := st.s.Put(st.ctx, &logical.StorageEntry{Key: key, Value: c.Raw}); err != nil {
		return fmt.Errorf("unable to store certificate locally: %w", err)
	}
	return nil
}

// fetchCert reads a stored certificate by serial (colon or hyphen form).
func (st *store) fetchCert(serial string) (*x509.Certificate, error) {
	e, err := st.s.Get(st.ctx, certPrefix+storageSerial(serial))
	if err != nil {
		return nil, fmt.Errorf("error fetching certificate %s: %w", serial, err)
	}
	if e == nil {
		return nil, nil
	}
	c, err := x509.ParseCertificate(e.Value)
	if err != nil {
		return nil, fmt.Errorf("parse stored certificate %s: %w", serial, err)
	}
	return c, nil
}
