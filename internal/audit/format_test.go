package audit

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// formatLine renders one event with the given options and parses it.
func formatLine(t *testing.T, opts map[string]string, in *LogInput, kind string) (map[string]interface{}, string) {
	t.Helper()
	o, err := parseFormatOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &formatter{opts: o, salt: NewSalt("test-salt")}
	buf, err := f.format(in, kind)
	if err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	putBuffer(buf)
	if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("want exactly one line, got %q", line)
	}
	if o.jsonx {
		return nil, line
	}
	return decode(t, []byte(strings.TrimPrefix(line, o.prefix))), line
}

func TestFormatRequestFields(t *testing.T) {
	salt := NewSalt("test-salt")
	h := salt.HMAC
	cases := []struct {
		name string
		opts map[string]string
		want map[string]interface{} // dotted path -> value
	}{{
		name: "default hashes tokens, accessors and data strings",
		opts: nil,
		want: map[string]interface{}{
			"type":                          "request",
			"time":                          "2025-03-14T09:26:53.589793Z",
			"auth.client_token":             h(testToken),
			"auth.accessor":                 h(testAccessor),
			"auth.display_name":             "approle",
			"auth.entity_id":                "7d2e3b4f-0c1a-4e5b-9f6d-1a2b3c4d5e6f",
			"auth.token_type":               "service",
			"auth.token_ttl":                3600.0,
			"auth.remaining_uses":           3.0,
			"auth.metadata.role_name":       "web",
			"request.id":                    "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
			"request.operation":             "update",
			"request.mount_type":            "kv",
			"request.mount_accessor":        "kv_1a2b3c4d",
			"request.mount_point":           "secret/",
			"request.client_token":          h(testToken),
			"request.client_token_accessor": h(testAccessor),
			"request.namespace.id":          "root",
			"request.path":                  "secret/data/app/config",
			"request.remote_address":        "2001:db8::7",
			"request.remote_port":           443.0,
			"request.wrap_ttl":              90.0,
			"request.data.data.api_key":     h("k-123"),
			"request.data.data.port":        h("8443"),
			"request.data.options.cas":      h("0"),
			"request.data.enabled":          true,
			"request.data.weight":           2.5,
		},
	}, {
		name: "log_raw keeps everything in the clear",
		opts: map[string]string{"log_raw": "true"},
		want: map[string]interface{}{
			"auth.client_token":             testToken,
			"auth.accessor":                 testAccessor,
			"request.client_token":          testToken,
			"request.client_token_accessor": testAccessor,
			"request.data.data.api_key":     "k-123",
			"request.data.data.port":        8443.0,
		},
	}, {
		name: "hmac_accessor=false leaves accessors readable",
		opts: map[string]string{"hmac_accessor": "false"},
		want: map[string]interface{}{
			"auth.client_token":             h(testToken),
			"auth.accessor":                 testAccessor,
			"request.client_token":          h(testToken),
			"request.client_token_accessor": testAccessor,
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := formatLine(t, tc.opts, kvWriteInput(), "request")
			for path, want := range tc.want {
				got := field(t, m, strings.Split(path, ".")...)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
			if _, ok := m["response"]; ok {
				t.Error("request event has a response object")
			}
			if _, ok := m["error"]; ok {
				t.Error("successful request has an error field")
			}
			tags := field(t, m, "request", "data", "data", "tags").([]interface{})
			if tc.opts["log_raw"] == "" && (tags[0] != h("a") || tags[1] != h("b")) {
				t.Errorf("list elements not hashed: %v", tags)
			}
		})
	}
}

func TestFormatResponseFields(t *testing.T) {
	h := NewSalt("test-salt").HMAC
	in := credsInput()
	in.Response.Warnings = []string{"lease capped"}
	in.Response.WrapInfo = &logical.WrapInfo{Token: "hvs.wrap", Accessor: "wrapacc", TTL: 5 * time.Minute,
		CreationTime: testTime, CreationPath: "database/creds/app-readonly"}
	m, _ := formatLine(t, nil, in, "response")
	want := map[string]interface{}{
		"type":                             "response",
		"request.path":                     "database/creds/app-readonly",
		"response.mount_type":              "database",
		"response.mount_accessor":          "database_8f2a1c3d",
		"response.secret.lease_id":         "database/creds/app-readonly/Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8",
		"response.data.username":           h("v-approle-app-read-x1y2"),
		"response.data.password":           h("A1a-s3cr3t-p4ss"),
		"response.data.ttl":                3600.0,
		"response.warnings":                []interface{}{"lease capped"},
		"response.wrap_info.token":         h("hvs.wrap"),
		"response.wrap_info.accessor":      h("wrapacc"),
		"response.wrap_info.ttl":           300.0,
		"response.wrap_info.creation_time": "2025-03-14T09:26:53.589793Z",
		"response.wrap_info.creation_path": "database/creds/app-readonly",
	}
	for path, w := range want {
		if got := field(t, m, strings.Split(path, ".")...); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
}

func TestFormatLoginIssuedAuth(t *testing.T) {
	h := NewSalt("test-salt").HMAC
	m, _ := formatLine(t, nil, loginInput(), "response")
	if got := field(t, m, "auth"); !reflect.DeepEqual(got, map[string]interface{}{"token_type": "default"}) {
		t.Errorf("unauthenticated caller auth = %v", got)
	}
	if _, ok := field(t, m, "request").(map[string]interface{})["client_token"]; ok {
		t.Error("unauthenticated request has a client_token")
	}
	want := map[string]interface{}{
		"response.auth.client_token":     h("hvs.newtoken"),
		"response.auth.accessor":         h("newaccessor0000000000000"),
		"response.auth.display_name":     "approle",
		"response.auth.token_ttl":        1200.0,
		"response.auth.token_type":       "service",
		"response.auth.token_issue_time": "2025-03-14T09:26:53Z",
		"response.auth.policies":         []interface{}{"default", "app-readonly"},
		"request.data.secret_id":         h("s-1"),
	}
	for path, w := range want {
		if got := field(t, m, strings.Split(path, ".")...); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
}

func TestFormatErrorAndNonHMACKeys(t *testing.T) {
	h := NewSalt("test-salt").HMAC
	in := deniedInput()
	m, _ := formatLine(t, nil, in, "request")
	if got := field(t, m, "error"); got != "permission denied" {
		t.Errorf("error = %v", got)
	}

	in = credsInput()
	in.NonHMACResponseKeys = []string{"username"}
	in.NonHMACRequestKeys = []string{"role"}
	in.Request.Data = map[string]interface{}{"role": "web", "other": "x"}
	m, _ = formatLine(t, nil, in, "response")
	checks := map[string]interface{}{
		"response.data.username": "v-approle-app-read-x1y2",
		"response.data.password": h("A1a-s3cr3t-p4ss"),
		"request.data.role":      "web",
		"request.data.other":     h("x"),
	}
	for path, w := range checks {
		if got := field(t, m, strings.Split(path, ".")...); got != w {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
}

func TestFormatDoesNotModifyInput(t *testing.T) {
	in := kvWriteInput()
	in.Response = &logical.Response{Data: map[string]interface{}{"keys": []string{"a", "b"}, "x": "y"}}
	in.Request.Operation = logical.ListOperation
	before := in.Request.Data["data"].(map[string]interface{})["api_key"]
	formatLine(t, map[string]string{"elide_list_responses": "true"}, in, "response")
	if in.Request.Data["data"].(map[string]interface{})["api_key"] != before {
		t.Error("request data modified")
	}
	if keys, ok := in.Response.Data["keys"].([]string); !ok || len(keys) != 2 || in.Response.Data["x"] != "y" {
		t.Errorf("response data modified: %v", in.Response.Data)
	}
}

func TestFormatElideListResponses(t *testing.T) {
	h := NewSalt("test-salt").HMAC
	mk := func(op logical.Operation) *LogInput {
		in := kvWriteInput()
		in.Request.Operation = op
		in.Response = &logical.Response{Data: map[string]interface{}{
			"keys":     []interface{}{"a", "b", "c"},
			"key_info": map[string]interface{}{"a": map[string]interface{}{"n": 1}, "b": nil},
			"other":    "z",
		}}
		return in
	}
	cases := []struct {
		name     string
		opts     map[string]string
		op       logical.Operation
		keys     interface{}
		keyInfo  func(interface{}) bool
		otherVal interface{}
	}{
		{"elided list", map[string]string{"elide_list_responses": "true"}, logical.ListOperation, 3.0,
			func(v interface{}) bool { return v == 2.0 }, h("z")},
		{"elided raw list", map[string]string{"elide_list_responses": "true", "log_raw": "true"}, logical.ListOperation, 3.0,
			func(v interface{}) bool { return v == 2.0 }, "z"},
		{"not a list operation", map[string]string{"elide_list_responses": "true"}, logical.ReadOperation,
			[]interface{}{h("a"), h("b"), h("c")}, func(v interface{}) bool { _, ok := v.(map[string]interface{}); return ok }, h("z")},
		{"option off", nil, logical.ListOperation,
			[]interface{}{h("a"), h("b"), h("c")}, func(v interface{}) bool { _, ok := v.(map[string]interface{}); return ok }, h("z")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := formatLine(t, tc.opts, mk(tc.op), "response")
			if got := field(t, m, "response", "data", "keys"); !reflect.DeepEqual(got, tc.keys) {
				t.Errorf("keys = %v, want %v", got, tc.keys)
			}
			if got := field(t, m, "response", "data", "key_info"); !tc.keyInfo(got) {
				t.Errorf("key_info = %v", got)
			}
			if got := field(t, m, "response", "data", "other"); got != tc.otherVal {
				t.Errorf("other = %v, want %v", got, tc.otherVal)
			}
		})
	}
}

func TestFormatPrefixAndRawBody(t *testing.T) {
	in := credsInput()
	in.Response = &logical.Response{Raw: []byte("-----BEGIN CERTIFICATE-----"), RawContentType: "application/pem-file"}
	m, line := formatLine(t, map[string]string{"prefix": "@cee: ", "log_raw": "true"}, in, "response")
	if !strings.HasPrefix(line, "@cee: {") {
		t.Errorf("line %q lacks the prefix", line)
	}
	if got := field(t, m, "response", "data", "http_raw_body"); got != "-----BEGIN CERTIFICATE-----" {
		t.Errorf("http_raw_body = %v", got)
	}
	if got := field(t, m, "response", "data", "http_status_code"); got != 200.0 {
		t.Errorf("http_status_code = %v", got)
	}
}

func TestFormatHeaders(t *testing.T) {
	h := NewSalt("test-salt").HMAC
	in := credsInput()
	in.Headers = map[string][]string{"X-Request-Id": {"abc"}, "X-Secret": {"s1", "s2"}}
	in.HMACHeaders = []string{"x-secret"}
	m, _ := formatLine(t, nil, in, "request")
	want := map[string]interface{}{"X-Request-Id": []interface{}{"abc"}, "X-Secret": []interface{}{h("s1"), h("s2")}}
	if got := field(t, m, "request", "headers"); !reflect.DeepEqual(got, want) {
		t.Errorf("headers = %v, want %v", got, want)
	}
}

func TestFormatJSONx(t *testing.T) {
	_, line := formatLine(t, map[string]string{"format": "jsonx", "prefix": "P "}, credsInput(), "response")
	if !strings.HasPrefix(line, `P <?xml version="1.0" encoding="UTF-8"?><json:object `) {
		t.Fatalf("unexpected start: %.80q", line)
	}
	h := NewSalt("test-salt").HMAC
	for _, want := range []string{
		`<json:string name="type">response</json:string>`,
		`<json:object name="namespace"><json:string name="id">root</json:string></json:object>`,
		`<json:string name="password">` + h("A1a-s3cr3t-p4ss") + `</json:string>`,
		`<json:number name="ttl">3600</json:number>`,
		`<json:array name="policies"><json:string>default</json:string><json:string>app-readonly</json:string></json:array>`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("jsonx line lacks %s", want)
		}
	}
	// Well-formed XML.
	dec := xml.NewDecoder(strings.NewReader(strings.TrimPrefix(line, "P ")))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("jsonx is not well-formed XML: %v", err)
		}
	}
}

func TestParseFormatOptionsErrors(t *testing.T) {
	for _, opts := range []map[string]string{
		{"format": "yaml"}, {"log_raw": "maybe"}, {"hmac_accessor": "x"}, {"elide_list_responses": "2"},
	} {
		if _, err := parseFormatOptions(opts); err == nil {
			t.Errorf("options %v accepted", opts)
		}
	}
}

func TestFormatNeedsRequest(t *testing.T) {
	f := &formatter{salt: NewSalt("x")}
	if _, err := f.format(&LogInput{}, "request"); err == nil {
		t.Error("event without a request accepted")
	}
}

func TestSaltHMAC(t *testing.T) {
	a, b := NewSalt("k1"), NewSalt("k2")
	// Known answer: HMAC-SHA256(key "k1", "foo").
	if got, want := a.HMAC("foo"), "hmac-sha256:"+knownHMAC; got != want {
		t.Errorf("HMAC = %s, want %s", got, want)
	}
	if a.HMAC("foo") == b.HMAC("foo") {
		t.Error("different salts gave the same hash")
	}
	g1, _ := GenerateSalt()
	g2, _ := GenerateSalt()
	if g1.Key() == g2.Key() || len(g1.Key()) != 36 {
		t.Errorf("generated salts %q %q", g1.Key(), g2.Key())
	}
	var buf bytes.Buffer
	buf.WriteString(a.HMAC(""))
	if !strings.HasPrefix(buf.String(), "hmac-sha256:") {
		t.Error("missing prefix")
	}
}

// knownHMAC is HMAC-SHA256 with key "k1" of "foo" (openssl dgst -sha256 -hmac k1).
const knownHMAC = "22db557e8c79413c0e0f3505e99736d03698771e8c141385b311a0d521fe5678"
