package passwdfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/account"
)

const sample = `# lab users
alice@lab.test:{PLAIN}secret1:1000:1000::/home/alice::userdb_quota_rule=*:storage=1G
Bob@Lab.test:{SHA512-CRYPT}$6$abc$def:1001:1001::/home/bob::
carol@lab.test:{PLAIN}c:1002:1002::/home/carol::
`

// fakeDoveadm answers like doveadm, with auth lookup reading the
// passwd-file as Dovecot would once it has re-read it (stale,
// while set, keeps answering from the file's first version).
type fakeDoveadm struct {
	calls [][]string
	stdin []string
	fail  bool
	path  string
	stale []byte
}

func (f *fakeDoveadm) Run(ctx context.Context, argv []string, env []string, stdin io.Reader) ([]byte, []byte, error) {
	f.calls = append(f.calls, argv)
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		f.stdin = append(f.stdin, string(b))
	}
	if f.fail {
		return nil, []byte("Error: simulated"), errors.New("exit status 75")
	}
	if slices(argv, "pw") {
		return []byte("{SHA512-CRYPT}$6$salt$hashhash\n"), nil, nil
	}
	if slices(argv, "kick") {
		return []byte("no users kicked\n"), nil, errors.New("exit status 68")
	}
	if slices(argv, "lookup") {
		data := f.stale
		if data == nil {
			data, _ = os.ReadFile(f.path)
		}
		login := argv[len(argv)-1]
		for _, l := range strings.Split(string(data), "\n") {
			user, _, _ := strings.Cut(l, ":")
			if !strings.EqualFold(user, login) {
				continue
			}
			out := "passdb: " + login + "\n  user      : " + login + "\n"
			if strings.Contains(l, " "+DisabledField) || strings.Contains(l, ":"+DisabledField) {
				out += "  " + DisabledKey + ": yes\n"
			}
			return []byte(out), nil, nil
		}
		return nil, []byte("passdb lookup: user " + login + " doesn't exist"), errors.New("exit status 67")
	}
	return nil, nil, nil
}

func slices(argv []string, s string) bool {
	for _, a := range argv {
		if a == s {
			return true
		}
	}
	return false
}

func setup(t *testing.T) (*Backend, *fakeDoveadm, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(p, []byte(sample), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 0, 8); err != nil {
		t.Fatal(err)
	}
	f := &fakeDoveadm{path: p}
	b, err := New(Config{Path: p, DovecotConfig: "/lab/dovecot.conf", Runner: f, Rand: bytes.NewReader(bytes.Repeat([]byte{7}, 64)),
		Now: func() time.Time { return time.Unix(2_000_000_000, 0) }, Sleep: func(time.Duration) {}})
	if err != nil {
		t.Fatal(err)
	}
	return b, f, p
}

func TestDisableEnableRoundTrip(t *testing.T) {
	b, f, p := setup(t)
	ctx := context.Background()
	res, err := b.Disable(ctx, "alice@lab.test", account.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.OldHash != "{PLAIN}secret1" || len(res.Notes) != 0 {
		t.Errorf("disable = %+v", res)
	}
	if v := res.Verification; !v.Verified || v.Method != "doveadm auth lookup: saslguard_disabled=yes after 0.0 s" {
		t.Errorf("disable verification = %+v", v)
	}
	got, _ := os.ReadFile(p)
	want := strings.Replace(sample, "alice@lab.test:{PLAIN}secret1:1000:1000::/home/alice::userdb_quota_rule=*:storage=1G\n",
		"alice@lab.test:"+DisabledPrefix+"{PLAIN}secret1:1000:1000::/home/alice::userdb_quota_rule=*:storage=1G saslguard_disabled=yes\n", 1)
	if string(got) != want {
		t.Errorf("file after disable:\n%s\nwant:\n%s", got, want)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o640 || st.Sys().(*syscall.Stat_t).Gid != 8 {
		t.Errorf("mode %v gid %d, want 0640 and 8", st.Mode(), st.Sys().(*syscall.Stat_t).Gid)
	}
	s, err := b.Status(ctx, "alice@lab.test")
	if err != nil || !s.Exists || !s.Disabled {
		t.Errorf("status = %+v, %v", s, err)
	}
	// Twice is a no-op that still reports the original hash.
	res, err = b.Disable(ctx, "alice@lab.test", account.Options{})
	if err != nil || res.Changed || res.OldHash != "{PLAIN}secret1" {
		t.Errorf("second disable = %+v, %v", res, err)
	}
	res, err = b.Enable(ctx, "alice@lab.test", account.EnableOptions{})
	if err != nil || !res.Changed {
		t.Fatalf("enable = %+v, %v", res, err)
	}
	if v := res.Verification; !v.Verified || v.Method != "doveadm auth lookup: no saslguard_disabled field after 0.0 s" {
		t.Errorf("enable verification = %+v", v)
	}
	got, _ = os.ReadFile(p)
	if string(got) != sample {
		t.Errorf("file after enable:\n%s", got)
	}
	// Each change: the cache flushed, Dovecot asked until it shows the
	// change, and only then the sessions kicked (a client logging in again
	// meets the new entry). The no-op disable only asks.
	var verbs []string
	for _, c := range f.calls {
		if strings.Join(c[:3], " ") != "/usr/bin/doveadm -c /lab/dovecot.conf" {
			t.Fatalf("call %q", c)
		}
		verbs = append(verbs, strings.Join(c[3:], " "))
	}
	wantVerbs := []string{
		"auth cache flush", "auth cache flush", "auth lookup -- alice@lab.test", "kick -- alice@lab.test",
		"auth cache flush", "auth lookup -- alice@lab.test",
		"auth cache flush", "auth cache flush", "auth lookup -- alice@lab.test", "kick -- alice@lab.test",
	}
	if strings.Join(verbs, "\n") != strings.Join(wantVerbs, "\n") {
		t.Errorf("doveadm calls:\n%s\nwant:\n%s", strings.Join(verbs, "\n"), strings.Join(wantVerbs, "\n"))
	}
	if _, err := b.Enable(ctx, "carol@lab.test", account.EnableOptions{}); err == nil {
		t.Error("enabled a login saslguard never disabled, without a hash")
	}
}

func TestResetAndCaseInsensitiveMatch(t *testing.T) {
	b, f, p := setup(t)
	res, err := b.Disable(context.Background(), "bob@lab.test", account.Options{Reset: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.NewPassword == "" || len(res.NewPassword) < 32 || res.NewHash != "{SHA512-CRYPT}$6$salt$hashhash" || res.OldHash != "{SHA512-CRYPT}$6$abc$def" {
		t.Errorf("reset = %+v", res)
	}
	for _, c := range f.calls {
		for _, a := range c {
			if strings.Contains(a, res.NewPassword) {
				t.Errorf("password on a command line: %q", c)
			}
		}
	}
	if f.stdin[0] != res.NewPassword+"\n"+res.NewPassword+"\n" {
		t.Errorf("doveadm pw stdin = %q", f.stdin[0])
	}
	// Through the disabled state, so that Dovecot's lookups show each step.
	if v := res.Verification; !v.Verified || v.Method != "doveadm auth lookup: saslguard_disabled=yes after 0.0 s, then with the new password: no saslguard_disabled field after 0.0 s" {
		t.Errorf("reset verification = %+v", v)
	}
	got, _ := os.ReadFile(p)
	if !strings.Contains(string(got), "Bob@Lab.test:{SHA512-CRYPT}$6$salt$hashhash:1001:1001::/home/bob::\n") {
		t.Errorf("file after reset:\n%s", got)
	}
	res, err = b.Enable(context.Background(), "bob@lab.test", account.EnableOptions{RestoreHash: res.OldHash})
	if err != nil || !res.Changed {
		t.Fatalf("enable = %+v, %v", res, err)
	}
	got, _ = os.ReadFile(p)
	if string(got) != sample {
		t.Errorf("file after restore:\n%s", got)
	}
}

func TestHostileLogins(t *testing.T) {
	b, f, p := setup(t)
	for _, login := range []string{
		"", "alice@lab.test:x", "alice@lab.test\nmallory::0:0", "#alice", "a\x00b", "\xff\xfe",
		strings.Repeat("a", 10*1024), "nobody@lab.test", "alice@lab.test\r",
	} {
		res, err := b.Disable(context.Background(), login, account.Options{})
		if err == nil || res.Changed {
			t.Errorf("Disable(%.30q) = %+v, %v: want an error", login, res, err)
		}
	}
	if _, err := b.Enable(context.Background(), "alice@lab.test", account.EnableOptions{RestoreHash: "x:0:0::/:/bin/sh\nroot:"}); err == nil {
		t.Error("restored a hash with separators")
	}
	got, _ := os.ReadFile(p)
	if string(got) != sample || len(f.calls) != 0 {
		t.Errorf("file or calls changed: %q\n%s", f.calls, got)
	}
	// A wildcard login is disabled but never given to doveadm kick.
	os.WriteFile(p, []byte("a*b:{PLAIN}x:1:1::/h::\n"), 0o640)
	res, err := b.Disable(context.Background(), "a*b", account.Options{})
	if err != nil || !res.Changed || len(res.Notes) != 1 || !res.Verification.Verified {
		t.Errorf("wildcard login: %+v %v %q", res, err, f.calls)
	}
	for _, c := range f.calls {
		if slices(c, "kick") {
			t.Errorf("wildcard login kicked: %q", c)
		}
	}
}

func TestFollowUpFailuresAreNotes(t *testing.T) {
	b, f, _ := setup(t)
	f.fail = true
	res, err := b.Disable(context.Background(), "alice@lab.test", account.Options{})
	if err != nil || !res.Changed || len(res.Notes) != 2 {
		t.Errorf("disable with doveadm down = %+v, %v", res, err)
	}
	if _, err := b.Disable(context.Background(), "carol@lab.test", account.Options{Reset: true}); err == nil {
		t.Error("reset without a hash succeeded")
	}
}

func TestWaitsForDovecotsSecond(t *testing.T) {
	b, _, p := setup(t)
	mt := time.Unix(2_000_000_000, 0)
	os.Chtimes(p, mt, mt)
	now := mt.Add(400 * time.Millisecond)
	var slept []time.Duration
	b.cfg.Now = func() time.Time { return now }
	b.cfg.Sleep = func(d time.Duration) { slept = append(slept, d); now = now.Add(d) }
	if _, err := b.Disable(context.Background(), "alice@lab.test", account.Options{}); err != nil {
		t.Fatal(err)
	}
	// Out of the old file's second before writing; Dovecot (the fake)
	// shows the change at once, so no wait after.
	if len(slept) != 1 || slept[0] != 600*time.Millisecond {
		t.Errorf("slept %v, want [600ms]", slept)
	}
}

// TestVerifyWaitsForDovecot: while Dovecot still answers from the old file,
// Verify asks again every pollInterval; it reports the change verified when
// Dovecot shows it, and NOT verified, with what Dovecot said, once the bound
// passes.
func TestVerifyWaitsForDovecot(t *testing.T) {
	for _, tt := range []struct {
		name       string
		staleTries int // lookups answered from the old file
		verified   bool
		method     string
	}{
		{"at once", 0, true, "doveadm auth lookup: saslguard_disabled=yes after 0.0 s"},
		{"after the once-a-second check", 5, true, "doveadm auth lookup: saslguard_disabled=yes after 1.0 s"},
		{"never", 1000, false, "doveadm auth lookup: still enabled after 5.0 s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, f, p := setup(t)
			f.stale, _ = os.ReadFile(p)
			now := time.Unix(2_000_000_000, 0)
			b.cfg.Now = func() time.Time { return now }
			b.cfg.Sleep = func(d time.Duration) { now = now.Add(d) }
			lookups := 0
			b.cfg.Runner = runnerFunc(func(ctx context.Context, argv []string, env []string, stdin io.Reader) ([]byte, []byte, error) {
				if slices(argv, "lookup") {
					lookups++
					if lookups > tt.staleTries {
						f.stale = nil
					}
				}
				return f.Run(ctx, argv, env, stdin)
			})
			res, err := b.Disable(context.Background(), "alice@lab.test", account.Options{})
			if err != nil || !res.Changed {
				t.Fatalf("disable = %+v, %v", res, err)
			}
			if res.Verification.Verified != tt.verified || res.Verification.Method != tt.method {
				t.Errorf("verification = %+v, want verified %v, %q", res.Verification, tt.verified, tt.method)
			}
			// Unverified or not, the change stands and the sessions are kicked.
			if st, _ := b.Status(context.Background(), "alice@lab.test"); !st.Disabled {
				t.Errorf("status after disable: %+v", st)
			}
			if !slices(f.calls[len(f.calls)-1], "kick") {
				t.Errorf("last call %q, want the kick", f.calls[len(f.calls)-1])
			}
		})
	}
}

// TestVerifyDoveadmErrors: a login Dovecot does not know, or doveadm
// failing, is never taken for a verified disable.
func TestVerifyDoveadmErrors(t *testing.T) {
	b, f, _ := setup(t)
	if v := b.Verify(context.Background(), "nobody@lab.test", true); v.Verified || !strings.Contains(v.Method, "no such user") {
		t.Errorf("unknown login: %+v", v)
	}
	f.fail = true
	if v := b.Verify(context.Background(), "alice@lab.test", false); v.Verified || !strings.Contains(v.Method, "exit status 75") {
		t.Errorf("doveadm failing: %+v", v)
	}
	if v := b.Verify(context.Background(), "alice:x", true); v.Verified {
		t.Errorf("hostile login verified: %+v", v)
	}
}

type runnerFunc func(ctx context.Context, argv []string, env []string, stdin io.Reader) ([]byte, []byte, error)

func (f runnerFunc) Run(ctx context.Context, argv []string, env []string, stdin io.Reader) ([]byte, []byte, error) {
	return f(ctx, argv, env, stdin)
}

// TestDisabledExtraField: the extra field is added after the admin's own
// extra fields (padding a short line with empty fields), replaces an older
// value of its key, and Enable takes exactly it away again.
func TestDisabledExtraField(t *testing.T) {
	for _, tt := range []struct{ line, disabled, enabled string }{
		{"dave:{PLAIN}d", "dave:" + DisabledPrefix + "{PLAIN}d::::::saslguard_disabled=yes", "dave:{PLAIN}d::::::"},
		{"dave:{PLAIN}d:1:1::/h::", "dave:" + DisabledPrefix + "{PLAIN}d:1:1::/h::saslguard_disabled=yes", "dave:{PLAIN}d:1:1::/h::"},
		{"dave:{PLAIN}d:1:1::/h::allow_nets=::1 userdb_x=a:b", "dave:" + DisabledPrefix + "{PLAIN}d:1:1::/h::allow_nets=::1 userdb_x=a:b saslguard_disabled=yes", "dave:{PLAIN}d:1:1::/h::allow_nets=::1 userdb_x=a:b"},
		{"dave:{PLAIN}d:1:1::/h::saslguard_disabled=no  x=y", "dave:" + DisabledPrefix + "{PLAIN}d:1:1::/h:: x=y saslguard_disabled=yes", "dave:{PLAIN}d:1:1::/h:: x=y"},
		{"dave:{PLAIN}d\r", "dave:" + DisabledPrefix + "{PLAIN}d::::::saslguard_disabled=yes\r", "dave:{PLAIN}d::::::\r"},
	} {
		b, _, p := setup(t)
		if err := os.WriteFile(p, []byte("# x\n"+tt.line+"\nerin:{PLAIN}e\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		res, err := b.Disable(context.Background(), "dave", account.Options{})
		got, _ := os.ReadFile(p)
		if err != nil || !res.Verification.Verified || string(got) != "# x\n"+tt.disabled+"\nerin:{PLAIN}e\n" {
			t.Errorf("disable %q: %v %+v:\n%s", tt.line, err, res.Verification, got)
		}
		res, err = b.Enable(context.Background(), "dave", account.EnableOptions{})
		got, _ = os.ReadFile(p)
		if err != nil || !res.Verification.Verified || string(got) != "# x\n"+tt.enabled+"\nerin:{PLAIN}e\n" {
			t.Errorf("enable %q: %v %+v:\n%s", tt.line, err, res.Verification, got)
		}
	}
}
