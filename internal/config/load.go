package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"

	"github.com/coffer-dev/coffer/internal/hclconf"
)

// LoadFiles reads and merges configuration files. Each path is a file or a
// directory; a directory contributes its *.hcl and *.json files in name
// order (editor backup files are skipped). Files merge in order, as Vault
// merges them: a setting present in a later file replaces the earlier
// value, listener, seal and audit blocks accumulate, a telemetry block
// replaces an earlier one, and storage may be declared only once overall.
//
// Configuration problems are returned as Errors; I/O failures are
// returned wrapped.
func LoadFiles(paths ...string) (*Config, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("config: no configuration file given")
	}
	var files []string
	for _, p := range paths {
		fs, err := configFiles(p)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	l := newLoader()
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		l.addFile(f, src)
	}
	return l.finish()
}

// Parse reads one configuration text; name is used in error messages and
// in Config.Files.
func Parse(name, text string) (*Config, error) {
	l := newLoader()
	l.addFile(name, []byte(text))
	return l.finish()
}

// configFiles lists the files a path stands for.
func configFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	dirents, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var files []string
	for _, de := range dirents {
		name := de.Name()
		if de.IsDir() || isEditorFile(name) {
			continue
		}
		if strings.HasSuffix(name, ".hcl") || strings.HasSuffix(name, ".json") {
			files = append(files, filepath.Join(path, name))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("config: directory %s holds no .hcl or .json files", path)
	}
	return files, nil
}

// isEditorFile reports vim and emacs backup and lock files.
func isEditorFile(name string) bool {
	return strings.HasSuffix(name, "~") || strings.HasPrefix(name, ".#") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"))
}

// loader accumulates files into one Config.
type loader struct {
	cfg  *Config
	errs Errors
	// set records where each top-level setting was last given.
	set       map[string]pos
	storageAt pos
	sealAt    []pos
	auditAt   map[string]pos
}

func newLoader() *loader {
	return &loader{cfg: &Config{}, set: map[string]pos{}, auditAt: map[string]pos{}}
}

func (l *loader) addFile(name string, src []byte) {
	l.cfg.Files = append(l.cfg.Files, name)
	f, err := hcl.ParseBytes(src)
	if err != nil {
		l.errs = append(l.errs, hclconf.ParseError(name, err))
		return
	}
	root, ok := f.Node.(*ast.ObjectList)
	if !ok {
		l.errs.Add(pos{File: name}, "", "the file must hold key = value settings and blocks")
		return
	}
	d := &decoder{&hclconf.Decoder{File: name, Errs: &l.errs}}
	l.decodeTop(d, d.Entries(root, pos{File: name, Line: 1}))
}

// finish applies defaults and the checks that need the whole merged
// configuration.
func (l *loader) finish() (*Config, error) {
	c := l.cfg
	whole := pos{File: strings.Join(c.Files, ", ")}
	if len(l.errs) == 0 {
		// Only meaningful when every file decoded: a broken storage
		// block would otherwise also be reported as missing.
		if c.Storage == nil {
			l.errs.Add(whole, "", `no storage block; add storage "raft" { path = "..." } or storage "inmem" {}`)
		}
		if len(c.Listeners) == 0 {
			l.errs.Add(whole, "", `no listener block; add listener "tcp" { ... }`)
		}
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" {
		c.LogFormat = "standard"
	}
	if c.MaxLeaseTTL == 0 {
		c.MaxLeaseTTL = DefaultLeaseTTL
	}
	if c.DefaultLeaseTTL == 0 {
		// An unset default follows a lowered maximum.
		c.DefaultLeaseTTL = min(DefaultLeaseTTL, c.MaxLeaseTTL)
	}
	if c.DefaultLeaseTTL > c.MaxLeaseTTL {
		l.errs.Add(l.set["default_lease_ttl"], "", "default_lease_ttl (%s) must not exceed max_lease_ttl (%s)",
			fmtDuration(c.DefaultLeaseTTL), fmtDuration(c.MaxLeaseTTL))
	}
	l.checkSeals()
	l.errs.Sort(l.cfg.Files)
	if err := l.errs.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkSeals allows one seal, or two during a migration: the new seal and
// the old one marked disabled.
func (l *loader) checkSeals() {
	seals := l.cfg.Seals
	switch {
	case len(seals) > 2:
		l.errs.Add(l.sealAt[2], "", "at most two seal blocks are allowed: the active seal and, during a migration, the disabled one")
	case len(seals) == 2 && seals[0].Disabled && seals[1].Disabled:
		l.errs.Add(l.sealAt[1], "", "two seal blocks are both disabled; a seal migration needs exactly one disabled seal")
	case len(seals) == 2 && !seals[0].Disabled && !seals[1].Disabled:
		l.errs.Add(l.sealAt[1], "", "two seal blocks are both active; mark the seal being migrated from with disabled = true")
	}
}
