package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/coffer-dev/coffer/internal/core"
	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// operationFor maps the HTTP method (and ?list=true, ?help=1) to an operation.
func operationFor(r *http.Request) (logical.Operation, bool) {
	q := r.URL.Query()
	if q.Get("help") == "1" || q.Get("help") == "true" {
		return logical.HelpOperation, true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if l := q.Get("list"); l == "true" || l == "1" {
			return logical.ListOperation, true
		}
		return logical.ReadOperation, true
	case "LIST":
		return logical.ListOperation, true
	case http.MethodPost, http.MethodPut:
		return logical.UpdateOperation, true
	case http.MethodDelete:
		return logical.DeleteOperation, true
	case http.MethodPatch:
		return logical.PatchOperation, true
	}
	return "", false
}

// readBody decodes a JSON object body. An empty body gives nil data.
func readBody(r *http.Request, limit int64) (map[string]interface{}, error) {
	if r.Body == nil {
		return nil, nil
	}
	var reader io.Reader = r.Body
	if limit > 0 {
		reader = io.LimitReader(r.Body, limit+1)
	}
	raw, err := io.ReadAll(reader)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, logical.Errorf(logical.ErrTooLarge, "http: request body too large (limit %d bytes)", limit)
		}
		return nil, logical.InvalidRequest("failed to read request body: %v", err)
	}
	if limit > 0 && int64(len(raw)) > limit {
		return nil, logical.Errorf(logical.ErrTooLarge, "http: request body too large (limit %d bytes)", limit)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, logical.InvalidRequest("failed to parse JSON input: %v", err)
	}
	if dec.More() {
		return nil, logical.InvalidRequest("failed to parse JSON input: unexpected data after the JSON object")
	}
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, logical.InvalidRequest("failed to parse JSON input: the body must be a JSON object, got %s", jsonKind(v))
	}
	return normalizeNumbers(m), nil
}

func jsonKind(v interface{}) string {
	switch v.(type) {
	case []interface{}:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// normalizeNumbers turns json.Number into int64 or float64 so engines see
// plain Go values, recursively.
func normalizeNumbers(m map[string]interface{}) map[string]interface{} {
	for k, v := range m {
		m[k] = normalizeValue(v)
	}
	return m
}

func normalizeValue(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]interface{}:
		return normalizeNumbers(x)
	case []interface{}:
		for i := range x {
			x[i] = normalizeValue(x[i])
		}
		return x
	}
	return v
}

// queryData turns URL query parameters into request data for GET and LIST.
func queryData(r *http.Request) map[string]interface{} {
	q := r.URL.Query()
	if len(q) == 0 {
		return nil
	}
	out := map[string]interface{}{}
	for k, vals := range q {
		if k == "list" || k == "help" {
			continue
		}
		if len(vals) == 1 {
			out[k] = vals[0]
		} else {
			out[k] = vals
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// validPath rejects paths that try to climb out of their mount.
func validPath(p string) error {
	for rest := p; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == ".." || seg == "." {
			return logical.InvalidRequest("invalid request path %q: \".\" and \"..\" segments are not allowed", p)
		}
		if !more {
			break
		}
		rest = after
	}
	if strings.Contains(p, "//") {
		return logical.InvalidRequest("invalid request path %q: empty path segments are not allowed", p)
	}
	return nil
}

func (h *handler) handleLogical(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	if err := validPath(path); err != nil {
		respondError(w, err)
		return
	}
	op, ok := operationFor(r)
	if !ok {
		respondErrorStatus(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not supported; use GET, LIST, POST, PUT, PATCH or DELETE", r.Method))
		return
	}
	// "LIST foo/" and "GET foo?list=true" address the folder.
	if op == logical.ListOperation && !strings.HasSuffix(path, "/") {
		path += "/"
	}
	req := &logical.Request{
		ID:          core.RequestID(),
		Operation:   op,
		Path:        path,
		ClientToken: requestToken(r),
		Connection:  &logical.Connection{RemoteAddr: r.RemoteAddr},
		Headers:     r.Header,
	}
	switch {
	case op == logical.UpdateOperation && isSnapshotUpload(r):
		req.Data = map[string]interface{}{core.SnapshotBodyKey: r.Body}
	case op == logical.ReadOperation, op == logical.ListOperation, op == logical.HelpOperation:
		req.Data = queryData(r)
	default:
		data, err := readBody(r, h.opts.MaxRequestSize)
		if err != nil {
			respondError(w, err)
			return
		}
		if op == logical.DeleteOperation && data == nil {
			data = queryData(r)
		}
		req.Data = data
	}
	if wt := r.Header.Get("X-Vault-Wrap-TTL"); wt != "" {
		d, err := framework.ParseDurationSecond(wt)
		if err != nil || d <= 0 {
			respondErrorStatus(w, http.StatusBadRequest, fmt.Sprintf("invalid X-Vault-Wrap-TTL %q: give seconds or a duration such as \"5m\"", wt))
			return
		}
		req.WrapTTL = d
	}
	resp, err := h.core.HandleRequest(r.Context(), req)
	h.respondLogical(w, r, req, resp, err)
}

func (h *handler) respondLogical(w http.ResponseWriter, r *http.Request, req *logical.Request, resp *logical.Response, err error) {
	if resp != nil {
		// Extra headers go out with any answer (e.g. Retry-After on a 429).
		for k, vs := range resp.Headers {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
	}
	if err != nil {
		if resp != nil && statusFor(err) == http.StatusNotFound && hasBody(resp) {
			respondJSON(w, http.StatusNotFound, envelope(req.ID, req.MountType, resp))
			return
		}
		respondError(w, err)
		return
	}
	if resp != nil && resp.Raw != nil {
		ct := resp.RawContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		status := resp.RawStatus
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write(resp.Raw)
		return
	}
	if req.Operation == logical.ListOperation && resp != nil && resp.Data != nil && emptyKeys(resp.Data["keys"]) && len(resp.Warnings) == 0 {
		// Vault answers an empty listing with 404.
		respondErrorStatus(w, http.StatusNotFound)
		return
	}
	if !hasBody(resp) {
		if req.Operation == logical.ReadOperation || req.Operation == logical.ListOperation {
			respondErrorStatus(w, http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	if req.Operation == logical.HelpOperation {
		// Vault sends help text at the top level, not inside "data".
		respondJSON(w, http.StatusOK, resp.Data)
		return
	}
	status := http.StatusOK
	if resp.RawStatus != 0 {
		// An engine may answer with another 2xx (e.g. 202 for tidy).
		status = resp.RawStatus
	}
	body := envelope(req.ID, req.MountType, resp)
	if mergeTopLevel[req.Path] && req.Operation == logical.ReadOperation {
		out := map[string]interface{}{}
		for k, v := range resp.Data {
			out[k] = v
		}
		raw, _ := json.Marshal(body)
		_ = json.Unmarshal(raw, &out)
		respondJSON(w, status, out)
		return
	}
	respondJSON(w, status, body)
}

// mergeTopLevel lists the paths whose data Vault also repeats at the top
// level of the response, which some clients read.
var mergeTopLevel = map[string]bool{"sys/mounts": true, "sys/auth": true, "sys/policy": true}

func emptyKeys(v interface{}) bool {
	switch k := v.(type) {
	case nil:
		return true
	case []string:
		return len(k) == 0
	case []interface{}:
		return len(k) == 0
	}
	return false
}
