// Package version holds the Coffer release number and the Vault API level
// that Coffer implements.
package version

const (
	// Version is Coffer's own release number.
	Version = "0.1.0"
	// APIVersion is the Vault HTTP API level Coffer implements; clients use
	// it for feature gates.
	APIVersion = "1.17.0"
)

// Full returns the version reported to clients: the Vault API level with
// Coffer's release as semver build metadata, e.g. "1.17.0+coffer.0.1.0".
func Full() string {
	return APIVersion + "+coffer." + Version
}

// BuildDate is the build's date in RFC 3339 form; release builds set it
// with -ldflags "-X github.com/coffer-dev/coffer/internal/version.BuildDate=...".
var BuildDate = ""
