package logical

import "time"

// HTTPResponse is Vault's JSON response envelope. The HTTP layer sends it;
// response wrapping stores it so that unwrapping returns the original
// response byte for byte in shape.
type HTTPResponse struct {
	RequestID     string                 `json:"request_id"`
	LeaseID       string                 `json:"lease_id"`
	Renewable     bool                   `json:"renewable"`
	LeaseDuration int64                  `json:"lease_duration"`
	Data          map[string]interface{} `json:"data"`
	WrapInfo      *HTTPWrapInfo          `json:"wrap_info"`
	Warnings      []string               `json:"warnings"`
	Auth          *HTTPAuth              `json:"auth"`
	MountType     string                 `json:"mount_type"`
}

// HTTPAuth is the "auth" block of the envelope.
type HTTPAuth struct {
	ClientToken    string            `json:"client_token"`
	Accessor       string            `json:"accessor"`
	Policies       []string          `json:"policies"`
	TokenPolicies  []string          `json:"token_policies"`
	Metadata       map[string]string `json:"metadata"`
	LeaseDuration  int64             `json:"lease_duration"`
	Renewable      bool              `json:"renewable"`
	EntityID       string            `json:"entity_id"`
	TokenType      string            `json:"token_type"`
	Orphan         bool              `json:"orphan"`
	MFARequirement interface{}       `json:"mfa_requirement"`
	NumUses        int               `json:"num_uses"`
}

// HTTPWrapInfo is the "wrap_info" block of the envelope.
type HTTPWrapInfo struct {
	Token           string `json:"token"`
	Accessor        string `json:"accessor"`
	TTL             int64  `json:"ttl"`
	CreationTime    string `json:"creation_time"`
	CreationPath    string `json:"creation_path"`
	WrappedAccessor string `json:"wrapped_accessor,omitempty"`
	Format          string `json:"format,omitempty"`
}

// ToHTTP builds the envelope for a response.
func ToHTTP(reqID, mountType string, resp *Response) *HTTPResponse {
	out := &HTTPResponse{RequestID: reqID, Data: resp.Data, Warnings: resp.Warnings, MountType: mountType}
	if s := resp.Secret; s != nil {
		out.LeaseID = s.LeaseID
		out.Renewable = s.Renewable
		out.LeaseDuration = int64(s.TTL / time.Second)
	}
	if a := resp.Auth; a != nil {
		policies := a.Policies
		if policies == nil {
			policies = []string{}
		}
		tp := a.TokenPolicies
		if tp == nil {
			tp = policies
		}
		tt := a.TokenType
		if tt == "" {
			tt = "service"
		}
		out.Auth = &HTTPAuth{
			ClientToken: a.ClientToken, Accessor: a.Accessor, Policies: policies, TokenPolicies: tp,
			Metadata: a.Metadata, LeaseDuration: int64(a.TTL / time.Second), Renewable: a.Renewable,
			EntityID: a.EntityID, TokenType: tt, Orphan: a.Orphan, NumUses: a.NumUses,
		}
	}
	if wi := resp.WrapInfo; wi != nil {
		out.WrapInfo = &HTTPWrapInfo{
			Token: wi.Token, Accessor: wi.Accessor, TTL: int64(wi.TTL / time.Second),
			CreationTime: wi.CreationTime.UTC().Format(time.RFC3339Nano), CreationPath: wi.CreationPath,
			WrappedAccessor: wi.WrappedAccessor, Format: wi.Format,
		}
		out.Data = nil
	}
	return out
}
