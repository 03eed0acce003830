package server

import (
	"testing"
	"time"
)

func TestRaftTuning(t *testing.T) {
	o, err := raftTuning(map[string]string{"trailing_logs": "500", "snapshot_threshold": "1024", "snapshot_interval": "30s", "max_entry_size": "1048576"})
	if err != nil {
		t.Fatal(err)
	}
	if o.TrailingLogs != 500 || o.SnapshotThreshold != 1024 || o.SnapshotInterval != 30*time.Second {
		t.Fatalf("raftTuning = %+v", o)
	}
	if o, err := raftTuning(map[string]string{}); err != nil || o.TrailingLogs != 0 || o.SnapshotInterval != 0 {
		t.Fatalf("defaults = %+v, %v", o, err)
	}
	for _, bad := range []map[string]string{
		{"trailing_logs": "0"},
		{"snapshot_threshold": "-3"},
		{"snapshot_interval": "soon"},
	} {
		if _, err := raftTuning(bad); err == nil {
			t.Errorf("raftTuning(%v) accepted", bad)
		}
	}
}
