package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// respondBody is the body respondJSON writes for v.
func respondBody(v interface{}) []byte {
	rec := httptest.NewRecorder()
	respondJSON(rec, 200, v)
	return rec.Body.Bytes()
}

// stdBody is what json.Encoder writes for v (nothing when it fails).
func stdBody(v interface{}) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return buf.Bytes()
}

func checkSame(t *testing.T, v interface{}) {
	t.Helper()
	got, want := respondBody(v), stdBody(v)
	if !bytes.Equal(got, want) {
		t.Fatalf("body of %#v\n got %q\nwant %q", v, got, want)
	}
}

type marshalerValue struct{ A string }

func (m marshalerValue) MarshalJSON() ([]byte, error) {
	return []byte(`{ "a" : "<` + m.A + `>" }`), nil
}

var trickyStrings = []string{
	"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>", "ctl \x00\x01\x1f\x7f \b\f\n\r\t",
	"bad utf8 \xff\xfe end", "trunc \xe2\x82", "sep \u2028 \u2029 done", "héllo wörld 日本 😀", "\u00e9\u0301",
}

var trickyFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, 123456789.123, 1e20, 1e21, 1e-6, 1e-7, 9.999999e-7,
	1e-300, 5e-324, math.MaxFloat64, -1e21, 3.14159e-10, 100, 1e100,
}

func TestRespondJSONMatchesEncodingJSON(t *testing.T) {
	values := []interface{}{
		map[string]interface{}(nil), map[string]interface{}{},
		map[string]interface{}{"b": 1, "a": "x", "c": nil, "A": true, "_": false, "aa": int64(-5)},
		map[string]interface{}{"n": json.Number("12.50"), "empty": json.Number(""), "u": uint64(math.MaxUint64), "i": math.MinInt64},
		map[string]interface{}{"i32": int32(-7), "u32": uint32(7), "u": uint(9), "i8": int8(3), "f32": float32(1.1)},
		map[string]interface{}{"s": []string{}, "sn": []string(nil), "l": []interface{}{}, "ln": []interface{}(nil)},
		map[string]interface{}{"m": map[string]string{"z": "1", "<k>": "&"}, "mn": map[string]string(nil)},
		map[string]interface{}{"t": time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), "b": []byte("bytes"), "d": time.Second},
		map[string]interface{}{"marsh": marshalerValue{A: "x&y"}, "ptr": &marshalerValue{A: "p"}, "np": (*marshalerValue)(nil)},
		map[string]interface{}{"struct": struct {
			X int `json:"x"`
			Y string
		}{1, "<"}},
		map[string]interface{}{"nested": []interface{}{map[string]interface{}{"k": []interface{}{1, "2", nil, 3.5}}}},
		map[string]interface{}{"nan": math.NaN()},
		map[string]interface{}{"inf": []interface{}{math.Inf(1)}},
		map[string]interface{}{"badnum": json.Number("1x")},
		errorBody{Errors: []string{}}, errorBody{Errors: []string{"permission denied", "<b>"}}, errorBody{},
		map[string]bool{"x": true},
		[]string{"not", "a", "map"},
		"a string body",
	}
	for _, s := range trickyStrings {
		values = append(values, map[string]interface{}{s: s, "list": []interface{}{s}, "strs": []string{s}, "ms": map[string]string{s: s}})
	}
	for _, f := range trickyFloats {
		values = append(values, map[string]interface{}{"f": f, "neg": -f})
	}
	deep := map[string]interface{}{"leaf": 1}
	for range 100 {
		deep = map[string]interface{}{"d": deep}
	}
	values = append(values, deep)
	for _, v := range values {
		checkSame(t, v)
	}
}

func TestRespondJSONEnvelope(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, resp := range []*logical.Response{
		{Data: map[string]interface{}{"data": map[string]interface{}{"foo": "bar"}, "metadata": map[string]interface{}{"version": uint64(3), "custom_metadata": map[string]string(nil)}}},
		{Data: map[string]interface{}{"keys": []string{"a", "b/"}}, Warnings: []string{"careful <here>"}},
		{Secret: &logical.Secret{LeaseID: "db/creds/x/abc", LeaseOptions: logical.LeaseOptions{Renewable: true, TTL: time.Hour}}, Data: map[string]interface{}{"username": "u"}},
		{Auth: &logical.Auth{ClientToken: "hvs.x", Accessor: "acc", Policies: []string{"default"}, Metadata: map[string]string{"role": "r"}, LeaseOptions: logical.LeaseOptions{TTL: time.Minute, Renewable: true}}},
		{WrapInfo: &logical.WrapInfo{Token: "w", Accessor: "a", TTL: time.Minute, CreationTime: now, CreationPath: "sys/wrapping/wrap"}},
		{},
	} {
		checkSame(t, envelope("9b7e-req", "kv", resp))
	}
	checkSame(t, &logical.HTTPResponse{RequestID: "r", Data: map[string]interface{}{"bad": math.Inf(-1)}})
}

// The envelope encoder writes logical.HTTPResponse's fields by hand: a
// field added there must be added to appendEnvelope too.
func TestEnvelopeFieldsKnown(t *testing.T) {
	var tags []string
	rt := reflect.TypeOf(logical.HTTPResponse{})
	for i := range rt.NumField() {
		tags = append(tags, rt.Field(i).Tag.Get("json"))
	}
	want := "request_id,lease_id,renewable,lease_duration,data,wrap_info,warnings,auth,mount_type"
	if got := strings.Join(tags, ","); got != want {
		t.Fatalf("logical.HTTPResponse fields are %s; appendEnvelope encodes %s", got, want)
	}
}

// Random nested values of the types the fast path handles.
func TestRespondJSONRandomValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 2000 {
		checkSame(t, randomMap(rng, 0))
	}
}

func randomString(rng *rand.Rand) string {
	if rng.IntN(4) == 0 {
		return trickyStrings[rng.IntN(len(trickyStrings))]
	}
	const alphabet = "abcXYZ019 _-<>&\"\\/\n\té日\u2028\x01"
	var sb strings.Builder
	n := rng.IntN(12)
	for range n {
		r := []rune(alphabet)
		sb.WriteRune(r[rng.IntN(len(r))])
	}
	if rng.IntN(10) == 0 {
		sb.WriteByte(0xff)
	}
	return sb.String()
}

func randomValue(rng *rand.Rand, depth int) interface{} {
	n := 10
	if depth < 4 {
		n = 14
	}
	switch rng.IntN(n) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return rng.Int64() - rng.Int64()
	case 3:
		return rng.IntN(1000) - 500
	case 4:
		return rng.Uint64()
	case 5:
		if rng.IntN(2) == 0 {
			return trickyFloats[rng.IntN(len(trickyFloats))]
		}
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
	case 6:
		return json.Number(strings.TrimSuffix(strings.TrimSuffix(randomNumber(rng), "."), "e"))
	case 7, 8:
		return randomString(rng)
	case 9:
		s := make([]string, rng.IntN(4))
		for i := range s {
			s[i] = randomString(rng)
		}
		return s
	case 10:
		m := map[string]string{}
		for range rng.IntN(4) {
			m[randomString(rng)] = randomString(rng)
		}
		return m
	case 11, 12:
		return randomMap(rng, depth+1)
	default:
		l := make([]interface{}, rng.IntN(4))
		for i := range l {
			l[i] = randomValue(rng, depth+1)
		}
		return l
	}
}

func randomNumber(rng *rand.Rand) string {
	return []string{"0", "-1", "12", "3.25", "1e5", "-2.5E-3", "100"}[rng.IntN(7)]
}

func randomMap(rng *rand.Rand, depth int) map[string]interface{} {
	m := map[string]interface{}{}
	for range rng.IntN(6) {
		m[randomString(rng)] = randomValue(rng, depth)
	}
	return m
}

func BenchmarkRespondJSONEnvelope(b *testing.B) {
	body := envelope("5f0e4f6e-8a1b-4c55-9e8f-0c1d2e3f4a5b", "kv", &logical.Response{Data: map[string]interface{}{
		"data":     map[string]interface{}{"foo": strings.Repeat("x", 100)},
		"metadata": map[string]interface{}{"version": uint64(1), "created_time": "2024-05-06T07:08:09.123456789Z", "deletion_time": "", "destroyed": false, "custom_metadata": map[string]string(nil)},
	}})
	w := &nullWriter{h: map[string][]string{}}
	b.ReportAllocs()
	for b.Loop() {
		respondJSON(w, 200, body)
	}
}

type nullWriter struct{ h map[string][]string }

func (n *nullWriter) Header() http.Header         { return n.h }
func (n *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (n *nullWriter) WriteHeader(int)             {}
