package httpapi_test

import (
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func sealStatus(t *testing.T, s *testserver.Server) *api.SealStatusResponse {
	t.Helper()
	st, err := s.Client.Sys().SealStatus()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// rekey replaces the key shares through s (which forwards to the active
// node) with the current shares and returns the new ones.
func rekey(t *testing.T, s *testserver.Server, keys []string, shares, threshold int) []string {
	t.Helper()
	sys := s.Client.Sys()
	st, err := sys.RekeyInit(&api.RekeyInitRequest{SecretShares: shares, SecretThreshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		up, err := sys.RekeyUpdate(k, st.Nonce)
		if err != nil {
			t.Fatal(err)
		}
		if up.Complete {
			return up.Keys
		}
	}
	t.Fatal("rekey did not complete")
	return nil
}

// waitShares waits until s reports n shares and threshold t (a standby
// sees the active node's writes once raft has replicated them).
func waitShares(t *testing.T, s *testserver.Server, n, thr int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := sealStatus(t, s)
		if st.N == n && st.T == thr && st.Initialized && !st.Sealed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("seal-status on %s = %+v, want n=%d t=%d", s.Addr, st, n, thr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A rekey changes what seal-status reports at once, without a seal and
// unseal in between.
func TestSealStatusFollowsRekey(t *testing.T) {
	s := testserver.Start(t, testserver.Options{DataDir: t.TempDir(), Shares: 3, Threshold: 2})
	for range 2 {
		if st := sealStatus(t, s); st.N != 3 || st.T != 2 || !st.Initialized || st.Sealed || st.ClusterID == "" {
			t.Fatalf("seal-status = %+v", st)
		}
	}
	rekey(t, s, s.UnsealKeys, 5, 3)
	if st := sealStatus(t, s); st.N != 5 || st.T != 3 || st.Sealed || st.ClusterID == "" {
		t.Fatalf("seal-status after rekey = %+v, want n=5 t=3", st)
	}
	if err := s.Client.Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	if st := sealStatus(t, s); st.N != 5 || st.T != 3 || !st.Sealed || st.ClusterID != "" {
		t.Fatalf("seal-status after seal = %+v", st)
	}
	h, err := s.Client.Sys().Health()
	if err != nil || !h.Initialized || !h.Sealed {
		t.Fatalf("health after seal = %+v, %v", h, err)
	}
}

// Every node of a cluster reports a rekey made on the active node, also
// after the active node changes.
func TestClusterSealStatusFollowsRekey(t *testing.T) {
	cl := testserver.StartCluster(t, 3, testserver.Options{Shares: 3, Threshold: 2})
	for _, n := range cl.Nodes {
		waitShares(t, n, 3, 2)
	}
	first := cl.Active(10 * time.Second)
	keys := rekey(t, cl.Standbys()[0], first.UnsealKeys, 5, 3)
	if st := sealStatus(t, first); st.N != 5 || st.T != 3 {
		t.Fatalf("active node's seal-status after rekey = %+v, want n=5 t=3", st)
	}
	for _, n := range cl.Nodes {
		waitShares(t, n, 5, 3)
	}

	// Another node takes over; it and the former active node follow a
	// second rekey.
	if err := first.Client.Sys().StepDown(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	second := cl.Active(20 * time.Second)
	for second == first {
		if time.Now().After(deadline) {
			t.Fatal("the active node did not change after step-down")
		}
		time.Sleep(20 * time.Millisecond)
		second = cl.Active(20 * time.Second)
	}
	waitShares(t, second, 5, 3)
	rekey(t, second, keys, 4, 2)
	if st := sealStatus(t, second); st.N != 4 || st.T != 2 {
		t.Fatalf("new active node's seal-status after rekey = %+v, want n=4 t=2", st)
	}
	for _, n := range cl.Nodes {
		waitShares(t, n, 4, 2)
	}
}
