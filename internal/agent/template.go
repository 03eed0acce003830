package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/hashicorp/vault/api"
	"gopkg.in/yaml.v3"
)

// Secret is what the secret function gives a template, with the field
// names consul-template templates use: .Data (.Data.data for KV v2),
// .LeaseID, .LeaseDuration, .Renewable.
type Secret struct {
	RequestID     string
	LeaseID       string
	LeaseDuration int
	Renewable     bool
	Data          map[string]interface{}
	Warnings      []string
	Auth          *api.SecretAuth
	WrapInfo      *api.SecretWrapInfo
}

func newSecret(s *api.Secret) *Secret {
	data := s.Data
	if data == nil {
		data = map[string]interface{}{}
	}
	return &Secret{
		RequestID: s.RequestID, LeaseID: s.LeaseID, LeaseDuration: s.LeaseDuration,
		Renewable: s.Renewable, Data: data, Warnings: s.Warnings, Auth: s.Auth, WrapInfo: s.WrapInfo,
	}
}

// PKICert is what pkiCert gives a template: the PEM blocks of an issued
// certificate and the parsed certificate's validity.
type PKICert struct {
	Cert     string
	Key      string
	CA       string
	CAChain  []string
	Data     map[string]interface{}
	NotAfter time.Time
}

// fetcher resolves the template functions that talk to the server; the
// dependency store implements it.
type fetcher interface {
	get(ctx context.Context, kind depKind, path string, data map[string]interface{}) (*api.Secret, error)
}

// funcEnv carries what template functions need during one render. The
// renderer sets ctx before each execution; rendering is sequential.
type funcEnv struct {
	ctx   context.Context
	fetch fetcher
}

// templateFuncs lists the functions templates may call; denied names are
// replaced by a function that fails, as consul-template does.
func (fe *funcEnv) templateFuncs(denied []string) template.FuncMap {
	fm := template.FuncMap{
		"secret":          fe.secret,
		"secrets":         fe.secrets,
		"pkiCert":         fe.pkiCert,
		"env":             os.Getenv,
		"file":            readFileFunc,
		"toJSON":          toJSON,
		"toJSONPretty":    toJSONPretty,
		"toYAML":          toYAML,
		"parseJSON":       parseJSON,
		"base64Encode":    func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"base64Decode":    base64Decode(base64.StdEncoding),
		"base64URLEncode": func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) },
		"base64URLDecode": base64Decode(base64.URLEncoding),
		"sha256Hex":       func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) },
		"toLower":         strings.ToLower,
		"toUpper":         strings.ToUpper,
		"trimSpace":       strings.TrimSpace,
		"split":           func(sep, s string) []string { return strings.Split(s, sep) },
		"join":            func(sep string, a []string) string { return strings.Join(a, sep) },
		"replaceAll":      func(from, to, s string) string { return strings.ReplaceAll(s, from, to) },
		"indent":          indent,
		"timestamp":       timestamp,
	}
	for _, name := range denied {
		if _, ok := fm[name]; ok {
			n := name
			fm[name] = func(...interface{}) (string, error) { return "", fmt.Errorf("function %s is disabled", n) }
		}
	}
	return fm
}

// secret reads a path, or with "key=value" arguments writes them to it
// (for example pki/issue/<role> "common_name=app.example.com").
func (fe *funcEnv) secret(path string, args ...string) (*Secret, error) {
	kind := depRead
	var data map[string]interface{}
	if len(args) > 0 {
		var err error
		if data, err = keyValues(args); err != nil {
			return nil, err
		}
		kind = depWrite
	}
	s, err := fe.fetch.get(fe.ctx, kind, path, data)
	if err != nil {
		return nil, err
	}
	return newSecret(s), nil
}

// secrets lists the keys under a path, sorted.
func (fe *funcEnv) secrets(path string) ([]string, error) {
	s, err := fe.fetch.get(fe.ctx, depList, path, nil)
	if err != nil {
		return nil, err
	}
	raw, _ := s.Data["keys"].([]interface{})
	keys := make([]string, 0, len(raw))
	for _, k := range raw {
		if ks, ok := k.(string); ok {
			keys = append(keys, ks)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// pkiCert issues a certificate by writing to a PKI issue path; it is
// fetched again when about 2/3 of its validity has passed.
func (fe *funcEnv) pkiCert(path string, args ...string) (*PKICert, error) {
	data, err := keyValues(args)
	if err != nil {
		return nil, err
	}
	s, err := fe.fetch.get(fe.ctx, depWrite, path, data)
	if err != nil {
		return nil, err
	}
	return parsePKI(s.Data), nil
}

// parsePKI picks the PEM fields of an issue response, best effort.
func parsePKI(data map[string]interface{}) *PKICert {
	str := func(k string) string { s, _ := data[k].(string); return s }
	p := &PKICert{Cert: str("certificate"), Key: str("private_key"), CA: str("issuing_ca"), Data: data}
	if chain, ok := data["ca_chain"].([]interface{}); ok {
		for _, c := range chain {
			if s, ok := c.(string); ok {
				p.CAChain = append(p.CAChain, s)
			}
		}
	}
	if c := parseCert(p.Cert); c != nil {
		p.NotAfter = c.NotAfter
	}
	return p
}

// parseCert parses the first PEM certificate in s, or returns nil.
func parseCert(s string) *x509.Certificate {
	b, _ := pem.Decode([]byte(s))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	return c
}

// keyValues parses "key=value" template arguments.
func keyValues(args []string) (map[string]interface{}, error) {
	data := make(map[string]interface{}, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q must be key=value", a)
		}
		data[k] = v
	}
	return data, nil
}

func readFileFunc(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("file: %w", err)
	}
	return string(b), nil
}

func toJSON(v interface{}) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toJSON: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

func toJSONPretty(v interface{}) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", fmt.Errorf("toJSONPretty: %w", err)
	}
	return string(b), nil
}

func toYAML(v interface{}) (string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toYAML: %w", err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

func parseJSON(s string) (interface{}, error) {
	var v interface{}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("parseJSON: %w", err)
	}
	return v, nil
}

func base64Decode(enc *base64.Encoding) func(string) (string, error) {
	return func(s string) (string, error) {
		b, err := enc.DecodeString(s)
		if err != nil {
			return "", fmt.Errorf("base64 decode: %w", err)
		}
		return string(b), nil
	}
}

func indent(spaces int, s string) (string, error) {
	if spaces < 0 {
		return "", errors.New("indent: spaces must not be negative")
	}
	pad := strings.Repeat(" ", spaces)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

// timestamp prints the current time: RFC 3339 by default, a Go layout
// when one is given, or "unix" for seconds since the epoch.
func timestamp(layout ...string) string {
	now := time.Now().UTC()
	switch {
	case len(layout) == 0:
		return now.Format(time.RFC3339)
	case layout[0] == "unix":
		return fmt.Sprint(now.Unix())
	}
	return now.Format(layout[0])
}

// parseTemplate compiles a template text with the agent's functions.
func parseTemplate(name, text, left, right string, missingKeyError bool, fe *funcEnv, denied []string) (*template.Template, error) {
	t := template.New(name).Funcs(fe.templateFuncs(denied))
	if left != "" || right != "" {
		t = t.Delims(left, right)
	}
	if missingKeyError {
		t = t.Option("missingkey=error")
	} else {
		t = t.Option("missingkey=zero")
	}
	return t.Parse(text)
}
