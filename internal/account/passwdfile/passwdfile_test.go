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

type fakeDoveadm struct {
	calls [][]string
	stdin []string
	fail  bool
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
	f := &fakeDoveadm{}
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
	got, _ := os.ReadFile(p)
	want := strings.Replace(sample, "alice@lab.test:{PLAIN}secret1:", "alice@lab.test:"+DisabledPrefix+"{PLAIN}secret1:", 1)
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
	got, _ = os.ReadFile(p)
	if string(got) != sample {
		t.Errorf("file after enable:\n%s", got)
	}
	wantCalls := [][]string{
		{"/usr/bin/doveadm", "-c", "/lab/dovecot.conf", "auth", "cache", "flush"},
		{"/usr/bin/doveadm", "-c", "/lab/dovecot.conf", "kick", "--", "alice@lab.test"},
	}
	if len(f.calls) != 4 || strings.Join(f.calls[0], " ") != strings.Join(wantCalls[0], " ") || strings.Join(f.calls[1], " ") != strings.Join(wantCalls[1], " ") {
		t.Errorf("calls = %q", f.calls)
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
	if err != nil || !res.Changed || len(f.calls) != 1 || len(res.Notes) != 1 {
		t.Errorf("wildcard login: %+v %v %q", res, err, f.calls)
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
	// Once out of the old file's second before writing, once out of the
	// write's second before flushing the cache.
	if len(slept) != 2 || slept[0] != 600*time.Millisecond || slept[1] != time.Second {
		t.Errorf("slept %v, want [600ms 1s]", slept)
	}
}
