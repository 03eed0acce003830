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

// keyShare reads the unseal key share of a generate-root or rekey step:
// the argument, all of stdin for "-", or a prompt when it is empty. A
// prompted share belongs to the attempt in progress, whose nonce (pending)
// is then used and printed after nonceLabel; otherwise the -nonce flag's
// is. A non-zero code means the problem was reported.
func (m *meta) keyShare(key, nonce, pending, nonceLabel string) (string, string, int) {
	switch key {
	case "-":
		b, err := io.ReadAll(m.stdin)
		if err != nil {
			m.errorf("Failed to read from stdin: %s", err)
			return "", "", 1
		}
		key = string(b)
	case "":
		nonce = pending
		fmt.Fprintf(m.stdout, "%s: %s\n", nonceLabel, nonce)
		var err error
		if key, err = m.promptSecret("Unseal Key (will be hidden): "); err != nil {
			m.errorf("%s", wrapAtLength("An error occurred attempting to ask for the "+
				"unseal key. If you want to pipe the value, pass \"-\" as the argument "+
				"to read from stdin. The raw error was: "+err.Error()))
			return "", "", 1
		}
	}
	if nonce == "" {
		m.errorf("Missing nonce value: specify it via the -nonce flag")
		return "", "", 1
	}
	return strings.TrimSpace(key), nonce, 0
}
