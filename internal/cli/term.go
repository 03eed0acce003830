package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// readLine reads up to the end of the line without buffering beyond it.
func readLine(r io.Reader) (string, error) {
	var line []byte
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if buf[0] == '\n' {
				return string(line), nil
			}
			line = append(line, buf[0])
		}
		if err == io.EOF {
			if len(line) == 0 {
				return "", io.ErrUnexpectedEOF
			}
			return string(line), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// promptSecret asks for a secret value. On a terminal the answer is read
// without echo; otherwise one line is read from stdin.
func (m *meta) promptSecret(prompt string) (string, error) {
	fmt.Fprint(m.stdout, prompt)
	defer fmt.Fprintln(m.stdout)
	if f, ok := m.stdin.(*os.File); ok && m.stdinTTY {
		v, err := readSecret(f)
		return strings.TrimSpace(v), err
	}
	v, err := readLine(m.stdin)
	return strings.TrimSpace(v), err
}
