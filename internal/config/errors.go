package config

import "github.com/coffer-dev/coffer/internal/hclconf"

// Error is one configuration problem, located in a file.
type Error = hclconf.Error

// Errors is every problem found in a configuration, in file order. It is
// the error type returned by LoadFiles and Parse.
type Errors = hclconf.Errors
