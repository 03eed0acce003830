package server

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/config"
)

func TestClusterAddrs(t *testing.T) {
	tests := []struct {
		name                    string
		listener                string
		clusterAddress          string
		clusterAddr, apiAddr    string
		wantBind, wantAdvertise string
		wantErr                 bool
	}{
		{name: "API port plus one", listener: "127.0.0.1:8200", wantBind: "127.0.0.1:8201"},
		{name: "port 0 stays ephemeral", listener: "127.0.0.1:0", wantBind: "127.0.0.1:0"},
		{name: "listener cluster_address", listener: "127.0.0.1:8200", clusterAddress: "127.0.0.1:9301", wantBind: "127.0.0.1:9301"},
		{name: "cluster_addr binds and advertises", listener: "0.0.0.0:8200", clusterAddr: "https://10.0.0.5:8201", wantBind: "10.0.0.5:8201", wantAdvertise: "10.0.0.5:8201"},
		{name: "wildcard bind advertises api_addr's host", listener: "0.0.0.0:8200", apiAddr: "https://node1.example:8200", wantBind: "0.0.0.0:8201", wantAdvertise: "node1.example:8201"},
		{name: "cluster_address with cluster_addr", listener: "0.0.0.0:8200", clusterAddress: "0.0.0.0:8301", clusterAddr: "https://node1.example:8301", wantBind: "0.0.0.0:8301", wantAdvertise: "node1.example:8301"},
		{name: "bad cluster_addr", listener: "127.0.0.1:8200", clusterAddr: "https://nope", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{
				Listeners:   []*config.Listener{{Address: tt.listener, ClusterAddress: tt.clusterAddress}},
				ClusterAddr: tt.clusterAddr, APIAddr: tt.apiAddr,
			}
			bind, adv, err := clusterAddrs(cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if bind != tt.wantBind || adv != tt.wantAdvertise {
				t.Fatalf("clusterAddrs = %q, %q; want %q, %q", bind, adv, tt.wantBind, tt.wantAdvertise)
			}
		})
	}
}
