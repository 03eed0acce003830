package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// parseArgsData turns command-line data arguments into a request body, as
// Vault does:
//
//	key=value   a string value; repeating a key makes a list
//	key=@file   the value is the contents of file
//	key=\@text  a literal value starting with "@"
//	key=-       the value is read from stdin
//	@file.json  a JSON object read from file is merged in
//	-           a JSON object read from stdin is merged in
//
// stdin may be consumed only once.
func parseArgsData(stdin io.Reader, args []string) (map[string]interface{}, error) {
	b := &kvBuilder{stdin: stdin, result: map[string]interface{}{}}
	for _, a := range args {
		if err := b.add(a); err != nil {
			return nil, fmt.Errorf("invalid key/value pair %q: %w", a, err)
		}
	}
	return b.result, nil
}

type kvBuilder struct {
	stdin     io.Reader
	stdinUsed bool
	result    map[string]interface{}
}

func (b *kvBuilder) readStdin() (io.Reader, error) {
	if b.stdin == nil {
		return nil, errors.New("stdin is not supported")
	}
	if b.stdinUsed {
		return nil, errors.New("stdin already consumed")
	}
	b.stdinUsed = true
	return b.stdin, nil
}

func (b *kvBuilder) add(raw string) error {
	if raw == "" {
		return nil
	}
	key, value, hasEq := strings.Cut(raw, "=")
	if !hasEq {
		switch {
		case raw == "-":
			r, err := b.readStdin()
			if err != nil {
				return err
			}
			return b.mergeJSON(r)
		case raw[0] == '@':
			f, err := os.Open(raw[1:])
			if err != nil {
				return err
			}
			defer f.Close()
			return b.mergeJSON(f)
		}
		return errors.New("format must be key=value")
	}

	switch {
	case strings.HasPrefix(value, "@"):
		contents, err := os.ReadFile(value[1:])
		if err != nil {
			return fmt.Errorf("error reading file: %w", err)
		}
		value = string(contents)
	case strings.HasPrefix(value, `\@`):
		value = value[1:]
	case value == "-":
		r, err := b.readStdin()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, r); err != nil {
			return err
		}
		value = buf.String()
	}

	if existing, ok := b.result[key]; ok {
		var list []interface{}
		switch e := existing.(type) {
		case []interface{}:
			list = e
		default:
			list = []interface{}{e}
		}
		b.result[key] = append(list, value)
		return nil
	}
	b.result[key] = value
	return nil
}

// mergeJSON decodes a JSON object from r into the result, keeping numbers as
// json.Number so that integers are sent back unchanged.
func (b *kvBuilder) mergeJSON(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var obj map[string]interface{}
	if err := dec.Decode(&obj); err != nil {
		return err
	}
	for k, v := range obj {
		b.result[k] = v
	}
	return nil
}

// parseArgsDataString is parseArgsData with every value converted to a
// string (lists are not allowed).
func parseArgsDataString(stdin io.Reader, args []string) (map[string]string, error) {
	raw, err := parseArgsData(stdin, args)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		s, err := weakString(v)
		if err != nil {
			return nil, fmt.Errorf("failed to convert values to strings: %q: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// parseArgsDataStringLists is parseArgsData with every value converted to a
// list of strings, the form query parameters take.
func parseArgsDataStringLists(stdin io.Reader, args []string) (map[string][]string, error) {
	raw, err := parseArgsData(stdin, args)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(raw))
	for k, v := range raw {
		items, ok := v.([]interface{})
		if !ok {
			items = []interface{}{v}
		}
		for _, item := range items {
			s, err := weakString(item)
			if err != nil {
				return nil, fmt.Errorf("failed to convert values to strings: %q: %w", k, err)
			}
			out[k] = append(out[k], s)
		}
	}
	return out, nil
}

func weakString(v interface{}) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		if t {
			return "1", nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("unsupported type %T", v)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
