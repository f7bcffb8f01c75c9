package account

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// Runner runs a program with an argument vector (never a shell) and returns
// its standard output and standard error. Tests replace it.
type Runner interface {
	Run(ctx context.Context, argv []string, env []string, stdin io.Reader) (stdout, stderr []byte, err error)
}

// ExecRunner runs programs with os/exec in a new session, so a program that
// asks for a password (doveadm pw) reads standard input and never the
// caller's terminal. Output is kept up to 1 MiB per stream.
type ExecRunner struct{}

// Run implements Runner. env nil means the caller's environment.
func (ExecRunner) Run(ctx context.Context, argv []string, env []string, stdin io.Reader) ([]byte, []byte, error) {
	if len(argv) == 0 {
		return nil, nil, fmt.Errorf("run: empty argument vector")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// On timeout kill the whole session (the program's children too), and
	// stop waiting for output a lingering grandchild keeps open.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout = &capped{w: &out, n: 1 << 20}
	cmd.Stderr = &capped{w: &errb, n: 1 << 20}
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("run %s: %w", argv[0], err)
	}
	return out.Bytes(), errb.Bytes(), err
}

type capped struct {
	w io.Writer
	n int
}

func (c *capped) Write(p []byte) (int, error) {
	if c.n > 0 {
		k := min(len(p), c.n)
		c.w.Write(p[:k])
		c.n -= k
	}
	return len(p), nil
}
