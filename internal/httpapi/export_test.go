package httpapi

import "net/http"

// MuxOf returns the handler's mux, to compare its routing with the
// handler's own.
func MuxOf(h http.Handler) http.Handler { return h.(*handler).mux }
