package cli

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// sealStatusOutput is what "status" prints: the seal status plus the HA
// fields of sys/leader.
type sealStatusOutput struct {
	api.SealStatusResponse
	HAEnabled                bool      `json:"ha_enabled"`
	IsSelf                   bool      `json:"is_self,omitempty"`
	ActiveTime               time.Time `json:"active_time,omitempty"`
	LeaderAddress            string    `json:"leader_address,omitempty"`
	LeaderClusterAddress     string    `json:"leader_cluster_address,omitempty"`
	PerfStandby              bool      `json:"performance_standby,omitempty"`
	PerfStandbyLastRemoteWAL uint64    `json:"performance_standby_last_remote_wal,omitempty"`
	LastWAL                  uint64    `json:"last_wal,omitempty"`
	RaftCommittedIndex       uint64    `json:"raft_committed_index,omitempty"`
	RaftAppliedIndex         uint64    `json:"raft_applied_index,omitempty"`
}

func tableSealStatus(s sealStatusOutput) string {
	prefix := ""
	if s.RecoverySeal {
		prefix = "Recovery "
	}
	out := []string{
		"Key | Value",
		fmt.Sprintf("%sSeal Type | %s", prefix, s.Type),
		fmt.Sprintf("Initialized | %t", s.Initialized),
		fmt.Sprintf("Sealed | %t", s.Sealed),
		fmt.Sprintf("Total %sShares | %d", prefix, s.N),
		fmt.Sprintf("Threshold | %d", s.T),
	}
	if s.Sealed {
		out = append(out,
			fmt.Sprintf("Unseal Progress | %d/%d", s.Progress, s.T),
			fmt.Sprintf("Unseal Nonce | %s", s.Nonce))
	}
	if s.Migration {
		out = append(out, fmt.Sprintf("Seal Migration in Progress | %t", s.Migration))
	}
	out = append(out,
		fmt.Sprintf("Version | %s", s.Version),
		fmt.Sprintf("Build Date | %s", s.BuildDate),
		fmt.Sprintf("Storage Type | %s", s.StorageType))
	if s.ClusterName != "" && s.ClusterID != "" {
		out = append(out,
			fmt.Sprintf("Cluster Name | %s", s.ClusterName),
			fmt.Sprintf("Cluster ID | %s", s.ClusterID))
	}
	out = append(out, fmt.Sprintf("HA Enabled | %t", s.HAEnabled))
	if s.HAEnabled && !s.Sealed {
		out = append(out, fmt.Sprintf("HA Cluster | %s", s.LeaderClusterAddress))
		mode := "standby"
		if s.IsSelf {
			mode = "active"
		}
		out = append(out, fmt.Sprintf("HA Mode | %s", mode))
		if s.IsSelf && !s.ActiveTime.IsZero() {
			out = append(out, fmt.Sprintf("Active Since | %s", s.ActiveTime.Format(time.RFC3339Nano)))
		}
		if !s.IsSelf {
			addr := s.LeaderAddress
			if addr == "" {
				addr = "<none>"
			}
			out = append(out, fmt.Sprintf("Active Node Address | %s", addr))
		}
		if s.PerfStandby {
			out = append(out,
				fmt.Sprintf("Performance Standby Node | %t", s.PerfStandby),
				fmt.Sprintf("Performance Standby Last Remote WAL | %d", s.PerfStandbyLastRemoteWAL))
		}
	}
	if s.RaftCommittedIndex > 0 {
		out = append(out, fmt.Sprintf("Raft Committed Index | %d", s.RaftCommittedIndex))
	}
	if s.RaftAppliedIndex > 0 {
		out = append(out, fmt.Sprintf("Raft Applied Index | %d", s.RaftAppliedIndex))
	}
	if s.LastWAL != 0 {
		out = append(out, fmt.Sprintf("Last WAL | %d", s.LastWAL))
	}
	if len(s.Warnings) > 0 {
		out = append(out, fmt.Sprintf("Warnings | %v", s.Warnings))
	}
	return tableOutput(out, "|")
}

// outputSealStatus prints a seal status together with the HA status.
func (m *meta) outputSealStatus(c *api.Client, status *api.SealStatusResponse) int {
	out := sealStatusOutput{SealStatusResponse: *status}
	leader, err := c.Sys().Leader()
	var re *api.ResponseError
	switch {
	case err != nil && strings.Contains(err.Error(), "Vault is sealed"):
		// HA state cannot be queried while sealed.
		leader, err = &api.LeaderResponse{HAEnabled: true}, nil
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		leader, err = &api.LeaderResponse{}, nil
	}
	if err != nil {
		m.errorf("Error checking leader status: %s", err)
		return 1
	}
	out.HAEnabled = leader.HAEnabled
	out.IsSelf = leader.IsSelf
	out.ActiveTime = leader.ActiveTime
	out.LeaderAddress = leader.LeaderAddress
	out.LeaderClusterAddress = leader.LeaderClusterAddress
	out.PerfStandby = leader.PerfStandby
	out.PerfStandbyLastRemoteWAL = leader.PerfStandbyLastRemoteWAL
	out.LastWAL = leader.LastWAL
	out.RaftCommittedIndex = leader.RaftCommittedIndex
	out.RaftAppliedIndex = leader.RaftAppliedIndex
	return m.outputData(out)
}

type statusCommand struct{ *meta }

func (c *statusCommand) Synopsis() string { return "Print seal and HA status" }

func (c *statusCommand) Help() string {
	return usage(c.prog, `status [options]

  Prints the current state of the server including whether it is sealed and
  if HA mode is enabled. This command prints regardless of whether the server
  is sealed.

  The exit code reflects the seal status:

      - 0 - unsealed
      - 1 - error
      - 2 - sealed`, c.flags())
}

func (c *statusCommand) flags() *flagSet { return c.flagSet("status") }

func (c *statusCommand) Run(args []string) int {
	f := c.flags()
	if code := c.parseFlags(f, args, false); code != 0 {
		return code
	}
	if !c.argCount(f.args(), 0, 0) {
		return 1
	}
	client, err := c.apiClient()
	if err != nil {
		c.errorf("%s", err)
		return 1 // 2 means "sealed" here
	}
	status, err := client.Sys().SealStatus()
	if err != nil {
		if code, ok := c.curlString(err); ok {
			return code
		}
		c.errorf("Error checking seal status: %s", err)
		return 1
	}
	code := c.outputSealStatus(client, status)
	if status.Sealed {
		return 2
	}
	return code
}
