package raft

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	bolt "go.etcd.io/bbolt"

	"github.com/coffer-dev/coffer/internal/storage"
)

// The snapshot stream holds every entry of the data bucket:
//
//	stream  = magic version:byte record* end
//	record  = 1:byte keyLen:uvarint key valueLen:uvarint value
//	end     = 0:byte count:uvarint crc:uint32be
//
// crc is CRC-32C of every byte before it, so a truncated or damaged
// stream is rejected before it replaces any state.
const (
	snapshotMagic   = "coffer-raft-snapshot\n"
	snapshotVersion = 1
	tagEntry        = 1
	tagEnd          = 0
)

var (
	errCorruptSnapshot = errors.New("corrupt storage snapshot")
	castagnoli         = crc32.MakeTable(crc32.Castagnoli)
)

// writeSnapshot streams every entry of b to w.
func writeSnapshot(w io.Writer, b *bolt.Bucket) error {
	h := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 256<<10)
	var scratch []byte
	scratch = append(scratch, snapshotMagic...)
	scratch = append(scratch, snapshotVersion)
	if _, err := bw.Write(scratch); err != nil {
		return err
	}
	var count uint64
	err := b.ForEach(func(k, v []byte) error {
		count++
		scratch = append(scratch[:0], tagEntry)
		scratch = binary.AppendUvarint(scratch, uint64(len(k)))
		scratch = append(scratch, k...)
		scratch = binary.AppendUvarint(scratch, uint64(len(v)))
		if _, err := bw.Write(scratch); err != nil {
			return err
		}
		_, err := bw.Write(v)
		return err
	})
	if err != nil {
		return err
	}
	scratch = append(scratch[:0], tagEnd)
	scratch = binary.AppendUvarint(scratch, count)
	if _, err := bw.Write(scratch); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(binary.BigEndian.AppendUint32(nil, h.Sum32()))
	return err
}

// readSnapshot decodes a snapshot stream and calls fn for each entry, in
// stream order. Each entry owns its key and value. It fails if the stream
// is damaged, but only once fn has seen the entries before the damage; the
// caller must not make them visible before readSnapshot returns nil.
func readSnapshot(r io.Reader, fn func(storage.Entry) error) error {
	sr := &snapshotReader{r: bufio.NewReaderSize(r, 256<<10), h: crc32.New(castagnoli)}
	magic := make([]byte, len(snapshotMagic)+1)
	if err := sr.full(magic); err != nil {
		return err
	}
	if string(magic[:len(snapshotMagic)]) != snapshotMagic {
		return fmt.Errorf("%w: not a storage snapshot", errCorruptSnapshot)
	}
	if v := magic[len(snapshotMagic)]; v != snapshotVersion {
		return fmt.Errorf("%w: unsupported version %d", errCorruptSnapshot, v)
	}
	var count uint64
	for {
		tag, err := sr.byte()
		if err != nil {
			return err
		}
		if tag == tagEnd {
			break
		}
		if tag != tagEntry {
			return fmt.Errorf("%w: unknown record tag %d", errCorruptSnapshot, tag)
		}
		key, err := sr.bytes(maxKeyLen)
		if err != nil {
			return err
		}
		if len(key) == 0 {
			return fmt.Errorf("%w: empty key", errCorruptSnapshot)
		}
		value, err := sr.bytes(bolt.MaxValueSize)
		if err != nil {
			return err
		}
		count++
		if err := fn(storage.Entry{Key: string(key), Value: value}); err != nil {
			return err
		}
	}
	want, err := sr.uvarint()
	if err != nil {
		return err
	}
	if want != count {
		return fmt.Errorf("%w: %d entries, trailer says %d", errCorruptSnapshot, count, want)
	}
	sum := sr.h.Sum32()
	var crc [4]byte
	if _, err := io.ReadFull(sr.r, crc[:]); err != nil {
		return fmt.Errorf("%w: missing checksum", errCorruptSnapshot)
	}
	if binary.BigEndian.Uint32(crc[:]) != sum {
		return fmt.Errorf("%w: checksum mismatch", errCorruptSnapshot)
	}
	if _, err := sr.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: data after the end", errCorruptSnapshot)
	}
	return nil
}

// snapshotReader reads from r and hashes everything it reads.
type snapshotReader struct {
	r *bufio.Reader
	h hash.Hash32
}

func (s *snapshotReader) full(b []byte) error {
	if _, err := io.ReadFull(s.r, b); err != nil {
		return fmt.Errorf("%w: %w", errCorruptSnapshot, shortErr(err))
	}
	s.h.Write(b)
	return nil
}

func (s *snapshotReader) byte() (byte, error) {
	var b [1]byte
	err := s.full(b[:])
	return b[0], err
}

func (s *snapshotReader) uvarint() (uint64, error) {
	var buf [binary.MaxVarintLen64]byte
	for i := range buf {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		buf[i] = b
		if b < 0x80 {
			v, n := binary.Uvarint(buf[:i+1])
			if n <= 0 {
				break
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: bad length", errCorruptSnapshot)
}

// bytes reads a length-prefixed field of at most limit bytes into a new
// slice.
func (s *snapshotReader) bytes(limit int) ([]byte, error) {
	n, err := s.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: field of %d bytes", errCorruptSnapshot, n)
	}
	// Grow in steps so a damaged length cannot force a huge allocation
	// before the stream runs out.
	const step = 1 << 20
	b := make([]byte, 0, min(n, step))
	for uint64(len(b)) < n {
		m := len(b)
		b = append(b, make([]byte, min(n-uint64(m), step))...)
		if err := s.full(b[m:]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func shortErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
