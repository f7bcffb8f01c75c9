package command

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/account"
)

// script writes an executable shell script that records its arguments (one
// per line) and environment, then behaves as body says. The runs of the
// check verb are recorded apart, in rec.check, one line per run.
func script(t *testing.T, body string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	rec := filepath.Join(dir, "rec")
	p := filepath.Join(dir, "prog")
	src := "#!/bin/sh\ncase \" $* \" in\n*\" check -- \"*) echo run >> " + rec + ".check ;;\n" +
		"*) for a in \"$@\"; do printf '%s\\n' \"$a\"; done > " + rec + "; env > " + rec + ".env ;;\nesac\n" + body + "\n"
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

// TestCheckVerb: after disable and enable the backend runs check until it
// answers as wanted or the bound passes, and reports what check said; exit
// codes other than 0 and 1 (a program without the verb, a failure) mean
// "cannot tell" and end the wait at once.
func TestCheckVerb(t *testing.T) {
	// Each script answers check with the exit status in the file "code"
	// beside it, or, while the file "pending" holds a count, with 1 for that
	// many runs first.
	const body = `if [ "$1" = check ]; then
	d=$(dirname "$0")
	n=$(cat "$d/pending" 2>/dev/null || echo 0)
	if [ "$n" -gt 0 ]; then echo $((n-1)) > "$d/pending"; echo "still there"; exit 1; fi
	echo "check says $(cat "$d/code")"
	exit $(cat "$d/code")
fi
exit 0`
	tests := []struct {
		name     string
		enable   bool
		code     string // check's exit status ("sleep" for a hang)
		pending  int
		verified bool
		method   string
		checks   int // runs of check
	}{
		{"disabled at once", false, "0", 0, true, "exec check: exit 0 (disabled) after 0.0 s", 1},
		{"disabled after two tries", false, "0", 2, true, "exec check: exit 0 (disabled) after 1.0 s", 3},
		{"still enabled", false, "1", 0, false, "exec check: exit 1 (still enabled) after 2.0 s", 5},
		{"cannot tell", false, "2", 0, false, `exec check: exit 2, could not tell ("check says 2")`, 1},
		{"no check verb", false, "64", 0, false, `exec check: exit 64, could not tell ("check says 64")`, 1},
		{"enabled again", true, "1", 0, true, "exec check: exit 1 (enabled) after 0.0 s", 1},
		{"still disabled", true, "0", 0, false, "exec check: exit 0 (still disabled) after 2.0 s", 5},
		{"check hangs", false, "sleep", 0, false, "timed out", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b0, limit := body, 10*time.Second
			if tt.code == "sleep" {
				b0, limit = `[ "$1" = check ] && exec sleep 5; exit 0`, 300*time.Millisecond
			}
			prog, rec := script(t, b0)
			dir := filepath.Dir(prog)
			os.WriteFile(filepath.Join(dir, "code"), []byte(tt.code+"\n"), 0o644)
			if tt.pending > 0 {
				os.WriteFile(filepath.Join(dir, "pending"), []byte(strconv.Itoa(tt.pending)+"\n"), 0o644)
			}
			now := time.Unix(2_000_000_000, 0)
			b, err := New(Config{Program: prog, Timeout: limit, VerifyTimeout: 2 * time.Second,
				Now: func() time.Time { return now }, Sleep: func(d time.Duration) { now = now.Add(d) }})
			if err != nil {
				t.Fatal(err)
			}
			var res account.Result
			if tt.enable {
				res, err = b.Enable(context.Background(), "alice@lab.test", account.EnableOptions{})
			} else {
				res, err = b.Disable(context.Background(), "alice@lab.test", account.Options{})
			}
			if err != nil || !res.Changed {
				t.Fatalf("result %+v, %v", res, err)
			}
			v := res.Verification
			if v.Verified != tt.verified || !strings.Contains(v.Method, tt.method) {
				t.Errorf("verification = %+v, want verified %v, %q", v, tt.verified, tt.method)
			}
			runs, _ := os.ReadFile(rec + ".check")
			if n := strings.Count(string(runs), "run\n"); n != tt.checks {
				t.Errorf("check ran %d times, want %d", n, tt.checks)
			}
		})
	}
}
