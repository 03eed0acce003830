package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// flagFileValue reads "@path" values from a file, as vault does for the
// join command's certificate flags.
func flagFileValue(v string) (string, error) {
	if p, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	return v, nil
}

type operatorRaftJoinCommand struct {
	*meta
	flagRetry            bool
	flagLeaderCACert     string
	flagLeaderClientCert string
	flagLeaderClientKey  string
}

func (c *operatorRaftJoinCommand) Synopsis() string { return "Joins a node to the Raft cluster" }

func (c *operatorRaftJoinCommand) Help() string {
	return usage(c.prog, `operator raft join [options] <leader-api-addr>

  Join the current node as a peer to the Raft cluster by providing the address
  of the Raft leader node. The node must have an empty data directory; once
  the join is pending, unseal it with the cluster's unseal keys (a node with
  an auto-unseal seal completes the join by itself).

      $ `+c.prog+` operator raft join "https://127.0.0.2:8200"

  TLS certificate data can also be consumed from a file on disk by prefixing
  with the "@" symbol. For example:

      $ `+c.prog+` operator raft join "https://127.0.0.2:8200" \
        -leader-ca-cert=@leader_ca.crt \
        -leader-client-cert=@leader_client.crt \
        -leader-client-key=@leader.key`, c.flags())
}

func (c *operatorRaftJoinCommand) flags() *flagSet {
	s := c.flagSet("operator raft join")
	s.section("Command Options")
	s.stringVar(&c.flagLeaderCACert, "leader-ca-cert", "", "CA cert to use when verifying the Raft leader certificate.")
	s.stringVar(&c.flagLeaderClientCert, "leader-client-cert", "", "Client cert to use when authenticating with the Raft leader.")
	s.stringVar(&c.flagLeaderClientKey, "leader-client-key", "", "Client key to use when authenticating with the Raft leader.")
	s.boolVar(&c.flagRetry, "retry", false, "Continuously retry joining the Raft cluster upon failures.")
	return s
}

func (c *operatorRaftJoinCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if len(args) > 1 {
		c.errorf("Too many arguments (expected 0-1, got %d)", len(args))
		return 1
	}
	leader := ""
	if len(args) == 1 {
		leader = strings.TrimSpace(args[0])
	}
	req := &api.RaftJoinRequest{LeaderAPIAddr: leader, Retry: c.flagRetry}
	for _, v := range []struct {
		what string
		in   string
		out  *string
	}{
		{"leader CA certificate", c.flagLeaderCACert, &req.LeaderCACert},
		{"leader client certificate", c.flagLeaderClientCert, &req.LeaderClientCert},
		{"leader client key", c.flagLeaderClientKey, &req.LeaderClientKey},
	} {
		s, err := flagFileValue(v.in)
		if err != nil {
			c.errorf("Failed to parse %s: %s", v.what, err)
			return 1
		}
		*v.out = s
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	resp, err := client.Sys().RaftJoin(req)
	if err != nil {
		return c.apiError(err, "Error joining the node to the Raft cluster")
	}
	if c.format() != "table" {
		return c.outputData(resp)
	}
	c.output(tableOutput([]string{"Key | Value", fmt.Sprintf("Joined | %t", resp.Joined)}, ""))
	return 0
}

type operatorRaftListPeersCommand struct{ *meta }

func (c *operatorRaftListPeersCommand) Synopsis() string { return "Returns the Raft peer set" }

func (c *operatorRaftListPeersCommand) Help() string {
	return usage(c.prog, `operator raft list-peers

  Provides the details of all the peers in the Raft cluster.

      $ `+c.prog+` operator raft list-peers`, c.flagSet("operator raft list-peers"))
}

func (c *operatorRaftListPeersCommand) Run(args []string) int {
	f := c.flagSet("operator raft list-peers")
	_, client, code := c.begin(f, args, false, 0, 0)
	if code != 0 {
		return code
	}
	secret, err := client.Logical().Read("sys/storage/raft/configuration")
	if err != nil {
		return c.apiError(err, "Error reading the raft cluster configuration")
	}
	if secret == nil {
		c.errorf("No raft cluster configuration found")
		return 2
	}
	if c.format() != "table" {
		return c.outputData(secret)
	}
	config, _ := secret.Data["config"].(map[string]interface{})
	servers, _ := config["servers"].([]interface{})
	out := []string{"Node | Address | State | Voter"}
	for _, raw := range servers {
		s, _ := raw.(map[string]interface{})
		state := "follower"
		if s["leader"] == true {
			state = "leader"
		}
		out = append(out, fmt.Sprintf("%v | %v | %s | %v", s["node_id"], s["address"], state, s["voter"] == true))
	}
	c.output(tableOutput(out, ""))
	return 0
}

type operatorRaftRemovePeerCommand struct{ *meta }

func (c *operatorRaftRemovePeerCommand) Synopsis() string {
	return "Removes a node from the Raft cluster"
}

func (c *operatorRaftRemovePeerCommand) Help() string {
	return usage(c.prog, `operator raft remove-peer <server_id>

  Removes a node from the Raft cluster.

      $ `+c.prog+` operator raft remove-peer node1`, c.flagSet("operator raft remove-peer"))
}

func (c *operatorRaftRemovePeerCommand) Run(args []string) int {
	f := c.flagSet("operator raft remove-peer")
	args, client, code := c.begin(f, args, false, 1, 1)
	if code != 0 {
		return code
	}
	if _, err := client.Logical().Write("sys/storage/raft/remove-peer", map[string]interface{}{"server_id": args[0]}); err != nil {
		return c.apiError(err, "Error removing the peer from raft cluster")
	}
	c.output("Peer removed successfully!")
	return 0
}

type operatorRaftSnapshotSaveCommand struct{ *meta }

func (c *operatorRaftSnapshotSaveCommand) Synopsis() string {
	return "Saves a snapshot of the current state of the Raft cluster into a file"
}

func (c *operatorRaftSnapshotSaveCommand) Help() string {
	return usage(c.prog, `operator raft snapshot save <snapshot_file>

  Saves a snapshot of the current state of the Raft cluster into a file.

      $ `+c.prog+` operator raft snapshot save raft.snap`, c.flagSet("operator raft snapshot save"))
}

func (c *operatorRaftSnapshotSaveCommand) Run(args []string) int {
	f := c.flagSet("operator raft snapshot save")
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if !c.exactArgs(args, 1) {
		return 1
	}
	path := strings.TrimSpace(args[0])
	if path == "" {
		c.errorf("Snapshot file name is required")
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	tmp := path + ".tmp"
	w, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		c.errorf("Error opening output file: %s", err)
		return 2
	}
	err = client.Sys().RaftSnapshot(w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return c.apiError(err, "Error taking the snapshot")
	}
	return 0
}

type operatorRaftSnapshotRestoreCommand struct {
	*meta
	flagForce bool
}

func (c *operatorRaftSnapshotRestoreCommand) Synopsis() string {
	return "Installs the provided snapshot, returning the cluster to the state defined in it"
}

func (c *operatorRaftSnapshotRestoreCommand) Help() string {
	return usage(c.prog, `operator raft snapshot restore [options] <snapshot_file>

  Installs the provided snapshot, returning the cluster to the state defined
  in it.

      $ `+c.prog+` operator raft snapshot restore raft.snap`, c.flags())
}

func (c *operatorRaftSnapshotRestoreCommand) flags() *flagSet {
	s := c.flagSet("operator raft snapshot restore")
	s.section("Command Options")
	s.boolVar(&c.flagForce, "force", false,
		"This bypasses checks ensuring the Autounseal or shamir keys are "+
			"consistent with the snapshot data.")
	return s
}

func (c *operatorRaftSnapshotRestoreCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	args = f.args()
	if !c.exactArgs(args, 1) {
		return 1
	}
	path := strings.TrimSpace(args[0])
	if path == "" {
		c.errorf("Snapshot file name is required")
		return 1
	}
	r, err := os.Open(path)
	if err != nil {
		c.errorf("Error opening snapshot file: %s", err)
		return 2
	}
	defer r.Close()
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	if err := client.Sys().RaftSnapshotRestore(r, c.flagForce); err != nil {
		return c.apiError(err, "Error installing the snapshot")
	}
	return 0
}

type operatorRaftAutopilotStateCommand struct{ *meta }

func (c *operatorRaftAutopilotStateCommand) Synopsis() string {
	return "Displays the state of the raft cluster under integrated storage as seen by autopilot"
}

func (c *operatorRaftAutopilotStateCommand) Help() string {
	return usage(c.prog, `operator raft autopilot state

  Displays the state of the raft cluster under integrated storage as seen by
  autopilot. The default output format is "pretty".`, c.flagSet("operator raft autopilot state"))
}

func (c *operatorRaftAutopilotStateCommand) Run(args []string) int {
	f := c.flagSet("operator raft autopilot state")
	if err := f.parse(args); err != nil {
		c.errorf("%s", err)
		return 1
	}
	pretty := c.format() == "table" || c.format() == "pretty"
	if !pretty {
		if err := c.validateFormat(false); err != nil {
			c.errorf("%s", err)
			return 1
		}
	}
	if !c.exactArgs(f.args(), 0) {
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	state, err := client.Sys().RaftAutopilotState()
	if err != nil {
		return c.apiError(err, "Error checking autopilot state")
	}
	if state == nil {
		return 0
	}
	if !pretty {
		return c.outputData(state)
	}
	c.output(strings.TrimRight(prettyAutopilotState(state), "\n"))
	return 0
}

// prettyAutopilotState lays the state out as vault's "pretty" format.
func prettyAutopilotState(st *api.AutopilotState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Healthy:                      %t\n", st.Healthy)
	fmt.Fprintf(&b, "Failure Tolerance:            %d\n", st.FailureTolerance)
	fmt.Fprintf(&b, "Leader:                       %s\n", st.Leader)
	b.WriteString("Voters:\n")
	for _, v := range st.Voters {
		fmt.Fprintf(&b, "   %s\n", v)
	}
	if len(st.NonVoters) > 0 {
		b.WriteString("Non Voters:\n")
		for _, v := range st.NonVoters {
			fmt.Fprintf(&b, "   %s\n", v)
		}
	}
	b.WriteString("Servers:\n")
	ids := make([]string, 0, len(st.Servers))
	for id := range st.Servers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := st.Servers[id]
		fmt.Fprintf(&b, "   %s\n", s.ID)
		fmt.Fprintf(&b, "      Name:            %s\n", s.Name)
		fmt.Fprintf(&b, "      Address:         %s\n", s.Address)
		fmt.Fprintf(&b, "      Status:          %s\n", s.Status)
		fmt.Fprintf(&b, "      Node Status:     %s\n", s.NodeStatus)
		fmt.Fprintf(&b, "      Healthy:         %t\n", s.Healthy)
		fmt.Fprintf(&b, "      Last Contact:    %s\n", s.LastContact)
		fmt.Fprintf(&b, "      Last Term:       %d\n", s.LastTerm)
		fmt.Fprintf(&b, "      Last Index:      %d\n", s.LastIndex)
	}
	return b.String()
}

type operatorRaftAutopilotGetConfigCommand struct{ *meta }

func (c *operatorRaftAutopilotGetConfigCommand) Synopsis() string {
	return "Returns the configuration of the autopilot subsystem under integrated storage"
}

func (c *operatorRaftAutopilotGetConfigCommand) Help() string {
	return usage(c.prog, `operator raft autopilot get-config

  Returns the configuration of the autopilot subsystem under integrated
  storage.`, c.flagSet("operator raft autopilot get-config"))
}

func (c *operatorRaftAutopilotGetConfigCommand) Run(args []string) int {
	f := c.flagSet("operator raft autopilot get-config")
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	if !c.exactArgs(f.args(), 0) {
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	conf, err := client.Sys().RaftAutopilotConfiguration()
	if err != nil {
		return c.apiError(err, "Error reading the autopilot configuration")
	}
	if conf == nil {
		return 0
	}
	if c.format() != "table" {
		return c.outputData(conf)
	}
	c.output(tableOutput([]string{
		"Key | Value",
		fmt.Sprintf("Cleanup Dead Servers | %t", conf.CleanupDeadServers),
		fmt.Sprintf("Last Contact Threshold | %s", conf.LastContactThreshold),
		fmt.Sprintf("Dead Server Last Contact Threshold | %s", conf.DeadServerLastContactThreshold),
		fmt.Sprintf("Server Stabilization Time | %s", conf.ServerStabilizationTime),
		fmt.Sprintf("Min Quorum | %d", conf.MinQuorum),
		fmt.Sprintf("Max Trailing Logs | %d", conf.MaxTrailingLogs),
		fmt.Sprintf("Disable Upgrade Migration | %t", conf.DisableUpgradeMigration),
	}, ""))
	return 0
}

type operatorRaftAutopilotSetConfigCommand struct {
	*meta
	flagCleanupDeadServers             boolPtr
	flagLastContactThreshold           time.Duration
	flagDeadServerLastContactThreshold time.Duration
	flagMaxTrailingLogs                int
	flagMinQuorum                      int
	flagServerStabilizationTime        time.Duration
	flagDisableUpgradeMigration        boolPtr
}

func (c *operatorRaftAutopilotSetConfigCommand) Synopsis() string {
	return "Modify the configuration of the autopilot subsystem under integrated storage"
}

func (c *operatorRaftAutopilotSetConfigCommand) Help() string {
	return usage(c.prog, `operator raft autopilot set-config [options]

  Modify the configuration of the autopilot subsystem under integrated
  storage.`, c.flags())
}

func (c *operatorRaftAutopilotSetConfigCommand) flags() *flagSet {
	s := c.flagSet("operator raft autopilot set-config")
	s.section("Command Options")
	s.boolPtrVar(&c.flagCleanupDeadServers, "cleanup-dead-servers", "Controls whether to remove dead servers from the Raft peer list periodically or when a new server joins.")
	s.durationVar(&c.flagLastContactThreshold, "last-contact-threshold", 0, "Limit on the amount of time a server can go without leader contact before being considered unhealthy.")
	s.durationVar(&c.flagDeadServerLastContactThreshold, "dead-server-last-contact-threshold", 0, "Limit on the amount of time a server can go without leader contact before being considered failed. This takes effect only when cleanup_dead_servers is set.")
	s.intVar(&c.flagMaxTrailingLogs, "max-trailing-logs", 0, "Amount of entries in the Raft Log that a server can be behind before being considered unhealthy.")
	s.intVar(&c.flagMinQuorum, "min-quorum", 0, "Minimum number of servers allowed in a cluster before autopilot can prune dead servers. This should at least be 3.")
	s.durationVar(&c.flagServerStabilizationTime, "server-stabilization-time", 0, "Minimum amount of time a server must be in a stable, healthy state before it can be added to the cluster.")
	s.boolPtrVar(&c.flagDisableUpgradeMigration, "disable-upgrade-migration", "Whether or not to perform automated version upgrades.")
	return s
}

func (c *operatorRaftAutopilotSetConfigCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	if !c.exactArgs(f.args(), 0) {
		return 1
	}
	data := map[string]interface{}{}
	if c.flagCleanupDeadServers.set {
		data["cleanup_dead_servers"] = c.flagCleanupDeadServers.val
	}
	if c.flagDisableUpgradeMigration.set {
		data["disable_upgrade_migration"] = c.flagDisableUpgradeMigration.val
	}
	if c.flagMaxTrailingLogs > 0 {
		data["max_trailing_logs"] = c.flagMaxTrailingLogs
	}
	if c.flagMinQuorum > 0 {
		data["min_quorum"] = c.flagMinQuorum
	}
	for k, d := range map[string]time.Duration{
		"last_contact_threshold":             c.flagLastContactThreshold,
		"dead_server_last_contact_threshold": c.flagDeadServerLastContactThreshold,
		"server_stabilization_time":          c.flagServerStabilizationTime,
	} {
		if d > 0 {
			data[k] = d.String()
		}
	}
	client, err := c.apiClient()
	if err != nil {
		return c.clientError(err)
	}
	secret, err := client.Logical().Write("sys/storage/raft/autopilot/configuration", data)
	if err != nil {
		if code, ok := c.curlString(err); ok {
			return code
		}
		c.errorf("%s", err)
		return 2
	}
	if secret == nil {
		return 0
	}
	return c.outputSecret(secret)
}
