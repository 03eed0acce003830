package awstest

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var stsActions = map[string]queryHandler{
	"AssumeRole":         (*Server).assumeRole,
	"GetFederationToken": (*Server).getFederationToken,
	"GetCallerIdentity":  (*Server).getCallerIdentity,
}

var roleARNRe = regexp.MustCompile(`^arn:aws[\w-]*:iam::\d{12}:role/([\x21-\x7E]+)$`)

// maxPolicySize bounds an STS session policy, as AWS does.
const maxPolicySize = 2048

type xmlCredentials struct {
	AccessKeyID     string    `xml:"AccessKeyId"`
	SecretAccessKey string    `xml:"SecretAccessKey"`
	SessionToken    string    `xml:"SessionToken"`
	Expiration      time.Time `xml:"Expiration"`
}

type assumeRoleResult struct {
	XMLName          xml.Name
	Credentials      xmlCredentials `xml:"Credentials"`
	Arn              string         `xml:"AssumedRoleUser>Arn"`
	AssumedRoleID    string         `xml:"AssumedRoleUser>AssumedRoleId"`
	PackedPolicySize int            `xml:"PackedPolicySize"`
}

type federationTokenResult struct {
	XMLName          xml.Name
	Credentials      xmlCredentials `xml:"Credentials"`
	Arn              string         `xml:"FederatedUser>Arn"`
	FederatedUserID  string         `xml:"FederatedUser>FederatedUserId"`
	PackedPolicySize int            `xml:"PackedPolicySize"`
}

type callerIdentityResult struct {
	XMLName xml.Name
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

// durationParam reads DurationSeconds within [min, max], or def.
func durationParam(p url.Values, def, min, max int) (time.Duration, *apiError) {
	raw := p.Get("DurationSeconds")
	if raw == "" {
		return time.Duration(def) * time.Second, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < min || n > max {
		return 0, validationError("durationSeconds", fmt.Sprintf("Member must have value between %d and %d", min, max))
	}
	return time.Duration(n) * time.Second, nil
}

// sessionPolicy reads the Policy and PolicyArns parameters.
func sessionPolicy(p url.Values) (string, []string, *apiError) {
	policy := p.Get("Policy")
	if policy != "" {
		if len(policy) > maxPolicySize {
			return "", nil, &apiError{Code: "PackedPolicyTooLarge", Message: "Packed policy consumes more than 100 percent of the allotted space"}
		}
		if e := checkPolicyDocument(policy); e != nil {
			return "", nil, e
		}
	}
	arns := members(p, "PolicyArns", "arn")
	for _, a := range arns {
		if e := checkPolicyARN(a); e != nil {
			return "", nil, e
		}
	}
	return policy, arns, nil
}

// newSession stores STS credentials and returns them; caller holds no lock.
func (s *Server) newSession(sess *Session) xmlCredentials {
	k := &accessKey{ID: "ASIA" + randomID(16), Secret: randomSecret(40), Status: "Active", Session: sess}
	sess.Token = "FwoGZXIvYXdzE" + randomSecret(200)
	sess.Expiration = s.now().Add(sess.Duration).UTC().Truncate(time.Second)
	s.mu.Lock()
	k.Created = s.now().UTC()
	s.keys[k.ID] = k
	s.mu.Unlock()
	return xmlCredentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret, SessionToken: sess.Token, Expiration: sess.Expiration}
}

func (s *Server) assumeRole(caller *accessKey, p url.Values) (any, *apiError) {
	roleARN, name := p.Get("RoleArn"), p.Get("RoleSessionName")
	m := roleARNRe.FindStringSubmatch(roleARN)
	if m == nil {
		return nil, validationError("roleArn", "Member must be a role ARN of the form arn:aws:iam::<account>:role/<name>")
	}
	if len(name) < 2 || len(name) > 64 || !nameRe.MatchString(name) {
		return nil, validationError("roleSessionName", "Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64")
	}
	d, e := durationParam(p, 3600, 900, 43200)
	if e != nil {
		return nil, e
	}
	policy, arns, e := sessionPolicy(p)
	if e != nil {
		return nil, e
	}
	tags, e := tagsParam(p, "Tags")
	if e != nil {
		return nil, e
	}
	roleName := m[1][strings.LastIndex(m[1], "/")+1:]
	sess := &Session{
		Action: "AssumeRole", RoleARN: roleARN, Name: name, Policy: policy, PolicyARNs: arns, Tags: tags,
		ExternalID: p.Get("ExternalId"), Duration: d, Caller: caller.ID,
		ARN: "arn:aws:sts::" + s.AccountID + ":assumed-role/" + roleName + "/" + name,
	}
	creds := s.newSession(sess)
	return &assumeRoleResult{Credentials: creds, Arn: sess.ARN, AssumedRoleID: "AROA" + randomID(17) + ":" + name, PackedPolicySize: len(policy) * 100 / maxPolicySize}, nil
}

func (s *Server) getFederationToken(caller *accessKey, p url.Values) (any, *apiError) {
	if caller.Session != nil {
		return nil, &apiError{Code: "AccessDenied", Message: "Cannot call GetFederationToken with session credentials"}
	}
	name := p.Get("Name")
	if len(name) < 2 || len(name) > 32 || !nameRe.MatchString(name) {
		return nil, validationError("name", "Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 32")
	}
	d, e := durationParam(p, 43200, 900, 129600)
	if e != nil {
		return nil, e
	}
	policy, arns, e := sessionPolicy(p)
	if e != nil {
		return nil, e
	}
	tags, e := tagsParam(p, "Tags")
	if e != nil {
		return nil, e
	}
	sess := &Session{
		Action: "GetFederationToken", Name: name, Policy: policy, PolicyARNs: arns, Tags: tags, Duration: d, Caller: caller.ID,
		ARN: "arn:aws:sts::" + s.AccountID + ":federated-user/" + name,
	}
	creds := s.newSession(sess)
	return &federationTokenResult{Credentials: creds, Arn: sess.ARN, FederatedUserID: s.AccountID + ":" + name, PackedPolicySize: len(policy) * 100 / maxPolicySize}, nil
}

func (s *Server) getCallerIdentity(caller *accessKey, _ url.Values) (any, *apiError) {
	if caller.Session != nil {
		id := s.AccountID + ":" + caller.Session.Name
		if caller.Session.Action == "AssumeRole" {
			id = "AROA" + randomID(17) + ":" + caller.Session.Name
		}
		return &callerIdentityResult{Arn: caller.Session.ARN, UserID: id, Account: s.AccountID}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[caller.UserName]
	if u == nil {
		return nil, &apiError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
	}
	return &callerIdentityResult{Arn: s.userARN(u), UserID: u.ID, Account: s.AccountID}, nil
}
