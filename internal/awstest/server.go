// Package awstest is an in-process stand-in for the AWS IAM, STS and KMS
// APIs, for tests that cannot reach AWS. It speaks the real wire
// protocols — the Query protocol with XML answers for IAM and STS, JSON 1.1
// for KMS — with AWS's error codes and shapes, so the official SDKs work
// against it unchanged. Every request must be signed with SigV4 by a known
// access key, and the signature is checked.
//
// State is kept in memory and exposed for assertions (Users, User), and
// failures can be injected (FailNext, SetDown).
package awstest

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"
)

// Namespaces of the XML APIs.
const (
	iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	iamVersion   = "2010-05-08"
	stsVersion   = "2011-06-15"
)

// DefaultAccountID is the account every resource belongs to.
const DefaultAccountID = "123456789012"

// RootUserName is the IAM user whose access key NewServer hands out.
const RootUserName = "coffer-root"

// Server is a running fake AWS endpoint. URL serves IAM, STS and KMS at
// once: the action (or X-Amz-Target) tells them apart, and the service in
// the request's credential scope must match it.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:38211".
	URL string
	// AccountID owns every resource.
	AccountID string
	// AccessKeyID and SecretAccessKey belong to RootUserName.
	AccessKeyID     string
	SecretAccessKey string
	// KeyID is a KMS key created at start, also reachable as "alias/coffer".
	KeyID string

	hs  *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	users    map[string]*user
	groups   map[string]*group
	keys     map[string]*accessKey // by access key ID, long-term and session
	kmsKeys  map[string]*kmsKey
	aliases  map[string]string // alias name -> key ID
	failures map[string][]string
	down     bool
	calls    map[string]int
	seq      int
}

// NewServer starts a server on 127.0.0.1 with one IAM user (RootUserName)
// holding one access key, and one KMS key. It is closed when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		AccountID: DefaultAccountID,
		now:       time.Now,
		users:     map[string]*user{},
		groups:    map[string]*group{},
		keys:      map[string]*accessKey{},
		kmsKeys:   map[string]*kmsKey{},
		aliases:   map[string]string{},
		failures:  map[string][]string{},
		calls:     map[string]int{},
	}
	root := s.newUser(RootUserName, "/", "")
	s.users[root.Name] = root
	k := s.newAccessKey(root.Name)
	s.AccessKeyID, s.SecretAccessKey = k.ID, k.Secret
	s.KeyID = s.CreateKey("alias/coffer")
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// FailNext makes the next call of action (e.g. "DeleteUser", "AssumeRole",
// "Encrypt") fail with the AWS error code, after the request's signature
// has been checked. Calls queue: two FailNext calls fail two requests.
func (s *Server) FailNext(action, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[action] = append(s.failures[action], code)
}

// SetDown simulates an outage: while down, every request is answered
// 503 ServiceUnavailable.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Calls returns how many requests named action the server received,
// including failed ones.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// Users lists the IAM user names, sorted, RootUserName included.
func (s *Server) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.users))
	for n := range s.users {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// User returns a snapshot of one IAM user, or nil when it does not exist.
func (s *Server) User(name string) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[name]
	if u == nil {
		return nil
	}
	return u.snapshot()
}

// CreateGroup adds an IAM group with inline policies (name -> JSON
// document) and attached managed policy ARNs. Users can only be added to
// groups that exist.
func (s *Server) CreateGroup(name string, inline map[string]string, attached ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &group{Name: name, ID: "AGPA" + randomID(17), Inline: map[string]string{}, Attached: append([]string(nil), attached...), Created: s.now().UTC()}
	for k, v := range inline {
		g.Inline[k] = v
	}
	s.groups[name] = g
}

// Sessions returns how many STS sessions (assumed roles and federation
// tokens) have been issued and not yet expired.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	now := s.now()
	for _, k := range s.keys {
		if k.Session != nil && now.Before(k.Session.Expiration) {
			n++
		}
	}
	return n
}

// Session describes the STS credentials behind an access key ID, or nil.
func (s *Server) Session(accessKeyID string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[accessKeyID]
	if k == nil || k.Session == nil {
		return nil
	}
	c := *k.Session
	c.Tags = copyMap(c.Tags)
	c.PolicyARNs = append([]string(nil), c.PolicyARNs...)
	return &c
}

// serve authenticates a request and routes it to IAM, STS or KMS.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveKMS(w, r, body, target)
		return
	}
	s.serveQuery(w, r, body)
}

// authenticate checks the signature and the access key. It returns the
// caller's key, or the error to answer with.
func (s *Server) authenticate(r *http.Request, body []byte, service string) (*accessKey, *apiError) {
	sig, aerr := parseAuthorization(r, s.now())
	if aerr != nil {
		return nil, aerr
	}
	if sig.Service != service {
		return nil, &apiError{Code: "SignatureDoesNotMatch", Message: fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service)}
	}
	s.mu.Lock()
	k := s.keys[sig.AccessKeyID]
	var kc accessKey
	if k != nil {
		kc = *k
	}
	s.mu.Unlock()
	if k == nil || kc.Status != "Active" {
		return nil, &apiError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
	}
	if kc.Session != nil {
		if r.Header.Get("X-Amz-Security-Token") != kc.Session.Token {
			return nil, &apiError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
		}
		if !s.now().Before(kc.Session.Expiration) {
			return nil, &apiError{Code: "ExpiredToken", Message: "The security token included in the request is expired"}
		}
	}
	if !verifySignature(r, body, sig, kc.Secret) {
		return nil, &apiError{Code: "SignatureDoesNotMatch", Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return &kc, nil
}

// begin counts a call and reports whether the server is down.
func (s *Server) begin(action string) (down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[action]++
	return s.down
}

// injected pops an injected failure for the action, if any.
func (s *Server) injected(action string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.failures[action]
	if len(q) == 0 {
		return ""
	}
	s.failures[action] = q[1:]
	return q[0]
}

func (s *Server) requestID() string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
}

// randomID returns n characters from the alphabet AWS uses in key and
// entity IDs.
func randomID(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	return randomFrom(alphabet, n)
}

func randomSecret(n int) string {
	return randomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", n)
}

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// actionService maps each Query API action to its service.
func actionService(action string) string {
	if _, ok := iamActions[action]; ok {
		return "iam"
	}
	if _, ok := stsActions[action]; ok {
		return "sts"
	}
	return ""
}
