package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// checkParameters applies required, denied and allowed parameter rules to
// request data. It returns the offending parameter and a reason, or "" when
// the data is acceptable.
func checkParameters(perms *Permissions, data map[string]interface{}) (string, string) {
	for _, req := range perms.RequiredParameters {
		if !hasParam(data, req) {
			return req, fmt.Sprintf("required parameter %q is missing", req)
		}
	}
	if len(data) == 0 {
		return "", ""
	}
	if len(perms.DeniedParameters) > 0 {
		if _, ok := perms.DeniedParameters["*"]; ok {
			for k := range data {
				return k, "all parameters are denied on this path"
			}
		}
		for k, v := range data {
			denied, ok := perms.DeniedParameters[strings.ToLower(k)]
			if ok && valueInDenied(v, denied) {
				return k, fmt.Sprintf("parameter %q or its value is denied", k)
			}
		}
	}
	allowed := perms.AllowedParameters
	if len(allowed) == 0 {
		return "", ""
	}
	_, allowAll := allowed["*"]
	if allowAll && len(allowed) == 1 {
		return "", ""
	}
	for k, v := range data {
		values, ok := allowed[strings.ToLower(k)]
		if !ok {
			if allowAll {
				continue
			}
			return k, fmt.Sprintf("parameter %q is not allowed", k)
		}
		if !valueInAllowed(v, values) {
			return k, fmt.Sprintf("value of parameter %q is not allowed", k)
		}
	}
	return "", ""
}

func hasParam(data map[string]interface{}, name string) bool {
	lower := strings.ToLower(name)
	if _, ok := data[lower]; ok {
		return true
	}
	for k := range data {
		if strings.EqualFold(k, lower) {
			return true
		}
	}
	return false
}

// valueInAllowed: an empty list allows any value; a list value (or a
// comma-separated string) is allowed when each element is.
func valueInAllowed(v interface{}, list []interface{}) bool {
	if len(list) == 0 || valueInList(v, list) {
		return true
	}
	elems, ok := elements(v)
	if !ok {
		return false
	}
	for _, e := range elems {
		if !valueInList(e, list) {
			return false
		}
	}
	return true
}

// valueInDenied: an empty list denies any value; a list value (or a
// comma-separated string) is denied when any element is.
func valueInDenied(v interface{}, list []interface{}) bool {
	if len(list) == 0 || valueInList(v, list) {
		return true
	}
	elems, _ := elements(v)
	for _, e := range elems {
		if valueInList(e, list) {
			return true
		}
	}
	return false
}

// elements splits a list value or a comma-separated (or JSON array) string
// into its elements.
func elements(v interface{}) ([]interface{}, bool) {
	switch t := v.(type) {
	case []interface{}:
		return t, true
	case []string:
		out := make([]interface{}, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, true
	case string:
		s := strings.TrimSpace(t)
		if strings.HasPrefix(s, "[") {
			var arr []interface{}
			if err := json.Unmarshal([]byte(s), &arr); err == nil {
				return arr, true
			}
		}
		if !strings.Contains(s, ",") {
			return nil, false
		}
		parts := strings.Split(s, ",")
		out := make([]interface{}, len(parts))
		for i, p := range parts {
			out[i] = strings.TrimSpace(p)
		}
		return out, true
	}
	return nil, false
}

// valueInList compares a scalar request value with policy values: string
// policy values are globs ("*" at the start and/or end); numbers and
// booleans compare by their canonical text, so the number 10 matches "10".
func valueInList(v interface{}, list []interface{}) bool {
	s, ok := scalarText(v)
	for _, el := range list {
		if v == nil || el == nil {
			if v == el {
				return true
			}
			continue
		}
		if !ok {
			continue
		}
		if pat, isStr := el.(string); isStr {
			if globMatch(pat, s) {
				return true
			}
			continue
		}
		if es, eok := scalarText(el); eok && es == s {
			return true
		}
	}
	return false
}

func scalarText(v interface{}) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64), true
		}
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int32:
		return strconv.FormatInt(int64(t), 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32), true
	}
	return "", false
}

// globMatch implements Vault's value globs: "*x" (suffix), "x*" (prefix),
// "*x*" (contains); anything else, including a lone "*", is literal.
func globMatch(pat, s string) bool {
	if len(pat) < 2 {
		return pat == s
	}
	pre, suf := pat[0] == '*', pat[len(pat)-1] == '*'
	switch {
	case pre && suf:
		return strings.Contains(s, pat[1:len(pat)-1])
	case pre:
		return strings.HasSuffix(s, pat[1:])
	case suf:
		return strings.HasPrefix(s, pat[:len(pat)-1])
	}
	return pat == s
}
