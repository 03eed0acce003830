package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/logical"
)

// benchPolicies returns five policies with ten paths each, mixing exact,
// prefix and segment-wildcard rules as real deployments do.
func benchPolicies(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for i := 0; i < 5; i++ {
		var b strings.Builder
		for j := 0; j < 10; j++ {
			switch j % 5 {
			case 0:
				fmt.Fprintf(&b, "path \"secret/data/team%d/app%d/*\" { capabilities = [\"create\", \"read\", \"update\"] }\n", i, j)
			case 1:
				fmt.Fprintf(&b, "path \"secret/metadata/team%d/app%d/*\" { capabilities = [\"list\", \"read\"] }\n", i, j)
			case 2:
				fmt.Fprintf(&b, "path \"database/creds/role%d-%d\" { capabilities = [\"read\"] }\n", i, j)
			case 3:
				fmt.Fprintf(&b, "path \"pki%d/issue/+\" { capabilities = [\"update\"] allowed_parameters = { \"common_name\" = [\"*.team%d.example.com\"] \"ttl\" = [] } }\n", j, i)
			case 4:
				fmt.Fprintf(&b, "path \"transit/+/key%d-%d\" { capabilities = [\"update\"] }\n", i, j)
			}
		}
		out = append(out, b.String())
	}
	return out
}

func BenchmarkACLAllow(b *testing.B) {
	rules := benchPolicies(b)
	acl := mustACL(b, append(rules, DefaultPolicyRules)...)
	data := map[string]interface{}{"common_name": "api.team2.example.com", "ttl": "1h"}
	b.Run("prefix", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if !acl.AllowOperation(logical.ReadOperation, "secret/data/team3/app5/config", nil, 0).Allowed {
				b.Fatal("denied")
			}
		}
	})
	b.Run("exact", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if !acl.AllowOperation(logical.ReadOperation, "database/creds/role2-7", nil, 0).Allowed {
				b.Fatal("denied")
			}
		}
	})
	b.Run("wildcard-params", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if !acl.AllowOperation(logical.UpdateOperation, "pki3/issue/web", data, 0).Allowed {
				b.Fatal("denied")
			}
		}
	})
	b.Run("denied", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if acl.AllowOperation(logical.ReadOperation, "sys/mounts", nil, 0).Allowed {
				b.Fatal("allowed")
			}
		}
	})
}

func BenchmarkStoreACL(b *testing.B) {
	ctx := context.Background()
	s := NewStore(logical.NewInmemStorage())
	for i, r := range benchPolicies(b) {
		if err := s.Set(ctx, fmt.Sprintf("team-%d", i), r); err != nil {
			b.Fatal(err)
		}
	}
	names := []string{"default", "team-0", "team-3"}
	if _, err := s.ACL(ctx, names...); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.ACL(ctx, names...); err != nil {
			b.Fatal(err)
		}
	}
}
