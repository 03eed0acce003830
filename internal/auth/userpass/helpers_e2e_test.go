package userpass_test

import "errors"

func errorsAs(err error, target interface{}) bool { return errors.As(err, target) }
