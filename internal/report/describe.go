package report

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
)

// Querier sends an internal request to the engine being described; path
// is relative to its mount. The core serves it from the backend directly,
// without token, ACL or audit.
type Querier func(ctx context.Context, op logical.Operation, path string) (*logical.Response, error)

// DescribeEngine reads what a secrets engine holds, for the SECRETS
// ENGINES section: database connections with their plugins, AWS
// credential types, the PKI CA kind and role count, the KV version, the
// number of transit keys. Other engine types get no details. mountPath
// ends in "/". The returned EngineInfo is usable even with an error (it
// then lacks what could not be read).
func DescribeEngine(ctx context.Context, mountPath, mountType string, options map[string]string, q Querier) (EngineInfo, error) {
	info := EngineInfo{Path: mountPath, Type: mountType}
	var err error
	switch mountType {
	case "database":
		err = describeDatabase(ctx, &info, q)
	case "aws":
		err = describeAWS(ctx, &info, q)
	case "pki":
		err = describePKI(ctx, &info, q)
	case "kv":
		v := options["version"]
		if v == "" {
			v = "1"
		}
		info.Details = []string{"KV version " + v}
	case "transit":
		var keys []string
		if keys, err = list(ctx, q, "keys/"); err == nil {
			info.Details = []string{plural(len(keys), "key")}
		}
	}
	if err != nil {
		return info, fmt.Errorf("describe %s: %w", mountPath, err)
	}
	return info, nil
}

// databasePlugins are the display names of the database plugins.
var databasePlugins = map[string]string{
	"postgresql-database-plugin":   "PostgreSQL",
	"mysql-database-plugin":        "MySQL",
	"mysql-aurora-database-plugin": "Aurora MySQL",
	"mysql-rds-database-plugin":    "RDS MySQL",
	"mysql-legacy-database-plugin": "MySQL (legacy)",
}

func describeDatabase(ctx context.Context, info *EngineInfo, q Querier) error {
	names, err := list(ctx, q, "config/")
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		resp, err := q(ctx, logical.ReadOperation, "config/"+n)
		if err != nil {
			errs = append(errs, fmt.Errorf("read config %q: %w", n, err))
			continue
		}
		if resp == nil {
			continue
		}
		plugin, _ := resp.Data["plugin_name"].(string)
		shown := databasePlugins[plugin]
		if shown == "" {
			shown = plugin
		}
		info.Details = append(info.Details, fmt.Sprintf("%s (%s)", shown, n))
		info.RootConfigs = append(info.RootConfigs, info.Path+n)
	}
	return errors.Join(errs...)
}

// awsCredentialTypes are shown in this order with these names.
var awsCredentialTypes = []struct{ kind, shown string }{
	{"iam_user", "IAM users"},
	{"assumed_role", "assumed roles"},
	{"federation_token", "federation tokens"},
	{"session_token", "session tokens"},
}

func describeAWS(ctx context.Context, info *EngineInfo, q Querier) error {
	if resp, err := q(ctx, logical.ReadOperation, "config/root"); err == nil && resp != nil && len(resp.Data) > 0 {
		info.RootConfigs = []string{info.Path + "config/root"}
	}
	roles, err := list(ctx, q, "roles/")
	if err != nil {
		return err
	}
	used := map[string]bool{}
	var errs []error
	for _, r := range roles {
		resp, err := q(ctx, logical.ReadOperation, "roles/"+r)
		if err != nil {
			errs = append(errs, fmt.Errorf("read role %q: %w", r, err))
			continue
		}
		if resp == nil {
			continue
		}
		for _, t := range stringList(resp.Data["credential_type"]) {
			used[t] = true
		}
		for _, t := range stringList(resp.Data["credential_types"]) {
			used[t] = true
		}
	}
	for _, t := range awsCredentialTypes {
		if used[t.kind] {
			info.Details = append(info.Details, t.shown)
		}
	}
	return errors.Join(errs...)
}

func describePKI(ctx context.Context, info *EngineInfo, q Querier) error {
	kind := "no CA"
	if resp, err := q(ctx, logical.ReadOperation, "cert/ca"); err == nil && resp != nil {
		s, _ := resp.Data["certificate"].(string)
		if blk, _ := pem.Decode([]byte(s)); blk != nil {
			if cert, err := x509.ParseCertificate(blk.Bytes); err == nil {
				kind = "intermediate CA"
				if cert.CheckSignatureFrom(cert) == nil && string(cert.RawIssuer) == string(cert.RawSubject) {
					kind = "root CA"
				}
			}
		}
	}
	roles, err := list(ctx, q, "roles/")
	info.Details = []string{kind}
	if err != nil {
		return err
	}
	info.Details = append(info.Details, plural(len(roles), "role"))
	return nil
}

// list returns the keys of a LIST; a 404 or an empty answer is no keys.
func list(ctx context.Context, q Querier, path string) ([]string, error) {
	resp, err := q(ctx, logical.ListOperation, path)
	if errors.Is(err, logical.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path, err)
	}
	if resp == nil {
		return nil, nil
	}
	keys := stringList(resp.Data["keys"])
	sort.Strings(keys)
	return keys, nil
}

// stringList reads a []string, a []interface{} of strings or a
// comma-separated string.
func stringList(v interface{}) []string {
	switch t := v.(type) {
	case []string:
		return t
	case []interface{}:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		var out []string
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
