package pki

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// tidyConfig selects what a tidy run removes.
type tidyConfig struct {
	CertStore          bool
	RevokedCerts       bool
	IssuerAssocs       bool
	ExpiredIssuers     bool
	SafetyBuffer       time.Duration
	IssuerSafetyBuffer time.Duration
	PauseDuration      time.Duration
}

func (c *tidyConfig) any() bool {
	return c.CertStore || c.RevokedCerts || c.IssuerAssocs || c.ExpiredIssuers
}

// tidyStatus is what tidy-status reports about the last or current run.
type tidyStatus struct {
	config         tidyConfig
	state          string
	err            string
	message        string
	started        time.Time
	finished       time.Time
	certsDeleted   int
	revokedDeleted int
	missingIssuer  int
	issuersDeleted int
}

// tidyRunner runs at most one tidy in the background and can cancel it.
type tidyRunner struct {
	mu       sync.Mutex
	status   tidyStatus
	running  bool
	cancel   chan struct{}
	stopCtx  context.Context
	stopFunc context.CancelFunc
	wg       sync.WaitGroup
}

func (t *tidyRunner) init() {
	t.status.state = "Inactive"
	t.stopCtx, t.stopFunc = context.WithCancel(context.Background())
}

// stop cancels a running tidy and waits for it (unmount, seal); later
// runs start afresh.
func (t *tidyRunner) stop() {
	t.mu.Lock()
	cancel := t.stopFunc
	t.mu.Unlock()
	cancel()
	t.wg.Wait()
	t.mu.Lock()
	t.stopCtx, t.stopFunc = context.WithCancel(context.Background())
	t.mu.Unlock()
}

func (b *backend) tidyPaths() []*framework.Path {
	return []*framework.Path{{
		Pattern: "tidy",
		Fields: framework.Fields{
			"tidy_cert_store":                       flag("Remove expired certificates from the certificate store."),
			"tidy_revoked_certs":                    flag("Remove expired certificates from the revocation list."),
			"tidy_revocation_list":                  flag("Deprecated alias of tidy_revoked_certs."),
			"tidy_revoked_cert_issuer_associations": flag("Associate revoked certificates with their issuers."),
			"tidy_expired_issuers":                  flag("Remove issuers expired beyond issuer_safety_buffer (never the default)."),
			"safety_buffer":                         {Type: framework.TypeDurationSecond, Default: 259200, Description: "How long after expiry a certificate is kept."},
			"issuer_safety_buffer":                  {Type: framework.TypeDurationSecond, Default: 31536000, Description: "How long after expiry an issuer is kept."},
			"pause_duration":                        strDefault("0s", "Pause between certificates."),
		},
		Ops:      framework.Ops{logical.UpdateOperation: b.startTidy},
		Synopsis: "Remove expired certificates and revocation entries in the background.",
	}, {
		Pattern:  "tidy-status",
		Ops:      framework.Ops{logical.ReadOperation: b.readTidyStatus},
		Synopsis: "Report the progress of the last tidy.",
	}, {
		Pattern:  "tidy-cancel",
		Ops:      framework.Ops{logical.UpdateOperation: b.cancelTidy},
		Synopsis: "Cancel a running tidy.",
	}}
}

func (b *backend) startTidy(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	pause, err := framework.ParseDurationSecond(d.String("pause_duration"))
	if err != nil || pause < 0 {
		return nil, logical.InvalidRequest("received invalid, negative pause_duration")
	}
	cfg := tidyConfig{
		CertStore:          d.Bool("tidy_cert_store"),
		RevokedCerts:       d.Bool("tidy_revoked_certs") || d.Bool("tidy_revocation_list"),
		IssuerAssocs:       d.Bool("tidy_revoked_cert_issuer_associations"),
		ExpiredIssuers:     d.Bool("tidy_expired_issuers"),
		SafetyBuffer:       d.Duration("safety_buffer"),
		IssuerSafetyBuffer: d.Duration("issuer_safety_buffer"),
		PauseDuration:      pause,
	}
	if cfg.SafetyBuffer < time.Second || cfg.IssuerSafetyBuffer < time.Second {
		return nil, logical.InvalidRequest("safety_buffer and issuer_safety_buffer must be at least 1 second")
	}
	warning := "Tidy operation successfully started. Any information from the operation will be printed to Vault's server logs."
	if !cfg.any() {
		warning = "Manual tidy requested but no tidy operations were set. Enable at least one tidy operation to be run (tidy_cert_store / tidy_revoked_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers)."
	} else if !b.launchTidy(req.Storage, cfg) {
		return &logical.Response{Warnings: []string{"Tidy operation already in progress."}}, nil
	}
	body, err := json.Marshal(map[string]interface{}{
		"request_id": req.ID, "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": nil, "wrap_info": nil, "warnings": []string{warning}, "auth": nil, "mount_type": req.MountType,
	})
	if err != nil {
		return nil, fmt.Errorf("encode tidy response: %w", err)
	}
	return &logical.Response{Raw: body, RawContentType: "application/json", RawStatus: http.StatusAccepted}, nil
}

// launchTidy starts a run unless one is going; it reports whether it did.
func (b *backend) launchTidy(s logical.Storage, cfg tidyConfig) bool {
	t := &b.tidy
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running {
		return false
	}
	t.running, t.cancel = true, make(chan struct{})
	t.status = tidyStatus{config: cfg, state: "Running", started: b.now()}
	cancel, ctx := t.cancel, t.stopCtx
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		err := b.runTidy(ctx, newStore(ctx, s), cfg, cancel)
		t.mu.Lock()
		defer t.mu.Unlock()
		t.running = false
		t.status.finished = b.now()
		switch {
		case errors.Is(err, errTidyCancelled):
			t.status.state, t.status.message = "Cancelled", "Tidy operation cancelled"
		case err != nil:
			t.status.state, t.status.err, t.status.message = "Error", err.Error(), "Tidy operation failed"
			b.logger.Error("pki tidy failed", "error", err)
		default:
			t.status.state, t.status.message = "Finished", "Tidy operation finished"
		}
	}()
	return true
}

var errTidyCancelled = errors.New("tidy operation cancelled")

func (b *backend) tidyStep(ctx context.Context, cancel <-chan struct{}, pause time.Duration, msg string) error {
	select {
	case <-cancel:
		return errTidyCancelled
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	b.tidy.mu.Lock()
	b.tidy.status.message = msg
	b.tidy.mu.Unlock()
	if pause > 0 {
		select {
		case <-time.After(pause):
		case <-cancel:
			return errTidyCancelled
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b *backend) count(f func(s *tidyStatus)) {
	b.tidy.mu.Lock()
	f(&b.tidy.status)
	b.tidy.mu.Unlock()
}

func (b *backend) runTidy(ctx context.Context, st *store, cfg tidyConfig, cancel <-chan struct{}) error {
	now := b.now()
	if cfg.CertStore {
		serials, err := st.listIDs(certPrefix)
		if err != nil {
			return err
		}
		for i, s := range serials {
			if err := b.tidyStep(ctx, cancel, cfg.PauseDuration, fmt.Sprintf("Tidying certificate store: checking entry %d of %d", i, len(serials))); err != nil {
				return err
			}
			c, err := st.fetchCert(s)
			if err != nil {
				return err
			}
			if c != nil && !now.After(c.NotAfter.Add(cfg.SafetyBuffer)) {
				continue
			}
			if err := st.s.Delete(ctx, certPrefix+s); err != nil {
				return fmt.Errorf("error deleting serial %q from storage: %w", s, err)
			}
			b.count(func(s *tidyStatus) { s.certsDeleted++ })
		}
	}
	if cfg.RevokedCerts || cfg.IssuerAssocs {
		if err := b.tidyRevoked(ctx, st, cfg, cancel, now); err != nil {
			return err
		}
	}
	if cfg.ExpiredIssuers {
		return b.tidyIssuers(st, cfg, now)
	}
	return nil
}

func (b *backend) tidyRevoked(ctx context.Context, st *store, cfg tidyConfig, cancel <-chan struct{}, now time.Time) error {
	serials, err := st.listIDs(revokedPrefix)
	if err != nil {
		return err
	}
	rebuild := false
	for i, s := range serials {
		if err := b.tidyStep(ctx, cancel, cfg.PauseDuration, fmt.Sprintf("Tidying revoked certificates: checking certificate %d of %d", i, len(serials))); err != nil {
			return err
		}
		info := &revocationInfo{}
		if ok, err := st.get(revokedPrefix+s, info); err != nil || !ok {
			continue
		}
		c, err := x509.ParseCertificate(info.CertificateBytes)
		if err != nil {
			return fmt.Errorf("unable to parse stored revoked certificate with serial %q: %w", s, err)
		}
		if cfg.RevokedCerts && now.After(c.NotAfter.Add(cfg.SafetyBuffer)) {
			for _, k := range []string{revokedPrefix + s, certPrefix + s} {
				if err := st.s.Delete(ctx, k); err != nil {
					return fmt.Errorf("error deleting %s: %w", k, err)
				}
			}
			rebuild = true
			b.count(func(s *tidyStatus) { s.revokedDeleted++ })
			continue
		}
		if cfg.IssuerAssocs {
			id, ok, err := st.issuerOf(c)
			if err != nil {
				return err
			}
			if id != info.IssuerID {
				if !ok {
					b.count(func(s *tidyStatus) { s.missingIssuer++ })
				}
				info.IssuerID = id
				if err := st.put(revokedPrefix+s, info); err != nil {
					return err
				}
			}
		}
	}
	if rebuild {
		cfg, err := st.crlConfig()
		if err == nil && !cfg.AutoRebuild {
			_, err = b.rebuildCRLs(st, false)
		}
		return err
	}
	return nil
}

func (b *backend) tidyIssuers(st *store, cfg tidyConfig, now time.Time) error {
	b.issuersLock.Lock()
	defer b.issuersLock.Unlock()
	defer b.invalidate()
	issuers, err := st.allIssuers()
	if err != nil {
		return err
	}
	icfg, err := st.issuersConfig()
	if err != nil {
		return err
	}
	removed := false
	for _, e := range issuers {
		c, err := e.parse()
		if err != nil || !now.After(c.NotAfter.Add(cfg.IssuerSafetyBuffer)) {
			continue
		}
		if e.ID == icfg.DefaultIssuerID {
			b.logger.Warn("expired issuer is the default and is kept", "issuer_id", e.ID)
			continue
		}
		b.logger.Info("removing expired issuer", "issuer_id", e.ID, "name", e.Name, "serial_number", e.SerialNumber, "key_id", e.KeyID)
		for _, k := range []string{issuerPrefix + e.ID, crlPrefix + e.ID} {
			if err := st.s.Delete(st.ctx, k); err != nil {
				return fmt.Errorf("delete %s: %w", k, err)
			}
		}
		removed = true
		b.count(func(s *tidyStatus) { s.issuersDeleted++ })
	}
	if removed {
		if err := st.rebuildChains(); err != nil {
			return err
		}
		_, err := b.rebuildCRLs(st, false)
		return err
	}
	return nil
}

func (b *backend) readTidyStatus(_ context.Context, _ *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	b.tidy.mu.Lock()
	defer b.tidy.mu.Unlock()
	return b.tidyStatusLocked(), nil
}

// tidyStatusLocked answers tidy-status; the caller holds b.tidy.mu.
func (b *backend) tidyStatusLocked() *logical.Response {
	s := b.tidy.status
	data := map[string]interface{}{
		"safety_buffer": nil, "issuer_safety_buffer": nil, "tidy_cert_store": nil, "tidy_revoked_certs": nil,
		"tidy_revoked_cert_issuer_associations": nil, "tidy_expired_issuers": nil, "pause_duration": nil,
		"state": s.state, "error": nil, "time_started": nil, "time_finished": nil, "message": nil,
		"cert_store_deleted_count": nil, "revoked_cert_deleted_count": nil, "missing_issuer_cert_count": nil,
	}
	if s.state == "Inactive" {
		return &logical.Response{Data: data}
	}
	c := s.config
	data["safety_buffer"] = int(c.SafetyBuffer.Seconds())
	data["issuer_safety_buffer"] = int(c.IssuerSafetyBuffer.Seconds())
	data["tidy_cert_store"], data["tidy_revoked_certs"] = c.CertStore, c.RevokedCerts
	data["tidy_revoked_cert_issuer_associations"], data["tidy_expired_issuers"] = c.IssuerAssocs, c.ExpiredIssuers
	data["pause_duration"] = c.PauseDuration.String()
	data["time_started"], data["message"] = s.started, s.message
	data["cert_store_deleted_count"], data["revoked_cert_deleted_count"] = s.certsDeleted, s.revokedDeleted
	data["missing_issuer_cert_count"], data["expired_issuers_deleted_count"] = s.missingIssuer, s.issuersDeleted
	if s.err != "" {
		data["error"] = s.err
	}
	if !s.finished.IsZero() {
		data["time_finished"] = s.finished
	}
	return &logical.Response{Data: data}
}

func (b *backend) cancelTidy(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	b.tidy.mu.Lock()
	if !b.tidy.running {
		b.tidy.mu.Unlock()
		return nil, logical.InvalidRequest("Tidy operation cannot be cancelled as none is currently running.")
	}
	select {
	case <-b.tidy.cancel:
	default:
		close(b.tidy.cancel)
	}
	// The answer is built under the same lock, so it says Cancelling even
	// if the tidy stops right after.
	b.tidy.status.state = "Cancelling"
	resp := b.tidyStatusLocked()
	b.tidy.mu.Unlock()
	return resp, nil
}
