package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tokenHelper stores the CLI's token in ~/.vault-token, the file Vault's
// built-in token helper uses, so tokens are shared with the vault binary.
type tokenHelper struct {
	home string
}

func (h tokenHelper) path() (string, error) {
	home := h.home
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("finding home directory: %w", err)
		}
	}
	return filepath.Join(home, ".vault-token"), nil
}

// get returns the stored token, or "" when none is stored.
func (h tokenHelper) get() (string, error) {
	p, err := h.path()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading token file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// store writes the token with mode 0600, replacing the file atomically.
func (h tokenHelper) store(token string) error {
	p, err := h.path()
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(token), 0o600); err != nil {
		return fmt.Errorf("writing token file: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("setting token file mode: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("replacing token file: %w", err)
	}
	return nil
}

// erase removes the stored token, if any.
func (h tokenHelper) erase() error {
	p, err := h.path()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing token file: %w", err)
	}
	return nil
}
