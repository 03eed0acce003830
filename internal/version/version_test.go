package version

import "testing"

func TestFull(t *testing.T) {
	if got, want := Full(), "1.17.0+coffer.0.1.0"; got != want {
		t.Fatalf("Full() = %q, want %q", got, want)
	}
}
