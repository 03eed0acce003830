package awstest

import (
	"sort"
	"time"
)

// User is a snapshot of an IAM user for assertions.
type User struct {
	Name                string
	Path                string
	ID                  string
	ARN                 string
	PermissionsBoundary string
	Tags                map[string]string
	// AccessKeys are the IDs of the user's access keys.
	AccessKeys []string
	// InlinePolicies maps policy name to its JSON document.
	InlinePolicies map[string]string
	// AttachedPolicies are managed policy ARNs, sorted.
	AttachedPolicies []string
	// Groups are group names, sorted.
	Groups  []string
	Created time.Time
}

// Session describes STS credentials issued by AssumeRole or
// GetFederationToken.
type Session struct {
	// Action is "AssumeRole" or "GetFederationToken".
	Action string
	// ARN is the assumed-role or federated-user ARN.
	ARN        string
	RoleARN    string
	Name       string // role session name or federated user name
	Policy     string
	PolicyARNs []string
	Tags       map[string]string
	ExternalID string
	Duration   time.Duration
	Token      string
	Expiration time.Time
	// Caller is the access key ID that asked for the session.
	Caller string
}

type user struct {
	Name, Path, ID      string
	PermissionsBoundary string
	Tags                map[string]string
	Inline              map[string]string
	Attached            map[string]bool
	Groups              map[string]bool
	Keys                map[string]bool
	Created             time.Time
}

type group struct {
	Name, ID string
	Inline   map[string]string
	Attached []string
	Created  time.Time
}

type accessKey struct {
	ID, Secret string
	// UserName owns a long-term key; Session is set for STS credentials.
	UserName string
	Session  *Session
	Status   string
	Created  time.Time
}

func (s *Server) userARN(u *user) string {
	return "arn:aws:iam::" + s.AccountID + ":user" + u.Path + u.Name
}

func (s *Server) newUser(name, path, boundary string) *user {
	return &user{
		Name: name, Path: path, ID: "AIDA" + randomID(17), PermissionsBoundary: boundary,
		Tags: map[string]string{}, Inline: map[string]string{}, Attached: map[string]bool{},
		Groups: map[string]bool{}, Keys: map[string]bool{}, Created: s.now().UTC().Truncate(time.Second),
	}
}

// newAccessKey creates a long-term key for a user; the caller holds s.mu
// or owns s exclusively.
func (s *Server) newAccessKey(userName string) *accessKey {
	k := &accessKey{ID: "AKIA" + randomID(16), Secret: randomSecret(40), UserName: userName, Status: "Active", Created: s.now().UTC().Truncate(time.Second)}
	s.keys[k.ID] = k
	s.users[userName].Keys[k.ID] = true
	return k
}

func (u *user) snapshot() *User {
	out := &User{
		Name: u.Name, Path: u.Path, ID: u.ID, PermissionsBoundary: u.PermissionsBoundary,
		Tags: copyMap(u.Tags), InlinePolicies: copyMap(u.Inline), Created: u.Created,
		AccessKeys: sortedKeys(u.Keys), AttachedPolicies: sortedKeys(u.Attached), Groups: sortedKeys(u.Groups),
	}
	out.ARN = "arn:aws:iam::" + DefaultAccountID + ":user" + u.Path + u.Name
	sort.Strings(out.AccessKeys)
	return out
}

// apiError is an AWS error answer.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorStatus is the HTTP status AWS answers each error code with.
var errorStatus = map[string]int{
	"NoSuchEntity":               404,
	"EntityAlreadyExists":        409,
	"DeleteConflict":             409,
	"LimitExceeded":              409,
	"MalformedPolicyDocument":    400,
	"ValidationError":            400,
	"InvalidInput":               400,
	"InvalidAction":              400,
	"MissingAction":              400,
	"InvalidParameterValue":      400,
	"PackedPolicyTooLarge":       400,
	"Throttling":                 400,
	"IncompleteSignature":        400,
	"AccessDenied":               403,
	"InvalidClientTokenId":       403,
	"SignatureDoesNotMatch":      403,
	"ExpiredToken":               403,
	"MissingAuthenticationToken": 403,
	"RegionDisabledException":    403,
	"ServiceFailure":             500,
	"InternalFailure":            500,
	"ServiceUnavailable":         503,
}

func statusOf(code string) int {
	if st, ok := errorStatus[code]; ok {
		return st
	}
	return 400
}
