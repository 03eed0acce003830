package core

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/barrier"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/seal"
	"github.com/coffer-dev/coffer/internal/storage"
	"github.com/coffer-dev/coffer/internal/storage/inmem"
)

// Joining a raft cluster (the new node's side):
//
//  1. The node asks a leader for a challenge (sys/storage/raft/bootstrap/
//     challenge). It gets the cluster's keyring, sealed by the root key,
//     random bytes sealed by the barrier's active key for this node's ID,
//     and the seal configuration. The join is now pending.
//  2. Once the node has the root key (Shamir: the operator unseals it with
//     the cluster's key shares; auto-unseal: its seal unwraps the cluster's
//     sealed root key), it opens the keyring, decrypts the challenge and
//     sends the answer with its cluster public key (.../bootstrap/answer).
//  3. The leader checks the answer, signs a node certificate from the
//     cluster CA and adds the node to raft. The node installs the
//     certificate, raft replicates the data, and the node unseals from the
//     replicated keyring as a standby.

// JoinLeader names a leader to join and how to reach its API.
type JoinLeader struct {
	APIAddr string
	// CACert, ClientCert and ClientKey are PEM; empty CACert uses the
	// system roots.
	CACert, ClientCert, ClientKey string
	TLSServerName                 string
}

// JoinRequest is the body of sys/storage/raft/join.
type JoinRequest struct {
	Leaders []JoinLeader
	// Retry keeps trying in the background until the join succeeds.
	Retry    bool
	NonVoter bool
}

// pendingJoin is a challenge received from a leader, waiting for the
// root key.
type pendingJoin struct {
	leader        JoinLeader
	client        *http.Client
	sealConfig    *seal.Config
	keyring       []byte
	challenge     []byte
	sealedRootKey []byte
}

// challengeData is the data of a bootstrap challenge response.
type challengeData struct {
	Challenge     string       `json:"challenge"`
	Keyring       string       `json:"keyring"`
	SealConfig    *seal.Config `json:"seal_config"`
	SealedRootKey string       `json:"sealed_root_key,omitempty"`
}

// answerData is the data of a bootstrap answer response.
type answerData struct {
	Certificate   string `json:"certificate"`
	CACertificate string `json:"ca_certificate"`
	Index         uint64 `json:"index"`
}

const (
	challengePrefix = "raft/challenge/"
	// replicationWait bounds how long a joined node waits for the data.
	replicationWait = 60 * time.Second
)

func challengePath(serverID string) string { return "core/" + challengePrefix + serverID }

func (c *Core) joinPending() bool {
	c.ha.joinMu.Lock()
	defer c.ha.joinMu.Unlock()
	return c.ha.join != nil
}

func (c *Core) pendingJoinState() *pendingJoin {
	c.ha.joinMu.Lock()
	defer c.ha.joinMu.Unlock()
	return c.ha.join
}

func (c *Core) setPendingJoin(pj *pendingJoin) {
	c.ha.joinMu.Lock()
	c.ha.join = pj
	c.ha.joinMu.Unlock()
}

// sealConfigOrJoin is the stored seal configuration or, while a join is
// pending, the cluster's.
func (c *Core) sealConfigOrJoin(ctx context.Context) (*seal.Config, error) {
	if pj := c.pendingJoinState(); pj != nil {
		return pj.sealConfig, nil
	}
	return c.sealConfig(ctx)
}

// bootstrapRaft makes a node without raft state a one-node cluster, at
// initialisation. Called with stateLock held.
func (c *Core) bootstrapRaft(ctx context.Context) error {
	if c.conf.Raft == nil {
		return nil
	}
	if err := c.conf.Raft.Bootstrap(ctx); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	return nil
}

// initCluster records the root key for standbys and creates the cluster
// CA with this node's certificate, at initialisation.
func (c *Core) initCluster(ctx context.Context, rootKey []byte) error {
	if c.conf.Raft == nil {
		return nil
	}
	if err := c.barrier.View("core/").Put(ctx, &logical.StorageEntry{Key: rootKeyKey, Value: rootKey}); err != nil {
		return err
	}
	return c.ensureClusterCA(ctx)
}

// JoinRaft starts joining this node to a raft cluster. It fails with a
// 400 error when the node already has data or no leader can be reached;
// with Retry it keeps trying in the background and returns at once.
func (c *Core) JoinRaft(ctx context.Context, req JoinRequest) error {
	if c.conf.Raft == nil {
		return logical.InvalidRequest("raft storage is not in use")
	}
	if req.NonVoter {
		return logical.InvalidRequest("non-voting nodes are not supported; join without non_voter")
	}
	if len(req.Leaders) == 0 {
		return logical.InvalidRequest("missing leader_api_addr: name the API address of a node of the cluster to join")
	}
	for _, l := range req.Leaders {
		if !strings.HasPrefix(l.APIAddr, "https://") && !strings.HasPrefix(l.APIAddr, "http://") {
			return logical.InvalidRequest("leader_api_addr %q must be a URL such as https://node1.example.com:8200", l.APIAddr)
		}
	}
	if err := c.checkJoinable(ctx); err != nil {
		return err
	}
	if req.Retry {
		c.StartRetryJoin(req.Leaders)
		return nil
	}
	var errs []string
	for _, l := range req.Leaders {
		err := c.requestChallenge(ctx, l)
		if err == nil {
			return nil
		}
		errs = append(errs, err.Error())
	}
	return logical.InvalidRequest("failed to join raft cluster: %s", strings.Join(errs, "; "))
}

// checkJoinable refuses to join a node that already holds data.
func (c *Core) checkJoinable(ctx context.Context) error {
	has, err := c.conf.Raft.HasState()
	if err != nil {
		return err
	}
	init, err := c.barrier.Initialized(ctx)
	if err != nil {
		return err
	}
	if has || init {
		return logical.InvalidRequest("this node already has raft data (it is initialized or belongs to a cluster); only a node with an empty data directory can join a cluster")
	}
	return nil
}

// StartRetryJoin keeps asking the leaders for a challenge, in the
// background, until this node belongs to a cluster (retry_join).
func (c *Core) StartRetryJoin(leaders []JoinLeader) {
	if c.conf.Raft == nil || len(leaders) == 0 {
		return
	}
	c.ha.joinMu.Lock()
	if c.ha.retrying {
		c.ha.joinMu.Unlock()
		return
	}
	c.ha.retrying = true
	c.ha.joinMu.Unlock()
	interval := c.conf.JoinRetryInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	c.bgWG.Add(1)
	go func() {
		defer c.bgWG.Done()
		defer func() {
			c.ha.joinMu.Lock()
			c.ha.retrying = false
			c.ha.joinMu.Unlock()
		}()
		ctx := c.lifeCtx
		for {
			if has, err := c.conf.Raft.HasState(); err == nil && has {
				return
			}
			if !c.joinPending() {
				for _, l := range leaders {
					if strings.TrimRight(l.APIAddr, "/") == strings.TrimRight(c.APIAddr(), "/") {
						continue
					}
					err := c.requestChallenge(ctx, l)
					if err == nil {
						break
					}
					c.logger.Info("raft join attempt failed; retrying", "leader", l.APIAddr, "error", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
}

// requestChallenge asks one leader for a join challenge and, on success,
// makes the join pending. With an auto-unseal seal the join then
// completes in the background.
func (c *Core) requestChallenge(ctx context.Context, l JoinLeader) error {
	client, err := joinClient(l)
	if err != nil {
		return err
	}
	var ch challengeData
	if err := postJSON(ctx, client, l.APIAddr, "sys/storage/raft/bootstrap/challenge", map[string]string{"server_id": c.conf.Raft.NodeID()}, &ch); err != nil {
		return err
	}
	pj := &pendingJoin{leader: l, client: client, sealConfig: ch.SealConfig}
	if pj.keyring, err = base64.StdEncoding.DecodeString(ch.Keyring); err == nil {
		pj.challenge, err = base64.StdEncoding.DecodeString(ch.Challenge)
	}
	if err == nil && ch.SealedRootKey != "" {
		pj.sealedRootKey, err = base64.StdEncoding.DecodeString(ch.SealedRootKey)
	}
	if err != nil || len(pj.keyring) == 0 || len(pj.challenge) == 0 || pj.sealConfig == nil {
		return fmt.Errorf("leader %s sent an incomplete join challenge", l.APIAddr)
	}
	stored := sealTypeOf(pj.sealConfig)
	if stored != c.configuredSealType() {
		return fmt.Errorf("the cluster uses the %s seal but this node is configured with the %s seal; configure the same seal on every node", stored, c.configuredSealType())
	}
	if err := c.checkJoinable(ctx); err != nil {
		return err
	}
	c.setPendingJoin(pj)
	c.logger.Info("received a raft join challenge; waiting for the root key to answer it", "leader", l.APIAddr)
	if c.conf.Seal != nil {
		c.bgWG.Add(1)
		go func() {
			defer c.bgWG.Done()
			c.autoJoinLoop(c.lifeCtx)
		}()
	}
	return nil
}

// autoJoinLoop completes a pending join with the auto-unseal seal,
// retrying while the seal's service is unreachable.
func (c *Core) autoJoinLoop(ctx context.Context) {
	wait := 500 * time.Millisecond
	for c.joinPending() {
		err := c.autoCompleteJoin(ctx)
		if err == nil {
			return
		}
		c.logger.Error("completing the raft join failed", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// autoCompleteJoin unwraps the cluster's root key with this node's seal
// and completes the pending join.
func (c *Core) autoCompleteJoin(ctx context.Context) error {
	pj := c.pendingJoinState()
	if pj == nil {
		return nil
	}
	var srk sealedRootKey
	if err := json.Unmarshal(pj.sealedRootKey, &srk); err != nil {
		return fmt.Errorf("the leader sent no usable sealed root key: %w", err)
	}
	if srk.Type != c.conf.Seal.Type() {
		return fmt.Errorf("the cluster's root key is sealed by %q, not by the configured %q seal", srk.Type, c.conf.Seal.Type())
	}
	rootKey, err := c.conf.Seal.Unwrap(ctx, srk.Ciphertext)
	if err != nil {
		return fmt.Errorf("unwrap the cluster's root key with the %s seal: %w", srk.Type, err)
	}
	return c.completeJoin(ctx, rootKey)
}

// completeJoin answers the pending challenge with the root key, installs
// the node certificate, waits for the data and unseals.
func (c *Core) completeJoin(ctx context.Context, rootKey []byte) error {
	// One answer at a time: the operator's unseal and the auto-unseal
	// loop may both try.
	c.ha.joinRun.Lock()
	defer c.ha.joinRun.Unlock()
	pj := c.pendingJoinState()
	if pj == nil {
		return logical.InvalidRequest("no raft join is pending")
	}
	id := c.conf.Raft.NodeID()
	mem := inmem.New()
	if err := mem.Put(ctx, &storage.Entry{Key: barrier.KeyringPath, Value: pj.keyring}); err != nil {
		return err
	}
	if err := mem.Put(ctx, &storage.Entry{Key: challengePath(id), Value: pj.challenge}); err != nil {
		return err
	}
	tb := barrier.New(mem)
	if err := tb.Unseal(ctx, rootKey); err != nil {
		if errors.Is(err, barrier.ErrInvalidKey) {
			return logical.InvalidRequest("unseal failed: the key shares do not open the keyring of the cluster being joined; progress was reset")
		}
		return fmt.Errorf("open the cluster's keyring: %w", err)
	}
	e, err := tb.Get(ctx, challengePath(id))
	tb.Seal()
	if err != nil || e == nil {
		c.setPendingJoin(nil)
		return logical.InvalidRequest("the join challenge cannot be decrypted with the cluster's keyring (%v); join again", err)
	}
	pub, err := c.conf.Raft.ClusterPublicKey()
	if err != nil {
		return err
	}
	var ans answerData
	err = postJSON(ctx, pj.client, pj.leader.APIAddr, "sys/storage/raft/bootstrap/answer", map[string]string{
		"server_id": id, "answer": base64.StdEncoding.EncodeToString(e.Value),
		"cluster_addr": c.conf.Raft.LocalAddr(), "public_key": string(pub),
	}, &ans)
	if err != nil {
		c.setPendingJoin(nil)
		return logical.InvalidRequest("failed to join raft cluster: %v", err)
	}
	if err := c.conf.Raft.InstallClusterCert([]byte(ans.Certificate), []byte(ans.CACertificate)); err != nil {
		c.setPendingJoin(nil)
		return fmt.Errorf("joined the raft cluster but %w", err)
	}
	c.setPendingJoin(nil)
	c.logger.Info("joined the raft cluster; waiting for its data", "leader", pj.leader.APIAddr)
	if err := c.waitReplicated(ctx, ans.Index); err != nil {
		return err
	}
	return c.unsealWithRootKey(ctx, rootKey)
}

// waitReplicated waits until the raft log up to index is applied here
// and the keyring has arrived.
func (c *Core) waitReplicated(ctx context.Context, index uint64) error {
	ctx, cancel := context.WithTimeout(ctx, replicationWait)
	defer cancel()
	for {
		_, applied := c.conf.Raft.Indexes()
		init, err := c.barrier.Initialized(ctx)
		if err == nil && init && applied >= index {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("joined the raft cluster, but its data has not arrived yet (applied index %d of %d); unseal again in a moment: %w", applied, index, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// joinClient builds the HTTP client for a leader's API.
func joinClient(l JoinLeader) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: l.TLSServerName}
	if l.CACert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(l.CACert)) {
			return nil, logical.InvalidRequest("leader_ca_cert holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if l.ClientCert != "" || l.ClientKey != "" {
		cert, err := tls.X509KeyPair([]byte(l.ClientCert), []byte(l.ClientKey))
		if err != nil {
			return nil, logical.InvalidRequest("leader_client_cert and leader_client_key: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}, nil
}

// postJSON calls a leader's API and decodes the "data" of its answer.
func postJSON(ctx context.Context, client *http.Client, base, path string, body, out interface{}) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	url := strings.TrimRight(base, "/") + "/v1/" + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("leader %s: %w", base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("leader %s: %w", base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("leader %s: %w", base, err)
	}
	if resp.StatusCode >= 300 {
		var eb struct {
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(data, &eb)
		return fmt.Errorf("leader %s answered %s: %s", base, resp.Status, strings.Join(eb.Errors, "; "))
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &env); err != nil || len(env.Data) == 0 {
		return fmt.Errorf("leader %s: unexpected answer to %s", base, path)
	}
	return json.Unmarshal(env.Data, out)
}
