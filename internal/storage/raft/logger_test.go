package raft

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

type stringer struct{}

func (stringer) String() string { return "from-stringer" }

func TestHCLogAdapter(t *testing.T) {
	tests := []struct {
		name    string
		level   slog.Level
		log     func(hclog.Logger)
		want    string // substring; "" means nothing is written
		wantLvl string
	}{
		{"info hidden at info", slog.LevelInfo, func(l hclog.Logger) { l.Info("entering follower state") }, "", ""},
		{"info shown at debug", slog.LevelDebug, func(l hclog.Logger) { l.Info("entering follower state") }, "entering follower state", "DEBUG"},
		{"trace hidden at debug", slog.LevelDebug, func(l hclog.Logger) { l.Trace("noise") }, "", ""},
		{"warn shown at info", slog.LevelInfo, func(l hclog.Logger) { l.Warn("failed to contact", "server-id", "n2") }, "server-id=n2", "WARN"},
		{"error keeps level", slog.LevelInfo, func(l hclog.Logger) { l.Error("boom", "error", errors.New("disk")) }, "error=disk", "ERROR"},
		{"stringer value", slog.LevelInfo, func(l hclog.Logger) { l.Warn("x", "peer", stringer{}) }, "peer=from-stringer", "WARN"},
		{"format value", slog.LevelInfo, func(l hclog.Logger) { l.Warn("x", "f", hclog.Fmt("%d-%s", 7, "z")) }, "f=7-z", "WARN"},
		{"named and with", slog.LevelInfo, func(l hclog.Logger) { l.Named("snap").With("id", 3).Warn("x") }, "id=3 logger=raft.snap", "WARN"},
		{"election start is info", slog.LevelInfo, func(l hclog.Logger) { l.Warn("heartbeat timeout reached, starting election") }, "starting election", "INFO"},
		{"off", slog.LevelDebug, func(l hclog.Logger) { l.Log(hclog.Off, "never") }, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := newHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level})), "raft")
			tt.log(l)
			out := buf.String()
			if tt.want == "" {
				if out != "" {
					t.Fatalf("wrote %q, want nothing", out)
				}
				return
			}
			if !strings.Contains(out, tt.want) || !strings.Contains(out, "level="+tt.wantLvl) {
				t.Fatalf("wrote %q, want %q at %s", out, tt.want, tt.wantLvl)
			}
		})
	}
}

func TestHCLogAdapterLevels(t *testing.T) {
	l := newHCLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelInfo})), "raft")
	if l.IsInfo() || l.IsDebug() || !l.IsWarn() || !l.IsError() {
		t.Fatalf("IsInfo=%v IsDebug=%v IsWarn=%v IsError=%v", l.IsInfo(), l.IsDebug(), l.IsWarn(), l.IsError())
	}
	if got := l.GetLevel(); got != hclog.Warn {
		t.Fatalf("GetLevel() = %v, want Warn", got)
	}
	if l.Named("x").Name() != "raft.x" || l.ResetNamed("y").Name() != "y" {
		t.Fatal("names are not kept")
	}
	if args := l.With("a", 1).ImpliedArgs(); len(args) != 2 || args[0] != "a" {
		t.Fatalf("ImpliedArgs() = %v", args)
	}
}
