package postfixq

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
)

// Runner runs one program with an argument vector (never a shell), feeding
// stdin and streaming standard output to stdout. It returns what the program
// wrote to standard error. A non-zero exit is returned as an error together
// with that text. Tests substitute a Runner that replays recorded output.
type Runner interface {
	Run(ctx context.Context, argv []string, stdin io.Reader, stdout io.Writer) (stderr []byte, err error)
}

// ExecRunner runs programs with os/exec.
type ExecRunner struct{}

// Run implements Runner.
func (ExecRunner) Run(ctx context.Context, argv []string, stdin io.Reader, stdout io.Writer) ([]byte, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("run: empty argument vector")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 1 << 20}
	err := cmd.Run()
	if err != nil {
		return stderr.Bytes(), fmt.Errorf("run %s: %w", argv[0], err)
	}
	return stderr.Bytes(), nil
}

// limitedWriter keeps at most n bytes and discards the rest without failing,
// so a chatty program cannot exhaust memory.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
