package transit

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer/internal/logical"
)

// batchItem is one entry of batch_input for encrypt, decrypt and rewrap,
// or the single request made into a one-item batch.
type batchItem struct {
	Plaintext            string
	Ciphertext           string
	Context              string
	Nonce                string
	AssociatedData       string
	PaddingScheme        string
	EncryptPaddingScheme string
	DecryptPaddingScheme string
	Reference            string
	KeyVersion           int

	hasPlaintext, hasCiphertext bool
}

// batchField is how a batch_input entry's field is read.
type batchField struct {
	name string
	str  func(it *batchItem) *string
}

var batchStringFields = []batchField{
	{"plaintext", func(it *batchItem) *string { return &it.Plaintext }},
	{"ciphertext", func(it *batchItem) *string { return &it.Ciphertext }},
	{"context", func(it *batchItem) *string { return &it.Context }},
	{"nonce", func(it *batchItem) *string { return &it.Nonce }},
	{"associated_data", func(it *batchItem) *string { return &it.AssociatedData }},
	{"padding_scheme", func(it *batchItem) *string { return &it.PaddingScheme }},
	{"encrypt_padding_scheme", func(it *batchItem) *string { return &it.EncryptPaddingScheme }},
	{"decrypt_padding_scheme", func(it *batchItem) *string { return &it.DecryptPaddingScheme }},
	{"reference", func(it *batchItem) *string { return &it.Reference }},
}

// decodeBatch reads batch_input. need is "plaintext" or "ciphertext": the
// field every item must carry. Type errors name the item and the field.
func decodeBatch(raw interface{}, need string) ([]batchItem, error) {
	list, ok := raw.([]interface{})
	if !ok {
		if s, isStr := raw.(string); isStr {
			// Form-encoded and CLI callers send the list as a JSON string.
			if err := json.Unmarshal([]byte(s), &list); err != nil {
				return nil, logical.InvalidRequest("failed to parse batch input: batch_input must be a list of objects")
			}
		} else {
			return nil, logical.InvalidRequest("failed to parse batch input: batch_input must be a list of objects, got %T", raw)
		}
	}
	if len(list) == 0 {
		return nil, logical.InvalidRequest("missing batch input to process")
	}
	items := make([]batchItem, len(list))
	var problems []string
	for i, e := range list {
		m, ok := e.(map[string]interface{})
		if !ok {
			return nil, logical.InvalidRequest("failed to parse batch input: [%d] expected a map, got '%T'", i, e)
		}
		it := &items[i]
		for _, f := range batchStringFields {
			v, has := m[f.name]
			if !has || (v == nil && f.name != "plaintext") {
				continue
			}
			s, ok := v.(string)
			if !ok {
				problems = append(problems, fmt.Sprintf("'[%d].%s' expected type 'string', got unconvertible type '%T'", i, f.name, v))
				continue
			}
			*f.str(it) = s
			switch f.name {
			case "plaintext":
				it.hasPlaintext = true
			case "ciphertext":
				it.hasCiphertext = true
			}
		}
		if v, has := m["key_version"]; has && v != nil {
			n, err := intValue(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("'[%d].key_version' expected type 'int': %v", i, err))
			}
			it.KeyVersion = n
		}
		switch {
		case need == "plaintext" && !it.hasPlaintext:
			problems = append(problems, fmt.Sprintf("'[%d].plaintext' missing plaintext to encrypt", i))
		case need == "ciphertext" && !it.hasCiphertext:
			problems = append(problems, fmt.Sprintf("'[%d].ciphertext' missing ciphertext to decrypt", i))
		}
	}
	if len(problems) > 0 {
		return nil, logical.InvalidRequest("failed to parse batch input: %s", strings.Join(problems, "; "))
	}
	return items, nil
}

// intValue converts a JSON number (or a numeric string) to an int.
func intValue(v interface{}) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
			return 0, fmt.Errorf("%v is not an integer", n)
		}
		return int(n), nil
	case json.Number:
		i, err := strconv.Atoi(n.String())
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", n.String())
		}
		return i, nil
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", n)
		}
		return i, nil
	}
	return 0, fmt.Errorf("got unconvertible type '%T'", v)
}

// stringItems reads a batch_input of string fields (sign, verify, hmac).
// A nil map value counts as missing.
func stringItems(raw interface{}) ([]map[string]string, error) {
	list, ok := raw.([]interface{})
	if !ok {
		if s, isStr := raw.(string); isStr {
			if err := json.Unmarshal([]byte(s), &list); err != nil {
				return nil, logical.InvalidRequest("failed to parse batch input: batch_input must be a list of objects")
			}
		} else {
			return nil, logical.InvalidRequest("failed to parse batch input: batch_input must be a list of objects, got %T", raw)
		}
	}
	if len(list) == 0 {
		return nil, logical.InvalidRequest("missing batch input to process")
	}
	out := make([]map[string]string, len(list))
	for i, e := range list {
		m, ok := e.(map[string]interface{})
		if !ok {
			return nil, logical.InvalidRequest("failed to parse batch input: [%d] expected a map, got '%T'", i, e)
		}
		out[i] = make(map[string]string, len(m))
		for k, v := range m {
			switch x := v.(type) {
			case nil:
			case string:
				out[i][k] = x
			case json.Number:
				out[i][k] = x.String()
			case bool, float64, int:
				out[i][k] = fmt.Sprint(x)
			default:
				return nil, logical.InvalidRequest("failed to parse batch input: '[%d].%s' expected type 'string', got unconvertible type '%T'", i, k, v)
			}
		}
	}
	return out, nil
}

// contextConsistent enforces Vault's rule that context is given in every
// item or in none.
func contextConsistent(items []batchItem) error {
	set := items[0].Context != ""
	for _, it := range items {
		if (it.Context != "") != set {
			return logical.InvalidRequest("context should be set either in all the request blocks or in none")
		}
	}
	return nil
}
