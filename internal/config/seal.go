package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/hcl/ast"
)

// Seal types.
const (
	SealShamir  = "shamir"
	SealAWSKMS  = "awskms"
	SealTransit = "transit"
)

// Audit device types.
const (
	AuditFile   = "file"
	AuditSyslog = "syslog"
	AuditSocket = "socket"
)

// seal reads one seal block. Apart from disabled, its keys belong to the
// seal implementation and are kept as strings; a Shamir seal has none.
func (d *decoder) seal(b block) *Seal {
	label := b.Labels[0]
	typ := strings.ToLower(label)
	switch typ {
	case SealShamir, SealAWSKMS, SealTransit:
	default:
		d.Add(b.At, "", "seal %q is not supported; use one of %q, %q, %q", label, SealShamir, SealAWSKMS, SealTransit)
		return nil
	}
	ctx := blockName("seal", label)
	s := &Seal{Type: typ, Options: map[string]string{}}
	for _, e := range b.Body {
		switch {
		case e.Key == "disabled":
			s.Disabled, _ = d.boolean(e, ctx)
		case typ == SealShamir:
			d.Add(e.At, ctx, "unknown key %q", e.Key)
		default:
			if v, ok := d.anyString(e, ctx); ok {
				s.Options[e.Key] = v
			}
		}
	}
	return s
}

// decodeAudit reads audit blocks in either of two forms:
//
//	audit "file" "to-stdout" { description = "..."  options { file_path = "stdout" } }
//	audit "file" { path = "file/"  file_path = "/var/log/audit.log" }
//
// In the second form every key but path and description is a device
// option. Paths are unique across all files.
func (l *loader) decodeAudit(d *decoder, e entry) {
	for _, b := range d.blocks(e, 1, "") {
		label := b.Labels[0]
		typ := strings.ToLower(label)
		switch typ {
		case AuditFile, AuditSyslog, AuditSocket:
		default:
			d.Add(b.At, "", "audit %q is not supported; use one of %q, %q, %q", label, AuditFile, AuditSyslog, AuditSocket)
			continue
		}
		ctx := blockName("audit", label)
		a := &Audit{Type: typ, Options: map[string]string{}}
		body := b.Body
		if len(body) == 1 && body[0].Key != "options" && isBlock(body[0]) {
			// audit "file" "path" { ... }: the only key is the path label.
			pe := body[0]
			a.Path = pe.Key
			ctx = fmt.Sprintf("audit %q %q", label, pe.Key)
			body = nil
			for _, pb := range d.blocks(pe, 0, ctx) {
				body = append(body, pb.Body...)
			}
		}
		l.auditBody(d, a, body, ctx)
		if a.Path == "" {
			a.Path = typ
		}
		a.Path = strings.Trim(a.Path, "/") + "/"
		if a.Path == "/" {
			d.Add(b.At, ctx, "path must not be empty")
			continue
		}
		if prev, dup := l.auditAt[a.Path]; dup {
			d.Add(b.At, ctx, "audit path %q is already used at %s", a.Path, prev)
			continue
		}
		l.auditAt[a.Path] = b.At
		l.cfg.Audits = append(l.cfg.Audits, a)
	}
}

func (l *loader) auditBody(d *decoder, a *Audit, body []entry, ctx string) {
	for _, e := range body {
		switch e.Key {
		case "path":
			if v, ok := d.str(e, ctx); ok {
				a.Path = v
			}
		case "description":
			a.Description, _ = d.str(e, ctx)
		case "type":
			d.Add(e.At, ctx, "type is given by the block label")
		case "options":
			for _, ob := range d.blocks(e, 0, ctx) {
				for _, oe := range ob.Body {
					if v, ok := d.anyString(oe, ctx+": options"); ok {
						a.Options[oe.Key] = v
					}
				}
			}
		default:
			if v, ok := d.anyString(e, ctx); ok {
				a.Options[e.Key] = v
			}
		}
	}
}

// isBlock reports whether an entry holds a body rather than a value.
func isBlock(e entry) bool {
	if len(e.Rest) > 0 {
		return true
	}
	switch e.Val.(type) {
	case *ast.ObjectType, *ast.ListType:
		return true
	}
	return false
}
