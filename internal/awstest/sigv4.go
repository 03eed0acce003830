package awstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateFmt   = "20060102T150405Z"
	// maxClockSkew is how far a request's X-Amz-Date may be from the
	// server's clock, as AWS allows.
	maxClockSkew = 15 * time.Minute
)

// sigRequest is a parsed SigV4 Authorization header.
type sigRequest struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	AmzDate       time.Time
	AmzDateRaw    string
}

var (
	hexSigRe  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	scopeDate = regexp.MustCompile(`^\d{8}$`)
	headerRe  = regexp.MustCompile(`^[a-z0-9-]+$`)
)

// parseAuthorization checks that a request carries a well-formed SigV4
// Authorization header and X-Amz-Date, and returns its parts. The error is
// an apiError with AWS's code for the problem.
func parseAuthorization(r *http.Request, now time.Time) (*sigRequest, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, &apiError{Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token"}
	}
	alg, rest, ok := strings.Cut(auth, " ")
	if !ok || alg != sigAlgorithm {
		return nil, &apiError{Code: "IncompleteSignature", Message: fmt.Sprintf("Authorization header must use %s", sigAlgorithm)}
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return nil, &apiError{Code: "IncompleteSignature", Message: fmt.Sprintf("Authorization header requires each component to be of the form key=value, got %q", p)}
		}
		parts[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if parts[k] == "" {
			return nil, &apiError{Code: "IncompleteSignature", Message: fmt.Sprintf("Authorization header requires '%s' parameter.", k)}
		}
	}
	cred := strings.Split(parts["Credential"], "/")
	if len(cred) != 5 || cred[0] == "" || !scopeDate.MatchString(cred[1]) || cred[2] == "" || cred[3] == "" || cred[4] != "aws4_request" {
		return nil, &apiError{Code: "IncompleteSignature", Message: fmt.Sprintf("Credential should be scoped to a valid date, region, service and terminated by aws4_request: %q", parts["Credential"])}
	}
	if !hexSigRe.MatchString(parts["Signature"]) {
		return nil, &apiError{Code: "IncompleteSignature", Message: "Signature must be 64 lowercase hex characters"}
	}
	signed := strings.Split(parts["SignedHeaders"], ";")
	hasHost := false
	for _, h := range signed {
		if !headerRe.MatchString(h) {
			return nil, &apiError{Code: "IncompleteSignature", Message: fmt.Sprintf("invalid signed header name %q", h)}
		}
		if h == "host" {
			hasHost = true
		}
	}
	if !hasHost || !sort.StringsAreSorted(signed) {
		return nil, &apiError{Code: "IncompleteSignature", Message: "SignedHeaders must be sorted and include host"}
	}
	raw := r.Header.Get("X-Amz-Date")
	if raw == "" {
		return nil, &apiError{Code: "IncompleteSignature", Message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	at, err := time.Parse(amzDateFmt, raw)
	if err != nil {
		return nil, &apiError{Code: "IncompleteSignature", Message: fmt.Sprintf("X-Amz-Date %q is not of the form yyyyMMddTHHmmssZ", raw)}
	}
	if raw[:8] != cred[1] {
		return nil, &apiError{Code: "SignatureDoesNotMatch", Message: fmt.Sprintf("Credential scope date %s does not match X-Amz-Date %s", cred[1], raw)}
	}
	if d := now.Sub(at); d > maxClockSkew || d < -maxClockSkew {
		return nil, &apiError{Code: "SignatureDoesNotMatch", Message: fmt.Sprintf("Signature expired: %s is now outside the allowed %s of %s", raw, maxClockSkew, now.UTC().Format(amzDateFmt))}
	}
	return &sigRequest{
		AccessKeyID: cred[0], Date: cred[1], Region: cred[2], Service: cred[3],
		SignedHeaders: signed, Signature: parts["Signature"], AmzDate: at, AmzDateRaw: raw,
	}, nil
}

// verifySignature recomputes the SigV4 signature of the request with the
// secret key and compares it with the one sent.
func verifySignature(r *http.Request, body []byte, sig *sigRequest, secret string) bool {
	var ch strings.Builder
	for _, h := range sig.SignedHeaders {
		ch.WriteString(h)
		ch.WriteByte(':')
		var vals []string
		switch h {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			vals = r.Header.Values(h)
		}
		for i, v := range vals {
			if i > 0 {
				ch.WriteByte(',')
			}
			ch.WriteString(collapseSpaces(v))
		}
		ch.WriteByte('\n')
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonical := strings.Join([]string{
		r.Method, path, canonicalQuery(r.URL.Query()), ch.String(),
		strings.Join(sig.SignedHeaders, ";"), payload,
	}, "\n")
	creq := sha256.Sum256([]byte(canonical))
	scope := strings.Join([]string{sig.Date, sig.Region, sig.Service, "aws4_request"}, "/")
	toSign := strings.Join([]string{sigAlgorithm, sig.AmzDateRaw, scope, hex.EncodeToString(creq[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+secret), sig.Date)
	key = hmacSHA256(key, sig.Region)
	key = hmacSHA256(key, sig.Service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	return hmac.Equal([]byte(want), []byte(sig.Signature))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// collapseSpaces trims a header value and folds runs of spaces into one.
func collapseSpaces(v string) string {
	return strings.Join(strings.Fields(v), " ")
}

// canonicalQuery encodes query parameters sorted by key then value, with
// SigV4's escaping (spaces as %20).
func canonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, sigEscape(k)+"="+sigEscape(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func sigEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
