package raft

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/coffer-dev/coffer/internal/storage"
)

// A snapshot archive is a gzip-compressed tar holding, in this order:
//
//	meta.json           raft index and term of the state, entry count
//	state.bin           the state in the FSM snapshot stream format
//	SHA256SUMS          "<hex>  <name>" lines for meta.json and state.bin
//	SHA256SUMS.sealed   SHA256SUMS sealed by the server (its keys)
//
// This is the layout Vault clients expect from sys/storage/raft/snapshot.
const (
	archiveMeta   = "meta.json"
	archiveState  = "state.bin"
	archiveSums   = "SHA256SUMS"
	archiveSealed = "SHA256SUMS.sealed"
)

// ErrBadSnapshot wraps every problem with a snapshot archive's content.
var ErrBadSnapshot = errors.New("invalid snapshot")

type archiveMetadata struct {
	Index   uint64    `json:"index"`
	Term    uint64    `json:"term"`
	Entries int       `json:"entries"`
	Created time.Time `json:"created"`
	NodeID  string    `json:"node_id"`
}

// SaveSnapshot writes an archive of the current state to w. sealSums
// returns the sealed form of the SHA256SUMS file. The state is read in
// one consistent view while writes continue.
func (b *Backend) SaveSnapshot(ctx context.Context, w io.Writer, sealSums func([]byte) ([]byte, error)) error {
	tmp, err := os.CreateTemp(filepath.Join(b.dir, "raft"), "snapshot-*.tmp")
	if err != nil {
		return fmt.Errorf("raft storage: snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	snap, err := b.fsm.Snapshot()
	if err != nil {
		return fmt.Errorf("raft storage: snapshot: %w", err)
	}
	fs := snap.(*fsmSnapshot)
	meta := archiveMetadata{Index: b.fsm.applied.Load(), Term: b.raft.CurrentTerm(), Created: time.Now().UTC(), NodeID: b.nodeID}
	stateSum := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, stateSum)}
	err = writeSnapshot(cw, fs.tx.Bucket(dataBucket))
	meta.Entries = fs.tx.Bucket(dataBucket).Stats().KeyN
	fs.Release()
	if err != nil {
		return fmt.Errorf("raft storage: snapshot: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	metaSum := sha256.Sum256(metaJSON)
	sums := fmt.Appendf(nil, "%x  %s\n%x  %s\n", metaSum, archiveMeta, stateSum.Sum(nil), archiveState)
	sealed, err := sealSums(sums)
	if err != nil {
		return fmt.Errorf("raft storage: seal snapshot checksums: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}

	// The state is mostly ciphertext, which does not compress: the fastest
	// level keeps the format clients expect at little cost.
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	now := time.Now()
	add := func(name string, size int64, r io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o600, ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	if err := add(archiveMeta, int64(len(metaJSON)), bytes.NewReader(metaJSON)); err != nil {
		return fmt.Errorf("raft storage: write snapshot: %w", err)
	}
	if err := add(archiveState, cw.n, bufio.NewReaderSize(tmp, 256<<10)); err != nil {
		return fmt.Errorf("raft storage: write snapshot: %w", err)
	}
	if err := add(archiveSums, int64(len(sums)), bytes.NewReader(sums)); err != nil {
		return fmt.Errorf("raft storage: write snapshot: %w", err)
	}
	if err := add(archiveSealed, int64(len(sealed)), bytes.NewReader(sealed)); err != nil {
		return fmt.Errorf("raft storage: write snapshot: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("raft storage: write snapshot: %w", err)
	}
	return gz.Close()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SnapshotCheck is given a staged snapshot before it is installed: the
// SHA256SUMS file, its sealed form, and a lookup of the snapshot's
// entries. An error rejects the snapshot.
type SnapshotCheck func(sums, sealed []byte, get func(key string) ([]byte, bool, error)) error

// RestoreSnapshot checks an archive written by SaveSnapshot and installs
// it through raft: the leader replaces its state and the followers
// receive it. check, if not nil, may reject it first. Only the leader can
// restore; other nodes get an error wrapping storage.ErrReadOnly.
func (b *Backend) RestoreSnapshot(ctx context.Context, r io.Reader, check SnapshotCheck) error {
	st, err := b.StageSnapshot(ctx, r, check)
	if err != nil {
		return err
	}
	defer st.Discard()
	return st.Install(ctx)
}

// StagedSnapshot is a checked snapshot archive waiting to be installed.
type StagedSnapshot struct {
	b    *Backend
	f    *os.File
	meta archiveMetadata
	size int64
}

// StageSnapshot reads and checks an archive (checksums, the state
// stream, then check) into a temporary file, without changing anything.
func (b *Backend) StageSnapshot(ctx context.Context, r io.Reader, check SnapshotCheck) (*StagedSnapshot, error) {
	if !b.IsLeader() {
		return nil, applyError(raft.ErrNotLeader)
	}
	tmp, err := os.CreateTemp(filepath.Join(b.dir, "raft"), "restore-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("raft storage: restore: %w", err)
	}
	st := &StagedSnapshot{b: b, f: tmp}
	arch, err := stageArchive(r, tmp)
	if err == nil {
		err = verifyStaged(tmp)
	}
	if err == nil && check != nil {
		err = check(arch.sums, arch.sealed, func(key string) ([]byte, bool, error) { return lookupSnapshot(tmp, key) })
	}
	if err != nil {
		st.Discard()
		return nil, err
	}
	st.meta, st.size = arch.meta, arch.size
	return st, nil
}

// Discard removes the staged file.
func (s *StagedSnapshot) Discard() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// Install hands the staged snapshot to raft; on the leader it replaces
// the state, and followers receive it.
func (s *StagedSnapshot) Install(ctx context.Context) error {
	b := s.b
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: s.meta.Index, Term: s.meta.Term, Size: s.size}
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if _, serr := s.f.Seek(0, io.SeekStart); serr != nil {
			return serr
		}
		err = b.raft.Restore(meta, bufio.NewReaderSize(s.f, 256<<10), timeoutOf(ctx))
		if err == nil || !strings.Contains(err.Error(), "configuration entry") {
			break
		}
		// A membership change is still being committed; try again shortly.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("raft storage: restore: %w", applyError(err))
	}
	b.logger.Info("restored a snapshot", "entries", s.meta.Entries, "taken_at_index", s.meta.Index, "taken", s.meta.Created)
	return nil
}

type stagedArchive struct {
	meta        archiveMetadata
	size        int64
	sums        []byte
	sealed      []byte
	metaSum     string
	stateSum    string
	sawMetaFile bool
}

// stageArchive reads the archive, copying state.bin to dst, and checks
// the checksums.
func stageArchive(r io.Reader, dst *os.File) (*stagedArchive, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: not a gzip archive: %w", ErrBadSnapshot, err)
	}
	tr := tar.NewReader(gz)
	st := &stagedArchive{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
		}
		switch h.Name {
		case archiveMeta:
			raw, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
			}
			if err := json.Unmarshal(raw, &st.meta); err != nil {
				return nil, fmt.Errorf("%w: meta.json: %w", ErrBadSnapshot, err)
			}
			sum := sha256.Sum256(raw)
			st.metaSum, st.sawMetaFile = hex.EncodeToString(sum[:]), true
		case archiveState:
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(dst, h), tr)
			if err != nil {
				return nil, fmt.Errorf("%w: state.bin: %w", ErrBadSnapshot, err)
			}
			st.size, st.stateSum = n, hex.EncodeToString(h.Sum(nil))
		case archiveSums:
			if st.sums, err = io.ReadAll(io.LimitReader(tr, 1<<16)); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
			}
		case archiveSealed:
			if st.sealed, err = io.ReadAll(io.LimitReader(tr, 1<<16)); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
			}
		}
	}
	if !st.sawMetaFile || st.stateSum == "" || st.sums == nil || len(st.sealed) == 0 {
		return nil, fmt.Errorf("%w: the archive lacks meta.json, state.bin, SHA256SUMS or SHA256SUMS.sealed", ErrBadSnapshot)
	}
	want := map[string]string{archiveMeta: st.metaSum, archiveState: st.stateSum}
	for _, line := range strings.Split(strings.TrimSpace(string(st.sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			return nil, fmt.Errorf("%w: malformed SHA256SUMS line %q", ErrBadSnapshot, line)
		}
		if w, known := want[name]; known {
			if w != sum {
				return nil, fmt.Errorf("%w: checksum mismatch for %s", ErrBadSnapshot, name)
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("%w: SHA256SUMS does not cover every file", ErrBadSnapshot)
	}
	return st, nil
}

// verifyStaged decodes the whole staged state stream, so that a damaged
// one is rejected before raft is asked to install it.
func verifyStaged(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := readSnapshot(f, func(storage.Entry) error { return nil }); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	return nil
}

// lookupSnapshot scans a staged state stream for one key.
func lookupSnapshot(f *os.File, key string) ([]byte, bool, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, false, err
	}
	var value []byte
	found := false
	errFound := errors.New("found")
	err := readSnapshot(f, func(e storage.Entry) error {
		if e.Key == key {
			value, found = e.Value, true
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, false, err
	}
	return value, found, nil
}
