package kv

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// checkDecode compares decodeVersionData with decodeObject on raw.
func checkDecode(t *testing.T, raw []byte) {
	t.Helper()
	want, wantErr := decodeObject(raw)
	got, gotErr := decodeVersionData(raw)
	if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
		t.Fatalf("decode %q: error %v, want %v", raw, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decode %q\n got %#v\nwant %#v", raw, got, want)
	}
}

var decodeSamples = []string{
	`{}`, ` { } `, "\t{\n}\r\n", `{"a":"b"}`, `{"foo":"` + strings.Repeat("xY9-_ ~", 20) + `"}`,
	`{"a":1,"b":-0,"c":0.5,"d":-12.25e+3,"e":1E-7,"f":100,"g":123456789012345678901234567890}`,
	`{"t":true,"f":false,"n":null,"arr":[],"obj":{},"mixed":[1,"two",[3],{"four":4},null,true]}`,
	`{"dup":1,"dup":"second"}`, `{"nested":{"a":{"b":{"c":[[[]]]}}}}`, `{"":""}`,
	// Outside the fast subset or invalid: decodeObject decides.
	`null`, `[]`, `"s"`, `1`, ``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1}x`, `{"a":1} {"b":2}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":+1}`, `{"a":tru}`, `{"a":truex}`,
	`{"a":nul}`, `{"a":[1,]}`, `{"a":[1 2]}`, `{"a" 1}`, `{a:1}`, `{"a":"\n"}`, `{"a":"\u00e9"}`, `{"a":"é"}`,
	`{"a":"tab	in"}`, "{\"a\":\"\x7f\"}", "{\"a\":\"\xff\"}", `{"esc\"aped":1}`, `{"a":"x\\y"}`, `{"a":"unterminated}`,
	`{"a":[` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `]}`, `{"a":NaN}`, `{"a":Infinity}`, `{"a":0x10}`,
}

func TestDecodeVersionDataMatchesDecodeObject(t *testing.T) {
	for _, s := range decodeSamples {
		checkDecode(t, []byte(s))
	}
}

// Documents as writes store them: json.Marshal of random request data.
func TestDecodeVersionDataRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 3000 {
		raw, err := json.Marshal(randomData(rng, 0))
		if err != nil {
			t.Fatal(err)
		}
		checkDecode(t, raw)
	}
}

func randomData(rng *rand.Rand, depth int) map[string]interface{} {
	m := map[string]interface{}{}
	for range rng.IntN(5) {
		m[randomText(rng)] = randomJSONValue(rng, depth)
	}
	return m
}

func randomText(rng *rand.Rand) string {
	const alphabet = "abcXYZ019 _-./:=+~!@#$%^*()[]{}<>&\"\\\n\té日\x7f"
	r := []rune(alphabet)
	n := rng.IntN(10)
	var sb strings.Builder
	for range n {
		if rng.IntN(8) == 0 {
			sb.WriteRune(r[rng.IntN(len(r))])
		} else {
			sb.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[rng.IntN(36)])
		}
	}
	return sb.String()
}

func randomJSONValue(rng *rand.Rand, depth int) interface{} {
	n := 6
	if depth < 4 {
		n = 8
	}
	switch rng.IntN(n) {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return json.Number(fmt.Sprint(rng.Int64() - rng.Int64()))
	case 3:
		return rng.NormFloat64() * 1e6
	case 4, 5:
		return randomText(rng)
	case 6:
		return randomData(rng, depth+1)
	default:
		a := make([]interface{}, rng.IntN(4))
		for i := range a {
			a[i] = randomJSONValue(rng, depth+1)
		}
		return a
	}
}

func FuzzDecodeVersionData(f *testing.F) {
	for _, s := range decodeSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecode(t, raw)
	})
}
