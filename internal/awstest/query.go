package awstest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// queryHandler serves one Query API action. caller is the authenticated
// access key (a copy). A nil result answers with an empty result element.
type queryHandler func(s *Server, caller *accessKey, p url.Values) (any, *apiError)

// emptyResult answers actions that return no data. Every result type has
// an XMLName field, which the writer sets to "<Action>Result".
type emptyResult struct {
	XMLName xml.Name
}

// setResultName names a result's element through its XMLName field.
func setResultName(res any, name string) {
	v := reflect.ValueOf(res)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if f := v.FieldByName("XMLName"); f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(xml.Name{Local: name}))
	}
}

type queryEnvelope struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	Result    any
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type errorEnvelope struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// serveQuery handles the IAM and STS Query APIs: form-encoded parameters
// with Action and Version, answered in XML.
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, body []byte) {
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			s.writeQueryError(w, iamNamespace, &apiError{Code: "MalformedQueryString", Message: err.Error()})
			return
		}
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}
	action := params.Get("Action")
	service := actionService(action)
	ns, version := iamNamespace, iamVersion
	if service == "sts" {
		ns, version = stsNamespace, stsVersion
	}
	if action == "" {
		s.writeQueryError(w, ns, &apiError{Code: "MissingAction", Message: "Missing Action"})
		return
	}
	if s.begin(action) {
		s.writeQueryError(w, ns, &apiError{Code: "ServiceUnavailable", Message: "Service is unavailable. Please try again later."})
		return
	}
	if service == "" || params.Get("Version") != version {
		s.writeQueryError(w, ns, &apiError{Code: "InvalidAction", Message: fmt.Sprintf("Could not find operation %s for version %s", action, params.Get("Version"))})
		return
	}
	caller, aerr := s.authenticate(r, body, service)
	if aerr != nil {
		s.writeQueryError(w, ns, aerr)
		return
	}
	if code := s.injected(action); code != "" {
		s.writeQueryError(w, ns, &apiError{Code: code, Message: "injected failure of " + action})
		return
	}
	h := iamActions[action]
	if h == nil {
		h = stsActions[action]
	}
	res, aerr := h(s, caller, params)
	if aerr != nil {
		s.writeQueryError(w, ns, aerr)
		return
	}
	if res == nil {
		res = &emptyResult{}
	}
	setResultName(res, action+"Result")
	env := queryEnvelope{XMLName: xml.Name{Local: action + "Response"}, Xmlns: ns, Result: res, RequestID: s.requestID()}
	s.writeXML(w, http.StatusOK, env)
}

func (s *Server) writeQueryError(w http.ResponseWriter, ns string, e *apiError) {
	st := statusOf(e.Code)
	typ := "Sender"
	if st >= 500 {
		typ = "Receiver"
	}
	s.writeXML(w, st, errorEnvelope{Xmlns: ns, Type: typ, Code: e.Code, Message: e.Message, RequestID: s.requestID()})
}

func (s *Server) writeXML(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", s.requestID())
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// members reads a Query API list: prefix.member.1, prefix.member.2, ...
// When field is set, the entries are structures and field names the
// member's field to read (e.g. "Tags", "Key").
func members(p url.Values, prefix, field string) []string {
	var out []string
	for i := 1; ; i++ {
		k := prefix + ".member." + strconv.Itoa(i)
		if field != "" {
			k += "." + field
		}
		v, ok := p[k]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// tagsParam reads Tags.member.N.Key/Value pairs.
func tagsParam(p url.Values, prefix string) (map[string]string, *apiError) {
	keys := members(p, prefix, "Key")
	vals := members(p, prefix, "Value")
	if len(keys) == 0 {
		return nil, nil
	}
	if len(keys) > 50 {
		return nil, validationError("tags", "Member must have length less than or equal to 50")
	}
	out := map[string]string{}
	for i, k := range keys {
		v := ""
		if i < len(vals) {
			v = vals[i]
		}
		if k == "" || len(k) > 128 || len(v) > 256 {
			return nil, validationError("tags", "Tag keys must be 1-128 and values 0-256 characters")
		}
		out[k] = v
	}
	return out, nil
}

func validationError(field, constraint string) *apiError {
	return &apiError{Code: "ValidationError", Message: fmt.Sprintf("1 validation error detected: Value at '%s' failed to satisfy constraint: %s", field, constraint)}
}

// xmlTag is a Key/Value member of a Tags list.
type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func xmlTags(m map[string]string) []xmlTag {
	out := make([]xmlTag, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, xmlTag{Key: k, Value: m[k]})
	}
	return out
}

// queryEscape encodes a policy document the way IAM returns it.
func queryEscape(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}
