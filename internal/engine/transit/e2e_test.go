package transit_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/testserver"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func mountTransit(t testing.TB, c *api.Client) {
	t.Helper()
	if err := c.Sys().Mount("transit", &api.MountInput{Type: "transit"}); err != nil {
		t.Fatalf("mount transit: %v", err)
	}
}

// TestEndToEnd drives the engine through a real server and Vault's client.
func TestEndToEnd(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client
	mountTransit(t, c)
	l := c.Logical()

	if _, err := l.Write("transit/keys/app", map[string]interface{}{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	enc, err := l.Write("transit/encrypt/app", map[string]interface{}{"plaintext": b64("hello")})
	if err != nil {
		t.Fatal(err)
	}
	ct := enc.Data["ciphertext"].(string)
	if !strings.HasPrefix(ct, "vault:v1:") || enc.Data["key_version"] != json.Number("1") {
		t.Fatalf("encrypt answered %v", enc.Data)
	}
	dec, err := l.Write("transit/decrypt/app", map[string]interface{}{"ciphertext": ct})
	if err != nil || dec.Data["plaintext"] != b64("hello") {
		t.Fatalf("decrypt: %v %v", dec, err)
	}

	// A bad ciphertext is a 400 with Vault's message.
	_, err = l.Write("transit/decrypt/app", map[string]interface{}{"ciphertext": "vault:v1:AAAA"})
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 || len(re.Errors) != 1 || re.Errors[0] != "invalid ciphertext length" {
		t.Fatalf("bad ciphertext: %v", err)
	}

	// Encrypting with a missing key creates it (the root token may create).
	if _, err := l.Write("transit/encrypt/upserted", map[string]interface{}{"plaintext": b64("x")}); err != nil {
		t.Fatal(err)
	}
	keys, err := l.List("transit/keys")
	if err != nil || len(keys.Data["keys"].([]interface{})) != 2 {
		t.Fatalf("list: %v %v", keys, err)
	}

	// A batch with one bad item answers 400 with every item's result.
	body, _ := json.Marshal(map[string]interface{}{"batch_input": []map[string]string{
		{"plaintext": b64("a"), "reference": "good"}, {"plaintext": "%%%", "reference": "bad"},
	}})
	resp, err := l.WriteRaw("transit/encrypt/app", body)
	if resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("partial batch failure: %v %v", resp, err)
	}
	var env struct {
		RequestID string `json:"request_id"`
		Data      struct {
			BatchResults []map[string]interface{} `json:"batch_results"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	res := env.Data.BatchResults
	if env.RequestID == "" || len(res) != 2 || res[0]["reference"] != "good" || !strings.HasPrefix(res[0]["ciphertext"].(string), "vault:v1:") ||
		!strings.Contains(res[1]["error"].(string), "failed to base64-decode plaintext") {
		t.Fatalf("partial batch body: %+v", env)
	}

	// Rotation, rewrap and signing.
	if _, err := l.Write("transit/keys/app/rotate", nil); err != nil {
		t.Fatal(err)
	}
	rw, err := l.Write("transit/rewrap/app", map[string]interface{}{"ciphertext": ct})
	if err != nil || !strings.HasPrefix(rw.Data["ciphertext"].(string), "vault:v2:") {
		t.Fatalf("rewrap: %v %v", rw, err)
	}
	if _, err := l.Write("transit/keys/signer", map[string]interface{}{"type": "ed25519"}); err != nil {
		t.Fatal(err)
	}
	sig, err := l.Write("transit/sign/signer", map[string]interface{}{"input": b64("doc")})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := l.Write("transit/verify/signer", map[string]interface{}{"input": b64("doc"), "signature": sig.Data["signature"]})
	if err != nil || ok.Data["valid"] != true {
		t.Fatalf("verify: %v %v", ok, err)
	}
	key, err := l.Read("transit/keys/app")
	if err != nil || key.Data["latest_version"] != json.Number("2") {
		t.Fatalf("read key: %v %v", key, err)
	}
}

// BenchmarkEncryptHTTP measures encrypt operations per second end to end
// (TLS, token check, ACL, audit, routing) with 8 concurrent clients and
// 100-byte plaintexts.
func BenchmarkEncryptHTTP(b *testing.B) {
	s := testserver.Start(b, testserver.Options{})
	mountTransit(b, s.Client)
	if _, err := s.Client.Logical().Write("transit/keys/bench", nil); err != nil {
		b.Fatal(err)
	}
	data := map[string]interface{}{"plaintext": base64.StdEncoding.EncodeToString(make([]byte, 100))}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((8 + procs - 1) / procs)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := s.NewClient(s.RootToken)
		for pb.Next() {
			if _, err := c.Logical().Write("transit/encrypt/bench", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}
