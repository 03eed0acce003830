package raft

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Cluster connections are TLS 1.2+ with client certificates on both sides.
// Every node certificate is signed by the cluster's own CA and names
// ClusterServerName, which dialers verify; the ALPN protocol picks the
// service on the shared port.
const (
	// ClusterServerName is the DNS name in every node certificate.
	ClusterServerName = "coffer-cluster"
	alpnRaft          = "coffer-raft"
	alpnForward       = "coffer-forward"

	tlsDirName   = "cluster-tls"
	keyFileName  = "node-key.pem"
	certFileName = "node.pem"
	caFileName   = "ca.pem"
)

// ErrNoClusterCert is returned when a cluster connection is needed before
// this node has a certificate (it has not joined a cluster yet).
var ErrNoClusterCert = errors.New("this node has no cluster certificate yet (it has not joined a cluster)")

// clusterTLS is this node's cluster identity: its private key, created on
// first start, and, once it belongs to a cluster, its certificate and the
// cluster CA certificates. Everything is kept in dir with mode 0600 so
// that raft can talk to its peers before the server is unsealed.
type clusterTLS struct {
	dir string
	key *ecdsa.PrivateKey

	mu    sync.RWMutex
	cert  *tls.Certificate
	pool  *x509.CertPool
	caPEM []byte
}

func loadClusterTLS(dir string) (*clusterTLS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster TLS: %w", err)
	}
	t := &clusterTLS{dir: dir}
	keyPEM, err := os.ReadFile(filepath.Join(dir, keyFileName))
	switch {
	case errors.Is(err, os.ErrNotExist):
		if t.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, fmt.Errorf("cluster TLS: generate node key: %w", err)
		}
		der, err := x509.MarshalECPrivateKey(t.key)
		if err != nil {
			return nil, fmt.Errorf("cluster TLS: %w", err)
		}
		if err := writeFileAtomic(filepath.Join(dir, keyFileName), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err != nil {
			return nil, fmt.Errorf("cluster TLS: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("cluster TLS: %w", err)
	default:
		block, _ := pem.Decode(keyPEM)
		if block == nil {
			return nil, fmt.Errorf("cluster TLS: %s holds no PEM key", keyFileName)
		}
		if t.key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("cluster TLS: parse %s: %w", keyFileName, err)
		}
	}
	certPEM, err1 := os.ReadFile(filepath.Join(dir, certFileName))
	caPEM, err2 := os.ReadFile(filepath.Join(dir, caFileName))
	if err1 == nil && err2 == nil {
		if err := t.set(certPEM, caPEM); err != nil {
			return nil, fmt.Errorf("cluster TLS: %w", err)
		}
	}
	return t, nil
}

// set checks that certPEM belongs to the node key and chains to caPEM,
// then makes them current.
func (t *clusterTLS) set(certPEM, caPEM []byte) error {
	cert, err := tls.X509KeyPair(certPEM, t.keyPEM())
	if err != nil {
		return fmt.Errorf("node certificate does not match the node key: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return errors.New("no CA certificate in the cluster CA bundle")
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return err
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: ClusterServerName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("node certificate is not signed by the cluster CA: %w", err)
	}
	cert.Leaf = leaf
	t.mu.Lock()
	t.cert, t.pool, t.caPEM = &cert, pool, append([]byte(nil), caPEM...)
	t.mu.Unlock()
	return nil
}

func (t *clusterTLS) keyPEM() []byte {
	der, _ := x509.MarshalECPrivateKey(t.key)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// install stores a node certificate and CA bundle and starts using them.
func (t *clusterTLS) install(certPEM, caPEM []byte) error {
	if err := t.set(certPEM, caPEM); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(t.dir, caFileName), caPEM); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(t.dir, certFileName), certPEM)
}

func (t *clusterTLS) current() (*tls.Certificate, *x509.CertPool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.cert, t.pool
}

// serverConfig accepts only peers with a certificate from the cluster CA.
// A node without a certificate fails every handshake.
func (t *clusterTLS) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{alpnRaft, alpnForward},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := t.current()
			if cert == nil {
				return nil, ErrNoClusterCert
			}
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				NextProtos:   []string{alpnRaft, alpnForward},
				Certificates: []tls.Certificate{*cert},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    pool,
			}, nil
		},
	}
}

// clientConfig dials a peer for one ALPN protocol.
func (t *clusterTLS) clientConfig(proto string) (*tls.Config, error) {
	cert, pool := t.current()
	if cert == nil {
		return nil, ErrNoClusterCert
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{proto},
		ServerName:   ClusterServerName,
		RootCAs:      pool,
		Certificates: []tls.Certificate{*cert},
	}, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// NewClusterCA creates a self-signed ECDSA P-256 CA for cluster
// certificates and returns its certificate and key in PEM.
func NewClusterCA(clusterName string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "coffer cluster CA " + clusterName},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(20, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// SignNodeCert issues a node certificate for nodeID over the PEM public
// key, signed by the CA (PEM certificate and key).
func SignNodeCert(caCertPEM, caKeyPEM []byte, nodeID string, publicKeyPEM []byte) ([]byte, error) {
	caBlock, _ := pem.Decode(caCertPEM)
	keyBlock, _ := pem.Decode(caKeyPEM)
	pubBlock, _ := pem.Decode(publicKeyPEM)
	if caBlock == nil || keyBlock == nil {
		return nil, errors.New("the cluster CA is not valid PEM")
	}
	if pubBlock == nil {
		return nil, errors.New("the node public key is not valid PEM")
	}
	ca, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse cluster CA: %w", err)
	}
	caKey, err := x509.ParseECPrivateKey(keyBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse cluster CA key: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse node public key: %w", err)
	}
	ecPub, ok := pub.(*ecdsa.PublicKey)
	if !ok || ecPub.Curve != elliptic.P256() {
		return nil, errors.New("the node public key must be ECDSA P-256")
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID},
		DNSNames:     []string{ClusterServerName},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     ca.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, ecPub, caKey)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func randomSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func publicKeyPEM(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func certPEMOf(c *tls.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
}
