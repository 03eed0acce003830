package inmem_test

import (
	"testing"

	"github.com/coffer-dev/coffer/internal/storage/inmem"
	"github.com/coffer-dev/coffer/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.ExerciseTransactional(t, inmem.New())
}
