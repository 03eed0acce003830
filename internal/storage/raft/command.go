package raft

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer/internal/storage"
)

// A command is the payload of one raft log entry: a batch of puts and
// deletes applied in order in one bbolt transaction.
//
//	command = version:byte count:uvarint op*
//	op      = kind:byte keyLen:uvarint key [valueLen:uvarint value]   (value only for puts)
const commandVersion byte = 1

const (
	kindPut    byte = 1
	kindDelete byte = 2
)

// maxKeyLen is bbolt's key size limit.
const maxKeyLen = 32768

var errCorruptCommand = errors.New("corrupt raft command")

// op is a decoded operation; key and value alias the encoded command.
type op struct {
	delete bool
	key    []byte
	value  []byte
}

func validateOp(o storage.Op) error {
	switch {
	case o.Entry == nil:
		return errors.New("storage entry is nil")
	case o.Entry.Key == "":
		return errors.New("storage key is empty")
	case len(o.Entry.Key) > maxKeyLen:
		return fmt.Errorf("storage key is longer than %d bytes", maxKeyLen)
	}
	return nil
}

// encodeCommand validates ops and encodes them as one command.
func encodeCommand(ops []storage.Op) ([]byte, error) {
	size := 1 + binary.MaxVarintLen64
	for i, o := range ops {
		if err := validateOp(o); err != nil {
			return nil, fmt.Errorf("operation %d: %w", i, err)
		}
		size += 1 + 2*binary.MaxVarintLen64 + len(o.Entry.Key) + len(o.Entry.Value)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, commandVersion)
	buf = binary.AppendUvarint(buf, uint64(len(ops)))
	for _, o := range ops {
		if o.Delete {
			buf = append(buf, kindDelete)
			buf = appendBytes(buf, []byte(o.Entry.Key))
			continue
		}
		buf = append(buf, kindPut)
		buf = appendBytes(buf, []byte(o.Entry.Key))
		buf = appendBytes(buf, o.Entry.Value)
	}
	return buf, nil
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// decodeCommand parses a command. The returned ops alias data.
func decodeCommand(data []byte) ([]op, error) {
	if len(data) == 0 || data[0] != commandVersion {
		return nil, fmt.Errorf("%w: unknown version", errCorruptCommand)
	}
	r := reader{buf: data[1:]}
	n := r.uvarint()
	// Every op takes at least 2 bytes, which bounds the allocation.
	if r.err != nil || n > uint64(len(r.buf))/2 {
		return nil, fmt.Errorf("%w: bad op count", errCorruptCommand)
	}
	ops := make([]op, n)
	for i := range ops {
		kind := r.byte()
		ops[i].key = r.bytes()
		switch kind {
		case kindPut:
			ops[i].value = r.bytes()
		case kindDelete:
			ops[i].delete = true
		default:
			return nil, fmt.Errorf("%w: op %d has unknown kind %d", errCorruptCommand, i, kind)
		}
		if r.err != nil {
			return nil, fmt.Errorf("%w: op %d: %w", errCorruptCommand, i, r.err)
		}
		if len(ops[i].key) == 0 {
			return nil, fmt.Errorf("%w: op %d has an empty key", errCorruptCommand, i)
		}
	}
	if len(r.buf) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorruptCommand, len(r.buf))
	}
	return ops, nil
}

// reader consumes a byte slice and remembers the first error.
type reader struct {
	buf []byte
	err error
}

var errShort = errors.New("unexpected end of data")

func (r *reader) byte() byte {
	if r.err != nil || len(r.buf) == 0 {
		r.fail()
		return 0
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

// bytes reads a length-prefixed slice; the result is never nil on success.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.buf)) {
		r.fail()
		return nil
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errShort
	}
}
