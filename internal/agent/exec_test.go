package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1", "EQ=x=y"}, map[string]string{"A": "2", "B": "3"})
	want := []string{"A=2", "B=3", "EQ=x=y", "PATH=/bin"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeEnv = %q, want %q", got, want)
	}
}

func TestSignalByName(t *testing.T) {
	for name, want := range map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "int": syscall.SIGINT, "SigHup": syscall.SIGHUP, "USR2": syscall.SIGUSR2} {
		if got, ok := signalByName(name); !ok || got != want {
			t.Errorf("signalByName(%q) = %v %v", name, got, ok)
		}
	}
	if _, ok := signalByName("SIGWINCHY"); ok {
		t.Error("unknown signal accepted")
	}
}

func newTestSupervisor(t *testing.T, cmd []string, policy string) (*supervisor, *syncBuffer) {
	out := &syncBuffer{}
	return newSupervisor(&Exec{Command: cmd, RestartOnSecretChanges: policy, RestartStopSignal: syscall.SIGTERM},
		strings.NewReader(""), out, out, 2*time.Second, discardLogger()), out
}

func TestSupervisorNeverRestartsAndForwardsSignals(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	script := "echo start $V >> " + log + "; trap 'echo usr1 $V >> " + log + "' USR1; trap 'echo term >> " + log + "; exit 3' TERM; while :; do sleep 0.05; done"
	s, _ := newTestSupervisor(t, []string{"/bin/sh", "-c", script}, "never")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	s.setEnv(map[string]string{"V": "one"})
	waitForFile(t, log, 5*time.Second, func(c string) bool { return c == "start one\n" })
	s.setEnv(map[string]string{"V": "two"})
	time.Sleep(200 * time.Millisecond)
	s.signals <- syscall.SIGUSR1
	waitForFile(t, log, 5*time.Second, func(c string) bool { return c == "start one\nusr1 one\n" })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("supervisor did not stop")
	}
	if b, _ := os.ReadFile(log); string(b) != "start one\nusr1 one\nterm\n" {
		t.Errorf("log %q: never restarts, forwards USR1, stops with the stop signal", b)
	}
}

func TestSupervisorKillsAStubbornChild(t *testing.T) {
	s, _ := newTestSupervisor(t, []string{"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"}, "always")
	s.stopTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	s.setEnv(map[string]string{})
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a child ignoring SIGTERM was not killed")
	}
}

func TestSupervisorReportsExitAndStartFailure(t *testing.T) {
	s, _ := newTestSupervisor(t, []string{"/bin/sh", "-c", "kill -KILL $$"}, "always")
	s.setEnv(map[string]string{})
	var exit *ExitError
	if err := s.run(context.Background()); !errors.As(err, &exit) || exit.Code != 128+9 {
		t.Errorf("killed child: %v, want exit code 137", err)
	}
	s, _ = newTestSupervisor(t, []string{"/nonexistent/app"}, "always")
	s.setEnv(map[string]string{})
	if err := s.run(context.Background()); err == nil || !strings.Contains(err.Error(), "start /nonexistent/app") {
		t.Errorf("missing command: %v", err)
	}
}
