package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// groupPolicies returns the inline policy documents and the attached
// managed policy ARNs of IAM groups.
func groupPolicies(ctx context.Context, c *iam.Client, groups []string) (docs, arns []string, err error) {
	for _, g := range groups {
		ap := iam.NewListAttachedGroupPoliciesPaginator(c, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(g)})
		for ap.HasMorePages() {
			page, err := ap.NextPage(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("group %s: %w", g, err)
			}
			for _, p := range page.AttachedPolicies {
				arns = append(arns, aws.ToString(p.PolicyArn))
			}
		}
		ip := iam.NewListGroupPoliciesPaginator(c, &iam.ListGroupPoliciesInput{GroupName: aws.String(g)})
		for ip.HasMorePages() {
			page, err := ip.NextPage(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("group %s: %w", g, err)
			}
			for _, name := range page.PolicyNames {
				out, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: aws.String(g), PolicyName: aws.String(name)})
				if err != nil {
					return nil, nil, fmt.Errorf("group %s policy %s: %w", g, name, err)
				}
				// IAM returns policy documents URL-encoded.
				doc, err := url.QueryUnescape(aws.ToString(out.PolicyDocument))
				if err != nil {
					return nil, nil, fmt.Errorf("group %s policy %s: %w", g, name, err)
				}
				docs = append(docs, doc)
			}
		}
	}
	return docs, arns, nil
}

// statements is a policy's Statement, which may be one object or a list.
type statements []interface{}

func (s *statements) UnmarshalJSON(b []byte) error {
	var v interface{}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if list, ok := v.([]interface{}); ok {
		*s = list
	} else if v != nil {
		*s = statements{v}
	}
	return nil
}

type policyDocument struct {
	Version   string     `json:"Version"`
	Statement statements `json:"Statement"`
}

// combinePolicyDocuments merges the statements of several policies into
// one document; empty documents are skipped.
func combinePolicyDocuments(docs ...string) (string, error) {
	out := policyDocument{Version: "2012-10-17", Statement: statements{}}
	for _, d := range docs {
		if d == "" {
			continue
		}
		var p policyDocument
		if err := json.Unmarshal([]byte(d), &p); err != nil {
			return "", fmt.Errorf("cannot combine policy documents: %w", err)
		}
		out.Statement = append(out.Statement, p.Statement...)
	}
	b, err := json.Marshal(out)
	return string(b), err
}
