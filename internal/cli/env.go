package cli

import (
	"strconv"
	"strings"
)

// lookupFunc reads one environment variable, like os.LookupEnv.
type lookupFunc func(key string) (string, bool)

// environ resolves the CLI's environment variables. Every VAULT_* variable
// may also be given as COFFER_*; the COFFER_ form wins when both are set.
type environ struct {
	lookup lookupFunc
}

// get returns the value of VAULT_<name> or COFFER_<name>, and whether either
// was set. name is given without prefix, e.g. "ADDR".
func (e environ) get(name string) (string, bool) {
	if e.lookup == nil {
		return "", false
	}
	if v, ok := e.lookup("COFFER_" + name); ok {
		return v, true
	}
	return e.lookup("VAULT_" + name)
}

// str returns the variable's value or def when it is unset or empty.
func (e environ) str(name, def string) string {
	if v, ok := e.get(name); ok && v != "" {
		return v
	}
	return def
}

// boolean returns the variable parsed as a bool, or def when it is unset or
// not a valid bool.
func (e environ) boolean(name string, def bool) bool {
	v, ok := e.get(name)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return def
	}
	return b
}

// raw reads a variable by its exact name (HOME, for example).
func (e environ) raw(key string) string {
	if e.lookup == nil {
		return ""
	}
	v, _ := e.lookup(key)
	return v
}
