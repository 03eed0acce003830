package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// ExitError reports that the supervised child exited on its own; the
// agent exits with the same code.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("child process exited with code %d", e.Code)
}

// supervisor runs the exec block's command with the env_template values
// in its environment, restarts it when they change (restart_on_secret_changes
// = "always"), forwards signals to it, and reports when it exits by itself.
type supervisor struct {
	cfg         *Exec
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
	stopTimeout time.Duration
	logger      *slog.Logger

	envs     chan map[string]string // latest environment wins
	signals  chan os.Signal         // forwarded to the child
	shutdown chan os.Signal         // stop the child with this signal and return
}

func newSupervisor(cfg *Exec, stdin io.Reader, stdout, stderr io.Writer, stopTimeout time.Duration, logger *slog.Logger) *supervisor {
	return &supervisor{cfg: cfg, stdin: stdin, stdout: stdout, stderr: stderr, stopTimeout: stopTimeout, logger: logger,
		envs: make(chan map[string]string, 1), signals: make(chan os.Signal, 4), shutdown: make(chan os.Signal, 1)}
}

// setEnv hands the supervisor a newly rendered environment.
func (s *supervisor) setEnv(env map[string]string) {
	for {
		select {
		case s.envs <- env:
			return
		default:
		}
		select {
		case <-s.envs: // drop the stale one
		default:
		}
	}
}

// child is one running process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
	code int
}

// run waits for the first environment, starts the child and supervises
// it. It returns an *ExitError when the child exits by itself, and nil
// when ctx ends or a shutdown signal stopped it.
func (s *supervisor) run(ctx context.Context) error {
	var env map[string]string
	select {
	case <-ctx.Done():
		return nil
	case sig := <-s.shutdown:
		s.logger.Info("exec: shutting down before the child started", "signal", sig)
		return nil
	case env = <-s.envs:
	}
	c, err := s.start(env)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			s.stop(c, s.cfg.RestartStopSignal)
			return nil
		case sig := <-s.shutdown:
			s.stop(c, sig)
			return nil
		case sig := <-s.signals:
			if err := signalGroup(c.cmd, sig); err != nil {
				s.logger.Warn("exec: forwarding a signal failed", "signal", sig, "error", err)
			}
		case next := <-s.envs:
			if s.cfg.RestartOnSecretChanges == "never" || maps.Equal(next, env) {
				continue
			}
			s.logger.Info("exec: secrets changed; restarting the child", "signal", s.cfg.RestartStopSignal)
			s.stop(c, s.cfg.RestartStopSignal)
			env = next
			if c, err = s.start(env); err != nil {
				return err
			}
		case <-c.done:
			s.logger.Info("exec: child exited", "code", c.code)
			return &ExitError{Code: c.code}
		}
	}
}

// start runs the command with the agent's environment plus env.
func (s *supervisor) start(env map[string]string) (*child, error) {
	cmd := exec.Command(s.cfg.Command[0], s.cfg.Command[1:]...)
	cmd.Env = mergeEnv(os.Environ(), env)
	cmd.Stdin = s.stdin
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	var files []*os.File
	for _, o := range []struct {
		path string
		dst  *io.Writer
	}{{s.cfg.ChildStdout, &cmd.Stdout}, {s.cfg.ChildStderr, &cmd.Stderr}} {
		if o.path == "" {
			continue
		}
		f, err := os.OpenFile(o.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("exec: %w", err)
		}
		files = append(files, f)
		*o.dst = f
	}
	// Its own process group, so that a stop signal reaches the children
	// of a shell wrapper too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		for _, f := range files {
			_ = f.Close()
		}
		return nil, fmt.Errorf("exec: start %s: %w", s.cfg.Command[0], err)
	}
	s.logger.Info("exec: child started", "pid", cmd.Process.Pid, "command", s.cfg.Command[0])
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		c.code = exitCode(cmd, err)
		for _, f := range files {
			_ = f.Close()
		}
		close(c.done)
	}()
	return c, nil
}

// stop signals the child and waits for it, killing it after the timeout.
func (s *supervisor) stop(c *child, sig os.Signal) {
	select {
	case <-c.done:
		return
	default:
	}
	if err := signalGroup(c.cmd, sig); err != nil {
		s.logger.Warn("exec: signalling the child failed", "signal", sig, "error", err)
	}
	t := time.NewTimer(s.stopTimeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		s.logger.Warn("exec: child did not stop in time; killing it", "timeout", s.stopTimeout)
		_ = signalGroup(c.cmd, syscall.SIGKILL)
		<-c.done
	}
}

// signalGroup sends sig to the child's process group.
func signalGroup(cmd *exec.Cmd, sig os.Signal) error {
	ss, ok := sig.(syscall.Signal)
	if !ok {
		return cmd.Process.Signal(sig)
	}
	if err := syscall.Kill(-cmd.Process.Pid, ss); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// exitCode is the child's exit status; a death by signal n is 128+n, as
// shells report it.
func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		if err != nil {
			return 1
		}
		return 0
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// mergeEnv overrides base ("K=V" entries) with extra, sorted by name.
func mergeEnv(base []string, extra map[string]string) []string {
	m := make(map[string]string, len(base)+len(extra))
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	maps.Copy(m, extra)
	out := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}
