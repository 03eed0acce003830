package framework

import "fmt"

// GenericNameRegex captures a name made of word characters, '-' and '.'.
func GenericNameRegex(name string) string {
	return fmt.Sprintf(`(?P<%s>\w(([\w.@-]+)?\w)?)`, name)
}

// MatchAllRegex captures the rest of the path, which may be empty.
func MatchAllRegex(name string) string {
	return fmt.Sprintf(`(?P<%s>.*)`, name)
}

// MatchNonEmptyRegex captures the rest of the path, at least one character.
func MatchNonEmptyRegex(name string) string {
	return fmt.Sprintf(`(?P<%s>.+)`, name)
}

// OptionalParamRegex captures an optional trailing "/<name>".
func OptionalParamRegex(name string) string {
	return fmt.Sprintf(`(/(?P<%s>.+))?`, name)
}

// GenericNameWithAtRegex is GenericNameRegex; kept for readability at call sites.
func GenericNameWithAtRegex(name string) string { return GenericNameRegex(name) }
