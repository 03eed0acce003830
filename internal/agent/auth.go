package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

// tokenState holds the current auto-auth token and tells waiters when it
// changes.
type tokenState struct {
	mu      sync.Mutex
	token   string
	changed chan struct{} // closed and replaced on every change
}

func newTokenState(initial string) *tokenState {
	return &tokenState{token: initial, changed: make(chan struct{})}
}

func (s *tokenState) set(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token == s.token {
		return
	}
	s.token = token
	close(s.changed)
	s.changed = make(chan struct{})
}

// get returns the token (possibly empty) and a channel closed when it
// next changes.
func (s *tokenState) get() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, s.changed
}

// wait blocks until there is a token; ok is false when ctx ended first.
func (s *tokenState) wait(ctx context.Context) (token string, changed <-chan struct{}, ok bool) {
	for {
		tok, ch := s.get()
		if tok != "" {
			return tok, ch, true
		}
		select {
		case <-ctx.Done():
			return "", nil, false
		case <-ch:
		}
	}
}

// authMethod logs in and returns the response holding the token.
type authMethod interface {
	authenticate(ctx context.Context, client *api.Client) (*api.Secret, error)
}

// authenticator is auto-auth: it logs in, writes the token to the sinks,
// keeps it renewed with a LifetimeWatcher, and logs in again with backoff
// when the token can no longer be renewed or turns out to be revoked.
type authenticator struct {
	client  *api.Client // no token of its own
	method  authMethod
	cfg     *AuthMethod
	sinks   []*Sink
	tokens  *tokenState
	invalid chan string // tokens reported as denied
	logger  *slog.Logger
}

func newAuthenticator(client *api.Client, cfg *AutoAuth, tokens *tokenState, logger *slog.Logger) *authenticator {
	a := &authenticator{client: client, cfg: cfg.Method, sinks: cfg.Sinks, tokens: tokens,
		invalid: make(chan string, 1), logger: logger}
	switch cfg.Method.Type {
	case "approle":
		a.method = &approleAuth{cfg: cfg.Method, logger: logger}
	case "token_file":
		a.method = &tokenFileAuth{cfg: cfg.Method}
	}
	return a
}

// reportDenied tells auto-auth that a request with token was refused, so
// that it checks the token and logs in again if it was revoked.
func (a *authenticator) reportDenied(token string) {
	select {
	case a.invalid <- token:
	default:
	}
}

// run authenticates until ctx ends; with once it returns after the first
// success. It returns an error only when exit_on_err is set (or a sink
// cannot be written in once mode).
func (a *authenticator) run(ctx context.Context, once bool) error {
	backoff := a.cfg.MinBackoff
	for {
		secret, err := a.method.authenticate(ctx, a.client)
		if err == nil && (secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "") {
			err = errors.New("the login response holds no token")
		}
		if err == nil {
			err = a.writeSinks(secret.Auth.ClientToken)
			if err != nil && !once {
				// The token is good; sink readers retry on the next login.
				a.logger.Error("auto-auth: writing the token sink failed", "error", err)
				err = nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if a.cfg.ExitOnErr || once && errors.Is(err, errSink) {
				return fmt.Errorf("auto-auth: %w", err)
			}
			wait := jitter(backoff)
			a.logger.Error("auto-auth: authentication failed; retrying", "method", a.cfg.Type, "error", err, "backoff", wait.Round(time.Millisecond))
			if !sleepCtx(ctx, wait) {
				return nil
			}
			backoff = min(backoff*2, a.cfg.MaxBackoff)
			continue
		}
		backoff = a.cfg.MinBackoff
		a.logger.Info("auto-auth: authenticated", "method", a.cfg.Type, "ttl", time.Duration(secret.Auth.LeaseDuration)*time.Second)
		a.tokens.set(secret.Auth.ClientToken)
		if once {
			return nil
		}
		a.watch(ctx, secret)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// watch keeps the token alive and returns when a new login is needed.
func (a *authenticator) watch(ctx context.Context, secret *api.Secret) {
	token := secret.Auth.ClientToken
	var done <-chan error
	var renewed <-chan *api.RenewOutput
	if secret.Auth.LeaseDuration > 0 {
		w, err := a.client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: secret})
		if err != nil {
			a.logger.Error("auto-auth: cannot watch the token; logging in again", "error", err)
			return
		}
		go w.Start()
		defer w.Stop()
		done, renewed = w.DoneCh(), w.RenewCh()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-done:
			if err != nil {
				a.logger.Warn("auto-auth: token renewal failed; logging in again", "error", err)
			} else {
				a.logger.Info("auto-auth: token reached the end of its lifetime; logging in again")
			}
			return
		case r := <-renewed:
			if r != nil && r.Secret != nil && r.Secret.Auth != nil {
				a.logger.Debug("auto-auth: token renewed", "ttl", time.Duration(r.Secret.Auth.LeaseDuration)*time.Second)
			}
		case tok := <-a.invalid:
			if tok != token {
				continue
			}
			if tokenRevoked(ctx, a.client, token) {
				a.logger.Warn("auto-auth: token is no longer valid; logging in again")
				return
			}
		}
	}
}

// tokenRevoked looks the token up; only a refusal counts as revoked, not
// a network failure.
func tokenRevoked(ctx context.Context, client *api.Client, token string) bool {
	c, err := client.Clone()
	if err != nil {
		return false
	}
	c.SetToken(token)
	_, err = c.Auth().Token().LookupSelfWithContext(ctx)
	var re *api.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusBadRequest)
}

var errSink = errors.New("sink")

// writeSinks writes the token to every file sink, atomically.
func (a *authenticator) writeSinks(token string) error {
	var errs []error
	for _, s := range a.sinks {
		if err := writeFileAtomic(s.Path, []byte(token), s.Mode); err != nil {
			errs = append(errs, fmt.Errorf("%w %s: %w", errSink, s.Path, err))
		}
	}
	return errors.Join(errs...)
}

// jitter picks a wait between 3/4 and all of d.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// approleAuth logs in with a role ID and secret ID read from files. It
// keeps the last values read, so the secret ID file may be removed after
// reading (the default) and later logins still work.
type approleAuth struct {
	cfg              *AuthMethod
	logger           *slog.Logger
	roleID, secretID string
}

func (m *approleAuth) authenticate(ctx context.Context, client *api.Client) (*api.Secret, error) {
	roleID, err := readCredential(m.cfg.RoleIDFile, "role_id_file_path", m.roleID)
	if err != nil {
		return nil, fmt.Errorf("approle: %w", err)
	}
	m.roleID = roleID
	data := map[string]interface{}{"role_id": roleID}
	if m.cfg.SecretIDFile != "" {
		if err := m.loadSecretID(ctx, client); err != nil {
			return nil, fmt.Errorf("approle: %w", err)
		}
		data["secret_id"] = m.secretID
	}
	s, err := client.Logical().WriteWithContext(ctx, m.cfg.MountPath+"/login", data)
	if err != nil {
		return nil, fmt.Errorf("approle login at %s: %w", m.cfg.MountPath, err)
	}
	return s, nil
}

// loadSecretID reads (and, if so configured, unwraps and removes) the
// secret ID file; a missing file falls back to the value read before.
func (m *approleAuth) loadSecretID(ctx context.Context, client *api.Client) error {
	raw, err := os.ReadFile(m.cfg.SecretIDFile)
	if err != nil {
		if m.secretID != "" {
			return nil
		}
		return fmt.Errorf("secret_id_file_path %s: %w (and no secret ID was read before)", m.cfg.SecretIDFile, err)
	}
	value := strings.TrimSpace(string(raw))
	if value == "" {
		if m.secretID != "" {
			return nil
		}
		return fmt.Errorf("secret_id_file_path %s is empty", m.cfg.SecretIDFile)
	}
	if m.cfg.SecretIDWrappingPath != "" {
		if value, err = unwrapSecretID(ctx, client, value, m.cfg.SecretIDWrappingPath); err != nil {
			return err
		}
	}
	m.secretID = value
	if m.cfg.RemoveSecretIDFile {
		if err := os.Remove(m.cfg.SecretIDFile); err != nil {
			m.logger.Warn("approle: could not remove the secret ID file", "path", m.cfg.SecretIDFile, "error", err)
		}
	}
	return nil
}

// unwrapSecretID checks that the wrapping token was created at the
// expected path before unwrapping it, so a token from elsewhere is not
// used by mistake.
func unwrapSecretID(ctx context.Context, client *api.Client, wrapToken, wantPath string) (string, error) {
	info, err := client.Logical().WriteWithContext(ctx, "sys/wrapping/lookup", map[string]interface{}{"token": wrapToken})
	if err != nil {
		return "", fmt.Errorf("look up the wrapped secret ID: %w", err)
	}
	if info == nil || info.Data == nil {
		return "", errors.New("look up the wrapped secret ID: empty response")
	}
	if got, _ := info.Data["creation_path"].(string); strings.Trim(got, "/") != wantPath {
		return "", fmt.Errorf("the wrapped secret ID was created at %q, not at secret_id_response_wrapping_path %q", got, wantPath)
	}
	s, err := client.Logical().UnwrapWithContext(ctx, wrapToken)
	if err != nil {
		return "", fmt.Errorf("unwrap the secret ID: %w", err)
	}
	if s == nil || s.Data == nil {
		return "", errors.New("unwrap the secret ID: empty response")
	}
	id, _ := s.Data["secret_id"].(string)
	if id == "" {
		return "", errors.New("the unwrapped response holds no secret_id")
	}
	return id, nil
}

// readCredential reads a small credential file, trimmed; when the file
// cannot be read it falls back to the cached value.
func readCredential(path, key, cached string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if cached != "" {
			return cached, nil
		}
		return "", fmt.Errorf("%s %s: %w", key, path, err)
	}
	v := strings.TrimSpace(string(raw))
	if v == "" {
		if cached != "" {
			return cached, nil
		}
		return "", fmt.Errorf("%s %s is empty", key, path)
	}
	return v, nil
}

// tokenFileAuth uses a token read from a file instead of logging in; it
// looks the token up to learn its TTL so it can be renewed.
type tokenFileAuth struct {
	cfg    *AuthMethod
	cached string
}

func (m *tokenFileAuth) authenticate(ctx context.Context, client *api.Client) (*api.Secret, error) {
	token, err := readCredential(m.cfg.TokenFile, "token_file_path", m.cached)
	if err != nil {
		return nil, fmt.Errorf("token_file: %w", err)
	}
	m.cached = token
	c, err := client.Clone()
	if err != nil {
		return nil, fmt.Errorf("token_file: %w", err)
	}
	c.SetToken(token)
	s, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("token_file: look up the token from %s: %w", m.cfg.TokenFile, err)
	}
	ttl, _ := s.TokenTTL()
	renewable, _ := s.TokenIsRenewable()
	return &api.Secret{Auth: &api.SecretAuth{
		ClientToken: token, Renewable: renewable, LeaseDuration: int(ttl / time.Second),
	}}, nil
}
