// Package command is the account backend that runs a program the admin
// supplies (an LDAP or SQL script, a control panel's CLI) to disable and
// enable logins. The program is run with an argument vector, never a shell:
//
//	PROGRAM [ARGS...] disable|enable|status -- LOGIN
//
// with a clean environment (PATH only), no standard input and a timeout. Exit
// status 0 means done; for status, exit 0 means enabled and exit 1 disabled
// (any other status is an error). Its output is captured and returned.
package command

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/account"
)

// DefaultTimeout bounds one run of the program.
const DefaultTimeout = 30 * time.Second

// DefaultPath is the PATH the program gets.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Config names the program.
type Config struct {
	Program string   // absolute path
	Args    []string // fixed arguments before the verb
	Timeout time.Duration
	Path    string // PATH for the program; "" means DefaultPath
	Runner  account.Runner
}

// Backend implements account.Backend with an external program.
type Backend struct{ cfg Config }

var _ account.Backend = (*Backend)(nil)

// New checks cfg and returns the backend.
func New(cfg Config) (*Backend, error) {
	if !filepath.IsAbs(cfg.Program) {
		return nil, fmt.Errorf("account program %q: must be an absolute path", cfg.Program)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.Runner == nil {
		cfg.Runner = account.ExecRunner{}
	}
	return &Backend{cfg: cfg}, nil
}

// Argv returns the argument vector for verb and login.
func (b *Backend) Argv(verb, login string) []string {
	argv := append([]string{b.cfg.Program}, b.cfg.Args...)
	return append(argv, verb, "--", login)
}

func (b *Backend) run(ctx context.Context, verb, login string) (string, error) {
	if err := account.CheckLogin(login); err != nil {
		return "", fmt.Errorf("%s %.64q: %w", verb, login, err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	out, stderr, err := b.cfg.Runner.Run(ctx, b.Argv(verb, login), []string{"PATH=" + b.cfg.Path}, nil)
	text := strings.TrimSpace(string(out) + "\n" + string(stderr))
	if ctx.Err() == context.DeadlineExceeded {
		return text, fmt.Errorf("%s %q: %s timed out after %v", verb, login, b.cfg.Program, b.cfg.Timeout)
	}
	if err != nil {
		return text, fmt.Errorf("%s %q: %w", verb, login, err)
	}
	return text, nil
}

// Disable implements account.Backend. opts.Reset is passed as the verb
// "reset" (the program generates and reports the password itself).
func (b *Backend) Disable(ctx context.Context, login string, opts account.Options) (account.Result, error) {
	verb := "disable"
	if opts.Reset {
		verb = "reset"
	}
	out, err := b.run(ctx, verb, login)
	return account.Result{Login: login, Changed: err == nil, Output: out}, err
}

// Enable implements account.Backend (RestoreHash is not passed on: the
// program keeps its own state).
func (b *Backend) Enable(ctx context.Context, login string, opts account.EnableOptions) (account.Result, error) {
	out, err := b.run(ctx, "enable", login)
	return account.Result{Login: login, Changed: err == nil, Output: out}, err
}

// Status implements account.Backend: exit 0 enabled, exit 1 disabled.
func (b *Backend) Status(ctx context.Context, login string) (account.Status, error) {
	st := account.Status{Login: login}
	out, err := b.run(ctx, "status", login)
	st.Detail = out
	var ee *exec.ExitError
	switch {
	case err == nil:
		st.Exists = true
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		st.Exists, st.Disabled = true, true
		err = nil
	}
	return st, err
}
