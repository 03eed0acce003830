package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/hashicorp/vault/api"
)

// kvTarget is a KV path resolved against its mount.
type kvTarget struct {
	mount   string // mount path with trailing slash, "" if unknown
	v2      bool
	partial string // the path as given, joined to the mount when -mount was used
}

// apiPath returns the request path; for KV v2, prefix ("data", "metadata",
// "delete", ...) is inserted after the mount.
func (t kvTarget) apiPath(prefix string) string {
	if t.v2 {
		return addPrefixToKVPath(t.partial, t.mount, prefix)
	}
	return t.partial
}

// kvResolve finds the mount and KV version of a path given either as
// "mount/path" or, with -mount, as mount and path separately.
func (m *meta) kvResolve(client *api.Client, flagMount, arg string) (kvTarget, error) {
	if flagMount != "" {
		partial := sanitizePath(arg)
		mount, version, err := m.kvPreflight(client, sanitizePath(flagMount))
		if err != nil {
			return kvTarget{}, err
		}
		if mount == "" {
			mount = ensureTrailingSlash(sanitizePath(flagMount))
		}
		return kvTarget{mount: mount, v2: version == 2, partial: path.Join(mount, partial)}, nil
	}
	partial := sanitizePath(arg)
	mount, version, err := m.kvPreflight(client, partial)
	if err != nil {
		return kvTarget{}, err
	}
	return kvTarget{mount: mount, v2: version == 2, partial: partial}, nil
}

// kvPreflight asks the server which mount holds p and which KV version it
// runs, through sys/internal/ui/mounts as the vault CLI does. A server that
// does not know the endpoint is treated as KV version 1.
func (m *meta) kvPreflight(client *api.Client, p string) (string, int, error) {
	curl := client.OutputCurlString()
	client.SetOutputCurlString(false)
	defer client.SetOutputCurlString(curl)
	wrap := client.CurrentWrappingLookupFunc()
	client.SetWrappingLookupFunc(nil)
	defer client.SetWrappingLookupFunc(wrap)

	r := client.NewRequest(http.MethodGet, "/v1/sys/internal/ui/mounts/"+p)
	resp, err := client.RawRequest(r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return "", 1, nil
		}
		if curl && resp != nil && resp.StatusCode == http.StatusForbidden {
			err = fmt.Errorf("This output flag requires the success of a preflight request "+
				"to determine the version of a KV secrets engine. Please re-run this "+
				"command with a token with read access to %s", p)
		}
		return "", 0, err
	}
	secret, err := api.ParseSecret(resp.Body)
	if err != nil {
		return "", 0, err
	}
	if secret == nil {
		return "", 0, errors.New("nil response from pre-flight request")
	}
	mount, _ := secret.Data["path"].(string)
	opts, _ := secret.Data["options"].(map[string]interface{})
	if v, _ := opts["version"].(string); v == "2" {
		return mount, 2, nil
	}
	return mount, 1, nil
}

// addPrefixToKVPath inserts prefix between the mount and the rest of p.
func addPrefixToKVPath(p, mount, prefix string) string {
	if p == mount || p == strings.TrimSuffix(mount, "/") {
		return path.Join(mount, prefix)
	}
	return path.Join(mount, prefix, strings.TrimPrefix(p, mount))
}

// kvReadRequest reads a KV path. A 404 that still carries data or warnings
// (a deleted or destroyed version) is returned as a secret.
func kvReadRequest(client *api.Client, p string, params map[string]string) (*api.Secret, error) {
	r := client.NewRequest(http.MethodGet, "/v1/"+p)
	for k, v := range params {
		r.Params.Set(k, v)
	}
	resp, err := client.RawRequest(r)
	if resp != nil {
		defer resp.Body.Close()
	}
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		secret, perr := api.ParseSecret(resp.Body)
		switch {
		case errors.Is(perr, io.EOF):
			return nil, nil
		case perr != nil:
			return nil, err
		}
		if secret != nil && (len(secret.Warnings) > 0 || len(secret.Data) > 0) {
			return secret, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return api.ParseSecret(resp.Body)
}

// outputPath prints the "== Secret Path ==" block of KV v2 table output.
func (m *meta) outputPath(p, title string) {
	m.output(padEqualSigns(title, len(p)))
	m.output(p)
	m.output("")
}

// kvVersions splits repeated, comma-separated -versions values.
func kvVersions(versions []string) []string {
	out := make([]string, 0, len(versions))
	for _, v := range versions {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

const mountFlagUsage = "Specifies the path where the KV backend is mounted. If specified, " +
	"the next argument will be interpreted as the secret path. If this flag is " +
	"not specified, the next argument will be interpreted as the combined mount " +
	"path and secret path, with /data/ automatically appended between KV v2 secrets."
