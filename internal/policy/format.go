package policy

import (
	"bytes"
	"fmt"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/hashicorp/hcl/hcl/printer"
	"github.com/hashicorp/hcl/hcl/token"
)

// Format validates policy rules and returns them in canonical HCL layout,
// as `policy fmt` prints them. JSON input is rewritten as HCL.
func Format(rules string) (string, error) {
	if _, err := Parse("", rules); err != nil {
		return "", err
	}
	file, err := hcl.ParseString(rules)
	if err != nil {
		return "", fmt.Errorf("failed to parse policy: %w", err)
	}
	if list, ok := file.Node.(*ast.ObjectList); ok {
		for _, item := range list.Items {
			unquoteKey(item.Keys[0])
			if obj, ok := item.Val.(*ast.ObjectType); ok && len(item.Keys) == 2 {
				for _, attr := range obj.List.Items {
					unquoteKey(attr.Keys[0])
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := printer.Fprint(&buf, file); err != nil {
		return "", fmt.Errorf("format policy: %w", err)
	}
	buf.WriteString("\n")
	return buf.String(), nil
}

// unquoteKey turns a quoted keyword key ("path", "capabilities", ...) into
// a bare identifier, as policies are usually written.
func unquoteKey(k *ast.ObjectKey) {
	if k.Token.Type != token.STRING {
		return
	}
	s, ok := k.Token.Value().(string)
	if !ok || (s != "path" && s != "name" && !pathKeys[s]) {
		return
	}
	k.Token.Type = token.IDENT
	k.Token.Text = s
	k.Token.JSON = false
}
