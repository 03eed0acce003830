package dbplugin

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces secrets in scrubbed messages.
const Redacted = "[redacted]"

// userinfoRe finds the user:password@ part of a URL in free text.
var userinfoRe = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// passwordKVRe finds password=… in key/value connection strings.
var passwordKVRe = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]+)`)

// ScrubString removes every secret (and its URL-escaped form), URL
// userinfo and password=… settings from s.
func ScrubString(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		s = strings.ReplaceAll(s, sec, Redacted)
		for _, esc := range []string{url.PathEscape(sec), url.QueryEscape(sec)} {
			if esc != sec {
				s = strings.ReplaceAll(s, esc, Redacted)
			}
		}
	}
	s = userinfoRe.ReplaceAllString(s, "${1}"+Redacted+"@")
	return passwordKVRe.ReplaceAllString(s, "${1}"+Redacted)
}

// Scrub returns err with its message scrubbed of secrets. The result still
// unwraps to err for errors.As, but its own message is the safe one; nil
// stays nil.
func Scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := ScrubString(msg, secrets...)
	var se *scrubbed
	if clean == msg && errors.As(err, &se) {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
