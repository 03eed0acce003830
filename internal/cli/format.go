package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"gopkg.in/yaml.v3"
)

// outputSecret prints a response in the selected format.
func (m *meta) outputSecret(s *api.Secret) int {
	return m.outputWithFormat(s, s)
}

// outputList prints the "keys" of a LIST response.
func (m *meta) outputList(s *api.Secret) int {
	var keys interface{}
	if s != nil && s.Data != nil {
		keys = s.Data["keys"]
	}
	return m.outputWithFormat(s, keys)
}

// outputData prints any value: maps as Key/Value tables, structs as
// JSON or YAML.
func (m *meta) outputData(v interface{}) int {
	return m.outputWithFormat(nil, v)
}

func (m *meta) outputWithFormat(secret *api.Secret, data interface{}) int {
	var err error
	switch m.format() {
	case "json":
		var b []byte
		if b, err = formatJSON(data); err == nil {
			m.output(string(b))
		}
	case "yaml", "yml":
		var b []byte
		if b, err = formatYAML(data); err == nil {
			m.output(string(b))
		}
	case "table":
		err = m.outputTable(secret, data)
	case "raw":
		b, ok := data.([]byte)
		if !ok {
			err = errors.New("This command does not support the -format=raw option; only `read` does.")
			break
		}
		m.output(string(b))
	default:
		m.errorf("Invalid output format: %s", m.format())
		return 1
	}
	if err != nil {
		m.errorf("Could not parse output: %s", err)
		return 1
	}
	return 0
}

// formatJSON renders data as Vault does: two-space indented JSON.
func formatJSON(data interface{}) ([]byte, error) {
	return json.MarshalIndent(data, "", "  ")
}

// formatYAML renders data as YAML with the field names of its JSON form.
func formatYAML(data interface{}) ([]byte, error) {
	j, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	var generic interface{}
	if err := yaml.Unmarshal(j, &generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

func (m *meta) outputTable(secret *api.Secret, data interface{}) error {
	switch d := data.(type) {
	case *api.Secret:
		m.printWarnings(d)
		if out := tableSecret(d); out != "" {
			m.output(out)
		}
		return nil
	case []interface{}:
		m.printWarnings(secret)
		out, err := tableList(d)
		if err != nil {
			return err
		}
		if out != "" {
			m.output(out)
		}
		return nil
	case []string:
		if len(d) > 0 {
			m.output(tableOutput(d, ""))
		}
		return nil
	case map[string]interface{}:
		if out := tableMap(d); out != "" {
			m.output(out)
		}
		return nil
	case sealStatusOutput:
		m.output(tableSealStatus(d))
		return nil
	case nil:
		return nil
	}
	return errors.New("cannot use the table formatter for this type")
}

// printWarnings writes a response's warnings to stderr.
func (m *meta) printWarnings(s *api.Secret) {
	if w := warningsText(s); w != "" {
		fmt.Fprint(m.stderr, w)
	}
}

// warningsText renders the warnings block Vault prints before a table.
func warningsText(s *api.Secret) string {
	if s == nil || len(s.Warnings) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("WARNING! The following warnings were returned from Vault:\n\n")
	for _, w := range s.Warnings {
		b.WriteString(wrapAtLengthWithPadding("* "+w, 2))
		b.WriteString("\n\n")
	}
	return b.String()
}

func row(k string, v interface{}) string {
	return fmt.Sprintf("%s %s %v", k, rowDelim, v)
}

// tableSecret renders a response as a Key/Value table: lease rows first,
// then auth or wrapping information, then the data keys in order.
func tableSecret(s *api.Secret) string {
	if s == nil {
		return ""
	}
	var out []string
	if s.LeaseDuration > 0 {
		if s.LeaseID != "" {
			out = append(out,
				row("lease_id", s.LeaseID),
				row("lease_duration", humanDurationInt(s.LeaseDuration)),
				row("lease_renewable", s.Renewable))
		} else {
			out = append(out, row("refresh_interval", humanDurationInt(s.LeaseDuration)))
		}
	}
	if a := s.Auth; a != nil {
		out = append(out, row("token", a.ClientToken), row("token_accessor", a.Accessor))
		if a.LeaseDuration == 0 {
			out = append(out, row("token_duration", "∞"))
		} else {
			out = append(out, row("token_duration", humanDurationInt(a.LeaseDuration)))
		}
		out = append(out,
			row("token_renewable", a.Renewable),
			row("token_policies", fmt.Sprintf("%q", a.TokenPolicies)),
			row("identity_policies", fmt.Sprintf("%q", a.IdentityPolicies)),
			row("policies", fmt.Sprintf("%q", a.Policies)))
		for _, k := range sortedKeys(a.Metadata) {
			out = append(out, row("token_meta_"+k, a.Metadata[k]))
		}
	}
	if w := s.WrapInfo; w != nil {
		out = append(out,
			row("wrapping_token:", w.Token),
			row("wrapping_accessor:", w.Accessor),
			row("wrapping_token_ttl:", humanDurationInt(w.TTL)),
			row("wrapping_token_creation_time:", w.CreationTime.String()),
			row("wrapping_token_creation_path:", w.CreationPath))
		if w.WrappedAccessor != "" {
			out = append(out, row("wrapped_accessor:", w.WrappedAccessor))
		}
	}
	out = append(out, dataRows(s.Data)...)
	if len(out) == 0 {
		return ""
	}
	return tableOutput(append([]string{"Key" + rowDelim + "Value"}, out...), rowDelim)
}

func dataRows(data map[string]interface{}) []string {
	rows := make([]string, 0, len(data))
	for _, k := range sortedKeys(data) {
		v := data[k]
		if looksLikeDuration(k) {
			v = humanDurationInt(v)
		}
		rows = append(rows, row(k, v))
	}
	return rows
}

// tableMap renders a map as a Key/Value table.
func tableMap(data map[string]interface{}) string {
	rows := dataRows(data)
	if len(rows) == 0 {
		return ""
	}
	return tableOutput(append([]string{"Key" + rowDelim + "Value"}, rows...), rowDelim)
}

// tableList renders LIST keys, sorted, under a "Keys" header.
func tableList(list []interface{}) (string, error) {
	if len(list) == 0 {
		return "", nil
	}
	keys := make([]string, len(list))
	for i, v := range list {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%v is not a string", v)
		}
		keys[i] = s
	}
	sort.Strings(keys)
	return tableOutput(append([]string{"Keys"}, keys...), rowDelim), nil
}

// rawField extracts a named field from a response, knowing the names the
// table output gives to auth and wrapping information.
func rawField(s *api.Secret, field string) interface{} {
	switch {
	case s.Auth != nil:
		switch field {
		case "token":
			return s.Auth.ClientToken
		case "token_accessor":
			return s.Auth.Accessor
		case "token_duration":
			return s.Auth.LeaseDuration
		case "token_renewable":
			return s.Auth.Renewable
		case "token_policies":
			return s.Auth.TokenPolicies
		case "identity_policies":
			return s.Auth.IdentityPolicies
		case "policies":
			return s.Auth.Policies
		}
	case s.WrapInfo != nil:
		switch field {
		case "wrapping_token":
			return s.WrapInfo.Token
		case "wrapping_accessor":
			return s.WrapInfo.Accessor
		case "wrapping_token_ttl":
			return s.WrapInfo.TTL
		case "wrapping_token_creation_time":
			return s.WrapInfo.CreationTime.Format(time.RFC3339Nano)
		case "wrapping_token_creation_path":
			return s.WrapInfo.CreationPath
		case "wrapped_accessor":
			return s.WrapInfo.WrappedAccessor
		}
	default:
		switch field {
		case "lease_duration", "refresh_interval":
			return s.LeaseDuration
		case "lease_id":
			return s.LeaseID
		case "request_id":
			return s.RequestID
		case "renewable":
			return s.Renewable
		case "data":
			if v, ok := s.Data["data"]; ok {
				return v
			}
			return s.Data
		}
	}
	return s.Data[field]
}

// printRawField prints one field of a response (or map) and nothing else:
// strings as they are, other values in the selected format.
func (m *meta) printRawField(data interface{}, field string) int {
	var val interface{}
	switch d := data.(type) {
	case *api.Secret:
		val = rawField(d, field)
	case map[string]interface{}:
		val = d[field]
	}
	if val == nil {
		m.errorf("Field %q not present in secret", field)
		return 1
	}
	switch m.format() {
	case "", "table", "raw":
		return m.printRaw(fmt.Sprintf("%v", val))
	case "json":
		b, err := formatJSON(val)
		if err != nil {
			m.errorf("Error formatting output: %s", err)
			return 1
		}
		return m.printRaw(string(b))
	case "yaml", "yml":
		b, err := formatYAML(val)
		if err != nil {
			m.errorf("Error formatting output: %s", err)
			return 1
		}
		return m.printRaw(string(b))
	}
	m.errorf("Invalid output format: %s", m.format())
	return 1
}

// printRaw prints a value with no trailing newline unless stdout is a
// terminal, so it can be piped as is.
func (m *meta) printRaw(s string) int {
	if m.stdoutTTY {
		m.output(s)
	} else {
		fmt.Fprint(m.stdout, s)
	}
	return 0
}
