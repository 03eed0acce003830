package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	hclparser "github.com/hashicorp/hcl/hcl/parser"
	"github.com/hashicorp/hcl/hcl/token"
)

// Parse parses policy rules written in HCL (or the JSON form of HCL) into a
// Policy named name. Errors name the line and what is wrong, e.g.
//
//	failed to parse policy: line 3: invalid capability "reed" on path "secret/*"; accepted: create, read, ...
func Parse(name, rules string) (*Policy, error) {
	p, err := parse(name, rules)
	if err != nil {
		return nil, fmt.Errorf("failed to parse policy: %w", err)
	}
	return p, nil
}

func parse(name, rules string) (*Policy, error) {
	file, err := hcl.ParseString(rules)
	if err != nil {
		var pe *hclparser.PosError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d, column %d: %w", pe.Pos.Line, pe.Pos.Column, pe.Err)
		}
		return nil, err
	}
	list, ok := file.Node.(*ast.ObjectList)
	if !ok {
		return nil, errors.New("does not contain a root object")
	}
	p := &Policy{Name: normalizeName(name), Raw: rules}
	for _, item := range list.Items {
		line := itemLine(item, 0)
		key, err := keyText(item.Keys[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		switch key {
		case "name":
			if _, ok := literal(item.Val, token.STRING); !ok || len(item.Keys) != 1 {
				return nil, fmt.Errorf("line %d: \"name\" must be a string", line)
			}
		case "path":
			if err := p.addPathItem(item, line); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("line %d: unknown key %q; accepted: path, name", line, key)
		}
	}
	return p, nil
}

// addPathItem handles `path "x" { ... }` as well as `path = { "x" = { ... } }`
// and the JSON form `{"path": {"x": {...}}}`.
func (p *Policy) addPathItem(item *ast.ObjectItem, line int) error {
	switch len(item.Keys) {
	case 2:
		path, err := keyText(item.Keys[1])
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		return p.addPath(path, item.Val, line)
	case 1:
		obj, ok := item.Val.(*ast.ObjectType)
		if !ok {
			return fmt.Errorf("line %d: \"path\" must be followed by a quoted path and a block", line)
		}
		for _, sub := range obj.List.Items {
			subLine := itemLine(sub, line)
			if len(sub.Keys) != 1 {
				return fmt.Errorf("line %d: \"path\" must be followed by a quoted path and a block", subLine)
			}
			path, err := keyText(sub.Keys[0])
			if err != nil {
				return fmt.Errorf("line %d: %w", subLine, err)
			}
			if err := p.addPath(path, sub.Val, subLine); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("line %d: \"path\" takes exactly one quoted path before its block", line)
	}
}

var pathKeys = map[string]bool{
	"comment": true, "policy": true, "capabilities": true,
	"allowed_parameters": true, "denied_parameters": true, "required_parameters": true,
	"min_wrapping_ttl": true, "max_wrapping_ttl": true,
}

const acceptedPathKeys = "capabilities, policy, allowed_parameters, denied_parameters, required_parameters, min_wrapping_ttl, max_wrapping_ttl, comment"

func (p *Policy) addPath(path string, val ast.Node, line int) error {
	obj, ok := val.(*ast.ObjectType)
	if !ok {
		return fmt.Errorf("line %d: path %q must be followed by a block { ... }", line, path)
	}
	pr, err := checkPath(path, line)
	if err != nil {
		return err
	}
	pr.Line = line
	if pr.Templated {
		p.Templated = true
	}
	var minSet, maxSet bool
	seen := map[string]bool{}
	for _, item := range obj.List.Items {
		iline := itemLine(item, line)
		if len(item.Keys) != 1 {
			return fmt.Errorf("line %d: unexpected block inside path %q", iline, path)
		}
		key, err := keyText(item.Keys[0])
		if err != nil {
			return fmt.Errorf("line %d: %w", iline, err)
		}
		switch key {
		case "mfa_methods", "control_group":
			return fmt.Errorf("line %d: %q on path %q is not supported", iline, key, path)
		}
		if !pathKeys[key] {
			return fmt.Errorf("line %d: unknown key %q on path %q; accepted: %s", iline, key, path, acceptedPathKeys)
		}
		if seen[key] {
			return fmt.Errorf("line %d: duplicate key %q on path %q", iline, key, path)
		}
		seen[key] = true
		switch key {
		case "comment":
			if _, ok := literal(item.Val, token.STRING); !ok {
				return fmt.Errorf("line %d: comment on path %q must be a string", iline, path)
			}
		case "policy":
			if err := pr.addLegacyPolicy(item.Val, iline); err != nil {
				return err
			}
		case "capabilities":
			if err := pr.addCapabilities(item.Val, iline); err != nil {
				return err
			}
		case "allowed_parameters", "denied_parameters":
			m, err := parseParams(key, path, item.Val, iline)
			if err != nil {
				return err
			}
			if key == "allowed_parameters" {
				pr.AllowedParameters = m
			} else {
				pr.DeniedParameters = m
			}
		case "required_parameters":
			req, err := parseRequired(path, item.Val, iline)
			if err != nil {
				return err
			}
			pr.RequiredParameters = req
		case "min_wrapping_ttl", "max_wrapping_ttl":
			d, err := parseTTL(item.Val)
			if err != nil {
				return fmt.Errorf("line %d: %s on path %q: %w", iline, key, path, err)
			}
			if key == "min_wrapping_ttl" {
				pr.MinWrappingTTL, minSet = d, true
			} else {
				pr.MaxWrappingTTL, maxSet = d, true
			}
		}
	}
	if minSet && maxSet && pr.MaxWrappingTTL != 0 && pr.MinWrappingTTL > pr.MaxWrappingTTL {
		return fmt.Errorf("line %d: min_wrapping_ttl (%s) on path %q is greater than max_wrapping_ttl (%s)",
			line, pr.MinWrappingTTL, path, pr.MaxWrappingTTL)
	}
	pr.finishCapabilities()
	p.Paths = append(p.Paths, pr)
	return nil
}

// checkPath validates the glob syntax of a policy path.
func checkPath(path string, line int) (*PathRules, error) {
	pr := &PathRules{Path: strings.TrimPrefix(path, "/")}
	p := pr.Path
	if strings.Contains(p, "{{") || strings.Contains(p, "}}") {
		if err := checkTemplate(p); err != nil {
			return nil, fmt.Errorf("line %d: invalid templating in path %q: %w", line, path, err)
		}
		pr.Templated = true
	}
	if i := strings.IndexByte(p, '*'); i >= 0 && i != len(p)-1 {
		return nil, fmt.Errorf("line %d: invalid glob in path %q: \"*\" is only allowed as the last character", line, path)
	}
	if strings.Contains(p, "+*") {
		return nil, fmt.Errorf("line %d: invalid glob in path %q: \"+*\" is not allowed", line, path)
	}
	body := strings.TrimSuffix(p, "*")
	for _, seg := range strings.Split(body, "/") {
		if seg == "+" {
			pr.HasSegmentWildcards = true
		} else if strings.Contains(seg, "+") {
			return nil, fmt.Errorf("line %d: invalid glob in path %q: \"+\" must be a whole path segment", line, path)
		}
	}
	pr.IsPrefix = strings.HasSuffix(p, "*")
	return pr, nil
}

func checkTemplate(p string) error {
	for rest := p; ; {
		open := strings.Index(rest, "{{")
		closeAt := strings.Index(rest, "}}")
		switch {
		case open < 0 && closeAt < 0:
			return nil
		case open < 0 || closeAt < open:
			return errors.New("unbalanced \"}}\"")
		}
		inner := strings.TrimSpace(rest[open+2 : closeAt])
		if inner == "" || strings.Contains(inner, "{{") {
			return errors.New("empty or nested template")
		}
		if !strings.HasPrefix(inner, "identity.") {
			return fmt.Errorf("unknown template %q", inner)
		}
		rest = rest[closeAt+2:]
	}
}

func (pr *PathRules) addLegacyPolicy(val ast.Node, line int) error {
	s, ok := literal(val, token.STRING)
	if !ok {
		return fmt.Errorf("line %d: policy on path %q must be a string", line, pr.Path)
	}
	switch s.(string) {
	case "deny":
		pr.Capabilities = append(pr.Capabilities, "deny")
	case "read":
		pr.Capabilities = append(pr.Capabilities, "read", "list")
	case "write":
		pr.Capabilities = append(pr.Capabilities, "create", "read", "update", "delete", "list")
	case "sudo":
		pr.Capabilities = append(pr.Capabilities, "create", "read", "update", "delete", "list", "sudo")
	default:
		return fmt.Errorf("line %d: invalid policy %q on path %q; accepted: read, write, deny, sudo", line, s, pr.Path)
	}
	return nil
}

func (pr *PathRules) addCapabilities(val ast.Node, line int) error {
	list, ok := val.(*ast.ListType)
	if !ok {
		return fmt.Errorf("line %d: capabilities on path %q must be a list of strings", line, pr.Path)
	}
	for _, n := range list.List {
		v, ok := literal(n, token.STRING)
		if !ok {
			return fmt.Errorf("line %d: capabilities on path %q must be a list of strings", nodeLine(n, line), pr.Path)
		}
		name := v.(string)
		if _, ok := capabilityBit(name); !ok {
			return fmt.Errorf("line %d: invalid capability %q on path %q; accepted: %s",
				nodeLine(n, line), name, pr.Path, acceptedCapabilities)
		}
		pr.Capabilities = append(pr.Capabilities, name)
	}
	return nil
}

// finishCapabilities computes the bitmap; deny drops everything else.
func (pr *PathRules) finishCapabilities() {
	var bits Capability
	for _, name := range pr.Capabilities {
		b, _ := capabilityBit(name)
		bits |= b
	}
	if bits&DenyCapability != 0 {
		pr.Permissions = Permissions{Capabilities: DenyCapability}
		pr.Capabilities = []string{"deny"}
		return
	}
	pr.Permissions.Capabilities = bits
	pr.Capabilities = bits.names()
}

// names lists the set bits in the documented order, deduplicated.
func (c Capability) names() []string {
	out := []string{}
	for _, n := range capabilityNames {
		if c&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func parseParams(key, path string, val ast.Node, line int) (map[string][]interface{}, error) {
	obj, ok := val.(*ast.ObjectType)
	if !ok {
		return nil, fmt.Errorf("line %d: %s on path %q must be a map of parameter names to lists of values", line, key, path)
	}
	out := make(map[string][]interface{}, len(obj.List.Items))
	for _, item := range obj.List.Items {
		iline := itemLine(item, line)
		if len(item.Keys) != 1 {
			return nil, fmt.Errorf("line %d: %s on path %q must be a map of parameter names to lists of values", iline, key, path)
		}
		name, err := keyText(item.Keys[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", iline, err)
		}
		if err := checkParamName(name, true); err != nil {
			return nil, fmt.Errorf("line %d: %s on path %q: %w", iline, key, path, err)
		}
		values, err := paramValues(item.Val, iline)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s on path %q: parameter %q: %w", nodeLine(item.Val, iline), key, path, name, err)
		}
		lower := strings.ToLower(name)
		if prev, ok := out[lower]; ok {
			// Names differing only in case: an empty list (any value) wins.
			if len(prev) == 0 || len(values) == 0 {
				values = []interface{}{}
			} else {
				values = append(prev, values...)
			}
		}
		out[lower] = values
	}
	return out, nil
}

func checkParamName(name string, wildcardOK bool) error {
	switch {
	case name == "":
		return errors.New("empty parameter name")
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("parameter %q: JSON pointer parameter names are not supported", name)
	case name == "*" && wildcardOK:
		return nil
	case strings.Contains(name, "*"):
		if !wildcardOK {
			return fmt.Errorf("parameter %q: wildcards are not allowed here", name)
		}
		return fmt.Errorf("parameter %q: \"*\" must be the whole parameter name", name)
	}
	return nil
}

// paramValues accepts a list of scalars (or a single scalar).
func paramValues(val ast.Node, line int) ([]interface{}, error) {
	var nodes []ast.Node
	switch v := val.(type) {
	case *ast.ListType:
		nodes = v.List
	case *ast.LiteralType:
		nodes = []ast.Node{v}
	default:
		return nil, errors.New("values must be a list of strings, numbers or booleans")
	}
	out := make([]interface{}, 0, len(nodes))
	for _, n := range nodes {
		lit, ok := n.(*ast.LiteralType)
		if !ok {
			return nil, errors.New("values must be a list of strings, numbers or booleans")
		}
		switch lit.Token.Type {
		case token.STRING, token.HEREDOC, token.NUMBER, token.FLOAT, token.BOOL:
			out = append(out, lit.Token.Value())
		default:
			return nil, fmt.Errorf("unsupported value %s", lit.Token.Text)
		}
	}
	return out, nil
}

func parseRequired(path string, val ast.Node, line int) ([]string, error) {
	list, ok := val.(*ast.ListType)
	if !ok {
		return nil, fmt.Errorf("line %d: required_parameters on path %q must be a list of strings", line, path)
	}
	out := make([]string, 0, len(list.List))
	for _, n := range list.List {
		v, ok := literal(n, token.STRING)
		if !ok {
			return nil, fmt.Errorf("line %d: required_parameters on path %q must be a list of strings", nodeLine(n, line), path)
		}
		if err := checkParamName(v.(string), false); err != nil {
			return nil, fmt.Errorf("line %d: required_parameters on path %q: %w", nodeLine(n, line), path, err)
		}
		out = append(out, v.(string))
	}
	return out, nil
}

// parseTTL accepts a number of seconds or a duration string ("90s", "5m",
// "1h", "2d", or a bare number of seconds).
func parseTTL(val ast.Node) (time.Duration, error) {
	lit, ok := val.(*ast.LiteralType)
	if !ok {
		return 0, errors.New("must be a duration such as \"300s\" or a number of seconds")
	}
	var d time.Duration
	switch v := lit.Token.Value().(type) {
	case int64:
		d = time.Duration(v) * time.Second
	case float64:
		d = time.Duration(v * float64(time.Second))
	case string:
		var err error
		if d, err = parseDuration(v); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("must be a duration such as \"300s\" or a number of seconds")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
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

// keyText returns the text of an object key (identifier or quoted string).
func keyText(k *ast.ObjectKey) (string, error) {
	switch v := k.Token.Value().(type) {
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("invalid key %s", k.Token.Text)
	}
}

// literal returns the value of a literal node of the given token type.
func literal(n ast.Node, typ token.Type) (interface{}, bool) {
	lit, ok := n.(*ast.LiteralType)
	if !ok {
		return nil, false
	}
	if lit.Token.Type != typ && !(typ == token.STRING && lit.Token.Type == token.HEREDOC) {
		return nil, false
	}
	return lit.Token.Value(), true
}

// itemLine is the line an item starts on; the JSON parser does not record
// key positions, so fall back to the assignment, then to the parent's line.
func itemLine(item *ast.ObjectItem, fallback int) int {
	if len(item.Keys) > 0 && item.Keys[0].Token.Pos.Line > 0 {
		return item.Keys[0].Token.Pos.Line
	}
	if item.Assign.Line > 0 {
		return item.Assign.Line
	}
	return fallback
}

func nodeLine(n ast.Node, fallback int) int {
	if l := n.Pos().Line; l > 0 {
		return l
	}
	return fallback
}
