package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

const reportText = "COFFER DYNAMIC SECRETS REPORT\n=========================================\nVersion: 1.17.0+coffer.0.1.0\n"

func TestReportCommand(t *testing.T) {
	f, addr := newFakeVault(t, map[string]fakeResponse{
		"GET /v1/sys/report": {body: `{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":{
			"text":` + mustJSON(t, reportText) + `,
			"version":"1.17.0+coffer.0.1.0",
			"lease_status":{"active":3,"renewals":1},
			"credentials_generated":[{"path":"database/creds/app","count":2}]},"warnings":null}`},
	})
	env := map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": "root"}

	code, out, errOut := run(t, env, "", "report")
	if code != 0 || out != reportText {
		t.Fatalf("table: exit %d stdout %q stderr %q", code, out, errOut)
	}
	if r := f.last(); r.method != "GET" || r.path != "/v1/sys/report" || r.token != "root" {
		t.Fatalf("request %+v", r)
	}

	code, out, errOut = run(t, env, "", "report", "-format=json")
	if code != 0 {
		t.Fatalf("json: exit %d stderr %q", code, errOut)
	}
	var data map[string]interface{}
	if err := json.Unmarshal([]byte(out), &data); err != nil {
		t.Fatalf("json output %q: %v", out, err)
	}
	if _, ok := data["text"]; ok {
		t.Error("JSON output repeats the text")
	}
	if data["version"] != "1.17.0+coffer.0.1.0" || data["lease_status"].(map[string]interface{})["active"] != 3.0 {
		t.Errorf("json data %v", data)
	}

	code, out, _ = run(t, env, "", "report", "-format=yaml")
	if code != 0 || !strings.Contains(out, "version: 1.17.0+coffer.0.1.0") || !strings.Contains(out, "path: database/creds/app") {
		t.Errorf("yaml: exit %d output %q", code, out)
	}

	code, out, _ = run(t, env, "", "report", "-field=version")
	if code != 0 || out != "1.17.0+coffer.0.1.0" {
		t.Errorf("-field: exit %d output %q", code, out)
	}

	code, _, errOut = run(t, env, "", "report", "extra")
	if code != 1 || !strings.Contains(errOut, "Too many arguments") {
		t.Errorf("extra argument: exit %d stderr %q", code, errOut)
	}
}

func TestReportCommandErrors(t *testing.T) {
	_, addr := newFakeVault(t, map[string]fakeResponse{
		"GET /v1/sys/report": {status: 403, body: `{"errors":["permission denied"]}`},
	})
	code, _, errOut := run(t, map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": "t"}, "", "report")
	if code != 2 || !strings.HasPrefix(errOut, "Error reading the report: ") || !strings.Contains(errOut, "permission denied") {
		t.Errorf("denied: exit %d stderr %q", code, errOut)
	}

	_, addr = newFakeVault(t, map[string]fakeResponse{
		"GET /v1/sys/report": {body: `{"data":{"version":"x"}}`},
	})
	code, _, errOut = run(t, map[string]string{"VAULT_ADDR": addr, "VAULT_TOKEN": "t"}, "", "report")
	if code != 2 || !strings.Contains(errOut, "no text") {
		t.Errorf("no text: exit %d stderr %q", code, errOut)
	}
}

func mustJSON(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
