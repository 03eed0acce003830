package core

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coffer-dev/coffer/internal/barrier"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
	"github.com/coffer-dev/coffer/internal/storage"
	"github.com/coffer-dev/coffer/internal/storage/inmem"
	raftstore "github.com/coffer-dev/coffer/internal/storage/raft"
)

// SnapshotBodyKey is the request data key under which the HTTP layer
// passes the body of a snapshot restore, as an io.Reader.
const SnapshotBodyKey = "snapshot"

// autopilotKey (in the barrier's core/ view) holds the autopilot
// configuration set through the API.
const autopilotKey = "raft/autopilot-configuration"

func (c *Core) raftPaths() []*framework.Path {
	durations := framework.Fields{
		"cleanup_dead_servers":               {Type: framework.TypeBool},
		"last_contact_threshold":             {Type: framework.TypeDurationSecond},
		"dead_server_last_contact_threshold": {Type: framework.TypeDurationSecond},
		"max_trailing_logs":                  {Type: framework.TypeInt},
		"min_quorum":                         {Type: framework.TypeInt},
		"server_stabilization_time":          {Type: framework.TypeDurationSecond},
		"disable_upgrade_migration":          {Type: framework.TypeBool},
	}
	return []*framework.Path{
		{
			Pattern:  "storage/raft/bootstrap/challenge",
			Fields:   framework.Fields{"server_id": {Type: framework.TypeString}},
			Ops:      framework.Ops{logical.UpdateOperation: c.handleRaftChallenge},
			Synopsis: "Creates a challenge for a node joining the raft cluster.",
		},
		{
			Pattern: "storage/raft/bootstrap/answer",
			Fields: framework.Fields{
				"server_id": {Type: framework.TypeString}, "answer": {Type: framework.TypeString, Sensitive: true},
				"cluster_addr": {Type: framework.TypeString}, "public_key": {Type: framework.TypeString},
				"non_voter": {Type: framework.TypeBool},
			},
			Ops:      framework.Ops{logical.UpdateOperation: c.handleRaftAnswer},
			Synopsis: "Accepts a joining node's answer and adds it to the raft cluster.",
		},
		{
			Pattern:  "storage/raft/configuration",
			Ops:      framework.Ops{logical.ReadOperation: c.handleRaftConfiguration},
			Synopsis: "Returns the raft cluster configuration.",
		},
		{
			Pattern:  "storage/raft/remove-peer",
			Fields:   framework.Fields{"server_id": {Type: framework.TypeString}},
			Ops:      framework.Ops{logical.UpdateOperation: c.handleRaftRemovePeer},
			Synopsis: "Removes a node from the raft cluster.",
		},
		{
			Pattern:             "storage/raft/snapshot",
			TakesArbitraryInput: true,
			Ops: framework.Ops{
				logical.ReadOperation:   c.handleRaftSnapshotSave,
				logical.UpdateOperation: c.handleRaftSnapshotRestore(false),
			},
			Synopsis: "Saves or restores a snapshot of the cluster's data.",
		},
		{
			Pattern:             "storage/raft/snapshot-force",
			TakesArbitraryInput: true,
			Ops:                 framework.Ops{logical.UpdateOperation: c.handleRaftSnapshotRestore(true)},
			Synopsis:            "Restores a snapshot without checking that it was sealed by this cluster's keys.",
		},
		{
			Pattern:  "storage/raft/autopilot/state",
			Ops:      framework.Ops{logical.ReadOperation: c.handleAutopilotState},
			Synopsis: "Returns the state of the raft cluster as seen by autopilot.",
		},
		{
			Pattern: "storage/raft/autopilot/configuration",
			Fields:  durations,
			Ops: framework.Ops{
				logical.ReadOperation:   c.handleAutopilotConfigRead,
				logical.UpdateOperation: c.handleAutopilotConfigUpdate,
			},
			Synopsis: "Reads or updates the autopilot configuration.",
		},
		{
			Pattern:  "step-down",
			Ops:      framework.Ops{logical.UpdateOperation: c.handleStepDown},
			Synopsis: "Makes the active node give up its active status.",
		},
	}
}

func (c *Core) handleRaftConfiguration(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := c.raftBackend()
	if err != nil {
		return nil, err
	}
	cfg, err := r.Configuration()
	if err != nil {
		return nil, err
	}
	servers := make([]interface{}, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		servers = append(servers, map[string]interface{}{
			"node_id": s.ID, "address": s.Address, "leader": s.Leader, "voter": s.Voter, "protocol_version": "3",
		})
	}
	return &logical.Response{Data: map[string]interface{}{
		"config": map[string]interface{}{"servers": servers, "index": cfg.Index},
	}}, nil
}

func (c *Core) handleRaftRemovePeer(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := c.raftBackend()
	if err != nil {
		return nil, err
	}
	id := d.String("server_id")
	if id == "" {
		return nil, logical.InvalidRequest("no server id provided")
	}
	if err := r.RemoveServer(ctx, id); err != nil {
		if errors.Is(err, raftstore.ErrUnknownServer) {
			return nil, logical.InvalidRequest("%s", err.Error())
		}
		return nil, err
	}
	c.logger.Info("removed a raft peer", "server_id", id)
	return nil, nil
}

func (c *Core) handleStepDown(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := c.raftBackend()
	if err != nil {
		return nil, err
	}
	if r.Voters() < 2 {
		return nil, logical.InvalidRequest("no other voter can take over as the active node")
	}
	if err := r.TransferLeadership(); err != nil {
		return nil, err
	}
	return nil, nil
}

// sealSums seals a snapshot's SHA256SUMS with the root key, so that a
// restore can tell a snapshot of this cluster from a foreign one.
func sealSums(rootKey, sums []byte) []byte {
	m := hmac.New(sha256.New, rootKey)
	m.Write([]byte("coffer raft snapshot checksums\n"))
	m.Write(sums)
	return m.Sum(nil)
}

func (c *Core) handleRaftSnapshotSave(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := c.raftBackend()
	if err != nil {
		return nil, err
	}
	rootKey := append([]byte(nil), c.ha.rootKey...)
	var buf bytes.Buffer
	start := time.Now()
	err = r.SaveSnapshot(ctx, &buf, func(sums []byte) ([]byte, error) {
		if len(rootKey) == 0 {
			return nil, errors.New("the root key is not available")
		}
		return sealSums(rootKey, sums), nil
	})
	if err != nil {
		return nil, err
	}
	c.logger.Info("saved a raft snapshot", "bytes", buf.Len(), "took", time.Since(start).String())
	return &logical.Response{Raw: buf.Bytes(), RawContentType: "application/octet-stream"}, nil
}

func (c *Core) handleRaftSnapshotRestore(force bool) framework.OperationFunc {
	return func(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
		r, err := c.raftBackend()
		if err != nil {
			return nil, err
		}
		body, ok := req.Data[SnapshotBodyKey].(io.Reader)
		if !ok {
			return nil, logical.InvalidRequest("send the snapshot as the request body")
		}
		rootKey := append([]byte(nil), c.ha.rootKey...)
		check := func(sums, sealed []byte, get func(string) ([]byte, bool, error)) error {
			if force {
				return nil
			}
			if !hmac.Equal(sealSums(rootKey, sums), sealed) {
				return logical.InvalidRequest("could not verify hash file, possibly the snapshot is using a different set of unseal keys; use the snapshot-force API to bypass this check")
			}
			kr, found, err := get(barrier.KeyringPath)
			if err != nil {
				return err
			}
			if !found {
				return logical.InvalidRequest("the snapshot holds no keyring")
			}
			mem := inmem.New()
			if err := mem.Put(ctx, &storage.Entry{Key: barrier.KeyringPath, Value: kr}); err != nil {
				return err
			}
			if err := barrier.New(mem).VerifyRootKey(ctx, rootKey); err != nil {
				return logical.InvalidRequest("the snapshot's keyring does not open with this cluster's root key; use the snapshot-force API to bypass this check")
			}
			return nil
		}
		st, err := r.StageSnapshot(ctx, body, check)
		if err != nil {
			if errors.Is(err, raftstore.ErrBadSnapshot) {
				return nil, logical.InvalidRequest("%s", err.Error())
			}
			return nil, err
		}
		// HandleRequest installs it once this request lets go of the
		// state lock: the active state stops, the snapshot replaces the
		// data, and the state is rebuilt from it.
		c.ha.restores.Store(req.ID, st)
		return nil, nil
	}
}

func (c *Core) handleAutopilotState(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := c.raftBackend()
	if err != nil {
		return nil, err
	}
	st, err := r.AutopilotState()
	if err != nil {
		return nil, err
	}
	servers := map[string]interface{}{}
	for id, s := range st.Servers {
		stable := ""
		if !s.StableSince.IsZero() {
			stable = s.StableSince.UTC().Format(time.RFC3339Nano)
		}
		nodeType := "voter"
		if s.Status == "non-voter" {
			nodeType = "non-voter"
		}
		servers[id] = map[string]interface{}{
			"id": s.ID, "name": s.Name, "address": s.Address, "node_status": s.NodeStatus,
			"last_contact": s.LastContact.String(), "last_term": s.LastTerm, "last_index": s.LastIndex,
			"healthy": s.Healthy, "stable_since": stable, "status": s.Status, "version": s.Version,
			"node_type": nodeType,
		}
	}
	voters, nonVoters := st.Voters, st.NonVoters
	if voters == nil {
		voters = []string{}
	}
	if nonVoters == nil {
		nonVoters = []string{}
	}
	return &logical.Response{Data: map[string]interface{}{
		"healthy": st.Healthy, "failure_tolerance": st.FailureTolerance, "leader": st.Leader,
		"voters": voters, "non_voters": nonVoters, "servers": servers,
		"optimistic_failure_tolerance": st.FailureTolerance,
	}}, nil
}

// autopilotJSON is the stored autopilot configuration.
type autopilotJSON struct {
	CleanupDeadServers             bool          `json:"cleanup_dead_servers"`
	LastContactThreshold           time.Duration `json:"last_contact_threshold"`
	DeadServerLastContactThreshold time.Duration `json:"dead_server_last_contact_threshold"`
	MaxTrailingLogs                uint64        `json:"max_trailing_logs"`
	MinQuorum                      uint          `json:"min_quorum"`
	ServerStabilizationTime        time.Duration `json:"server_stabilization_time"`
	DisableUpgradeMigration        bool          `json:"disable_upgrade_migration"`
}

// loadAutopilotConfig gives raft the stored autopilot configuration, on
// becoming active.
func (c *Core) loadAutopilotConfig(ctx context.Context) error {
	var aj autopilotJSON
	ok, err := logical.GetJSON(ctx, c.barrier.View("core/"), autopilotKey, &aj)
	if err != nil || !ok {
		return err
	}
	c.conf.Raft.SetAutopilotConfig(raftstore.AutopilotConfig(aj))
	return nil
}

func (c *Core) handleAutopilotConfigRead(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := c.raftBackend()
	if err != nil {
		return nil, err
	}
	conf := r.AutopilotConfig()
	return &logical.Response{Data: map[string]interface{}{
		"cleanup_dead_servers":               conf.CleanupDeadServers,
		"last_contact_threshold":             conf.LastContactThreshold.String(),
		"dead_server_last_contact_threshold": conf.DeadServerLastContactThreshold.String(),
		"max_trailing_logs":                  conf.MaxTrailingLogs,
		"min_quorum":                         conf.MinQuorum,
		"server_stabilization_time":          conf.ServerStabilizationTime.String(),
		"disable_upgrade_migration":          conf.DisableUpgradeMigration,
	}}, nil
}

func (c *Core) handleAutopilotConfigUpdate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	r, err := c.raftBackend()
	if err != nil {
		return nil, err
	}
	conf := r.AutopilotConfig()
	if v, ok := d.GetOk("cleanup_dead_servers"); ok {
		conf.CleanupDeadServers = v.(bool)
	}
	durations := map[string]*time.Duration{
		"last_contact_threshold":             &conf.LastContactThreshold,
		"dead_server_last_contact_threshold": &conf.DeadServerLastContactThreshold,
		"server_stabilization_time":          &conf.ServerStabilizationTime,
	}
	for k, p := range durations {
		if _, ok := d.GetOk(k); ok {
			*p = d.Duration(k)
		}
	}
	for k, p := range map[string]*uint64{"max_trailing_logs": &conf.MaxTrailingLogs} {
		if _, ok := d.GetOk(k); ok {
			if d.Int(k) < 0 {
				return nil, logical.InvalidRequest("%s cannot be negative", k)
			}
			*p = uint64(d.Int(k))
		}
	}
	if _, ok := d.GetOk("min_quorum"); ok {
		if d.Int("min_quorum") < 0 {
			return nil, logical.InvalidRequest("min_quorum cannot be negative")
		}
		conf.MinQuorum = uint(d.Int("min_quorum"))
	}
	if v, ok := d.GetOk("disable_upgrade_migration"); ok {
		conf.DisableUpgradeMigration = v.(bool)
	}
	if conf.CleanupDeadServers && conf.MinQuorum < 3 {
		return nil, logical.InvalidRequest("min_quorum must be set when cleanup_dead_servers is set and it should at least be 3; cleanup_dead_servers: %t, min_quorum: %d", conf.CleanupDeadServers, conf.MinQuorum)
	}
	if conf.CleanupDeadServers && conf.DeadServerLastContactThreshold < time.Minute {
		return nil, logical.InvalidRequest("dead_server_last_contact_threshold should not be set to less than 1m; received: %v", conf.DeadServerLastContactThreshold)
	}
	if err := logical.PutJSON(ctx, c.barrier.View("core/"), autopilotKey, autopilotJSON(conf)); err != nil {
		return nil, fmt.Errorf("store the autopilot configuration: %w", err)
	}
	r.SetAutopilotConfig(conf)
	return nil, nil
}
