package core

import (
	"regexp"
	"testing"
)

// TestRequestIDIsUUIDv4 checks the textual form and the version and
// variant bits of request IDs, and that they differ.
func TestRequestIDIsUUIDv4(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := RequestID()
		if !re.MatchString(id) {
			t.Fatalf("request ID %q is not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("request ID %q repeated", id)
		}
		seen[id] = true
	}
}
