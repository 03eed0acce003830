package audit

import (
	"context"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// SudoPaths are the audit paths (relative to "sys/") that need sudo, for
// the sys backend's special paths.
func SudoPaths() []string { return []string{"audit", "audit/*"} }

// Paths returns the sys/audit endpoints; patterns are relative to "sys/".
func Paths(b *Broker) []*framework.Path {
	h := &handlers{b: b}
	pathField := &framework.FieldSchema{Type: framework.TypeString, Description: "The path of the audit device."}
	return []*framework.Path{{
		Pattern:  "audit",
		Ops:      framework.Ops{logical.ReadOperation: h.list},
		Synopsis: "List the enabled audit devices.",
	}, {
		Pattern: "audit/" + framework.MatchNonEmptyRegex("path"),
		Fields: framework.Fields{
			"path":        pathField,
			"type":        {Type: framework.TypeString, Description: "The type of the audit device: file, syslog or socket."},
			"description": {Type: framework.TypeString, Description: "A human-friendly description of the audit device."},
			"options":     {Type: framework.TypeKVPairs, Description: "Configuration options of the audit device, all strings."},
			"local":       {Type: framework.TypeBool, Description: "Accepted for compatibility; every device is local to this cluster."},
		},
		Ops:         framework.Ops{logical.UpdateOperation: h.enable, logical.DeleteOperation: h.disable},
		Synopsis:    "Enable or disable an audit device.",
		Description: "PUT enables a device at the path with the given type and options; DELETE disables it.",
	}, {
		Pattern: "audit-hash/" + framework.MatchNonEmptyRegex("path"),
		Fields: framework.Fields{
			"path":  pathField,
			"input": {Type: framework.TypeString, Description: "The value to hash with the device's salt."},
		},
		Ops:         framework.Ops{logical.UpdateOperation: h.hash},
		Synopsis:    "Hash a value with the salt of an audit device.",
		Description: "Returns the HMAC the device writes for the input, so a known value can be found in the audit log.",
	}}
}

type handlers struct {
	b *Broker
}

func (h *handlers) list(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	data := map[string]interface{}{}
	for _, info := range h.b.List() {
		data[info.Path] = map[string]interface{}{
			"path":        info.Path,
			"type":        info.Type,
			"description": info.Description,
			"options":     info.Options,
			"local":       info.Local,
		}
	}
	return &logical.Response{Data: data}, nil
}

func (h *handlers) enable(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	err := h.b.Enable(ctx, d.String("path"), d.String("type"), d.String("description"), d.KVPairs("options"), d.Bool("local"))
	return nil, err
}

func (h *handlers) disable(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	return nil, h.b.Disable(ctx, d.String("path"))
}

func (h *handlers) hash(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	input := d.String("input")
	if input == "" {
		return nil, logical.InvalidRequest("the \"input\" parameter is empty")
	}
	sum, err := h.b.Hash(ctx, d.String("path"), input)
	if err != nil {
		return nil, err
	}
	return &logical.Response{Data: map[string]interface{}{"hash": sum}}, nil
}
