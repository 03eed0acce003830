package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// noopHandler is the do-nothing handler whose throughput is the ceiling of
// the machine for small HTTP requests.
func noopHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusOK)
}

// staticJSONHandler answers every request with body as a JSON response
// carrying the headers Vault sends with one, and does nothing else.
func staticJSONHandler(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
}

// serveNoopHandler serves noopHandler on addr (or, when body is not nil,
// staticJSONHandler with it), prints its URL on w and blocks until ctx
// ends.
func serveNoopHandler(ctx context.Context, addr string, body []byte, w io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var handler http.Handler = http.HandlerFunc(noopHandler)
	if body != nil {
		handler = staticJSONHandler(body)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if _, err := fmt.Fprintf(w, "http://%s\n", ln.Addr()); err != nil {
		return err
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// setupNoop drives the do-nothing handler. Like the server under test it
// runs in its own process (this program started with -serve-noop), so
// client and server compete for the CPU the same way.
func setupNoop(ctx context.Context, e *env) (*instance, error) {
	url, pid, stop := e.noopURL, 0, func(context.Context) error { return nil }
	if url == "" {
		var err error
		if url, pid, stop, err = startNoopProcess(ctx); err != nil {
			return nil, err
		}
	}
	return sealStatusAt(url, pid, stop, e), nil
}

// setupStaticSealStatus drives a server that answers with the server
// under test's own seal-status response, fetched once here, as fixed bytes
// with Vault's headers: what answering seal-status costs net/http and the
// client, without any work to produce the answer. It bounds what any
// server can reach in the seal-status workload on this machine.
func setupStaticSealStatus(ctx context.Context, e *env) (*instance, error) {
	var body bytes.Buffer
	if err := e.api.sendWith(ctx, e.api.admin, http.MethodGet, "sys/seal-status", nil, &body); err != nil {
		return nil, fmt.Errorf("fetch the seal-status response to serve: %w", err)
	}
	f, err := os.CreateTemp("", "loadgen-seal-status-*.json")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(body.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	url, pid, stop, err := startNoopProcess(ctx, "-noop-body", f.Name())
	if err != nil {
		return nil, err
	}
	return sealStatusAt(url, pid, stop, e), nil
}

// sealStatusAt sends the seal-status workload's request, token included,
// to a ceiling server at url, so that the two differ only in the server
// that answers.
func sealStatusAt(url string, pid int, stop func(context.Context) error, e *env) *instance {
	client := newAPIClient(url, e.api.token, e.workers)
	return &instance{pid: pid, teardown: stop, op: func(ctx context.Context, _ *mrand.Rand) error {
		return client.send(ctx, http.MethodGet, "sys/seal-status", nil, nil)
	}}
}

// startNoopProcess starts this program with -serve-noop (and extra flags)
// in a process of its own and returns its URL.
func startNoopProcess(ctx context.Context, extra ...string) (url string, pid int, stop func(context.Context) error, err error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.Command(self, append([]string{"-serve-noop", "127.0.0.1:0"}, extra...)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = childAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("start the do-nothing server: %w", err)
	}
	stop = func(context.Context) error {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		return nil
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case url = <-lines:
	case <-time.After(10 * time.Second):
		err = errors.New("the do-nothing server did not start within 10s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil && !strings.HasPrefix(url, "http://") {
		err = fmt.Errorf("the do-nothing server printed %q instead of its URL", url)
	}
	if err != nil {
		_ = stop(ctx)
		return "", 0, nil, err
	}
	return url, cmd.Process.Pid, stop, nil
}

// setupPKICrypto measures what the PKI issue workload's cryptography alone
// allows on this machine: per operation, an EC P-256 key is generated and
// a leaf certificate for it is signed by an EC P-256 intermediate key and
// PEM-encoded, in this process, without HTTP or storage.
func setupPKICrypto(_ context.Context, _ *env) (*instance, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Ceiling Intermediate"},
		NotBefore: now, NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	return &instance{op: func(_ context.Context, rng *mrand.Rand) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		t := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber: new(big.Int).SetUint64(rng.Uint64()),
			Subject:      pkix.Name{CommonName: randomString(rng, 12) + ".example.com"},
			DNSNames:     []string{randomString(rng, 12) + ".example.com"},
			NotBefore:    t.Add(-30 * time.Second), NotAfter: t.Add(10 * time.Minute),
			KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		_ = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		_ = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
		return nil
	}}, nil
}
