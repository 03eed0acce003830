package aws

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/coffer-dev/coffer/internal/logical"
	"github.com/coffer-dev/coffer/internal/logical/framework"
)

// walUser is the write-ahead record of an IAM user about to be created.
type walUser struct {
	UserName string
}

func (b *backend) accessKeysSecret() *framework.Secret {
	return &framework.Secret{
		Type: secretAccessKeys,
		Fields: framework.Fields{
			"access_key":     {Type: framework.TypeString, Description: "Access key ID."},
			"secret_key":     {Type: framework.TypeString, Description: "Secret access key."},
			"security_token": {Type: framework.TypeString, Description: "Session token of STS credentials."},
		},
		Renew:  b.renewCreds,
		Revoke: b.revokeCreds,
	}
}

func (b *backend) secret() *framework.Secret { return b.Backend.Secrets[0] }

// createIAMUser creates an IAM user for the role with its policies, groups
// and tags, and an access key. A write-ahead record names the user before
// it is created; the core deletes it once the lease is stored. If a step
// fails, whatever was created is removed at once.
func (b *backend) createIAMUser(ctx context.Context, req *logical.Request, tmpl, roleName string, role *roleEntry) (*logical.Response, error) {
	client, err := b.iamClient(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	username, err := generateUsername(tmpl, usernameData{Type: "IAM", DisplayName: normalizeName(req.DisplayName), PolicyName: normalizeName(roleName)})
	if err != nil {
		return nil, err
	}
	walID, err := framework.PutWAL(ctx, req.Storage, walKindUser, &walUser{UserName: username})
	if err != nil {
		return nil, fmt.Errorf("error writing WAL entry: %w", err)
	}
	path := role.UserPath
	if path == "" {
		path = "/"
	}
	in := &iam.CreateUserInput{UserName: aws.String(username), Path: aws.String(path)}
	if role.PermissionsBoundaryARN != "" {
		in.PermissionsBoundary = aws.String(role.PermissionsBoundaryARN)
	}
	for _, k := range sortedKeys(role.IAMTags) {
		in.Tags = append(in.Tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(role.IAMTags[k])})
	}
	if _, err := client.CreateUser(ctx, in); err != nil {
		if errorCode(err) == "EntityAlreadyExists" {
			// Not ours: the record must not lead to its deletion.
			_ = framework.DeleteWAL(ctx, req.Storage, walID)
			return nil, logical.InvalidRequest("Error creating IAM user: %v", err)
		}
		return nil, b.abandonUser(ctx, req.Storage, client, walID, username, "Error creating IAM user", err)
	}
	for _, arn := range role.PolicyArns {
		if _, err := client.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(username), PolicyArn: aws.String(arn)}); err != nil {
			return nil, b.abandonUser(ctx, req.Storage, client, walID, username, "Error attaching user policy", err)
		}
	}
	if role.PolicyDocument != "" {
		if _, err := client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(username), PolicyName: aws.String(roleName), PolicyDocument: aws.String(role.PolicyDocument)}); err != nil {
			return nil, b.abandonUser(ctx, req.Storage, client, walID, username, "Error putting user policy", err)
		}
	}
	for _, g := range role.IAMGroups {
		if _, err := client.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: aws.String(username), GroupName: aws.String(g)}); err != nil {
			return nil, b.abandonUser(ctx, req.Storage, client, walID, username, "Error adding user to group", err)
		}
	}
	key, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(username)})
	if err != nil {
		return nil, b.abandonUser(ctx, req.Storage, client, walID, username, "Error creating access keys", err)
	}
	resp := b.secret().Response(map[string]interface{}{
		"access_key":     aws.ToString(key.AccessKey.AccessKeyId),
		"secret_key":     aws.ToString(key.AccessKey.SecretAccessKey),
		"security_token": nil,
	}, map[string]interface{}{
		"username":               username,
		"policy":                 roleName,
		"is_sts":                 false,
		framework.WALInternalKey: walID,
	})
	lc, err := readLeaseConfig(ctx, req.Storage)
	if err != nil {
		b.logger.Warn("could not read config/lease; using the mount's TTLs", "error", err)
	}
	if lc != nil {
		// A zero TTL takes the mount's default, capped by lease_max.
		ttl := lc.Lease
		if ttl == 0 {
			ttl, _ = b.sysTTLs()
		}
		if lc.LeaseMax > 0 && ttl > lc.LeaseMax {
			ttl = lc.LeaseMax
		}
		resp.Secret.TTL, resp.Secret.MaxTTL = ttl, lc.LeaseMax
	}
	return resp, nil
}

// abandonUser removes a half-created user after a failed step. The
// write-ahead record is dropped only once the user is known to be gone;
// otherwise rollback retries later.
func (b *backend) abandonUser(ctx context.Context, s logical.Storage, client *iam.Client, walID, username, what string, cause error) error {
	if err := deleteIAMUser(ctx, client, username); err != nil {
		b.logger.Warn("could not remove a half-created IAM user; rollback will retry", "user", username, "error", err)
	} else if err := framework.DeleteWAL(ctx, s, walID); err != nil {
		b.logger.Warn("could not delete write-ahead record", "user", username, "error", err)
	}
	return logical.InvalidRequest("%s: %v", what, cause)
}

// renewCreds extends an iam_user lease by config/lease (the increment if
// asked), within lease_max from issue and the mount's max TTL.
func (b *backend) renewCreds(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	if isSTS, _ := req.Secret.InternalData["is_sts"].(bool); isSTS {
		return nil, logical.InvalidRequest("STS credentials cannot be renewed")
	}
	lc, err := readLeaseConfig(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	if lc == nil {
		lc = &leaseConfig{}
	}
	def, max := b.sysTTLs()
	ttl, warns, err := framework.CalculateTTL(def, max, req.Secret.Increment, lc.Lease, lc.LeaseMax, req.Secret.IssueTime, b.now())
	if err != nil {
		return nil, err
	}
	s := *req.Secret
	s.TTL, s.MaxTTL = ttl, lc.LeaseMax
	return &logical.Response{Secret: &s, Warnings: warns}, nil
}

// revokeCreds deletes the IAM user behind an iam_user lease. STS
// credentials cannot be revoked and expire on their own.
func (b *backend) revokeCreds(ctx context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	if raw, ok := req.Secret.InternalData["is_sts"]; ok {
		isSTS, ok := raw.(bool)
		if !ok {
			return nil, errors.New("secret has is_sts but value could not be understood")
		}
		if isSTS {
			return nil, nil
		}
	}
	username, _ := req.Secret.InternalData["username"].(string)
	if username == "" {
		return nil, errors.New("secret is missing username internal data")
	}
	client, err := b.iamClient(ctx, req.Storage)
	if err != nil {
		return nil, err
	}
	if err := deleteIAMUser(ctx, client, username); err != nil {
		return nil, fmt.Errorf("revoke IAM user %q: %w", username, err)
	}
	return nil, nil
}

// deleteIAMUser removes a user and everything that keeps IAM from deleting
// it: access keys, attached and inline policies, group memberships. Parts
// already gone are skipped; any other failure is returned so the caller
// retries. Success is verified: GetUser must answer NoSuchEntity.
func deleteIAMUser(ctx context.Context, c *iam.Client, username string) error {
	name := aws.String(username)
	var keys, attached, inline, groups []string
	kp := iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: name})
	for kp.HasMorePages() {
		page, err := kp.NextPage(ctx)
		if isNoSuchEntity(err) {
			// The user looks gone already; verifyUserGone confirms it.
			return verifyUserGone(ctx, c, username)
		}
		if err != nil {
			return fmt.Errorf("list access keys: %w", err)
		}
		for _, k := range page.AccessKeyMetadata {
			keys = append(keys, aws.ToString(k.AccessKeyId))
		}
	}
	ap := iam.NewListAttachedUserPoliciesPaginator(c, &iam.ListAttachedUserPoliciesInput{UserName: name})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			if isNoSuchEntity(err) {
				break
			}
			return fmt.Errorf("list attached policies: %w", err)
		}
		for _, p := range page.AttachedPolicies {
			attached = append(attached, aws.ToString(p.PolicyArn))
		}
	}
	ip := iam.NewListUserPoliciesPaginator(c, &iam.ListUserPoliciesInput{UserName: name})
	for ip.HasMorePages() {
		page, err := ip.NextPage(ctx)
		if err != nil {
			if isNoSuchEntity(err) {
				break
			}
			return fmt.Errorf("list inline policies: %w", err)
		}
		inline = append(inline, page.PolicyNames...)
	}
	gp := iam.NewListGroupsForUserPaginator(c, &iam.ListGroupsForUserInput{UserName: name})
	for gp.HasMorePages() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			if isNoSuchEntity(err) {
				break
			}
			return fmt.Errorf("list groups: %w", err)
		}
		for _, g := range page.Groups {
			groups = append(groups, aws.ToString(g.GroupName))
		}
	}
	for _, k := range keys {
		if _, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: name, AccessKeyId: aws.String(k)}); err != nil && !isNoSuchEntity(err) {
			return fmt.Errorf("delete access key %s: %w", k, err)
		}
	}
	for _, arn := range attached {
		if _, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: name, PolicyArn: aws.String(arn)}); err != nil && !isNoSuchEntity(err) {
			return fmt.Errorf("detach policy %s: %w", arn, err)
		}
	}
	for _, p := range inline {
		if _, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: name, PolicyName: aws.String(p)}); err != nil && !isNoSuchEntity(err) {
			return fmt.Errorf("delete inline policy %s: %w", p, err)
		}
	}
	for _, g := range groups {
		if _, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: name, GroupName: aws.String(g)}); err != nil && !isNoSuchEntity(err) {
			return fmt.Errorf("remove from group %s: %w", g, err)
		}
	}
	if _, err := c.DeleteUser(ctx, &iam.DeleteUserInput{UserName: name}); err != nil && !isNoSuchEntity(err) {
		return fmt.Errorf("delete user: %w", err)
	}
	return verifyUserGone(ctx, c, username)
}

// verifyUserGone succeeds only when GetUser answers NoSuchEntity.
func verifyUserGone(ctx context.Context, c *iam.Client, username string) error {
	_, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(username)})
	switch {
	case isNoSuchEntity(err):
		return nil
	case err != nil:
		return fmt.Errorf("verify deletion: %w", err)
	}
	return fmt.Errorf("user %q still exists after deletion", username)
}
