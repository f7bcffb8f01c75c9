package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/account"
)

// script writes an executable shell script that records its arguments (one
// per line) and environment, then behaves as body says.
func script(t *testing.T, body string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	p := filepath.Join(dir, "prog")
	src := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + rec + "\nenv > " + rec + ".env\n" + body + "\n"
	if err := os.WriteFile(p, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return p, rec
}

func TestDisableArgvAndEnv(t *testing.T) {
	prog, rec := script(t, `echo "done $1"`)
	t.Setenv("SECRET_TOKEN", "leak")
	b, err := New(Config{Program: prog, Args: []string{"--realm", "lab"}})
	if err != nil {
		t.Fatal(err)
	}
	// A login that looks like an option and one with shell syntax arrive
	// as one plain argument after "--".
	for _, login := range []string{"-rf", "a; rm -rf / #", "$(id)@lab.test", "jörg@lab.test"} {
		res, err := b.Disable(context.Background(), login, account.Options{})
		if err != nil || !res.Changed || res.Output != "done --realm" {
			t.Fatalf("disable %q = %+v, %v", login, res, err)
		}
		got, _ := os.ReadFile(rec)
		want := "--realm\nlab\ndisable\n--\n" + login + "\n"
		if string(got) != want {
			t.Errorf("argv = %q, want %q", got, want)
		}
		env, _ := os.ReadFile(rec + ".env")
		if strings.Contains(string(env), "SECRET_TOKEN") || !strings.Contains(string(env), "PATH="+DefaultPath) {
			t.Errorf("environment not clean:\n%s", env)
		}
	}
}

func TestHostileLoginsNeverRun(t *testing.T) {
	prog, rec := script(t, "exit 0")
	b, _ := New(Config{Program: prog})
	for _, login := range []string{"", "a\nb", "a\x00b", "\xff", strings.Repeat("x", 10*1024)} {
		if _, err := b.Disable(context.Background(), login, account.Options{}); err == nil {
			t.Errorf("Disable(%.20q) ran", login)
		}
	}
	if _, err := os.Stat(rec); err == nil {
		t.Error("program ran for a hostile login")
	}
}

func TestStatusTimeoutAndFailure(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		body     string
		disabled bool
		wantErr  bool
	}{
		{"enabled", "exit 0", false, false},
		{"disabled", "exit 1", true, false},
		{"error", "echo broken >&2; exit 3", false, true},
		{"timeout", "exec sleep 5", false, true},
		{"timeout with child", "sleep 5 & sleep 5", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, _ := script(t, tt.body)
			b, _ := New(Config{Program: prog, Timeout: 300 * time.Millisecond})
			start := time.Now()
			st, err := b.Status(ctx, "alice@lab.test")
			if (err != nil) != tt.wantErr || st.Disabled != tt.disabled {
				t.Errorf("status = %+v, %v", st, err)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v: timeout not enforced", time.Since(start))
			}
		})
	}
	if _, err := New(Config{Program: "relative/prog"}); err == nil {
		t.Error("relative program accepted")
	}
}
