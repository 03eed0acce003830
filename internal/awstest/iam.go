package awstest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

var iamActions = map[string]queryHandler{
	"CreateUser":                (*Server).createUser,
	"GetUser":                   (*Server).getUser,
	"DeleteUser":                (*Server).deleteUser,
	"TagUser":                   (*Server).tagUser,
	"PutUserPolicy":             (*Server).putUserPolicy,
	"GetUserPolicy":             (*Server).getUserPolicy,
	"DeleteUserPolicy":          (*Server).deleteUserPolicy,
	"ListUserPolicies":          (*Server).listUserPolicies,
	"AttachUserPolicy":          (*Server).attachUserPolicy,
	"DetachUserPolicy":          (*Server).detachUserPolicy,
	"ListAttachedUserPolicies":  (*Server).listAttachedUserPolicies,
	"AddUserToGroup":            (*Server).addUserToGroup,
	"RemoveUserFromGroup":       (*Server).removeUserFromGroup,
	"ListGroupsForUser":         (*Server).listGroupsForUser,
	"CreateAccessKey":           (*Server).createAccessKey,
	"DeleteAccessKey":           (*Server).deleteAccessKey,
	"ListAccessKeys":            (*Server).listAccessKeys,
	"ListGroupPolicies":         (*Server).listGroupPolicies,
	"GetGroupPolicy":            (*Server).getGroupPolicy,
	"ListAttachedGroupPolicies": (*Server).listAttachedGroupPolicies,
}

var (
	nameRe      = regexp.MustCompile(`^[\w+=,.@-]+$`)
	userPathRe  = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
	policyARNRe = regexp.MustCompile(`^arn:aws[\w-]*:iam::(aws|\d{12}):policy/[\x21-\x7E]+$`)
)

type xmlBoundary struct {
	Type string `xml:"PermissionsBoundaryType"`
	ARN  string `xml:"PermissionsBoundaryArn"`
}

type xmlUser struct {
	Path                string       `xml:"Path"`
	UserName            string       `xml:"UserName"`
	UserID              string       `xml:"UserId"`
	Arn                 string       `xml:"Arn"`
	CreateDate          time.Time    `xml:"CreateDate"`
	PermissionsBoundary *xmlBoundary `xml:"PermissionsBoundary,omitempty"`
	Tags                []xmlTag     `xml:"Tags>member,omitempty"`
}

type userResult struct {
	XMLName xml.Name
	User    xmlUser `xml:"User"`
}

type xmlAccessKey struct {
	UserName        string    `xml:"UserName"`
	AccessKeyID     string    `xml:"AccessKeyId"`
	Status          string    `xml:"Status"`
	SecretAccessKey string    `xml:"SecretAccessKey,omitempty"`
	CreateDate      time.Time `xml:"CreateDate"`
}

type accessKeyResult struct {
	XMLName   xml.Name
	AccessKey xmlAccessKey `xml:"AccessKey"`
}

type listAccessKeysResult struct {
	XMLName     xml.Name
	Keys        []xmlAccessKey `xml:"AccessKeyMetadata>member"`
	IsTruncated bool           `xml:"IsTruncated"`
}

type policyNamesResult struct {
	XMLName     xml.Name
	Names       []string `xml:"PolicyNames>member"`
	IsTruncated bool     `xml:"IsTruncated"`
}

type xmlAttached struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type attachedResult struct {
	XMLName     xml.Name
	Policies    []xmlAttached `xml:"AttachedPolicies>member"`
	IsTruncated bool          `xml:"IsTruncated"`
}

type xmlGroup struct {
	Path       string    `xml:"Path"`
	GroupName  string    `xml:"GroupName"`
	GroupID    string    `xml:"GroupId"`
	Arn        string    `xml:"Arn"`
	CreateDate time.Time `xml:"CreateDate"`
}

type groupsResult struct {
	XMLName     xml.Name
	Groups      []xmlGroup `xml:"Groups>member"`
	IsTruncated bool       `xml:"IsTruncated"`
}

type policyDocResult struct {
	XMLName        xml.Name
	UserName       string `xml:"UserName,omitempty"`
	GroupName      string `xml:"GroupName,omitempty"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func noSuchUser(name string) *apiError {
	return &apiError{Code: "NoSuchEntity", Message: fmt.Sprintf("The user with name %s cannot be found.", name)}
}

func noSuchGroup(name string) *apiError {
	return &apiError{Code: "NoSuchEntity", Message: fmt.Sprintf("The group with name %s cannot be found.", name)}
}

func checkName(field, v string, max int) *apiError {
	if v == "" || len(v) > max || !nameRe.MatchString(v) {
		return validationError(field, fmt.Sprintf("Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and %d", max))
	}
	return nil
}

// checkPolicyDocument accepts a JSON object with a Statement, as IAM does.
func checkPolicyDocument(doc string) *apiError {
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return &apiError{Code: "MalformedPolicyDocument", Message: "Syntax errors in policy."}
	}
	if _, ok := m["Statement"]; !ok {
		return &apiError{Code: "MalformedPolicyDocument", Message: "Policy document must contain a Statement element."}
	}
	if v, ok := m["Version"]; ok && v != "2012-10-17" && v != "2008-10-17" {
		return &apiError{Code: "MalformedPolicyDocument", Message: "The policy must contain a valid version string"}
	}
	return nil
}

func checkPolicyARN(arn string) *apiError {
	if !policyARNRe.MatchString(arn) {
		return &apiError{Code: "InvalidInput", Message: fmt.Sprintf("ARN %s is not valid.", arn)}
	}
	return nil
}

// targetUser resolves the UserName parameter, defaulting to the caller;
// the caller holds s.mu.
func (s *Server) targetUser(caller *accessKey, p url.Values) (*user, *apiError) {
	name := p.Get("UserName")
	if name == "" {
		if caller.Session != nil {
			return nil, &apiError{Code: "ValidationError", Message: "Must specify userName when calling with non-User credentials"}
		}
		name = caller.UserName
	}
	u := s.users[name]
	if u == nil {
		return nil, noSuchUser(name)
	}
	return u, nil
}

func (s *Server) xmlUser(u *user) xmlUser {
	x := xmlUser{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: s.userARN(u), CreateDate: u.Created, Tags: xmlTags(u.Tags)}
	if u.PermissionsBoundary != "" {
		x.PermissionsBoundary = &xmlBoundary{Type: "PermissionsBoundaryPolicy", ARN: u.PermissionsBoundary}
	}
	return x
}

func (s *Server) createUser(_ *accessKey, p url.Values) (any, *apiError) {
	name, path, boundary := p.Get("UserName"), p.Get("Path"), p.Get("PermissionsBoundary")
	if e := checkName("userName", name, 64); e != nil {
		return nil, e
	}
	if path == "" {
		path = "/"
	}
	if len(path) > 512 || !userPathRe.MatchString(path) {
		return nil, validationError("path", "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)")
	}
	if boundary != "" {
		if e := checkPolicyARN(boundary); e != nil {
			return nil, e
		}
	}
	tags, e := tagsParam(p, "Tags")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[name]; ok {
		return nil, &apiError{Code: "EntityAlreadyExists", Message: fmt.Sprintf("User with name %s already exists.", name)}
	}
	u := s.newUser(name, path, boundary)
	for k, v := range tags {
		u.Tags[k] = v
	}
	s.users[name] = u
	return &userResult{User: s.xmlUser(u)}, nil
}

func (s *Server) getUser(caller *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	return &userResult{User: s.xmlUser(u)}, nil
}

func (s *Server) deleteUser(_ *accessKey, p url.Values) (any, *apiError) {
	name := p.Get("UserName")
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[name]
	if u == nil {
		return nil, noSuchUser(name)
	}
	conflict := func(what string) *apiError {
		return &apiError{Code: "DeleteConflict", Message: "Cannot delete entity, must " + what + " first."}
	}
	switch {
	case len(u.Keys) > 0:
		return nil, conflict("delete access keys")
	case len(u.Inline) > 0:
		return nil, conflict("delete policies")
	case len(u.Attached) > 0:
		return nil, conflict("detach all policies")
	case len(u.Groups) > 0:
		return nil, conflict("remove users from group")
	}
	delete(s.users, name)
	return nil, nil
}

func (s *Server) tagUser(caller *accessKey, p url.Values) (any, *apiError) {
	tags, e := tagsParam(p, "Tags")
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	for k, v := range tags {
		u.Tags[k] = v
	}
	return nil, nil
}

func (s *Server) putUserPolicy(_ *accessKey, p url.Values) (any, *apiError) {
	name, doc := p.Get("PolicyName"), p.Get("PolicyDocument")
	if e := checkName("policyName", name, 128); e != nil {
		return nil, e
	}
	if e := checkPolicyDocument(doc); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	u.Inline[name] = doc
	return nil, nil
}

func (s *Server) getUserPolicy(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	doc, ok := u.Inline[p.Get("PolicyName")]
	if !ok {
		return nil, &apiError{Code: "NoSuchEntity", Message: fmt.Sprintf("The user policy with name %s cannot be found.", p.Get("PolicyName"))}
	}
	return &policyDocResult{UserName: u.Name, PolicyName: p.Get("PolicyName"), PolicyDocument: queryEscape(doc)}, nil
}

func (s *Server) deleteUserPolicy(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	if _, ok := u.Inline[p.Get("PolicyName")]; !ok {
		return nil, &apiError{Code: "NoSuchEntity", Message: fmt.Sprintf("The user policy with name %s cannot be found.", p.Get("PolicyName"))}
	}
	delete(u.Inline, p.Get("PolicyName"))
	return nil, nil
}

func (s *Server) listUserPolicies(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	return &policyNamesResult{Names: sortedKeys(u.Inline)}, nil
}

func (s *Server) attachUserPolicy(_ *accessKey, p url.Values) (any, *apiError) {
	arn := p.Get("PolicyArn")
	if e := checkPolicyARN(arn); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	u.Attached[arn] = true
	return nil, nil
}

func (s *Server) detachUserPolicy(_ *accessKey, p url.Values) (any, *apiError) {
	arn := p.Get("PolicyArn")
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	if !u.Attached[arn] {
		return nil, &apiError{Code: "NoSuchEntity", Message: fmt.Sprintf("Policy %s was not found.", arn)}
	}
	delete(u.Attached, arn)
	return nil, nil
}

func policyName(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return arn
}

func (s *Server) listAttachedUserPolicies(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	res := &attachedResult{}
	for _, arn := range sortedKeys(u.Attached) {
		res.Policies = append(res.Policies, xmlAttached{PolicyName: policyName(arn), PolicyArn: arn})
	}
	return res, nil
}

func (s *Server) addUserToGroup(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[p.Get("GroupName")]
	if g == nil {
		return nil, noSuchGroup(p.Get("GroupName"))
	}
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	u.Groups[g.Name] = true
	return nil, nil
}

func (s *Server) removeUserFromGroup(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[p.Get("GroupName")] == nil {
		return nil, noSuchGroup(p.Get("GroupName"))
	}
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	if !u.Groups[p.Get("GroupName")] {
		return nil, &apiError{Code: "NoSuchEntity", Message: fmt.Sprintf("User %s is not in group %s.", u.Name, p.Get("GroupName"))}
	}
	delete(u.Groups, p.Get("GroupName"))
	return nil, nil
}

func (s *Server) listGroupsForUser(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("UserName")]
	if u == nil {
		return nil, noSuchUser(p.Get("UserName"))
	}
	res := &groupsResult{}
	for _, name := range sortedKeys(u.Groups) {
		g := s.groups[name]
		if g == nil {
			continue
		}
		res.Groups = append(res.Groups, xmlGroup{Path: "/", GroupName: g.Name, GroupID: g.ID, Arn: "arn:aws:iam::" + s.AccountID + ":group/" + g.Name, CreateDate: g.Created})
	}
	return res, nil
}

func (s *Server) createAccessKey(caller *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	if len(u.Keys) >= 2 {
		return nil, &apiError{Code: "LimitExceeded", Message: "Cannot exceed quota for AccessKeysPerUser: 2"}
	}
	k := s.newAccessKey(u.Name)
	return &accessKeyResult{AccessKey: xmlAccessKey{UserName: u.Name, AccessKeyID: k.ID, Status: k.Status, SecretAccessKey: k.Secret, CreateDate: k.Created}}, nil
}

func (s *Server) deleteAccessKey(caller *accessKey, p url.Values) (any, *apiError) {
	id := p.Get("AccessKeyId")
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	if !u.Keys[id] {
		return nil, &apiError{Code: "NoSuchEntity", Message: fmt.Sprintf("The Access Key with id %s cannot be found.", id)}
	}
	delete(u.Keys, id)
	delete(s.keys, id)
	return nil, nil
}

func (s *Server) listAccessKeys(caller *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	res := &listAccessKeysResult{}
	for _, id := range sortedKeys(u.Keys) {
		k := s.keys[id]
		res.Keys = append(res.Keys, xmlAccessKey{UserName: u.Name, AccessKeyID: id, Status: k.Status, CreateDate: k.Created})
	}
	return res, nil
}

func (s *Server) listGroupPolicies(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[p.Get("GroupName")]
	if g == nil {
		return nil, noSuchGroup(p.Get("GroupName"))
	}
	return &policyNamesResult{Names: sortedKeys(g.Inline)}, nil
}

func (s *Server) getGroupPolicy(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[p.Get("GroupName")]
	if g == nil {
		return nil, noSuchGroup(p.Get("GroupName"))
	}
	doc, ok := g.Inline[p.Get("PolicyName")]
	if !ok {
		return nil, &apiError{Code: "NoSuchEntity", Message: fmt.Sprintf("The group policy with name %s cannot be found.", p.Get("PolicyName"))}
	}
	return &policyDocResult{GroupName: g.Name, PolicyName: p.Get("PolicyName"), PolicyDocument: queryEscape(doc)}, nil
}

func (s *Server) listAttachedGroupPolicies(_ *accessKey, p url.Values) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[p.Get("GroupName")]
	if g == nil {
		return nil, noSuchGroup(p.Get("GroupName"))
	}
	res := &attachedResult{}
	for _, arn := range g.Attached {
		res.Policies = append(res.Policies, xmlAttached{PolicyName: policyName(arn), PolicyArn: arn})
	}
	return res, nil
}
