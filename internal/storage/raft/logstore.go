package raft

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// segmentLog is the raft log: append-only segment files in one directory,
// written with one write and one fdatasync per batch and read back with
// pread. Nothing is memory-mapped, so the log costs the process only an
// offset per entry however much has been written between snapshots.
//
// A segment is named after the index of its first entry
// (00000000000000000042.seg) and holds consecutive entries, each framed as
//
//	length uint32 | crc32c(payload) uint32 | payload
//	payload: index uint64 | term uint64 | type uint8 | appended-at unix ns int64 |
//	         len uint32 | data | len uint32 | extensions
//
// (big-endian). A write cut short by a crash leaves a torn or
// checksum-failing record at the end of the newest segment; opening the log
// truncates it, as it was never acknowledged. Compaction removes whole
// segments from the front, oldest first; truncation removes segments from
// the back, newest first, and then cuts the file; so a crash part-way
// through either leaves a contiguous log.
type segmentLog struct {
	dir    string
	logger *slog.Logger
	target int64 // a new segment is started once the newest reaches this size

	mu    sync.RWMutex
	segs  []*segment
	start uint64 // first index kept (compaction may end inside segs[0])
	buf   []byte // encoding buffer for StoreLogs, reused under mu
}

type segment struct {
	first uint64
	f     *os.File
	// offs[i] is the offset of entry first+i; the final element is the
	// end of the last entry, so len(offs)-1 entries are held.
	offs []int64
}

func (s *segment) last() uint64 { return s.first + uint64(len(s.offs)) - 2 }
func (s *segment) size() int64  { return s.offs[len(s.offs)-1] }

const (
	segmentTarget = 32 << 20 // a new segment is started past this size
	recordHeader  = 8
	payloadFixed  = 8 + 8 + 1 + 8 + 4 + 4
	maxRecord     = 1 << 30
)

var _ raft.MonotonicLogStore = (*segmentLog)(nil)

// openSegmentLog opens (creating if needed) the log in dir, checking every
// record and dropping a torn write at the end of the newest segment.
func openSegmentLog(dir string, logger *slog.Logger) (*segmentLog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil || len(name) != 20 {
			return nil, fmt.Errorf("raft log: unexpected file %s in %s", e.Name(), dir)
		}
		firsts = append(firsts, n)
	}
	slices.Sort(firsts)
	l := &segmentLog{dir: dir, logger: logger, target: segmentTarget}
	for i, first := range firsts {
		newest := i == len(firsts)-1
		s, err := l.loadSegment(first, newest)
		if err != nil {
			l.Close()
			return nil, err
		}
		if s == nil { // the newest segment held no complete entry
			continue
		}
		if n := len(l.segs); n > 0 && l.segs[n-1].last()+1 != s.first {
			s.f.Close()
			l.Close()
			return nil, fmt.Errorf("raft log: segment %s does not follow entry %d", l.segPath(first), l.segs[n-1].last())
		}
		l.segs = append(l.segs, s)
	}
	if len(l.segs) > 0 {
		l.start = l.segs[0].first
	}
	return l, nil
}

func (l *segmentLog) segPath(first uint64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%020d.seg", first))
}

// loadSegment reads a segment's records to index them. A bad record in the
// newest segment ends it (the file is cut there); anywhere else it is an
// error. It returns nil if the newest segment holds no complete record (the
// file is then removed).
func (l *segmentLog) loadSegment(first uint64, newest bool) (*segment, error) {
	path := l.segPath(first)
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("raft log: %w", err)
	}
	s := &segment{first: first, f: f, offs: []int64{0}}
	r := bufio.NewReaderSize(f, 256<<10)
	var hdr [recordHeader]byte
	var payload []byte
	var off int64
	var bad error
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err != io.EOF {
				bad = errors.New("torn record header")
			}
			break
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		if n < payloadFixed || n > maxRecord {
			bad = fmt.Errorf("record length %d out of range", n)
			break
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			bad = errors.New("torn record")
			break
		}
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:8]) {
			bad = errors.New("record checksum mismatch")
			break
		}
		if idx := binary.BigEndian.Uint64(payload); idx != first+uint64(len(s.offs)-1) {
			bad = fmt.Errorf("record holds entry %d, expected %d", idx, first+uint64(len(s.offs)-1))
			break
		}
		off += recordHeader + int64(n)
		s.offs = append(s.offs, off)
	}
	if bad != nil {
		if !newest {
			f.Close()
			return nil, fmt.Errorf("raft log: %s at offset %d: %v", path, off, bad)
		}
		l.logger.Warn("raft log: dropping an incomplete write at the end of the log (it was never acknowledged)",
			"file", path, "offset", off, "reason", bad.Error())
		if err := f.Truncate(off); err != nil {
			f.Close()
			return nil, fmt.Errorf("raft log: cut %s: %w", path, err)
		}
		if err := fdatasync(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("raft log: sync %s: %w", path, err)
		}
	}
	if len(s.offs) == 1 {
		f.Close()
		if !newest {
			return nil, fmt.Errorf("raft log: %s holds no entries", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("raft log: %w", err)
		}
		return nil, syncDir(l.dir)
	}
	return s, nil
}

func (l *segmentLog) lastLocked() uint64 {
	if len(l.segs) == 0 {
		return 0
	}
	return l.segs[len(l.segs)-1].last()
}

// FirstIndex returns the first index held, 0 if none.
func (l *segmentLog) FirstIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.segs) == 0 {
		return 0, nil
	}
	return l.start, nil
}

// LastIndex returns the last index held, 0 if none.
func (l *segmentLog) LastIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lastLocked(), nil
}

// IsMonotonic tells raft that entries are kept without gaps, so it clears
// the log after restoring a snapshot instead of leaving a gap.
func (l *segmentLog) IsMonotonic() bool { return true }

// GetLog reads entry index into out.
func (l *segmentLog) GetLog(index uint64, out *raft.Log) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.segs) == 0 || index < l.start || index > l.lastLocked() {
		return raft.ErrLogNotFound
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > index }) - 1
	s := l.segs[i]
	k := index - s.first
	off, end := s.offs[k], s.offs[k+1]
	rec := make([]byte, end-off)
	if _, err := s.f.ReadAt(rec, off); err != nil {
		return fmt.Errorf("raft log: read entry %d: %w", index, err)
	}
	payload := rec[recordHeader:]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(rec[4:8]) {
		return fmt.Errorf("raft log: entry %d in %s fails its checksum", index, l.segPath(s.first))
	}
	return decodeLog(payload, out)
}

func decodeLog(p []byte, out *raft.Log) error {
	bad := errors.New("raft log: malformed entry")
	if len(p) < payloadFixed {
		return bad
	}
	out.Index = binary.BigEndian.Uint64(p[0:])
	out.Term = binary.BigEndian.Uint64(p[8:])
	out.Type = raft.LogType(p[16])
	out.AppendedAt = time.Time{}
	if ns := int64(binary.BigEndian.Uint64(p[17:])); ns != 0 {
		out.AppendedAt = time.Unix(0, ns)
	}
	p = p[25:]
	n := binary.BigEndian.Uint32(p)
	if uint64(len(p)) < 4+uint64(n)+4 {
		return bad
	}
	out.Data = nilIfEmpty(p[4 : 4+n])
	p = p[4+n:]
	m := binary.BigEndian.Uint32(p)
	if uint64(len(p)) != 4+uint64(m) {
		return bad
	}
	out.Extensions = nilIfEmpty(p[4:])
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func appendRecord(b []byte, lg *raft.Log) []byte {
	n := payloadFixed + len(lg.Data) + len(lg.Extensions)
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint32(b, 0) // checksum, filled below
	b = binary.BigEndian.AppendUint64(b, lg.Index)
	b = binary.BigEndian.AppendUint64(b, lg.Term)
	b = append(b, byte(lg.Type))
	var ns int64
	if !lg.AppendedAt.IsZero() {
		ns = lg.AppendedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ns))
	b = binary.BigEndian.AppendUint32(b, uint32(len(lg.Data)))
	b = append(b, lg.Data...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(lg.Extensions)))
	b = append(b, lg.Extensions...)
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+recordHeader:], castagnoli))
	return b
}

// StoreLog stores one entry.
func (l *segmentLog) StoreLog(lg *raft.Log) error { return l.StoreLogs([]*raft.Log{lg}) }

// StoreLogs appends consecutive entries following the last one held, with
// one write and one fdatasync; they are durable when it returns. Entries
// past a gap (raft leaves one only after a snapshot that covers everything
// before it) replace the whole log.
func (l *segmentLog) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	for i := 1; i < len(logs); i++ {
		if logs[i].Index != logs[i-1].Index+1 {
			return fmt.Errorf("raft log: entries %d and %d are not consecutive", logs[i-1].Index, logs[i].Index)
		}
	}
	for _, lg := range logs {
		if len(lg.Data)+len(lg.Extensions) > maxRecord-payloadFixed {
			return fmt.Errorf("raft log: entry %d is %d bytes, more than the %d a record holds", lg.Index, len(lg.Data)+len(lg.Extensions), maxRecord-payloadFixed)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.segs) > 0 {
		last := l.lastLocked()
		switch next := logs[0].Index; {
		case next <= last:
			return fmt.Errorf("raft log: entry %d is already held (last is %d); entries are removed before they are replaced", next, last)
		case next > last+1:
			if err := l.removeFrom(0); err != nil {
				return err
			}
		}
	}
	b := l.buf[:0]
	for _, lg := range logs {
		b = appendRecord(b, lg)
	}
	l.buf = b
	if cap(l.buf) > 4<<20 {
		l.buf = nil // do not keep a large batch's buffer
	}

	var s *segment
	if n := len(l.segs); n > 0 && l.segs[n-1].size() < l.target {
		s = l.segs[n-1]
	} else {
		path := l.segPath(logs[0].Index)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("raft log: %w", err)
		}
		if err := syncDir(l.dir); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("raft log: %w", err)
		}
		s = &segment{first: logs[0].Index, f: f, offs: []int64{0}}
		l.segs = append(l.segs, s)
		if len(l.segs) == 1 {
			l.start = s.first
		}
	}
	end := s.size()
	_, err := s.f.WriteAt(b, end)
	if err == nil {
		err = fdatasync(s.f)
	}
	if err != nil {
		// Cut back what may have reached the file; the entries are not
		// stored. A fresh segment that stays empty is removed.
		_ = s.f.Truncate(end)
		if len(s.offs) == 1 {
			_ = l.drop(s)
			l.segs = l.segs[:len(l.segs)-1]
		}
		return fmt.Errorf("raft log: append entries %d-%d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
	}
	off := end
	for _, lg := range logs {
		off += int64(recordHeader + payloadFixed + len(lg.Data) + len(lg.Extensions))
		s.offs = append(s.offs, off)
	}
	return nil
}

// DeleteRange removes entries min through max: a prefix (compaction), a
// suffix (replacing entries that conflict with the leader's) or all.
func (l *segmentLog) DeleteRange(lo, hi uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.segs) == 0 {
		return nil
	}
	first, last := l.start, l.lastLocked()
	lo, hi = max(lo, first), min(hi, last)
	switch {
	case lo > hi:
		return nil
	case lo == first && hi == last:
		return l.removeFrom(0)
	case hi == last:
		return l.removeFrom(lo)
	case lo == first:
		return l.removePrefix(hi)
	default:
		return fmt.Errorf("raft log: cannot remove entries %d-%d from the middle of %d-%d", lo, hi, first, last)
	}
}

// removePrefix drops entries up to hi (< last): whole segments are
// removed, oldest first; hi may end inside the first one kept.
func (l *segmentLog) removePrefix(hi uint64) error {
	removed := false
	for len(l.segs) > 1 && l.segs[0].last() <= hi {
		if err := l.drop(l.segs[0]); err != nil {
			return err
		}
		l.segs, removed = l.segs[1:], true
	}
	l.start = hi + 1
	return l.syncIf(removed)
}

// drop closes a segment and deletes its file.
func (l *segmentLog) drop(s *segment) error {
	s.f.Close()
	if err := os.Remove(l.segPath(s.first)); err != nil {
		return fmt.Errorf("raft log: %w", err)
	}
	return nil
}

// syncIf makes file removals durable (a sync of the directory) if there
// were any.
func (l *segmentLog) syncIf(removed bool) error {
	if !removed {
		return nil
	}
	return syncDir(l.dir)
}

// removeFrom drops entries from lo on (lo > start, or 0 for all of them):
// later segments are removed newest first, then the one holding lo is cut.
func (l *segmentLog) removeFrom(lo uint64) error {
	removed := false
	for n := len(l.segs); n > 0 && l.segs[n-1].first >= lo; n = len(l.segs) {
		if err := l.drop(l.segs[n-1]); err != nil {
			return err
		}
		l.segs, removed = l.segs[:n-1], true
	}
	if n := len(l.segs); n > 0 && l.segs[n-1].last() >= lo {
		s := l.segs[n-1]
		k := lo - s.first
		if err := s.f.Truncate(s.offs[k]); err != nil {
			return fmt.Errorf("raft log: %w", err)
		}
		if err := fdatasync(s.f); err != nil {
			return fmt.Errorf("raft log: %w", err)
		}
		s.offs = s.offs[:k+1]
	}
	if len(l.segs) == 0 {
		l.start = 0
	}
	return l.syncIf(removed)
}

// Close closes the segment files.
func (l *segmentLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, s := range l.segs {
		errs = append(errs, s.f.Close())
	}
	l.segs = nil
	return errors.Join(errs...)
}

// moveBoltLog moves log entries that an earlier version kept in raft.db
// into the segment log, once: only while the segment log is empty.
func moveBoltLog(old raft.LogStore, l *segmentLog, logger *slog.Logger) error {
	if n, err := l.LastIndex(); err != nil || n > 0 {
		return err
	}
	first, err := old.FirstIndex()
	if err != nil {
		return fmt.Errorf("raft log: read raft.db: %w", err)
	}
	last, err := old.LastIndex()
	if err != nil || last == 0 {
		return err
	}
	logger.Info("moving the raft log out of raft.db", "entries", last-first+1)
	const batch = 1024
	for lo := first; lo <= last; lo += batch {
		logs := make([]*raft.Log, 0, batch)
		for i := lo; i <= min(last, lo+batch-1); i++ {
			lg := new(raft.Log)
			if err := old.GetLog(i, lg); err != nil {
				return fmt.Errorf("raft log: read entry %d from raft.db: %w", i, err)
			}
			logs = append(logs, lg)
		}
		if err := l.StoreLogs(logs); err != nil {
			return err
		}
	}
	if err := old.DeleteRange(first, last); err != nil {
		return fmt.Errorf("raft log: clear raft.db: %w", err)
	}
	return nil
}
