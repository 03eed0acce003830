package core

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/barrier"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	raftstore "github.com/coffer-dev/coffer/internal/storage/raft"
)

// The leader's side of a join (see raft_join.go) and the cluster CA.

// clusterCAKey (in the barrier's core/ view) holds the cluster CA that
// signs node certificates; it is replicated, so any new leader can sign.
const clusterCAKey = "cluster-ca"

type clusterCA struct {
	CertPEM string `json:"cert_pem"`
	KeyPEM  string `json:"key_pem"`
}

const maxServerIDLen = 128

func validServerID(id string) error {
	switch {
	case id == "":
		return logical.InvalidRequest("missing server_id")
	case len(id) > maxServerIDLen:
		return logical.InvalidRequest("server_id is longer than %d characters", maxServerIDLen)
	case strings.ContainsAny(id, "/\\ \t\r\n") || id == "." || id == "..":
		return logical.InvalidRequest("server_id %q may not contain slashes or spaces", id)
	}
	return nil
}

func (c *Core) raftBackend() (*raftstore.Backend, error) {
	if c.conf.Raft == nil {
		return nil, logical.InvalidRequest("raft storage is not in use")
	}
	return c.conf.Raft, nil
}

// handleRaftChallenge gives a joining node the sealed keyring and a
// challenge only the holder of the root key can open.
func (c *Core) handleRaftChallenge(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	if _, err := c.raftBackend(); err != nil {
		return nil, err
	}
	id := d.String("server_id")
	if err := validServerID(id); err != nil {
		return nil, err
	}
	if err := c.pruneChallenges(ctx); err != nil {
		return nil, err
	}
	challenge, err := c.barrier.GenerateKey()
	if err != nil {
		return nil, err
	}
	// The challenge carries its creation time, so that unanswered ones
	// expire.
	challenge = binary.BigEndian.AppendUint64(challenge, uint64(c.now().Unix()))
	if err := c.barrier.View("core/").Put(ctx, &logical.StorageEntry{Key: challengePrefix + id, Value: challenge}); err != nil {
		return nil, fmt.Errorf("store the join challenge: %w", err)
	}
	sealedChallenge, err := c.phys.Get(ctx, challengePath(id))
	if err != nil || sealedChallenge == nil {
		return nil, fmt.Errorf("read back the join challenge: %v", err)
	}
	keyring, err := c.phys.Get(ctx, barrier.KeyringPath)
	if err != nil || keyring == nil {
		return nil, fmt.Errorf("read the keyring: %v", err)
	}
	sc, err := c.sealConfig(ctx)
	if err != nil {
		return nil, err
	}
	data := map[string]interface{}{
		"challenge":   base64.StdEncoding.EncodeToString(sealedChallenge.Value),
		"keyring":     base64.StdEncoding.EncodeToString(keyring.Value),
		"seal_config": sc,
	}
	if sealTypeOf(sc) != "shamir" {
		srk, err := c.phys.Get(ctx, sealedRootKeyPath)
		if err != nil || srk == nil {
			return nil, fmt.Errorf("read the sealed root key: %v", err)
		}
		data["sealed_root_key"] = base64.StdEncoding.EncodeToString(srk.Value)
	}
	c.logger.Info("issued a raft join challenge", "server_id", id)
	return &logical.Response{Data: data}, nil
}

// handleRaftAnswer checks a joining node's answer, signs its cluster
// certificate and adds it to raft as a non-voter; autopilot promotes it
// once it has caught up.
func (c *Core) handleRaftAnswer(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := c.raftBackend()
	if err != nil {
		return nil, err
	}
	id := d.String("server_id")
	if err := validServerID(id); err != nil {
		return nil, err
	}
	answer, err := base64.StdEncoding.DecodeString(d.String("answer"))
	if err != nil || len(answer) == 0 {
		return nil, logical.InvalidRequest("answer must be the base64 of the decrypted challenge")
	}
	addr := d.String("cluster_addr")
	if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
		return nil, logical.InvalidRequest("cluster_addr %q must be host:port", addr)
	}
	pubPEM := d.String("public_key")
	if block, _ := pem.Decode([]byte(pubPEM)); block == nil {
		return nil, logical.InvalidRequest("public_key must be a PEM public key")
	} else if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return nil, logical.InvalidRequest("public_key: %v", err)
	}
	view := c.barrier.View("core/")
	e, err := view.Get(ctx, challengePrefix+id)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, logical.InvalidRequest("no join challenge is pending for server_id %q; start the join again", id)
	}
	if subtle.ConstantTimeCompare(e.Value, answer) != 1 {
		c.logger.Warn("refused a raft join: wrong challenge answer", "server_id", id)
		return nil, logical.InvalidRequest("invalid answer given: the node does not hold this cluster's keys")
	}
	if challengeExpired(e.Value, c.now()) {
		_ = view.Delete(ctx, challengePrefix+id)
		return nil, logical.InvalidRequest("the join challenge for server_id %q has expired; start the join again", id)
	}
	ca, err := c.loadOrCreateClusterCA(ctx)
	if err != nil {
		return nil, err
	}
	cert, err := raftstore.SignNodeCert([]byte(ca.CertPEM), []byte(ca.KeyPEM), id, []byte(pubPEM))
	if err != nil {
		return nil, logical.InvalidRequest("sign the node certificate: %v", err)
	}
	if err := r.AddNonvoter(ctx, id, addr); err != nil {
		return nil, fmt.Errorf("add %s to the raft cluster: %w", id, err)
	}
	if err := view.Delete(ctx, challengePrefix+id); err != nil {
		c.logger.Warn("could not delete an answered join challenge", "server_id", id, "error", err)
	}
	committed, _ := r.Indexes()
	c.logger.Info("a node answered the raft join challenge and was added", "server_id", id, "cluster_addr", addr)
	return &logical.Response{Data: map[string]interface{}{
		"certificate": string(cert), "ca_certificate": ca.CertPEM, "index": committed,
	}}, nil
}

const (
	// challengeTTL bounds how long a join challenge can be answered
	// (Shamir joins wait for the operator's key shares).
	challengeTTL = 24 * time.Hour
	// maxChallenges bounds the pending challenges the unauthenticated
	// endpoint can make the cluster store.
	maxChallenges = 128
)

func challengeExpired(v []byte, now time.Time) bool {
	if len(v) < 8 {
		return true
	}
	created := time.Unix(int64(binary.BigEndian.Uint64(v[len(v)-8:])), 0)
	return now.Sub(created) > challengeTTL
}

// pruneChallenges drops expired challenges once many are pending, and
// refuses new ones while the limit is reached.
func (c *Core) pruneChallenges(ctx context.Context) error {
	view := c.barrier.View("core/")
	keys, err := view.List(ctx, challengePrefix)
	if err != nil || len(keys) < maxChallenges {
		return err
	}
	left := len(keys)
	for _, k := range keys {
		e, err := view.Get(ctx, challengePrefix+k)
		if err != nil {
			return err
		}
		if e == nil || challengeExpired(e.Value, c.now()) {
			if err := view.Delete(ctx, challengePrefix+k); err != nil {
				return err
			}
			left--
		}
	}
	if left >= maxChallenges {
		return logical.Errorf(logical.ErrRateLimited, "too many join challenges are pending; try again later")
	}
	return nil
}

func (c *Core) loadOrCreateClusterCA(ctx context.Context) (*clusterCA, error) {
	var ca clusterCA
	view := c.barrier.View("core/")
	ok, err := logical.GetJSON(ctx, view, clusterCAKey, &ca)
	if err != nil {
		return nil, fmt.Errorf("read the cluster CA: %w", err)
	}
	if ok {
		return &ca, nil
	}
	certPEM, keyPEM, err := raftstore.NewClusterCA(c.conf.ClusterName)
	if err != nil {
		return nil, fmt.Errorf("create the cluster CA: %w", err)
	}
	ca = clusterCA{CertPEM: string(certPEM), KeyPEM: string(keyPEM)}
	if err := logical.PutJSON(ctx, view, clusterCAKey, ca); err != nil {
		return nil, fmt.Errorf("store the cluster CA: %w", err)
	}
	c.logger.Info("created the cluster CA")
	return &ca, nil
}

// ensureClusterCA makes sure the cluster CA exists and this node holds a
// certificate from it (the first node, or a node whose files were lost).
func (c *Core) ensureClusterCA(ctx context.Context) error {
	r := c.conf.Raft
	if r == nil {
		return nil
	}
	pub, err := r.ClusterPublicKey()
	if err != nil {
		return nil // plain-TCP raft: no cluster certificates
	}
	ca, err := c.loadOrCreateClusterCA(ctx)
	if err != nil {
		return err
	}
	certPEM, bundle := r.ClusterCert()
	if certPEM != nil && signedBy(certPEM, ca.CertPEM) {
		return nil
	}
	cert, err := raftstore.SignNodeCert([]byte(ca.CertPEM), []byte(ca.KeyPEM), r.NodeID(), pub)
	if err != nil {
		return err
	}
	if !strings.Contains(string(bundle), strings.TrimSpace(ca.CertPEM)) {
		bundle = append([]byte(ca.CertPEM), bundle...)
	}
	return r.InstallClusterCert(cert, bundle)
}

func signedBy(certPEM []byte, caPEM string) bool {
	cb, _ := pem.Decode(certPEM)
	ab, _ := pem.Decode([]byte(caPEM))
	if cb == nil || ab == nil {
		return false
	}
	cert, err1 := x509.ParseCertificate(cb.Bytes)
	ca, err2 := x509.ParseCertificate(ab.Bytes)
	return err1 == nil && err2 == nil && cert.CheckSignatureFrom(ca) == nil
}
