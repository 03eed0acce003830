package framework

import "fmt"

func sprint(v interface{}) string                       { return fmt.Sprint(v) }
func sprintf(format string, args ...interface{}) string { return fmt.Sprintf(format, args...) }
