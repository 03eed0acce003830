package audit

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

type namedString string

type sample struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestHashData(t *testing.T) {
	h := func(s string) string { return "H(" + s + ")" }
	str := "p"
	when := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	cases := []struct {
		name string
		in   map[string]interface{}
		skip []string
		want map[string]interface{}
	}{
		{"scalars", map[string]interface{}{"s": "v", "n": 1, "f": 1.5, "b": true, "z": nil, "num": json.Number("7")},
			nil, map[string]interface{}{"s": "H(v)", "n": 1, "f": 1.5, "b": true, "z": nil, "num": "H(7)"}},
		{"time and duration are not hashed", map[string]interface{}{"t": when, "d": 90 * time.Second},
			nil, map[string]interface{}{"t": "2024-01-02T03:04:05.000000006Z", "d": int64(90)}},
		{"nested maps and lists", map[string]interface{}{"m": map[string]interface{}{"k": []interface{}{"a", 2, map[string]interface{}{"x": "y"}}}},
			nil, map[string]interface{}{"m": map[string]interface{}{"k": []interface{}{"H(a)", 2, map[string]interface{}{"x": "H(y)"}}}}},
		{"typed containers", map[string]interface{}{"ss": []string{"a"}, "ms": map[string]string{"k": "v"}, "mi": map[string]int{"k": 1}, "ns": namedString("q"), "ptr": &str, "nilptr": (*string)(nil), "bytes": []byte("raw")},
			nil, map[string]interface{}{"ss": []interface{}{"H(a)"}, "ms": map[string]interface{}{"k": "H(v)"}, "mi": map[string]interface{}{"k": 1}, "ns": "H(q)", "ptr": "H(p)", "nilptr": nil, "bytes": "H(raw)"}},
		{"structs by JSON name", map[string]interface{}{"s": sample{Name: "n", Count: 2}},
			nil, map[string]interface{}{"s": map[string]interface{}{"name": "H(n)", "count": 2.0}}},
		{"skip applies to the nearest key, lists included", map[string]interface{}{"keep": []interface{}{"a", "b"}, "obj": map[string]interface{}{"keep": "c", "other": "d"}, "x": "e"},
			[]string{"keep"}, map[string]interface{}{"keep": []interface{}{"a", "b"}, "obj": map[string]interface{}{"keep": "c", "other": "H(d)"}, "x": "H(e)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := hashData(tc.in, h, tc.skip)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
	if hashData(nil, h, nil) != nil {
		t.Error("nil data should stay nil")
	}
	raw := map[string]interface{}{"a": "b"}
	if got := hashData(raw, nil, nil); got["a"] != "b" {
		t.Error("raw data changed")
	}
}
