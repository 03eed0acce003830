package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// crlConfig is config/crl, with Vault's defaults.
type crlConfig struct {
	Expiry                 string `json:"expiry"`
	Disable                bool   `json:"disable"`
	OCSPDisable            bool   `json:"ocsp_disable"`
	OCSPExpiry             string `json:"ocsp_expiry"`
	AutoRebuild            bool   `json:"auto_rebuild"`
	AutoRebuildGracePeriod string `json:"auto_rebuild_grace_period"`
	EnableDelta            bool   `json:"enable_delta"`
	DeltaRebuildInterval   string `json:"delta_rebuild_interval"`
}

func defaultCRLConfig() *crlConfig {
	return &crlConfig{Expiry: "72h", OCSPExpiry: "12h", AutoRebuildGracePeriod: "12h", DeltaRebuildInterval: "15m"}
}

func (c *crlConfig) data() map[string]interface{} {
	return map[string]interface{}{
		"expiry": c.Expiry, "disable": c.Disable, "ocsp_disable": c.OCSPDisable, "ocsp_expiry": c.OCSPExpiry,
		"auto_rebuild": c.AutoRebuild, "auto_rebuild_grace_period": c.AutoRebuildGracePeriod,
		"enable_delta": c.EnableDelta, "delta_rebuild_interval": c.DeltaRebuildInterval,
		"cross_cluster_revocation": false, "unified_crl": false, "unified_crl_on_existing_paths": false,
	}
}

func (st *store) crlConfig() (*crlConfig, error) {
	c := defaultCRLConfig()
	_, err := st.get(crlConfigPath, c)
	return c, err
}

// crlState remembers each issuer's last CRL number and next update.
type crlState struct {
	Numbers    map[string]int64     `json:"numbers"`
	NextUpdate map[string]time.Time `json:"next_update"`
}

// revocationInfo is stored under revoked/<serial>.
type revocationInfo struct {
	CertificateBytes  []byte    `json:"certificate_bytes"`
	RevocationTime    int64     `json:"revocation_time"`
	RevocationTimeUTC time.Time `json:"revocation_time_utc"`
	IssuerID          string    `json:"issuer_id"`
}

func (b *backend) crlPaths() []*framework.Path {
	dur := func(def, desc string) *framework.FieldSchema { return strDefault(def, desc) }
	return []*framework.Path{{
		Pattern: "config/crl",
		Fields: framework.Fields{
			"expiry":                    dur("72h", "How long a CRL stays valid."),
			"disable":                   flag("Publish empty CRLs."),
			"ocsp_disable":              flag("Answer OCSP requests as unauthorized."),
			"ocsp_expiry":               dur("12h", "How long an OCSP response stays valid."),
			"auto_rebuild":              flag("Rebuild CRLs periodically before they expire instead of on every revocation."),
			"auto_rebuild_grace_period": dur("12h", "How long before expiry an automatic rebuild happens."),
			"enable_delta":              flag("Delta CRLs (not supported; must be false)."),
			"delta_rebuild_interval":    dur("15m", "Delta CRL interval (unused)."),
		},
		Ops:      framework.Ops{logical.ReadOperation: b.readCRLConfig, logical.UpdateOperation: b.writeCRLConfig},
		Synopsis: "Configure CRL lifetime, publication and rebuilding.",
	}, {
		Pattern:  "crl/rotate",
		Ops:      framework.Ops{logical.ReadOperation: b.rotateCRL, logical.UpdateOperation: b.rotateCRL},
		Synopsis: "Rebuild the CRLs now.",
	}}
}

func (b *backend) readCRLConfig(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	c, err := newStore(ctx, req.Storage).crlConfig()
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: c.data()}, nil
}

func (b *backend) writeCRLConfig(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	st := newStore(ctx, req.Storage)
	c, err := st.crlConfig()
	if err != nil {
		return nil, err
	}
	old := *c
	for _, f := range []struct {
		name string
		dst  *string
	}{{"expiry", &c.Expiry}, {"ocsp_expiry", &c.OCSPExpiry}, {"auto_rebuild_grace_period", &c.AutoRebuildGracePeriod}, {"delta_rebuild_interval", &c.DeltaRebuildInterval}} {
		if v, ok := d.GetOk(f.name); ok {
			if dd, err := framework.ParseDurationSecond(v); err != nil || dd < 0 {
				return nil, logical.InvalidRequest("given %s could not be decoded: %v", f.name, v)
			}
			*f.dst = v.(string)
		}
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"disable", &c.Disable}, {"ocsp_disable", &c.OCSPDisable}, {"auto_rebuild", &c.AutoRebuild}, {"enable_delta", &c.EnableDelta}} {
		if v, ok := d.GetOk(f.name); ok {
			*f.dst = v.(bool)
		}
	}
	expiry, _ := framework.ParseDurationSecond(c.Expiry)
	if c.AutoRebuild {
		if grace, _ := framework.ParseDurationSecond(c.AutoRebuildGracePeriod); grace >= expiry {
			return nil, logical.InvalidRequest("CRL auto-rebuilding grace period (%s) must be strictly shorter than CRL expiry (%s) value when auto-rebuilding of CRLs is enabled", c.AutoRebuildGracePeriod, c.Expiry)
		}
	}
	if c.EnableDelta {
		if !c.AutoRebuild {
			return nil, logical.InvalidRequest("Delta CRLs cannot be enabled when auto rebuilding is disabled as the complete CRL is always regenerated!")
		}
		return nil, logical.InvalidRequest("delta CRLs are not supported by this server; leave enable_delta false")
	}
	if err := st.put(crlConfigPath, c); err != nil {
		return nil, err
	}
	resp := &logical.Response{Data: c.data()}
	if old.Disable != c.Disable || (old.AutoRebuild && !c.AutoRebuild) {
		warnings, err := b.rebuildCRLs(st, true)
		if err != nil {
			return nil, err
		}
		resp.Warnings = warnings
	}
	return resp, nil
}

func (b *backend) rotateCRL(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	warnings, err := b.rebuildCRLs(newStore(ctx, req.Storage), true)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"success": true}, Warnings: warnings}, nil
}

// rebuildCRLsWarn rebuilds after a change to issuers; failures become
// warnings since the change itself succeeded.
func (b *backend) rebuildCRLsWarn(st *store, force bool) []string {
	warnings, err := b.rebuildCRLs(st, force)
	if err != nil {
		warnings = append(warnings, fmt.Sprintf("Rebuilding the CRL failed: %v", err))
	}
	for i, w := range warnings {
		warnings[i] = fmt.Sprintf("Warning %d during CRL rebuild: %v", i+1, w)
	}
	return warnings
}

// crlGroup is a set of issuers sharing a key and subject: they publish
// the same CRL.
type crlGroup struct {
	members []string
	cert    *x509.Certificate
	signer  crypto.Signer
	sigAlg  x509.SignatureAlgorithm
	entries []x509.RevocationListEntry
}

// rebuildCRLs signs a fresh CRL for every issuer that holds its key and
// may sign CRLs. Revoked certificates go on their issuer's CRL; those of
// unknown issuers on the default issuer's.
func (b *backend) rebuildCRLs(st *store, force bool) ([]string, error) {
	b.crlLock.Lock()
	defer b.crlLock.Unlock()
	return b.rebuildCRLsLocked(st, force)
}

// rebuildCRLsLocked is rebuildCRLs for a caller that holds b.crlLock.
func (b *backend) rebuildCRLsLocked(st *store, force bool) ([]string, error) {
	cfg, err := st.crlConfig()
	if err != nil {
		return nil, err
	}
	if cfg.Disable && !force {
		return nil, nil
	}
	issuers, err := st.allIssuers()
	if err != nil {
		return nil, err
	}
	icfg, err := st.issuersConfig()
	if err != nil {
		return nil, err
	}
	var warnings []string
	groups := map[string]*crlGroup{}
	byIssuer := map[string]*crlGroup{}
	certs := map[string]*x509.Certificate{}
	for _, e := range issuers {
		c, err := e.parse()
		if err != nil {
			return nil, err
		}
		certs[e.ID] = c
		if e.KeyID == "" || !e.hasUsage(usageCRL) {
			continue
		}
		gk := e.KeyID + "|" + string(c.RawSubject)
		g := groups[gk]
		if g == nil {
			k, err := st.key(e.KeyID)
			if err != nil || k == nil {
				warnings = append(warnings, fmt.Sprintf("issuer %s: key %s is missing; no CRL built", e.ID, e.KeyID))
				continue
			}
			s, err := k.signer()
			if err != nil {
				return nil, err
			}
			alg, _ := parseSignatureAlgorithm(e.RevocationSigAlg)
			if alg == x509.UnknownSignatureAlgorithm {
				alg = signatureAlgorithm(s.Public(), 0, false)
			}
			g = &crlGroup{cert: c, signer: s, sigAlg: alg}
			groups[gk] = g
		}
		g.members = append(g.members, e.ID)
		byIssuer[e.ID] = g
	}
	if !cfg.Disable {
		revoked, err := st.revokedEntries()
		if err != nil {
			return nil, err
		}
		for _, r := range revoked {
			c, err := x509.ParseCertificate(r.CertificateBytes)
			if err != nil {
				return nil, fmt.Errorf("parse revoked certificate: %w", err)
			}
			g := byIssuer[r.IssuerID]
			if g == nil {
				for id, ic := range certs {
					if byIssuer[id] != nil && c.CheckSignatureFrom(ic) == nil {
						g = byIssuer[id]
						break
					}
				}
			}
			if g == nil {
				g = byIssuer[icfg.DefaultIssuerID]
			}
			if g != nil {
				g.entries = append(g.entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: r.RevocationTimeUTC})
			}
		}
	}
	state := &crlState{}
	if _, err := st.get(crlStatePath, state); err != nil {
		return nil, err
	}
	if state.Numbers == nil {
		state.Numbers, state.NextUpdate = map[string]int64{}, map[string]time.Time{}
	}
	expiry, err := framework.ParseDurationSecond(cfg.Expiry)
	if err != nil || expiry <= 0 {
		expiry = 72 * time.Hour
	}
	now := b.now().UTC()
	var ops []logical.StorageOp
	for _, g := range groups {
		var number int64
		for _, id := range g.members {
			if state.Numbers[id] > number {
				number = state.Numbers[id]
			}
		}
		number++
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(number), ThisUpdate: now, NextUpdate: now.Add(expiry),
			RevokedCertificateEntries: g.entries, SignatureAlgorithm: g.sigAlg,
		}, g.cert, g.signer)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("issuer %s: unable to sign CRL: %v", g.members[0], err))
			continue
		}
		for _, id := range g.members {
			ops = append(ops, logical.PutOp(crlPrefix+id, der))
			state.Numbers[id], state.NextUpdate[id] = number, now.Add(expiry)
		}
	}
	se, err := logical.StorageEntryJSON(crlStatePath, state)
	if err != nil {
		return nil, err
	}
	ops = append(ops, logical.StorageOp{Entry: se}, logical.DeleteOp(crlPendingPath))
	if err := logical.Transaction(st.ctx, st.s, ops); err != nil {
		return nil, fmt.Errorf("store CRL: %w", err)
	}
	return warnings, nil
}

// crlPending reports whether revocations wait for a CRL rebuild.
func (st *store) crlPending() (bool, error) {
	e, err := st.s.Get(st.ctx, crlPendingPath)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", crlPendingPath, err)
	}
	return e != nil, nil
}

// rebuildPendingCRLs rebuilds the CRLs if revocations wait for it. The
// marker is checked again under the CRL lock, which the rebuild (it removes
// the marker) holds too, so a burst of callers rebuilds once.
func (b *backend) rebuildPendingCRLs(st *store) error {
	if pending, err := st.crlPending(); err != nil || !pending {
		return err
	}
	b.crlLock.Lock()
	defer b.crlLock.Unlock()
	pending, err := st.crlPending()
	if err != nil || !pending {
		return err
	}
	_, err = b.rebuildCRLsLocked(st, false)
	return err
}

// revokedEntries reads every revocation record.
func (st *store) revokedEntries() ([]*revocationInfo, error) {
	serials, err := st.listIDs(revokedPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]*revocationInfo, 0, len(serials))
	for _, s := range serials {
		r := &revocationInfo{}
		ok, err := st.get(revokedPrefix+s, r)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// crlDER returns the stored CRL of an issuer reference, building the CRLs
// first when none exists yet; nil when the issuer cannot sign CRLs.
func (b *backend) crlDER(st *store, ref string) ([]byte, error) {
	id, err := st.resolveIssuer(ref)
	if err != nil {
		return nil, refError(err)
	}
	if err := b.rebuildPendingCRLs(st); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 2; attempt++ {
		e, err := st.s.Get(st.ctx, crlPrefix+id)
		if err != nil {
			return nil, fmt.Errorf("read CRL: %w", err)
		}
		if e != nil {
			return e.Value, nil
		}
		if attempt == 0 {
			if _, err := b.rebuildCRLs(st, false); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// periodic runs on the rollback tick: pending revocations are put on the
// CRLs, and with auto_rebuild CRLs are re-signed once they come within the
// grace period of their next update.
func (b *backend) periodic(ctx context.Context, s logical.Storage) error {
	st := newStore(ctx, s)
	if err := b.rebuildPendingCRLs(st); err != nil {
		return err
	}
	cfg, err := st.crlConfig()
	if err != nil || !cfg.AutoRebuild || cfg.Disable {
		return err
	}
	grace, err := framework.ParseDurationSecond(cfg.AutoRebuildGracePeriod)
	if err != nil {
		return fmt.Errorf("auto_rebuild_grace_period: %w", err)
	}
	state := &crlState{}
	if _, err := st.get(crlStatePath, state); err != nil {
		return err
	}
	now := b.now()
	due := len(state.NextUpdate) == 0
	for _, next := range state.NextUpdate {
		if !now.Before(next.Add(-grace)) {
			due = true
		}
	}
	if !due {
		return nil
	}
	ids, err := st.listIDs(issuerPrefix)
	if err != nil || len(ids) == 0 {
		return err
	}
	_, err = b.rebuildCRLs(st, false)
	return err
}
