package audit

import (
	"encoding/json"
	"reflect"
	"time"
)

// hashData returns a copy of data in which every string value is replaced
// by hash(value), except values whose nearest enclosing map key is in
// skip. Keys are never hashed. Strings inside lists take the key of the
// map entry holding the list. Times become RFC 3339 strings and are not
// hashed; numbers, booleans and nulls are kept. With hash nil (log_raw)
// the data is returned as is, to be encoded unchanged. The input is never
// modified.
func hashData(data map[string]interface{}, hash func(string) string, skip []string) map[string]interface{} {
	if data == nil || hash == nil {
		return data
	}
	w := walker{hash: hash, skip: skip}
	return w.object(data)
}

type walker struct {
	hash func(string) string
	skip []string
}

func (w *walker) skipped(key string) bool {
	for _, k := range w.skip {
		if k == key {
			return true
		}
	}
	return false
}

func (w *walker) str(key, s string) interface{} {
	if w.skipped(key) {
		return s
	}
	return w.hash(s)
}

func (w *walker) object(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = w.value(k, v)
	}
	return out
}

func (w *walker) value(key string, v interface{}) interface{} {
	switch t := v.(type) {
	case nil:
		return nil
	case string:
		return w.str(key, t)
	case bool, int, int64, float64, uint64, int32, float32, uint32, uint:
		return t
	case json.Number:
		// Request bodies are decoded with UseNumber, so numbers sent by
		// clients are hashed like strings, as Vault does.
		return w.str(key, t.String())
	case []byte:
		return w.str(key, string(t))
	case time.Time:
		return t.Format(time.RFC3339Nano)
	case time.Duration:
		return int64(t / time.Second)
	case map[string]interface{}:
		return w.object(t)
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, e := range t {
			out[i] = w.value(key, e)
		}
		return out
	case []string:
		out := make([]interface{}, len(t))
		for i, e := range t {
			out[i] = w.str(key, e)
		}
		return out
	case map[string]string:
		out := make(map[string]interface{}, len(t))
		for k, e := range t {
			out[k] = w.str(k, e)
		}
		return out
	}
	return w.reflected(key, reflect.ValueOf(v))
}

// reflected handles the less common shapes: typed maps and slices,
// pointers, named string types and structs.
func (w *walker) reflected(key string, rv reflect.Value) interface{} {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return w.value(key, rv.Elem().Interface())
	case reflect.String:
		return w.str(key, rv.String())
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return w.viaJSON(key, rv.Interface())
		}
		out := make(map[string]interface{}, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k := it.Key().String()
			out[k] = w.value(k, it.Value().Interface())
		}
		return out
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil
		}
		out := make([]interface{}, rv.Len())
		for i := range out {
			out[i] = w.value(key, rv.Index(i).Interface())
		}
		return out
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return rv.Interface()
	}
	return w.viaJSON(key, rv.Interface())
}

// viaJSON converts a value to its JSON form and walks that, so structs are
// hashed by their JSON field names.
func (w *walker) viaJSON(key string, v interface{}) interface{} {
	b, err := json.Marshal(v)
	if err != nil {
		return w.str(key, "<unencodable value>")
	}
	var generic interface{}
	if err := json.Unmarshal(b, &generic); err != nil {
		return w.str(key, "<unencodable value>")
	}
	return w.value(key, generic)
}

// elideList replaces, in a list response's data, the "keys" list with its
// length and the "key_info" map with its number of entries. data must be
// a copy; only top-level entries change.
func elideList(data map[string]interface{}) {
	for k, v := range data {
		switch k {
		case "keys":
			switch t := v.(type) {
			case []interface{}:
				data[k] = len(t)
			case []string:
				data[k] = len(t)
			}
		case "key_info":
			if m, ok := v.(map[string]interface{}); ok {
				data[k] = len(m)
			}
		}
	}
}
