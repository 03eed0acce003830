package framework

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer/internal/logical"
)

// FieldType is the type a request field is decoded to.
type FieldType int

const (
	TypeInvalid FieldType = iota
	TypeString
	TypeInt
	TypeInt64
	TypeBool
	TypeFloat
	// TypeDurationSecond accepts seconds as a number or a string such as
	// "90", "30s", "15m", "2h", "7d"; decoded to int seconds.
	TypeDurationSecond
	// TypeSignedDurationSecond is TypeDurationSecond allowing negatives.
	TypeSignedDurationSecond
	TypeMap
	// TypeKVPairs is map[string]string, from an object or "k=v" strings.
	TypeKVPairs
	// TypeStringSlice is []string from an array, or one string.
	TypeStringSlice
	// TypeCommaStringSlice is []string from an array or a comma-separated string.
	TypeCommaStringSlice
	TypeCommaIntSlice
	TypeSlice
	// TypeNameString is a string restricted to names (letters, digits, -_.).
	TypeNameString
	TypeLowerCaseString
	TypeHeader
	TypeTime
)

func (t FieldType) String() string {
	switch t {
	case TypeString, TypeNameString, TypeLowerCaseString:
		return "string"
	case TypeInt, TypeInt64:
		return "int"
	case TypeBool:
		return "bool"
	case TypeFloat:
		return "float"
	case TypeDurationSecond, TypeSignedDurationSecond:
		return "duration (seconds or a string such as \"30s\", \"5m\", \"1h\")"
	case TypeMap:
		return "map"
	case TypeKVPairs:
		return "map of strings"
	case TypeStringSlice, TypeCommaStringSlice:
		return "list of strings"
	case TypeCommaIntSlice:
		return "list of integers"
	case TypeSlice:
		return "list"
	case TypeHeader:
		return "header map"
	case TypeTime:
		return "RFC 3339 time"
	}
	return "unknown"
}

// FieldSchema describes one request field.
type FieldSchema struct {
	Type        FieldType
	Default     interface{}
	Description string
	// Required fields must be present (400 otherwise) on create/update.
	Required bool
	// Sensitive fields are never echoed back in errors.
	Sensitive bool
	// AllowedValues, when set, restricts the decoded value.
	AllowedValues []interface{}
	// Query marks fields read from the URL query on GET/LIST.
	Query bool
}

// DefaultOrZero returns the default, or the zero value of the type.
func (s *FieldSchema) DefaultOrZero() interface{} {
	if s.Default != nil {
		v, err := convert(s.Type, s.Default)
		if err == nil {
			return v
		}
	}
	return zeroValue(s.Type)
}

func zeroValue(t FieldType) interface{} {
	switch t {
	case TypeString, TypeNameString, TypeLowerCaseString:
		return ""
	case TypeInt, TypeDurationSecond, TypeSignedDurationSecond:
		return 0
	case TypeInt64:
		return int64(0)
	case TypeBool:
		return false
	case TypeFloat:
		return 0.0
	case TypeMap:
		return map[string]interface{}{}
	case TypeKVPairs:
		return map[string]string{}
	case TypeStringSlice, TypeCommaStringSlice:
		return []string{}
	case TypeCommaIntSlice:
		return []int{}
	case TypeSlice:
		return []interface{}{}
	case TypeHeader:
		return map[string][]string{}
	case TypeTime:
		return time.Time{}
	}
	return nil
}

// FieldData holds a request's raw data and the schema to decode it with.
// Raw may be the request's own data map: it must not be modified.
type FieldData struct {
	Raw    map[string]interface{}
	Schema map[string]*FieldSchema
}

// Validate decodes every known field once and reports the first problem as
// a 400 naming the field and the accepted type.
func (d *FieldData) Validate() error {
	for k, raw := range d.Raw {
		s, ok := d.Schema[k]
		if !ok {
			continue
		}
		if _, _, err := decodeField(k, s, raw); err != nil {
			// Report the first bad field in name order, as every time.
			return d.firstError()
		}
	}
	return nil
}

func (d *FieldData) firstError() error {
	keys := make([]string, 0, len(d.Raw))
	for k := range d.Raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := d.Schema[k]; !ok {
			continue
		}
		if _, _, err := d.GetOkErr(k); err != nil {
			return err
		}
	}
	return nil
}

// Get returns the decoded field, its default, or the zero value. It panics
// on an unknown field name (a programming error).
func (d *FieldData) Get(k string) interface{} {
	s, ok := d.Schema[k]
	if !ok {
		panic(fmt.Sprintf("field %q not in the path's schema", k))
	}
	v, ok, err := decodeField(k, s, d.Raw[k])
	if err != nil || !ok {
		return s.DefaultOrZero()
	}
	return v
}

// GetOk returns the decoded field and whether it was given.
func (d *FieldData) GetOk(k string) (interface{}, bool) {
	v, ok, err := d.GetOkErr(k)
	if err != nil {
		return nil, false
	}
	return v, ok
}

// GetOkErr returns the decoded field, whether it was given, and a 400 error
// when it cannot be decoded.
func (d *FieldData) GetOkErr(k string) (interface{}, bool, error) {
	s, ok := d.Schema[k]
	if !ok {
		return nil, false, fmt.Errorf("unknown field %q", k)
	}
	return decodeField(k, s, d.Raw[k])
}

// decodeField decodes the raw value of field k (nil when not given).
func decodeField(k string, s *FieldSchema, raw interface{}) (interface{}, bool, error) {
	if raw == nil {
		return nil, false, nil
	}
	v, err := convert(s.Type, raw)
	if err != nil {
		shown := fmt.Sprintf("%v", raw)
		if s.Sensitive {
			shown = "(sensitive)"
		}
		if len(shown) > 64 {
			shown = shown[:64] + "..."
		}
		return nil, false, logical.InvalidRequest("error converting input %s for field %q: %v; expected %s", shown, k, err, s.Type)
	}
	if len(s.AllowedValues) > 0 && !allowed(v, s.AllowedValues) {
		return nil, false, logical.InvalidRequest("invalid value %v for field %q; accepted values: %s", v, k, joinValues(s.AllowedValues))
	}
	return v, true, nil
}

// String, Int, Bool, Duration, Strings and Map are typed getters.
func (d *FieldData) String(k string) string { s, _ := d.Get(k).(string); return s }
func (d *FieldData) Int(k string) int {
	switch v := d.Get(k).(type) {
	case int:
		return v
	case int64:
		return int(v)
	}
	return 0
}
func (d *FieldData) Bool(k string) bool { b, _ := d.Get(k).(bool); return b }
func (d *FieldData) Duration(k string) time.Duration {
	return time.Duration(d.Int(k)) * time.Second
}
func (d *FieldData) Strings(k string) []string { s, _ := d.Get(k).([]string); return s }
func (d *FieldData) Map(k string) map[string]interface{} {
	m, _ := d.Get(k).(map[string]interface{})
	return m
}
func (d *FieldData) KVPairs(k string) map[string]string {
	m, _ := d.Get(k).(map[string]string)
	return m
}

func allowed(v interface{}, vals []interface{}) bool {
	for _, a := range vals {
		if fmt.Sprint(a) == fmt.Sprint(v) {
			return true
		}
	}
	return false
}

func joinValues(vals []interface{}) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return strings.Join(parts, ", ")
}

var nameRe = regexp.MustCompile(`^\w(([\w.-]+)?\w)?$`)

func convert(t FieldType, raw interface{}) (interface{}, error) {
	if decoded(t, raw) {
		// Already the decoded value: return it without boxing a copy.
		return raw, nil
	}
	switch t {
	case TypeString:
		return toString(raw)
	case TypeNameString:
		s, err := toString(raw)
		if err != nil {
			return nil, err
		}
		if !nameRe.MatchString(s) {
			return nil, fmt.Errorf("name may contain only letters, digits, '-', '_' and '.', and must start and end with a letter or digit")
		}
		if _, ok := raw.(string); ok {
			return raw, nil
		}
		return s, nil
	case TypeLowerCaseString:
		s, err := toString(raw)
		if lower := strings.ToLower(s); err != nil || lower != s {
			return lower, err
		}
		if _, ok := raw.(string); ok {
			return raw, nil
		}
		return s, nil
	case TypeInt:
		n, err := toInt64(raw)
		if err != nil {
			return nil, err
		}
		if n > math.MaxInt32*int64(1<<31) || n < -math.MaxInt32*int64(1<<31) {
			return nil, fmt.Errorf("out of range")
		}
		return int(n), nil
	case TypeInt64:
		return toInt64(raw)
	case TypeFloat:
		return toFloat(raw)
	case TypeBool:
		return toBool(raw)
	case TypeDurationSecond, TypeSignedDurationSecond:
		d, err := ParseDurationSecond(raw)
		if err != nil {
			return nil, err
		}
		if t == TypeDurationSecond && d < 0 {
			return nil, fmt.Errorf("cannot be negative")
		}
		return int(d / time.Second), nil
	case TypeMap:
		switch v := raw.(type) {
		case map[string]interface{}:
			return v, nil
		case string:
			if v == "" {
				return map[string]interface{}{}, nil
			}
			var m map[string]interface{}
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				return nil, fmt.Errorf("not a JSON object")
			}
			return m, nil
		}
		return nil, fmt.Errorf("not a map")
	case TypeKVPairs:
		return toKVPairs(raw)
	case TypeStringSlice:
		return toStringSlice(raw, false)
	case TypeCommaStringSlice:
		return toStringSlice(raw, true)
	case TypeCommaIntSlice:
		ss, err := toStringSlice(raw, true)
		if err != nil {
			return nil, err
		}
		out := make([]int, 0, len(ss))
		for _, s := range ss {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", s)
			}
			out = append(out, n)
		}
		return out, nil
	case TypeSlice:
		switch v := raw.(type) {
		case []interface{}:
			return v, nil
		case string:
			var s []interface{}
			if err := json.Unmarshal([]byte(v), &s); err == nil {
				return s, nil
			}
			return []interface{}{v}, nil
		}
		return []interface{}{raw}, nil
	case TypeHeader:
		return toHeader(raw)
	case TypeTime:
		switch v := raw.(type) {
		case string:
			return time.Parse(time.RFC3339, v)
		case time.Time:
			return v, nil
		}
		return nil, fmt.Errorf("not a time")
	}
	return nil, fmt.Errorf("unknown field type")
}

// decoded reports whether raw is already what convert makes of it for t.
func decoded(t FieldType, raw interface{}) bool {
	switch raw.(type) {
	case string:
		return t == TypeString
	case bool:
		return t == TypeBool
	case float64:
		return t == TypeFloat
	case int64:
		return t == TypeInt64
	case []string:
		return t == TypeStringSlice || t == TypeCommaStringSlice
	case []interface{}:
		return t == TypeSlice
	case map[string]interface{}:
		return t == TypeMap
	case time.Time:
		return t == TypeTime
	}
	return false
}

func toString(raw interface{}) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool, int, int64, float64:
		return fmt.Sprint(v), nil
	case []byte:
		return string(v), nil
	}
	return "", fmt.Errorf("not a string")
}

func toInt64(raw interface{}) (int64, error) {
	switch v := raw.(type) {
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case float64:
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("not an integer")
		}
		return int64(v), nil
	case json.Number:
		return v.Int64()
	case string:
		if v == "" {
			return 0, nil
		}
		return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	}
	return 0, fmt.Errorf("not an integer")
}

func toFloat(raw interface{}) (float64, error) {
	switch v := raw.(type) {
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case float64:
		return v, nil
	case json.Number:
		return v.Float64()
	case string:
		return strconv.ParseFloat(v, 64)
	}
	return 0, fmt.Errorf("not a number")
}

func toBool(raw interface{}) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case string:
		if v == "" {
			return false, nil
		}
		return strconv.ParseBool(v)
	case json.Number:
		n, err := v.Int64()
		return n != 0, err
	case float64:
		return v != 0, nil
	case int:
		return v != 0, nil
	}
	return false, fmt.Errorf("not a boolean")
}

func toStringSlice(raw interface{}, comma bool) ([]string, error) {
	switch v := raw.(type) {
	case []string:
		return v, nil
	case []interface{}:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, err := toString(e)
			if err != nil {
				return nil, fmt.Errorf("list element %v is not a string", e)
			}
			out = append(out, s)
		}
		if comma {
			var split []string
			for _, s := range out {
				split = append(split, splitComma(s)...)
			}
			return split, nil
		}
		return out, nil
	case string:
		if v == "" {
			return []string{}, nil
		}
		if strings.HasPrefix(strings.TrimSpace(v), "[") {
			var arr []string
			if err := json.Unmarshal([]byte(v), &arr); err == nil {
				return arr, nil
			}
		}
		if comma {
			return splitComma(v), nil
		}
		return []string{v}, nil
	}
	return nil, fmt.Errorf("not a list of strings")
}

func splitComma(s string) []string {
	parts := strings.Split(s, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func toKVPairs(raw interface{}) (map[string]string, error) {
	out := map[string]string{}
	switch v := raw.(type) {
	case map[string]string:
		return v, nil
	case map[string]interface{}:
		for k, e := range v {
			s, err := toString(e)
			if err != nil {
				return nil, fmt.Errorf("value of %q is not a string", k)
			}
			out[k] = s
		}
		return out, nil
	case string:
		if v == "" {
			return out, nil
		}
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(v), &m); err == nil {
			return toKVPairs(m)
		}
		return toKVPairs(splitComma(v))
	case []string:
		ifs := make([]interface{}, len(v))
		for i := range v {
			ifs[i] = v[i]
		}
		return toKVPairs(ifs)
	case []interface{}:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("expected key=value strings")
			}
			k, val, found := strings.Cut(s, "=")
			if !found || k == "" {
				return nil, fmt.Errorf("%q is not of the form key=value", s)
			}
			out[k] = val
		}
		return out, nil
	}
	return nil, fmt.Errorf("not a map of strings")
}

func toHeader(raw interface{}) (map[string][]string, error) {
	out := map[string][]string{}
	m, ok := raw.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("not a header map")
	}
	for k, v := range m {
		ss, err := toStringSlice(v, false)
		if err != nil {
			return nil, err
		}
		out[k] = ss
	}
	return out, nil
}

// ParseDurationSecond parses seconds as a number, or a Go duration string
// with an optional "d" (days) unit.
func ParseDurationSecond(raw interface{}) (time.Duration, error) {
	switch v := raw.(type) {
	case time.Duration:
		return v, nil
	case int:
		return time.Duration(v) * time.Second, nil
	case int64:
		return time.Duration(v) * time.Second, nil
	case float64:
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("not a whole number of seconds")
		}
		return time.Duration(v) * time.Second, nil
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return 0, fmt.Errorf("not a whole number of seconds")
		}
		return time.Duration(n) * time.Second, nil
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return 0, nil
		}
		// A plain number of seconds ends in a digit; "30s" or "2h" need not
		// fail (and allocate an error) in ParseInt first.
		if last := s[len(s)-1]; last >= '0' && last <= '9' {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return time.Duration(n) * time.Second, nil
			}
		}
		if strings.HasSuffix(s, "d") {
			n, err := strconv.ParseInt(strings.TrimSuffix(s, "d"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			return time.Duration(n) * 24 * time.Hour, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return d, nil
	}
	return 0, fmt.Errorf("not a duration")
}
