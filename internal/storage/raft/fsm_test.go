package raft

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/coffer-dev/coffer/internal/storage"
)

func newTestFSM(t *testing.T) *fsm {
	t.Helper()
	f, err := openFSM(filepath.Join(t.TempDir(), "vault.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.close() })
	return f
}

func commandLog(t *testing.T, index uint64, ops ...storage.Op) *raft.Log {
	t.Helper()
	data, err := encodeCommand(ops)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: index, Type: raft.LogCommand, Data: data}
}

func putOp(key, value string) storage.Op {
	return storage.Op{Entry: &storage.Entry{Key: key, Value: []byte(value)}}
}

func fsmValue(t *testing.T, f *fsm, key string) string {
	t.Helper()
	e, err := f.get(key)
	if err != nil {
		t.Fatal(err)
	}
	if e == nil {
		return "<missing>"
	}
	return string(e.Value)
}

func TestApplyBatchSkipsApplied(t *testing.T) {
	f := newTestFSM(t)
	resp := f.ApplyBatch([]*raft.Log{
		commandLog(t, 1, putOp("a", "1")),
		commandLog(t, 2, putOp("a", "2"), putOp("b", "x")),
		{Index: 3, Type: raft.LogConfiguration},
		commandLog(t, 4, storage.Op{Delete: true, Entry: &storage.Entry{Key: "b"}}),
	})
	for i, r := range resp {
		if r != nil {
			t.Fatalf("response %d = %v", i, r)
		}
	}
	if got := f.applied.Load(); got != 4 {
		t.Fatalf("applied = %d, want 4", got)
	}
	// A replay after a restart repeats entries already in the file.
	f.ApplyBatch([]*raft.Log{commandLog(t, 1, putOp("a", "1")), commandLog(t, 2, putOp("b", "x"))})
	if got := fsmValue(t, f, "a"); got != "2" {
		t.Fatalf("a = %q after replay, want 2", got)
	}
	if got := fsmValue(t, f, "b"); got != "<missing>" {
		t.Fatalf("b = %q after replay, want missing", got)
	}
	// A batch that straddles the applied index applies only the new part.
	f.ApplyBatch([]*raft.Log{commandLog(t, 4, putOp("a", "replayed")), commandLog(t, 5, putOp("c", "new"))})
	if got := fsmValue(t, f, "a"); got != "2" {
		t.Fatalf("a = %q, want 2", got)
	}
	if got := fsmValue(t, f, "c"); got != "new" {
		t.Fatalf("c = %q, want new", got)
	}

	// The applied index is durable.
	path := f.path
	f.close()
	f2, err := openFSM(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer f2.close()
	if got := f2.applied.Load(); got != 5 {
		t.Fatalf("applied after reopen = %d, want 5", got)
	}
}

func TestApplyBatchBadCommand(t *testing.T) {
	f := newTestFSM(t)
	resp := f.ApplyBatch([]*raft.Log{
		{Index: 1, Type: raft.LogCommand, Data: []byte{99, 1, 2}},
		commandLog(t, 2, putOp("ok", "yes")),
	})
	if err, _ := resp[0].(error); !errors.Is(err, errCorruptCommand) {
		t.Fatalf("response 0 = %v, want errCorruptCommand", resp[0])
	}
	if resp[1] != nil {
		t.Fatalf("response 1 = %v", resp[1])
	}
	if got := fsmValue(t, f, "ok"); got != "yes" {
		t.Fatalf("ok = %q", got)
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	canceled, closed bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.canceled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func snapshotOf(t *testing.T, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.canceled {
		t.Fatalf("sink closed=%v canceled=%v", sink.closed, sink.canceled)
	}
	return sink.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	src := newTestFSM(t)
	var ops []storage.Op
	want := map[string]string{}
	for i := range 300 {
		k, v := fmt.Sprintf("dir%d/key%03d", i%3, i), fmt.Sprintf("value-%d", i)
		ops = append(ops, putOp(k, v))
		want[k] = v
	}
	ops = append(ops, putOp("empty", ""), putOp("big", string(bytes.Repeat([]byte{0, 0xff}, 1<<20))))
	want["empty"], want["big"] = "", string(bytes.Repeat([]byte{0, 0xff}, 1<<20))
	src.ApplyBatch([]*raft.Log{commandLog(t, 1, ops...)})
	data := snapshotOf(t, src)

	// A write after the snapshot started is not part of it.
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	src.ApplyBatch([]*raft.Log{commandLog(t, 2, putOp("later", "x"))})
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if !bytes.Equal(sink.Bytes(), data) {
		t.Fatal("snapshot taken before a write differs from the earlier one")
	}

	dst := newTestFSM(t)
	dst.ApplyBatch([]*raft.Log{commandLog(t, 9, putOp("stale", "gone after restore"))})
	if err := dst.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if got := dst.applied.Load(); got != 0 {
		t.Fatalf("applied after restore = %d, want 0", got)
	}
	for k, v := range want {
		if got := fsmValue(t, dst, k); got != v {
			t.Fatalf("%s = %.20q, want %.20q", k, got, v)
		}
	}
	for _, k := range []string{"stale", "later"} {
		if got := fsmValue(t, dst, k); got != "<missing>" {
			t.Fatalf("%s = %q after restore", k, got)
		}
	}
	keys, err := dst.list("")
	if err != nil || !slices.Equal(keys, []string{"big", "dir0/", "dir1/", "dir2/", "empty"}) {
		t.Fatalf("list = %q, %v", keys, err)
	}
}

func TestRestoreRejectsDamage(t *testing.T) {
	src := newTestFSM(t)
	src.ApplyBatch([]*raft.Log{commandLog(t, 1, putOp("a", "1"), putOp("b/c", "2"), putOp("d", "3"))})
	good := snapshotOf(t, src)

	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", flip(0)},
		{"bad version", flip(len(snapshotMagic))},
		{"flipped value byte", flip(len(good) - 8)},
		{"flipped checksum", flip(len(good) - 1)},
		{"truncated in entries", good[:len(snapshotMagic)+5]},
		{"missing checksum", good[:len(good)-4]},
		{"trailing data", append(bytes.Clone(good), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := newTestFSM(t)
			dst.ApplyBatch([]*raft.Log{commandLog(t, 1, putOp("keep", "me"))})
			err := dst.Restore(io.NopCloser(bytes.NewReader(tt.data)))
			if !errors.Is(err, errCorruptSnapshot) {
				t.Fatalf("Restore = %v, want errCorruptSnapshot", err)
			}
			if got := fsmValue(t, dst, "keep"); got != "me" {
				t.Fatalf("keep = %q: a failed restore changed the state", got)
			}
			if got := fsmValue(t, dst, "a"); got != "<missing>" {
				t.Fatalf("a = %q: a failed restore changed the state", got)
			}
		})
	}
}

func TestList(t *testing.T) {
	f := newTestFSM(t)
	var ops []storage.Op
	for _, k := range []string{"a", "a/", "a/b", "a/b/c", "a0", "a.b", "b/x/y/z", "b/x0", "c"} {
		ops = append(ops, putOp(k, "v"))
	}
	f.ApplyBatch([]*raft.Log{commandLog(t, 1, ops...)})
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a", "a.b", "a/", "a0", "b/", "c"}},
		{"a/", []string{"", "b", "b/"}},
		{"b/", []string{"x/", "x0"}},
		{"b/x", []string{"/", "0"}},
		{"zzz", nil},
	}
	for _, tt := range tests {
		keys, err := f.list(tt.prefix)
		if err != nil || !slices.Equal(keys, tt.want) {
			t.Errorf("list(%q) = %q, %v; want %q", tt.prefix, keys, err, tt.want)
		}
	}
}
