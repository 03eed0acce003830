package policy

// DefaultPolicyRules is the text of the built-in "default" policy. It grants
// what every token needs to manage itself: the same rules as Vault's default
// policy, minus the identity-templated entity paths.
const DefaultPolicyRules = `# The calling token may inspect, renew and revoke itself.
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

path "auth/token/renew-self" {
    capabilities = ["update"]
}

path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# The calling token may ask what it is allowed to do on a path.
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# The UI reads the combined ACL of the calling token from here.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Leases can be renewed (at the old and the new path) and looked up by
# anyone who holds the lease ID.
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Every token owns a private cubbyhole.
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Response wrapping: wrap data, inspect and unwrap wrapping tokens.
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Hashing helpers.
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Check on a control group request given its accessor.
path "sys/control-group/request" {
    capabilities = ["update"]
}

# Use the authorization endpoint of identity OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
`

// responseWrappingRules is the fixed policy of response-wrapping tokens.
const responseWrappingRules = `path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
`

// RootPolicy returns the built-in root policy: it has no rules and an ACL
// built from it allows everything.
func RootPolicy() *Policy {
	return &Policy{Name: RootPolicyName}
}

// DefaultPolicy returns the built-in default policy, parsed.
func DefaultPolicy() *Policy {
	return mustParse(DefaultPolicyName, DefaultPolicyRules)
}

// ResponseWrappingPolicy returns the fixed policy given to
// response-wrapping tokens.
func ResponseWrappingPolicy() *Policy {
	return mustParse(ResponseWrappingPolicyName, responseWrappingRules)
}

func mustParse(name, rules string) *Policy {
	p, err := Parse(name, rules)
	if err != nil {
		// The built-in texts are constants covered by tests.
		panic(err)
	}
	return p
}
