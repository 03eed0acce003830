package pki

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPathTable(t *testing.T) {
	h := newHarness(t)
	framework.TestPaths(t, h.b.Paths)
}
