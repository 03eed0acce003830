package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/coffer-dev/coffer/internal/logical"
)

// This file encodes response bodies without encoding/json's reflection for
// the shapes almost every response has: the Vault envelope, and maps of
// strings, numbers, booleans, slices and maps. The output is byte for byte
// what json.Encoder gives (sorted map keys, HTML-safe string escaping, the
// same number formatting); every other type is handed to json.Marshal, and
// when anything goes wrong the caller encodes the whole body with
// encoding/json instead.

// errFallback makes the caller encode the body with encoding/json.
var errFallback = errors.New("encode with encoding/json")

// maxFastDepth bounds the nesting the fast path follows; deeper (or
// cyclic) values go to encoding/json, which reports cycles as errors.
const maxFastDepth = 32

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledBuf keeps large bodies' buffers out of the pool.
const maxPooledBuf = 64 << 10

// appendBody appends body's JSON encoding and a newline to dst, as
// json.Encoder.Encode writes it.
func appendBody(dst []byte, body interface{}) ([]byte, error) {
	var err error
	switch v := body.(type) {
	case *logical.HTTPResponse:
		if v == nil {
			return nil, errFallback
		}
		dst, err = appendEnvelope(dst, v)
	case map[string]interface{}:
		dst, err = appendValue(dst, v, 0)
	case *sealStatusResponse:
		dst = v.appendJSON(dst)
	case errorBody:
		dst = append(dst, `{"errors":`...)
		dst = append(appendStrings(dst, v.Errors), '}')
	default:
		return nil, errFallback
	}
	if err != nil {
		return nil, err
	}
	return append(dst, '\n'), nil
}

// appendEnvelope encodes logical.HTTPResponse in its field order.
func appendEnvelope(b []byte, r *logical.HTTPResponse) ([]byte, error) {
	var err error
	b = append(b, `{"request_id":`...)
	b = appendString(b, r.RequestID)
	b = append(b, `,"lease_id":`...)
	b = appendString(b, r.LeaseID)
	b = append(b, `,"renewable":`...)
	b = strconv.AppendBool(b, r.Renewable)
	b = append(b, `,"lease_duration":`...)
	b = strconv.AppendInt(b, r.LeaseDuration, 10)
	b = append(b, `,"data":`...)
	if b, err = appendValue(b, r.Data, 1); err != nil {
		return nil, err
	}
	b = append(b, `,"wrap_info":`...)
	if r.WrapInfo == nil {
		b = append(b, "null"...)
	} else if b, err = appendMarshal(b, r.WrapInfo); err != nil {
		return nil, err
	}
	b = append(b, `,"warnings":`...)
	b = appendStrings(b, r.Warnings)
	b = append(b, `,"auth":`...)
	if r.Auth == nil {
		b = append(b, "null"...)
	} else if b, err = appendMarshal(b, r.Auth); err != nil {
		return nil, err
	}
	b = append(b, `,"mount_type":`...)
	b = appendString(b, r.MountType)
	return append(b, '}'), nil
}

func appendMarshal(b []byte, v interface{}) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

func appendValue(b []byte, v interface{}, depth int) ([]byte, error) {
	if depth > maxFastDepth {
		return nil, errFallback
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case float64:
		return appendFloat(b, x, 64)
	case []string:
		return appendStrings(b, x), nil
	case map[string]string:
		if x == nil {
			return append(b, "null"...), nil
		}
		var small [16]string
		keys := sortedKeys(small[:0], x)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, x[k])
		}
		return append(b, '}'), nil
	case map[string]interface{}:
		if x == nil {
			return append(b, "null"...), nil
		}
		var small [16]string
		keys := sortedKeys(small[:0], x)
		b = append(b, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			if b, err = appendValue(b, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []interface{}:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	return appendMarshal(b, v)
}

// sortedKeys appends m's keys to keys, sorted as encoding/json sorts them.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendStrings(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, e := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, e)
	}
	return append(b, ']')
}

// appendFloat formats f as encoding/json does (ES6 number formatting).
func appendFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errFallback
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 becomes e-9.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as encoding/json does with HTML escaping on:
// <, > and & become \u003c, \u003e and \u0026, invalid UTF-8 becomes
// \ufffd, and U+2028 and U+2029 are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSON encodes the seal-status body in its field order.
func (s *sealStatusResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"build_date":`...)
	b = appendString(b, s.BuildDate)
	if s.ClusterID != nil {
		b = append(b, `,"cluster_id":`...)
		b = appendString(b, *s.ClusterID)
	}
	if s.ClusterName != nil {
		b = append(b, `,"cluster_name":`...)
		b = appendString(b, *s.ClusterName)
	}
	b = append(b, `,"initialized":`...)
	b = strconv.AppendBool(b, s.Initialized)
	b = append(b, `,"migration":`...)
	b = strconv.AppendBool(b, s.Migration)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(s.N), 10)
	b = append(b, `,"nonce":`...)
	b = appendString(b, s.Nonce)
	b = append(b, `,"progress":`...)
	b = strconv.AppendInt(b, int64(s.Progress), 10)
	b = append(b, `,"recovery_seal":`...)
	b = strconv.AppendBool(b, s.RecoverySeal)
	b = append(b, `,"sealed":`...)
	b = strconv.AppendBool(b, s.Sealed)
	b = append(b, `,"storage_type":`...)
	b = appendString(b, s.StorageType)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, int64(s.T), 10)
	b = append(b, `,"type":`...)
	b = appendString(b, s.Type)
	b = append(b, `,"version":`...)
	b = appendString(b, s.Version)
	return append(b, '}')
}
