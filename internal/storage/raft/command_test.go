package raft

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/storage"
)

func TestCommandRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		ops  []storage.Op
	}{
		{"empty", nil},
		{"put", []storage.Op{putOp("a/b", "value")}},
		{"empty value", []storage.Op{putOp("k", "")}},
		{"nil value", []storage.Op{{Entry: &storage.Entry{Key: "k"}}}},
		{"delete", []storage.Op{{Delete: true, Entry: &storage.Entry{Key: "gone"}}}},
		{"mixed", []storage.Op{
			putOp("x", "1"),
			{Delete: true, Entry: &storage.Entry{Key: "y", Value: []byte("ignored")}},
			putOp("z", strings.Repeat("v", 300)),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encodeCommand(tt.ops)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeCommand(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.ops) {
				t.Fatalf("decoded %d ops, want %d", len(got), len(tt.ops))
			}
			for i, o := range tt.ops {
				g := got[i]
				if g.delete != o.Delete || string(g.key) != o.Entry.Key {
					t.Fatalf("op %d = %+v, want %+v", i, g, o)
				}
				if o.Delete {
					if g.value != nil {
						t.Fatalf("op %d: delete carries a value", i)
					}
					continue
				}
				if g.value == nil || !bytes.Equal(g.value, o.Entry.Value) {
					t.Fatalf("op %d value = %q, want %q", i, g.value, o.Entry.Value)
				}
			}
		})
	}
}

func TestEncodeCommandRejects(t *testing.T) {
	tests := []struct {
		name string
		ops  []storage.Op
	}{
		{"nil entry", []storage.Op{{}}},
		{"empty key", []storage.Op{putOp("", "v")}},
		{"empty delete key", []storage.Op{{Delete: true, Entry: &storage.Entry{}}}},
		{"key too long", []storage.Op{putOp(strings.Repeat("k", maxKeyLen+1), "v")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := encodeCommand(tt.ops); err == nil {
				t.Fatal("encodeCommand succeeded, want an error")
			}
		})
	}
}

func TestDecodeCommandCorrupt(t *testing.T) {
	good, err := encodeCommand([]storage.Op{putOp("key", "value"), {Delete: true, Entry: &storage.Entry{Key: "d"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad version", append([]byte{2}, good[1:]...)},
		{"huge count", []byte{commandVersion, 0xff, 0xff, 0xff, 0x0f}},
		{"truncated", good[:len(good)-2]},
		{"trailing", append(bytes.Clone(good), 0)},
		{"unknown kind", []byte{commandVersion, 1, 9, 1, 'k'}},
		{"empty key", []byte{commandVersion, 1, kindDelete, 0}},
		{"length past end", []byte{commandVersion, 1, kindPut, 1, 'k', 50, 'v'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeCommand(tt.data); !errors.Is(err, errCorruptCommand) {
				t.Fatalf("decodeCommand = %v, want errCorruptCommand", err)
			}
		})
	}
}
