package report

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// fakeEngine answers internal requests from a table keyed "op path".
type fakeEngine map[string]interface{}

func (f fakeEngine) query(_ context.Context, op logical.Operation, path string) (*logical.Response, error) {
	v, ok := f[string(op)+" "+path]
	if !ok {
		return nil, nil
	}
	switch t := v.(type) {
	case error:
		return nil, t
	case map[string]interface{}:
		return &logical.Response{Data: t}, nil
	}
	panic(fmt.Sprintf("bad fake answer %T", v))
}

func keys(k ...string) map[string]interface{} {
	out := make([]interface{}, len(k))
	for i, s := range k {
		out[i] = s
	}
	return map[string]interface{}{"keys": out}
}

func certPEM(t *testing.T, selfSigned bool) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	parent, signer := tmpl, key
	if !selfSigned {
		rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		parent = &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "root"},
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
			NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter}
		signer = rootKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestDescribeEngine(t *testing.T) {
	errBroken := errors.New("connection refused")
	tests := []struct {
		name      string
		mount     string
		typ       string
		options   map[string]string
		engine    fakeEngine
		details   []string
		roots     []string
		wantError bool
	}{{
		name: "database", mount: "database/", typ: "database",
		engine: fakeEngine{
			"list config/":                    keys("production-postgres", "production-mysql"),
			"read config/production-postgres": map[string]interface{}{"plugin_name": "postgresql-database-plugin"},
			"read config/production-mysql":    map[string]interface{}{"plugin_name": "mysql-database-plugin"},
		},
		details: []string{"MySQL (production-mysql)", "PostgreSQL (production-postgres)"},
		roots:   []string{"database/production-mysql", "database/production-postgres"},
	}, {
		name: "database plugin flavours", mount: "db/", typ: "database",
		engine: fakeEngine{
			"list config/":  keys("a", "b"),
			"read config/a": map[string]interface{}{"plugin_name": "mysql-rds-database-plugin"},
			"read config/b": map[string]interface{}{"plugin_name": "custom-plugin"},
		},
		details: []string{"RDS MySQL (a)", "custom-plugin (b)"},
		roots:   []string{"db/a", "db/b"},
	}, {
		name: "database without configs", mount: "database/", typ: "database",
		engine: fakeEngine{"list config/": logical.ErrNotFound},
	}, {
		name: "database with an unreadable config", mount: "database/", typ: "database",
		engine: fakeEngine{
			"list config/":    keys("ok", "bad"),
			"read config/ok":  map[string]interface{}{"plugin_name": "postgresql-database-plugin"},
			"read config/bad": errBroken,
		},
		details: []string{"PostgreSQL (ok)"}, roots: []string{"database/ok"}, wantError: true,
	}, {
		name: "aws", mount: "aws/", typ: "aws",
		engine: fakeEngine{
			"read config/root":       map[string]interface{}{"access_key": "AKIA", "region": "us-east-1"},
			"list roles/":            keys("deploy", "s3-readonly", "sts"),
			"read roles/deploy":      map[string]interface{}{"credential_type": "assumed_role"},
			"read roles/s3-readonly": map[string]interface{}{"credential_type": "iam_user"},
			"read roles/sts":         map[string]interface{}{"credential_types": []interface{}{"assumed_role", "federation_token"}},
		},
		details: []string{"IAM users", "assumed roles", "federation tokens"},
		roots:   []string{"aws/config/root"},
	}, {
		name: "aws without root config", mount: "aws/", typ: "aws",
		engine:  fakeEngine{"list roles/": keys("a"), "read roles/a": map[string]interface{}{"credential_type": "iam_user,assumed_role"}},
		details: []string{"IAM users", "assumed roles"},
	}, {
		name: "pki intermediate", mount: "pki_int/", typ: "pki",
		engine: fakeEngine{
			"read cert/ca": map[string]interface{}{"certificate": certPEM(t, false)},
			"list roles/":  keys("web-server", "internal"),
		},
		details: []string{"intermediate CA", "2 roles"},
	}, {
		name: "pki root", mount: "pki/", typ: "pki",
		engine: fakeEngine{
			"read cert/ca": map[string]interface{}{"certificate": certPEM(t, true)},
			"list roles/":  keys("web"),
		},
		details: []string{"root CA", "1 role"},
	}, {
		name: "pki empty", mount: "pki/", typ: "pki", engine: fakeEngine{},
		details: []string{"no CA", "0 roles"},
	}, {
		name: "kv v2", mount: "secret/", typ: "kv", options: map[string]string{"version": "2"},
		details: []string{"KV version 2"},
	}, {
		name: "kv v1", mount: "kv/", typ: "kv",
		details: []string{"KV version 1"},
	}, {
		name: "transit", mount: "transit/", typ: "transit",
		engine:  fakeEngine{"list keys/": keys("a", "b", "c")},
		details: []string{"3 keys"},
	}, {
		name: "transit broken", mount: "transit/", typ: "transit",
		engine: fakeEngine{"list keys/": errBroken}, wantError: true,
	}, {
		name: "other", mount: "cubbyhole/", typ: "cubbyhole",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng := tc.engine
			if eng == nil {
				eng = fakeEngine{}
			}
			info, err := DescribeEngine(context.Background(), tc.mount, tc.typ, tc.options, eng.query)
			if (err != nil) != tc.wantError {
				t.Errorf("error = %v, want error %v", err, tc.wantError)
			}
			if info.Path != tc.mount || info.Type != tc.typ {
				t.Errorf("info %+v", info)
			}
			if !reflect.DeepEqual(info.Details, tc.details) {
				t.Errorf("details %q, want %q", info.Details, tc.details)
			}
			if !reflect.DeepEqual(info.RootConfigs, tc.roots) {
				t.Errorf("root configs %q, want %q", info.RootConfigs, tc.roots)
			}
		})
	}
}
