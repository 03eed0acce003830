package audit

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"sort"
)

// jsonxHeader opens a JSONx document (IBM's XML rendering of JSON, the
// form Vault writes with format=jsonx).
const jsonxHeader = `<?xml version="1.0" encoding="UTF-8"?>` +
	`<json:object xsi:schemaLocation="http://www.datapower.com/schemas/json jsonx.xsd"` +
	` xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"` +
	` xmlns:json="http://www.ibm.com/xmlns/prod/2009/jsonx">`

// writeJSONx writes v as one line of JSONx: object members sorted by
// name, then a newline.
func writeJSONx(buf *bytes.Buffer, v interface{}) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic map[string]interface{}
	if err := dec.Decode(&generic); err != nil {
		return err
	}
	buf.WriteString(jsonxHeader)
	if err := jsonxMembers(buf, generic); err != nil {
		return err
	}
	buf.WriteString("</json:object>\n")
	return nil
}

func jsonxMembers(buf *bytes.Buffer, m map[string]interface{}) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := jsonxValue(buf, k, true, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func jsonxValue(buf *bytes.Buffer, name string, named bool, v interface{}) error {
	open := func(tag string) {
		buf.WriteString("<json:" + tag)
		if named {
			buf.WriteString(` name="`)
			_ = xml.EscapeText(buf, []byte(name))
			buf.WriteString(`"`)
		}
	}
	switch t := v.(type) {
	case nil:
		open("null")
		buf.WriteString("/>")
	case bool:
		open("boolean")
		fmt.Fprintf(buf, ">%t</json:boolean>", t)
	case json.Number:
		open("number")
		buf.WriteString(">" + t.String() + "</json:number>")
	case string:
		open("string")
		buf.WriteString(">")
		_ = xml.EscapeText(buf, []byte(t))
		buf.WriteString("</json:string>")
	case map[string]interface{}:
		open("object")
		buf.WriteString(">")
		if err := jsonxMembers(buf, t); err != nil {
			return err
		}
		buf.WriteString("</json:object>")
	case []interface{}:
		open("array")
		buf.WriteString(">")
		for _, e := range t {
			if err := jsonxValue(buf, "", false, e); err != nil {
				return err
			}
		}
		buf.WriteString("</json:array>")
	default:
		return fmt.Errorf("jsonx: unexpected value of type %T", v)
	}
	return nil
}
