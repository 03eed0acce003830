package raft

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

func entry(i uint64) *raft.Log {
	lg := &raft.Log{Index: i, Term: 1 + i/10, Type: raft.LogCommand,
		Data: []byte(fmt.Sprintf("data-%d-%s", i, strings.Repeat("x", int(i%50)))), AppendedAt: time.Unix(1700000000, int64(i))}
	if i%7 == 0 {
		lg.Extensions = []byte("ext")
	}
	return lg
}

func entries(lo, hi uint64) []*raft.Log {
	var out []*raft.Log
	for i := lo; i <= hi; i++ {
		out = append(out, entry(i))
	}
	return out
}

func openLog(t *testing.T, dir string, target int64) *segmentLog {
	t.Helper()
	l, err := openSegmentLog(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if target > 0 {
		l.target = target
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// checkLog asserts the log holds exactly entries lo..hi, each as written.
func checkLog(t *testing.T, l *segmentLog, lo, hi uint64) {
	t.Helper()
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	if first != lo || last != hi {
		t.Fatalf("log holds %d-%d, want %d-%d", first, last, lo, hi)
	}
	for i := lo; i <= hi && hi > 0; i++ {
		var got raft.Log
		if err := l.GetLog(i, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		want := entry(i)
		if got.Index != i || got.Term != want.Term || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) ||
			!bytes.Equal(got.Extensions, want.Extensions) || !got.AppendedAt.Equal(want.AppendedAt) {
			t.Fatalf("GetLog(%d) = %+v, want %+v", i, got, *want)
		}
	}
	for _, i := range []uint64{lo - 1, hi + 1} {
		if i == 0 {
			continue
		}
		if err := l.GetLog(i, new(raft.Log)); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(%d) outside %d-%d: %v, want ErrLogNotFound", i, lo, hi, err)
		}
	}
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}

func TestSegmentLogStoreReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 2000)
	checkLog(t, l, 0, 0)
	for lo := uint64(1); lo <= 300; lo += 30 {
		if err := l.StoreLogs(entries(lo, lo+29)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.StoreLog(entry(301)); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 1, 301)
	if n := len(segFiles(t, dir)); n < 3 {
		t.Fatalf("%d segment files, want several with a 2000-byte target", n)
	}
	if err := l.StoreLogs(entries(301, 302)); err == nil {
		t.Fatal("re-appending entry 301 was accepted")
	}
	if err := l.StoreLogs([]*raft.Log{entry(302), entry(304)}); err == nil {
		t.Fatal("a batch with a hole was accepted")
	}
	checkLog(t, l, 1, 301)
	l.Close()
	checkLog(t, openLog(t, dir, 2000), 1, 301)
}

func TestSegmentLogDeleteRange(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 1500)
	if err := l.StoreLogs(entries(1, 200)); err != nil {
		t.Fatal(err)
	}
	for lo := uint64(201); lo <= 400; lo += 20 {
		if err := l.StoreLogs(entries(lo, lo+19)); err != nil {
			t.Fatal(err)
		}
	}
	before := len(segFiles(t, dir))

	// Compaction: a prefix, ending inside a segment.
	if err := l.DeleteRange(1, 250); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 251, 400)
	if after := len(segFiles(t, dir)); after >= before {
		t.Fatalf("compaction kept all %d segment files", after)
	}
	// A range reaching past either end is clipped; one in the middle is refused.
	if err := l.DeleteRange(1, 260); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 261, 400)
	if err := l.DeleteRange(300, 310); err == nil {
		t.Fatal("removing entries from the middle was accepted")
	}

	// Truncation of a conflicting suffix, then new entries in its place.
	if err := l.DeleteRange(355, 1000); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 261, 354)
	if err := l.StoreLogs(entries(355, 420)); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 261, 420)
	l.Close()
	// After a restart compaction ends on a segment boundary: entries
	// before 261 may be back, all still as written.
	l = openLog(t, dir, 1500)
	first, _ := l.FirstIndex()
	if first > 261 {
		t.Fatalf("first index after reopen %d, want at most 261", first)
	}
	checkLog(t, l, first, 420)

	// Everything, then a fresh start at a later index (after a snapshot).
	if err := l.DeleteRange(first, 420); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 0, 0)
	if n := len(segFiles(t, dir)); n != 0 {
		t.Fatalf("%d segment files left after removing everything", n)
	}
	if err := l.StoreLogs(entries(1000, 1010)); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 1000, 1010)

	// Entries past a gap replace the log (raft leaves one only after a
	// snapshot that covers what came before).
	if err := l.StoreLogs(entries(2000, 2005)); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 2000, 2005)
	l.Close()
	checkLog(t, openLog(t, dir, 1500), 2000, 2005)
}

// TestSegmentLogTornWrite cuts or damages the end of the newest segment,
// as a crash during an append would, and checks that opening keeps every
// complete entry before it and that appending goes on from there.
func TestSegmentLogTornWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"cut inside the last record", func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()-5); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut inside the last header", func(t *testing.T, path string) {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte{0, 0, 0})
			f.Close()
		}},
		{"zeroes after the last record", func(t *testing.T, path string) {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.Write(make([]byte, 4096))
			f.Close()
		}},
		{"last record's data changed", func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			b[len(b)-3] ^= 0xff
			os.WriteFile(path, b, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, 1<<20)
			if err := l.StoreLogs(entries(1, 50)); err != nil {
				t.Fatal(err)
			}
			l.Close()
			files := segFiles(t, dir)
			tc.damage(t, files[len(files)-1])
			l = openLog(t, dir, 1<<20)
			last, _ := l.LastIndex()
			if last != 49 && last != 50 {
				t.Fatalf("last index %d after a damaged tail, want 49 (or 50 if only padding was added)", last)
			}
			checkLog(t, l, 1, last)
			if err := l.StoreLogs(entries(last+1, 60)); err != nil {
				t.Fatal(err)
			}
			l.Close()
			checkLog(t, openLog(t, dir, 1<<20), 1, 60)
		})
	}
}

func TestSegmentLogDamageBeforeTheEndIsAnError(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, 500)
	if err := l.StoreLogs(entries(1, 100)); err != nil {
		t.Fatal(err)
	}
	if err := l.StoreLogs(entries(101, 110)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	files := segFiles(t, dir)
	if len(files) < 2 {
		t.Fatalf("%d segment files, want 2", len(files))
	}
	b, _ := os.ReadFile(files[0])
	b[100] ^= 0xff
	os.WriteFile(files[0], b, 0o600)
	if l, err := openSegmentLog(dir, slog.New(slog.DiscardHandler)); err == nil {
		l.Close()
		t.Fatal("a damaged record in an older segment was accepted")
	} else if !strings.Contains(err.Error(), files[0]) {
		t.Fatalf("error %q does not name the damaged file", err)
	}
}

func TestMoveBoltLog(t *testing.T) {
	dir := t.TempDir()
	old, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.StoreLogs(entries(5, 3000)); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, filepath.Join(dir, "log"), 0)
	if err := moveBoltLog(old, l, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 5, 3000)
	if n, _ := old.LastIndex(); n != 0 {
		t.Fatalf("raft.db still holds entries up to %d", n)
	}
	// Once moved, a later start leaves the segment log alone.
	if err := old.StoreLogs(entries(1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := moveBoltLog(old, l, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 5, 3000)
}
