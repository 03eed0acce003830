package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"text/template"
	"time"
)

// Retry backoff of failed renders, as consul-template's: 250ms doubling
// up to a minute.
const (
	renderBackoffBase = 250 * time.Millisecond
	renderBackoffMax  = time.Minute
)

type fileTemplate struct {
	cfg  *Template
	name string // for messages: the destination
	tmpl *template.Template
}

type envTemplate struct {
	cfg  *EnvTemplate
	tmpl *template.Template
}

// renderer renders file templates and env templates from one dependency
// store, re-rendering when a dependency changes.
type renderer struct {
	files      []*fileTemplate
	envs       []*envTemplate
	fe         *funcEnv
	deps       *deps
	numRetries int // -1: no retries
	exitOnFail bool
	waitMin    time.Duration
	setToken   func(string)
	onEnv      func(map[string]string) // exec mode; nil otherwise
	stdout     io.Writer
	stderr     io.Writer
	logger     *slog.Logger

	lastEnv map[string]string
}

// compileTemplates parses every template up front so that syntax errors
// stop the agent at start, located at the template block.
func (r *renderer) compile(cfg *Config) error {
	var errs ConfigErrors
	for _, t := range cfg.Templates {
		text := t.Contents
		if t.Source != "" {
			b, err := os.ReadFile(t.Source)
			if err != nil {
				errs = append(errs, &ConfigError{File: t.At.File, Line: t.At.Line, Msg: fmt.Sprintf("template: source: %v", err)})
				continue
			}
			text = string(b)
		}
		tm, err := parseTemplate(t.Destination, text, t.LeftDelim, t.RightDelim, t.ErrorOnMissingKey, r.fe, t.FunctionDenylist)
		if err != nil {
			errs = append(errs, &ConfigError{File: t.At.File, Line: t.At.Line, Msg: err.Error()})
			continue
		}
		r.files = append(r.files, &fileTemplate{cfg: t, name: t.Destination, tmpl: tm})
		r.waitMin = max(r.waitMin, min(t.WaitMin, max(t.WaitMax, t.WaitMin)))
	}
	for _, t := range cfg.EnvTemplates {
		tm, err := parseTemplate("env_template "+t.Name, t.Contents, t.LeftDelim, t.RightDelim, t.ErrorOnMissingKey, r.fe, nil)
		if err != nil {
			errs = append(errs, &ConfigError{File: t.At.File, Line: t.At.Line, Msg: err.Error()})
			continue
		}
		r.envs = append(r.envs, &envTemplate{cfg: t, tmpl: tm})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func renderBackoff(failures int) time.Duration {
	d := renderBackoffBase
	for i := 1; i < failures && d < renderBackoffMax; i++ {
		d *= 2
	}
	return min(d, renderBackoffMax)
}

// run renders until ctx ends. With once it returns after the first
// complete render. It returns an error when rendering keeps failing
// past the retries and exit_on_retry_failure (or once) asks to stop.
func (r *renderer) run(ctx context.Context, tokens *tokenState, hup <-chan struct{}, once bool) error {
	token, changed, ok := tokens.wait(ctx)
	if !ok {
		return nil
	}
	r.setToken(token)
	failures := 0
	dirty := true
	var retryAt time.Time
	for {
		if dirty {
			if err := r.renderAll(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				failures++
				if r.numRetries >= 0 && failures > r.numRetries {
					if r.exitOnFail || once {
						return fmt.Errorf("template: rendering failed after %d retries: %w", max(r.numRetries, 0), err)
					}
					r.logger.Error("template rendering keeps failing; retrying", "error", err)
				} else {
					r.logger.Warn("template rendering failed; retrying", "attempt", failures, "error", err)
				}
				retryAt = r.deps.now().Add(renderBackoff(failures))
			} else {
				failures, retryAt, dirty = 0, time.Time{}, false
				if once {
					return nil
				}
			}
		}
		wake := r.deps.nextDue()
		if !retryAt.IsZero() && (wake.IsZero() || retryAt.Before(wake)) {
			wake = retryAt
		}
		var timer <-chan time.Time
		var t *time.Timer
		if !wake.IsZero() {
			t = time.NewTimer(max(wake.Sub(r.deps.now()), 0))
			timer = t.C
		}
		stop := func() {
			if t != nil {
				t.Stop()
			}
		}
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-changed:
			stop()
			token, changed = tokens.get()
			if token == "" {
				continue
			}
			r.logger.Info("token changed; fetching template secrets again")
			r.setToken(token)
			r.deps.reset()
			dirty = true
		case <-hup:
			stop()
			r.deps.expireStatic()
			dirty = r.deps.refreshDue(ctx, renderBackoff(1)) || dirty
		case <-timer:
			if !retryAt.IsZero() && !r.deps.now().Before(retryAt) {
				dirty = true
			}
			dirty = r.deps.refreshDue(ctx, renderBackoff(max(failures, 1))) || dirty
		}
		if dirty && r.waitMin > 0 && failures == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(r.waitMin):
			}
		}
	}
}

// renderAll executes every template once, writes the files whose text
// changed and runs their commands, and hands exec mode the environment
// when every env template rendered. It returns the render errors.
func (r *renderer) renderAll(ctx context.Context) error {
	r.fe.ctx = ctx
	r.deps.startPass()
	var errs []error
	for _, ft := range r.files {
		var buf bytes.Buffer
		if err := ft.tmpl.Execute(&buf, nil); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ft.name, err))
			continue
		}
		changed, err := writeAtomic(ft.cfg.Destination, buf.Bytes(), ft.cfg.Perms, ft.cfg.CreateDestDirs, ft.cfg.Backup)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ft.name, err))
			continue
		}
		if !changed {
			continue
		}
		r.logger.Info("rendered template", "destination", ft.cfg.Destination)
		if err := r.runCommand(ctx, ft.cfg); err != nil {
			r.logger.Error("template command failed", "destination", ft.cfg.Destination, "error", err)
		}
	}
	if len(r.envs) > 0 {
		env := make(map[string]string, len(r.envs))
		ok := true
		for _, et := range r.envs {
			var buf bytes.Buffer
			if err := et.tmpl.Execute(&buf, nil); err != nil {
				errs = append(errs, fmt.Errorf("env_template %s: %w", et.cfg.Name, err))
				ok = false
				continue
			}
			env[et.cfg.Name] = buf.String()
		}
		if ok && (r.lastEnv == nil || !maps.Equal(env, r.lastEnv)) {
			r.lastEnv = env
			if r.onEnv != nil {
				r.onEnv(maps.Clone(env))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r.deps.dropUnused()
	return nil
}

// runCommand runs a template's command after its file changed.
func (r *renderer) runCommand(ctx context.Context, t *Template) error {
	if len(t.Command) == 0 && t.ShellCommand == "" {
		return nil
	}
	if t.CommandTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.CommandTimeout)
		defer cancel()
	}
	var cmd *exec.Cmd
	if t.ShellCommand != "" {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", t.ShellCommand)
	} else {
		cmd = exec.CommandContext(ctx, t.Command[0], t.Command[1:]...)
	}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	// On timeout the whole process group goes, and output pipes held by
	// background children stop blocking the renderer after a second.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return fmt.Errorf("command: %w", err)
	}
	return nil
}

// writeAtomic writes content to dest through a temporary file in the same
// directory and a rename, so readers see the old or the new file, never
// a part. It reports false, writing nothing, when dest already holds
// content. perms 0 keeps an existing file's mode (0644 for a new file).
func writeAtomic(dest string, content []byte, perms os.FileMode, createDirs, backup bool) (bool, error) {
	mode := perms
	old, err := os.ReadFile(dest)
	exists := err == nil
	switch {
	case exists && bytes.Equal(old, content):
		if perms != 0 {
			if fi, err := os.Stat(dest); err == nil && fi.Mode().Perm() != perms {
				return false, os.Chmod(dest, perms)
			}
		}
		return false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("read destination: %w", err)
	}
	if mode == 0 {
		mode = DefaultTemplatePerms
		if fi, err := os.Stat(dest); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	dir := filepath.Dir(dest)
	if createDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("create destination directory: %w", err)
		}
	}
	if err := writeFileAtomic(dest, content, mode); err != nil {
		return false, err
	}
	if backup && exists {
		if err := os.WriteFile(dest+".bak", old, mode); err != nil {
			return true, fmt.Errorf("backup: %w", err)
		}
	}
	return true, nil
}

// writeFileAtomic is the temporary file and rename step; mode 0 leaves
// the temporary file's 0600.
func writeFileAtomic(dest string, content []byte, mode os.FileMode) error {
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(name)
		return err
	}
	if _, err := tmp.Write(content); err != nil {
		return fail(fmt.Errorf("write temporary file: %w", err))
	}
	if mode != 0 {
		if err := tmp.Chmod(mode); err != nil {
			return fail(fmt.Errorf("chmod: %w", err))
		}
	}
	if err := tmp.Sync(); err != nil {
		return fail(fmt.Errorf("sync: %w", err))
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Rename(name, dest); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("rename into place: %w", err)
	}
	return nil
}
