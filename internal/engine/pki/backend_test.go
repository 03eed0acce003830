package pki

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/logical/framework"
)

func TestPathTable(t *testing.T) {
	h := newHarness(t)
	framework.TestPaths(t, h.b.Paths)
}

func TestCacheDropsBundlesReadBeforeAReset(t *testing.T) {
	var c caCache
	stale := &caBundle{}
	_, gen := c.get("default")
	c.reset() // an issuer changed while the bundle was being read
	c.put("default", stale, gen)
	if got, _ := c.get("default"); got != nil {
		t.Fatal("a bundle read before a reset was cached")
	}
	_, gen = c.get("default")
	c.put("default", stale, gen)
	if got, _ := c.get("default"); got != stale {
		t.Fatal("a current bundle was not cached")
	}
}
