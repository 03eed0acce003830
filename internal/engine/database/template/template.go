// Package template renders username templates with Vault's syntax: Go
// text/template over .DisplayName and .RoleName with the functions random,
// truncate, truncate_sha256, uppercase, lowercase, replace, sha256, base64,
// decode_base64, hex, decode_hex, unix_time, unix_time_millis, timestamp
// and uuid.
package template

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Metadata is what a username template can refer to.
type Metadata struct {
	DisplayName string
	RoleName    string
}

// Options inject the clock and randomness (tests); zero values mean
// time.Now and crypto/rand.
type Options struct {
	Now  func() time.Time
	Rand io.Reader
}

// Template is a parsed username template, safe for concurrent use.
type Template struct {
	tmpl *template.Template
}

const base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// New parses a template.
func New(raw string, opts Options) (*Template, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("missing template")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	funcs := template.FuncMap{
		"random":           func(n int) (string, error) { return random(rnd, n) },
		"truncate":         truncate,
		"truncate_sha256":  truncateSHA256,
		"uppercase":        strings.ToUpper,
		"lowercase":        strings.ToLower,
		"replace":          func(find, repl, s string) string { return strings.ReplaceAll(s, find, repl) },
		"sha256":           func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) },
		"base64":           func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"decode_base64":    func(s string) (string, error) { b, err := base64.StdEncoding.DecodeString(s); return string(b), err },
		"hex":              func(s string) string { return hex.EncodeToString([]byte(s)) },
		"decode_hex":       func(s string) (string, error) { b, err := hex.DecodeString(s); return string(b), err },
		"unix_time":        func() string { return strconv.FormatInt(now().Unix(), 10) },
		"unix_time_millis": func() string { return strconv.FormatInt(now().UnixMilli(), 10) },
		"timestamp":        func(format string) string { return now().Format(format) },
		"uuid":             func() (string, error) { return newUUID(rnd) },
	}
	t, err := template.New("username").Funcs(funcs).Option("missingkey=error").Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("unable to parse template: %w", err)
	}
	return &Template{tmpl: t}, nil
}

// Generate renders the template.
func (t *Template) Generate(m Metadata) (string, error) {
	var sb strings.Builder
	if err := t.tmpl.Execute(&sb, m); err != nil {
		return "", fmt.Errorf("unable to apply template: %w", err)
	}
	return sb.String(), nil
}

func random(r io.Reader, n int) (string, error) {
	if n <= 0 {
		return "", fmt.Errorf("random length must be > 0 but was %d", n)
	}
	out := make([]byte, 0, n)
	buf := make([]byte, n+8)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("read randomness: %w", err)
		}
		for _, b := range buf {
			// 248 = 4*62: reject the tail so every character is equally likely.
			if b < 248 && len(out) < n {
				out = append(out, base62[int(b)%62])
			}
		}
	}
	return string(out), nil
}

func truncate(n int, s string) (string, error) {
	if n <= 0 {
		return "", fmt.Errorf("max length must be > 0 but was %d", n)
	}
	if len(s) > n {
		return s[:n], nil
	}
	return s, nil
}

// truncateSHA256 keeps the first n-8 characters and replaces the rest by
// the first 8 hex digits of its SHA-256.
func truncateSHA256(n int, s string) (string, error) {
	if n <= 8 {
		return "", fmt.Errorf("max length must be > 8 but was %d", n)
	}
	if len(s) <= n {
		return s, nil
	}
	cut := n - 8
	h := sha256.Sum256([]byte(s[cut:]))
	return s[:cut] + hex.EncodeToString(h[:])[:8], nil
}

func newUUID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("read randomness: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}
