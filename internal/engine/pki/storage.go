package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Storage layout of a mount (all under the mount's barrier view).
const (
	issuerPrefix      = "issuer/"
	keyPrefix         = "key/"
	certPrefix        = "certs/"
	revokedPrefix     = "revoked/"
	crlPrefix         = "crls/"
	rolePrefix        = "role/"
	issuersConfigPath = "config/issuers"
	keysConfigPath    = "config/keys"
	crlConfigPath     = "config/crl"
	crlStatePath      = "config/crl-state"
	// crlPendingPath marks revocations not yet on the CRLs (see revoke).
	crlPendingPath = "config/crl-pending"
	urlsConfigPath = "urls"
	defaultRef     = "default"
)

// Issuer usages.
const (
	usageReadOnly = "read-only"
	usageIssuing  = "issuing-certificates"
	usageCRL      = "crl-signing"
	usageOCSP     = "ocsp-signing"
)

var allUsages = []string{usageReadOnly, usageIssuing, usageCRL, usageOCSP}

// Leaf NotAfter behaviours of an issuer.
const (
	notAfterErr      = "err"
	notAfterTruncate = "truncate"
	notAfterPermit   = "permit"
)

// keyEntry is a private key held by the mount.
type keyEntry struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"private_key_type"`
	PrivateKey string `json:"private_key"`
}

func (k *keyEntry) signer() (crypto.Signer, error) {
	s, err := parsePrivateKey([]byte(k.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.ID, err)
	}
	return s, nil
}

// issuerEntry is a CA certificate the mount knows; KeyID is empty when the
// mount does not hold its key (e.g. the root above an intermediate).
type issuerEntry struct {
	ID                   string     `json:"id"`
	Name                 string     `json:"name"`
	KeyID                string     `json:"key_id"`
	Certificate          string     `json:"certificate"`
	CAChain              []string   `json:"ca_chain"`
	ManualChain          []string   `json:"manual_chain"`
	SerialNumber         string     `json:"serial_number"`
	LeafNotAfterBehavior string     `json:"leaf_not_after_behavior"`
	Usage                []string   `json:"usage"`
	RevocationSigAlg     string     `json:"revocation_signature_algorithm"`
	Revoked              bool       `json:"revoked"`
	RevocationTime       int64      `json:"revocation_time"`
	RevocationTimeUTC    time.Time  `json:"revocation_time_utc"`
	AIA                  *urlConfig `json:"aia_uris,omitempty"`
}

func (i *issuerEntry) parse() (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(i.Certificate))
	if block == nil {
		return nil, fmt.Errorf("issuer %s: stored certificate is not PEM", i.ID)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", i.ID, err)
	}
	return c, nil
}

func (i *issuerEntry) hasUsage(u string) bool {
	for _, v := range i.Usage {
		if v == u {
			return true
		}
	}
	return false
}

// issuersConfig is config/issuers.
type issuersConfig struct {
	DefaultIssuerID            string `json:"default"`
	DefaultFollowsLatestIssuer bool   `json:"default_follows_latest_issuer"`
}

// keysConfig is config/keys.
type keysConfig struct {
	DefaultKeyID string `json:"default"`
}

// urlConfig holds the authority information access URLs, mount-wide
// (config/urls) or per issuer.
type urlConfig struct {
	IssuingCertificates   []string `json:"issuing_certificates"`
	CRLDistributionPoints []string `json:"crl_distribution_points"`
	OCSPServers           []string `json:"ocsp_servers"`
	EnableTemplating      bool     `json:"enable_templating"`
}

func (u *urlConfig) empty() bool {
	return u == nil || len(u.IssuingCertificates)+len(u.CRLDistributionPoints)+len(u.OCSPServers) == 0
}

// expand substitutes {{issuer_id}} when templating is enabled.
func (u *urlConfig) expand(issuerID string) (*urlConfig, error) {
	if u == nil {
		return &urlConfig{}, nil
	}
	out := &urlConfig{}
	for _, p := range []struct{ in, out *[]string }{
		{&u.IssuingCertificates, &out.IssuingCertificates},
		{&u.CRLDistributionPoints, &out.CRLDistributionPoints},
		{&u.OCSPServers, &out.OCSPServers},
	} {
		for _, s := range *p.in {
			if u.EnableTemplating {
				s = strings.ReplaceAll(s, "{{issuer_id}}", issuerID)
				if strings.Contains(s, "{{") {
					return nil, fmt.Errorf("unsupported template in AIA URL %q: only {{issuer_id}} is available", s)
				}
			}
			*p.out = append(*p.out, s)
		}
	}
	return out, nil
}

// store wraps a request's storage view with the engine's typed accessors.
type store struct {
	ctx context.Context
	s   logical.Storage
}

func newStore(ctx context.Context, s logical.Storage) *store { return &store{ctx: ctx, s: s} }

func (st *store) get(key string, out interface{}) (bool, error) {
	return logical.GetJSON(st.ctx, st.s, key, out)
}

func (st *store) put(key string, v interface{}) error {
	if err := logical.PutJSON(st.ctx, st.s, key, v); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

func (st *store) issuersConfig() (*issuersConfig, error) {
	c := &issuersConfig{}
	_, err := st.get(issuersConfigPath, c)
	return c, err
}

func (st *store) keysConfig() (*keysConfig, error) {
	c := &keysConfig{}
	_, err := st.get(keysConfigPath, c)
	return c, err
}

func (st *store) urls() (*urlConfig, error) {
	c := &urlConfig{}
	_, err := st.get(urlsConfigPath, c)
	return c, err
}

func (st *store) listIDs(prefix string) ([]string, error) {
	ids, err := st.s.List(st.ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Strings(ids)
	return ids, nil
}

func (st *store) issuer(id string) (*issuerEntry, error) {
	e := &issuerEntry{}
	ok, err := st.get(issuerPrefix+id, e)
	if err != nil || !ok {
		return nil, err
	}
	return e, nil
}

func (st *store) key(id string) (*keyEntry, error) {
	e := &keyEntry{}
	ok, err := st.get(keyPrefix+id, e)
	if err != nil || !ok {
		return nil, err
	}
	return e, nil
}

func (st *store) allIssuers() ([]*issuerEntry, error) {
	ids, err := st.listIDs(issuerPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]*issuerEntry, 0, len(ids))
	for _, id := range ids {
		e, err := st.issuer(id)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
	return out, nil
}

func (st *store) allKeys() ([]*keyEntry, error) {
	ids, err := st.listIDs(keyPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]*keyEntry, 0, len(ids))
	for _, id := range ids {
		e, err := st.key(id)
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// errRefNotFound marks a reference that names no issuer or key.
var errRefNotFound = errors.New("reference not found")

// resolveIssuer turns "default", an ID or a name into an issuer ID.
func (st *store) resolveIssuer(ref string) (string, error) {
	if ref == "" {
		return "", logical.InvalidRequest("missing issuer reference")
	}
	if ref == defaultRef {
		c, err := st.issuersConfig()
		if err != nil {
			return "", err
		}
		if c.DefaultIssuerID == "" {
			return "", fmt.Errorf("no default issuer currently configured: %w", errRefNotFound)
		}
		return c.DefaultIssuerID, nil
	}
	if e, err := st.issuer(ref); err != nil || e != nil {
		return ref, err
	}
	all, err := st.allIssuers()
	if err != nil {
		return "", err
	}
	for _, e := range all {
		if e.Name == ref {
			return e.ID, nil
		}
	}
	return "", fmt.Errorf("unable to find PKI issuer for reference: %s: %w", ref, errRefNotFound)
}

// resolveKey turns "default", an ID or a name into a key ID.
func (st *store) resolveKey(ref string) (string, error) {
	if ref == "" {
		return "", logical.InvalidRequest("missing key reference")
	}
	if ref == defaultRef {
		c, err := st.keysConfig()
		if err != nil {
			return "", err
		}
		if c.DefaultKeyID == "" {
			return "", fmt.Errorf("no default key currently configured: %w", errRefNotFound)
		}
		return c.DefaultKeyID, nil
	}
	if e, err := st.key(ref); err != nil || e != nil {
		return ref, err
	}
	all, err := st.allKeys()
	if err != nil {
		return "", err
	}
	for _, e := range all {
		if e.Name == ref {
			return e.ID, nil
		}
	}
	return "", fmt.Errorf("unable to find PKI key for reference: %s: %w", ref, errRefNotFound)
}

// refError turns a failed resolution into a 400 and passes other errors.
func refError(err error) error {
	if errors.Is(err, errRefNotFound) {
		return logical.InvalidRequest("%s", strings.TrimSuffix(err.Error(), ": "+errRefNotFound.Error()))
	}
	return err
}

var nameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// checkName validates a new issuer or key name: allowed characters, not
// reserved, not in use by another entry (self may keep its own name).
func checkName(kind, name, self string, taken func(string) (string, error)) error {
	if name == "" {
		return nil
	}
	if !nameRe.MatchString(name) {
		return logical.InvalidRequest("%s name contained invalid characters", kind)
	}
	if name == defaultRef {
		return logical.InvalidRequest("%s name %q is reserved", kind, defaultRef)
	}
	id, err := taken(name)
	if err == nil && id != self {
		return logical.InvalidRequest("%s name already in use", kind)
	}
	if err != nil && !errors.Is(err, errRefNotFound) {
		return err
	}
	return nil
}

// newID returns a random UUID (version 4).
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}

// rebuildChains recomputes every issuer's CA chain (itself first, then its
// parents within the mount, found by subject and signature) unless a manual
// chain is set, and stores the issuers whose chain changed.
func (st *store) rebuildChains() error {
	all, err := st.allIssuers()
	if err != nil {
		return err
	}
	certs := make(map[string]*x509.Certificate, len(all))
	byID := make(map[string]*issuerEntry, len(all))
	for _, e := range all {
		c, err := e.parse()
		if err != nil {
			return err
		}
		certs[e.ID], byID[e.ID] = c, e
	}
	for _, e := range all {
		var chain []string
		if len(e.ManualChain) > 0 {
			for _, id := range e.ManualChain {
				if p, ok := byID[id]; ok {
					chain = append(chain, strings.TrimSpace(p.Certificate))
				}
			}
		} else {
			chain = computeChain(e, all, certs)
		}
		if !equalStrings(chain, e.CAChain) {
			e.CAChain = chain
			if err := st.put(issuerPrefix+e.ID, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func computeChain(e *issuerEntry, all []*issuerEntry, certs map[string]*x509.Certificate) []string {
	chain := []string{strings.TrimSpace(e.Certificate)}
	seen := map[string]bool{e.ID: true}
	cur := certs[e.ID]
	for {
		if isSelfSigned(cur) {
			return chain
		}
		var next *issuerEntry
		for _, p := range all {
			pc := certs[p.ID]
			if seen[p.ID] || string(pc.RawSubject) != string(cur.RawIssuer) {
				continue
			}
			if cur.CheckSignatureFrom(pc) == nil {
				next = p
				break
			}
		}
		if next == nil {
			return chain
		}
		seen[next.ID] = true
		chain = append(chain, strings.TrimSpace(next.Certificate))
		cur = certs[next.ID]
	}
}

func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawSubject) == string(c.RawIssuer) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
