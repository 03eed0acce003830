package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// apiClient speaks the Vault HTTP API with plain net/http. Its transport
// keeps one idle keep-alive connection per worker so that the measurement
// is of the server, not of connection setup or client-side decoding.
type apiClient struct {
	base  string
	token string
	// hc sends the measured requests; admin (same transport, no time
	// limit but the context's) sends setup and teardown requests, which
	// can take minutes when an unmount revokes many leases.
	hc    *http.Client
	admin *http.Client
	bufs  sync.Pool
}

func newAPIClient(addr, token string, workers int) *apiClient {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * workers,
		MaxIdleConnsPerHost: 2 * workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &apiClient{
		base:  strings.TrimRight(addr, "/"),
		token: token,
		hc:    &http.Client{Transport: tr, Timeout: 60 * time.Second},
		admin: &http.Client{Transport: tr},
		bufs:  sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// statusError is a response outside 2xx.
type statusError struct {
	method, path string
	code         int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.code, e.body)
}

// send performs one request. path is relative to /v1/. A 2xx status is
// success; the body is read into dst (or discarded when dst is nil) so the
// connection is reused.
func (a *apiClient) send(ctx context.Context, method, path string, body []byte, dst *bytes.Buffer) error {
	return a.sendWith(ctx, a.hc, method, path, body, dst)
}

func (a *apiClient) sendWith(ctx context.Context, hc *http.Client, method, path string, body []byte, dst *bytes.Buffer) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/v1/"+path, rd)
	if err != nil {
		return err
	}
	if a.token != "" {
		req.Header.Set("X-Vault-Token", a.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		if dst == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}
		_, err = dst.ReadFrom(resp.Body)
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &statusError{method: method, path: path, code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
}

// call performs a setup or teardown request with a JSON body (nil for
// none) and decodes the JSON answer into out (nil to ignore it).
func (a *apiClient) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	buf := a.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer a.bufs.Put(buf)
	if err := a.sendWith(ctx, a.admin, method, path, body, buf); err != nil {
		return err
	}
	if out == nil || buf.Len() == 0 {
		return nil
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// dataString returns a string field of a response's "data" object.
func (a *apiClient) dataString(ctx context.Context, method, path string, in any, field string) (string, error) {
	var resp struct {
		Data map[string]any `json:"data"`
	}
	if err := a.call(ctx, method, path, in, &resp); err != nil {
		return "", err
	}
	s, _ := resp.Data[field].(string)
	if s == "" {
		return "", fmt.Errorf("%s %s: no %q in the response", method, path, field)
	}
	return s, nil
}

// waitActive polls sys/health until the server answers as active and
// unsealed.
func (a *apiClient) waitActive(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		err := a.send(ctx, http.MethodGet, "sys/health", nil, nil)
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("server at %s not active and unsealed: %w", a.base, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// initAndUnseal initialises a fresh server with one key share, unseals
// it, waits until it is active and prints the root token on w.
func initAndUnseal(ctx context.Context, a *apiClient, w io.Writer) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var status struct {
		Initialized bool `json:"initialized"`
	}
	for {
		err := a.call(wctx, http.MethodGet, "sys/init", nil, &status)
		if err == nil {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("server at %s did not answer: %w", a.base, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if status.Initialized {
		return errors.New("the server is already initialised; start it on an empty data directory")
	}
	var res struct {
		Keys      []string `json:"keys"`
		RootToken string   `json:"root_token"`
	}
	if err := a.call(ctx, http.MethodPost, "sys/init", map[string]int{"secret_shares": 1, "secret_threshold": 1}, &res); err != nil {
		return err
	}
	if len(res.Keys) != 1 || res.RootToken == "" {
		return fmt.Errorf("sys/init answered %d keys and a root token of %d characters", len(res.Keys), len(res.RootToken))
	}
	var seal struct {
		Sealed bool `json:"sealed"`
	}
	if err := a.call(ctx, http.MethodPost, "sys/unseal", map[string]string{"key": res.Keys[0]}, &seal); err != nil {
		return err
	}
	if seal.Sealed {
		return errors.New("still sealed after the one key share")
	}
	if err := a.waitActive(ctx, 30*time.Second); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, res.RootToken)
	return err
}

// randomID names one run's mounts and roles so runs never collide.
func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	return hex.EncodeToString(b[:])
}
