// Package command is the account backend that runs a program the admin
// supplies (an LDAP or SQL script, a control panel's CLI) to disable and
// enable logins. The program is run with an argument vector, never a shell:
//
//	PROGRAM [ARGS...] disable|reset|enable|status|check -- LOGIN
//
// with a clean environment (PATH only), no standard input and a timeout. Exit
// status 0 means done; for status, exit 0 means enabled and exit 1 disabled
// (any other status is an error). Its output is captured and returned.
//
// check asks whether a change is in effect where logins are checked: exit 0
// when the login no longer authenticates with the password it had (disabled,
// or reset), exit 1 when it still does (enabled), any other status when the
// program cannot tell (a program without the verb usually lands here). After
// disable, reset and enable the backend runs check until it answers as wanted
// or the bound passes, and reports what check said: never "disabled" on the
// strength of disable's exit status alone.
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
	// VerifyTimeout bounds how long Verify runs check until it answers as
	// wanted; 0 means account.DefaultVerifyTimeout. Now and Sleep are its
	// clock (nil: the real one).
	VerifyTimeout time.Duration
	Now           func() time.Time
	Sleep         func(time.Duration)
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
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = account.DefaultVerifyTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = time.Sleep
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
	res := account.Result{Login: login, Changed: err == nil, Output: out}
	if err == nil {
		res.Verification = b.Verify(ctx, login, true)
	}
	return res, err
}

// Enable implements account.Backend (RestoreHash is not passed on: the
// program keeps its own state).
func (b *Backend) Enable(ctx context.Context, login string, opts account.EnableOptions) (account.Result, error) {
	out, err := b.run(ctx, "enable", login)
	res := account.Result{Login: login, Changed: err == nil, Output: out}
	if err == nil {
		res.Verification = b.Verify(ctx, login, false)
	}
	return res, err
}

// checkInterval is how often Verify runs check again.
const checkInterval = 500 * time.Millisecond

// Verify implements account.Backend with the check verb: exit 0 disabled,
// exit 1 enabled, anything else (an error, a timeout) cannot tell, which
// ends the wait at once.
func (b *Backend) Verify(ctx context.Context, login string, disabled bool) account.Verification {
	want, other := 0, 1
	if !disabled {
		want, other = 1, 0
	}
	start := b.cfg.Now()
	for try := 1; ; try++ {
		out, err := b.run(ctx, "check", login)
		elapsed := b.cfg.Now().Sub(start).Seconds()
		code := 0
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.ExitCode() > 0:
			code = ee.ExitCode()
		default:
			// Not run, killed or timed out: no answer.
			return account.Verification{Method: fmt.Sprintf("exec check: could not tell: %v", err)}
		}
		switch code {
		case want:
			return account.Verification{Verified: true, Method: fmt.Sprintf("exec check: exit %d (%s) after %.1f s", code, stateWord(code), elapsed)}
		case other:
			// The tries are counted too, in case the clock stands still.
			if elapsed >= b.cfg.VerifyTimeout.Seconds() || time.Duration(try)*checkInterval > b.cfg.VerifyTimeout || ctx.Err() != nil {
				return account.Verification{Method: fmt.Sprintf("exec check: exit %d (still %s) after %.1f s", code, stateWord(code), elapsed)}
			}
		default:
			msg := fmt.Sprintf("exec check: exit %d, could not tell", code)
			if line, _, _ := strings.Cut(out, "\n"); line != "" {
				msg += fmt.Sprintf(" (%.200q)", line)
			}
			return account.Verification{Method: msg}
		}
		b.cfg.Sleep(checkInterval)
	}
}

// stateWord names what check's exit 0 and 1 mean.
func stateWord(code int) string {
	if code == 0 {
		return "disabled"
	}
	return "enabled"
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
