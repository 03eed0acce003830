package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func kvPut(t *testing.T, c *api.Client, path string, data map[string]interface{}) {
	t.Helper()
	if _, err := c.KVv2("secret").Put(context.Background(), path, data); err != nil {
		t.Fatalf("put %s via %s: %v", path, c.Address(), err)
	}
}

func kvGet(t *testing.T, c *api.Client, path string) map[string]interface{} {
	t.Helper()
	s, err := c.KVv2("secret").Get(context.Background(), path)
	if err != nil {
		t.Fatalf("get %s via %s: %v", path, c.Address(), err)
	}
	return s.Data
}

func statusOf(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func TestClusterForwardingAndHealth(t *testing.T) {
	cl := testserver.StartCluster(t, 3, testserver.Options{})
	active := cl.Active(10 * time.Second)
	if active != cl.Nodes[0] {
		t.Fatalf("active node is %s, want the initialised node1", active.Addr)
	}
	standbys := cl.Standbys()
	if len(standbys) != 2 {
		t.Fatalf("%d standbys", len(standbys))
	}
	// Writes on a standby are forwarded; every node reads the same data.
	kvPut(t, standbys[0].Client, "ha/one", map[string]interface{}{"v": "from-standby"})
	for _, n := range cl.Nodes {
		if got := kvGet(t, n.Client, "ha/one")["v"]; got != "from-standby" {
			t.Fatalf("read via %s = %v", n.Addr, got)
		}
	}

	// sys/health: 429 on a standby unless standbyok; 200 on the active.
	for _, tt := range []struct {
		node  *testserver.Server
		query string
		want  int
	}{
		{active, "", 200},
		{standbys[0], "", 429},
		{standbys[0], "?standbyok=true", 200},
		{standbys[0], "?standbycode=299", 299},
	} {
		resp, err := tt.node.Client.CloneConfig().HttpClient.Get(tt.node.Addr + "/v1/sys/health" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("health%s on %s = %d, want %d", tt.query, tt.node.Addr, resp.StatusCode, tt.want)
		}
	}
	h, err := standbys[1].Client.Sys().HealthWithContext(context.Background())
	if err != nil || !h.Standby || !h.Initialized || h.Sealed {
		t.Fatalf("standby health = %+v, %v", h, err)
	}

	// sys/leader names the active node from everywhere.
	for _, n := range cl.Nodes {
		l, err := n.Client.Sys().Leader()
		if err != nil {
			t.Fatal(err)
		}
		if !l.HAEnabled || l.LeaderAddress != active.Addr || l.IsSelf != (n == active) || !strings.HasPrefix(l.LeaderClusterAddress, "https://127.0.0.1:") || l.RaftAppliedIndex == 0 {
			t.Fatalf("leader via %s = %+v", n.Addr, l)
		}
	}

	// Raft configuration through a standby (forwarded).
	sec, err := standbys[1].Client.Logical().Read("sys/storage/raft/configuration")
	if err != nil {
		t.Fatal(err)
	}
	servers := sec.Data["config"].(map[string]interface{})["servers"].([]interface{})
	leaders := 0
	for _, s := range servers {
		m := s.(map[string]interface{})
		if m["voter"] != true {
			t.Fatalf("server %v is not a voter", m)
		}
		if m["leader"] == true {
			leaders++
			if m["node_id"] != "node1" {
				t.Fatalf("leader is %v", m["node_id"])
			}
		}
	}
	if len(servers) != 3 || leaders != 1 {
		t.Fatalf("configuration = %v", servers)
	}

	// A bad token is refused the same way through a standby.
	bad := standbys[0].NewClient("hvs.nope")
	if _, err := bad.Logical().Read("secret/data/ha/one"); statusOf(err) != http.StatusForbidden {
		t.Fatalf("bad token via standby: %v", err)
	}
}
