// Package passwdfile is the account backend for a Dovecot passwd-file
// (user:password:uid:gid:gecos:home:shell:extra_fields, both passdb and
// userdb). Disable replaces the password field, so the userdb part stays and
// the mailbox still receives mail; the old field is kept inside the marker so
// Enable can put it back even without the incident store. Disable also adds
// the passdb extra field saslguard_disabled=yes, which `doveadm auth lookup`
// shows once Dovecot has loaded the change: that is how a change is verified
// (Dovecot does not show password fields).
package passwdfile

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/saslguard/saslguard/internal/account"
)

// DisabledPrefix starts the password field of a disabled login. "{CRYPT}"
// makes Dovecot compare with crypt(3), and a crypt string starting with '!'
// is no valid salt, so no password can ever match; the old field follows.
const DisabledPrefix = "{CRYPT}!saslguard-disabled!"

// DisabledKey and DisabledField are the passdb extra field a disabled line
// carries. Dovecot returns unknown passdb extra fields in lookups (and
// userdb lookups ignore fields without the userdb_ prefix).
const (
	DisabledKey   = "saslguard_disabled"
	DisabledField = DisabledKey + "=yes"
)

// pollInterval is how often Verify asks Dovecot again.
const pollInterval = 200 * time.Millisecond

// Config says which passwd-file and which Dovecot to tell.
type Config struct {
	Path          string // the passwd-file
	DovecotConfig string // doveadm -c; "" means the default
	Doveadm       string // "" means /usr/bin/doveadm
	Runner        account.Runner
	Rand          io.Reader // nil means crypto/rand
	Logger        *slog.Logger
	// Now and Sleep are the clock for Dovecot's one-second rule and for
	// Verify; nil means the real clock.
	Now   func() time.Time
	Sleep func(time.Duration)
	// VerifyTimeout bounds how long Verify waits for Dovecot to show a
	// change; 0 means account.DefaultVerifyTimeout.
	VerifyTimeout time.Duration
}

// Backend implements account.Backend on a passwd-file.
type Backend struct {
	cfg Config
	log *slog.Logger
}

var _ account.Backend = (*Backend)(nil)

// New returns a backend for cfg.
func New(cfg Config) (*Backend, error) {
	if cfg.Path == "" || !filepath.IsAbs(cfg.Path) {
		return nil, fmt.Errorf("passwd-file backend: path %q must be absolute", cfg.Path)
	}
	if cfg.Doveadm == "" {
		cfg.Doveadm = "/usr/bin/doveadm"
	}
	if cfg.Runner == nil {
		cfg.Runner = account.ExecRunner{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = time.Sleep
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = account.DefaultVerifyTimeout
	}
	b := &Backend{cfg: cfg, log: cfg.Logger}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	return b, nil
}

func (b *Backend) doveadm(args ...string) []string {
	argv := []string{b.cfg.Doveadm}
	if b.cfg.DovecotConfig != "" {
		argv = append(argv, "-c", b.cfg.DovecotConfig)
	}
	return append(argv, args...)
}

// checkLogin adds the passwd-file's own limits to account.CheckLogin.
func checkLogin(login string) error {
	if err := account.CheckLogin(login); err != nil {
		return err
	}
	if strings.ContainsRune(login, ':') {
		return fmt.Errorf("login contains ':', the passwd-file field separator")
	}
	if strings.HasPrefix(login, "#") {
		return fmt.Errorf("login starts with '#' (a comment in a passwd-file)")
	}
	return nil
}

// Disable implements account.Backend.
func (b *Backend) Disable(ctx context.Context, login string, opts account.Options) (account.Result, error) {
	res := account.Result{Login: login}
	if err := checkLogin(login); err != nil {
		return res, fmt.Errorf("disable %q: %w", login, err)
	}
	var newField string
	if opts.Reset {
		pw, hash, err := b.newPassword(ctx)
		if err != nil {
			return res, fmt.Errorf("disable %q: %w", login, err)
		}
		res.NewPassword, res.NewHash, newField = pw, hash, hash
	}
	// A reset goes through the disabled state: Dovecot shows no password
	// hash, so only the extra field appearing and then going again proves
	// that it loaded the file with the new hash.
	var first account.Verification
	if opts.Reset {
		err := b.edit(login, func(old string) (string, bool, error) {
			if strings.HasPrefix(old, DisabledPrefix) {
				return old, true, nil
			}
			return DisabledPrefix + old, true, nil
		}, &res)
		if err != nil {
			res.NewPassword, res.NewHash = "", ""
			return res, fmt.Errorf("disable %q before the reset: %w", login, err)
		}
		first = b.Verify(ctx, login, true)
	}
	err := b.edit(login, func(old string) (string, bool, error) {
		orig := old
		if rest, ok := strings.CutPrefix(old, DisabledPrefix); ok {
			orig = rest
		}
		res.OldHash = orig
		if opts.Reset {
			return newField, false, nil
		}
		if orig != old {
			res.Notes = append(res.Notes, "already disabled")
			return old, true, nil
		}
		return DisabledPrefix + old, true, nil
	}, &res)
	if err != nil {
		res.NewPassword, res.NewHash = "", ""
		return res, fmt.Errorf("disable %q: %w", login, err)
	}
	if opts.Reset {
		b.after(ctx, login, &res, func() account.Verification {
			v := b.Verify(ctx, login, false)
			v.Verified = v.Verified && first.Verified
			v.Method = first.Method + ", then with the new password: " + strings.TrimPrefix(v.Method, "doveadm auth lookup: ")
			return v
		})
	} else {
		b.after(ctx, login, &res, func() account.Verification { return b.Verify(ctx, login, true) })
	}
	return res, nil
}

// Enable implements account.Backend: it restores opts.RestoreHash, or the
// field kept in the disabled marker.
func (b *Backend) Enable(ctx context.Context, login string, opts account.EnableOptions) (account.Result, error) {
	res := account.Result{Login: login}
	if err := checkLogin(login); err != nil {
		return res, fmt.Errorf("enable %q: %w", login, err)
	}
	if h := opts.RestoreHash; h != "" && !validField(h) {
		return res, fmt.Errorf("enable %q: the hash to restore contains ':', white space or control characters", login)
	}
	err := b.edit(login, func(old string) (string, bool, error) {
		res.OldHash = old
		if opts.RestoreHash != "" {
			return opts.RestoreHash, false, nil
		}
		orig, ok := strings.CutPrefix(old, DisabledPrefix)
		if !ok {
			return "", false, fmt.Errorf("login is not disabled by saslguard and no hash to restore was given")
		}
		return orig, false, nil
	}, &res)
	if err != nil {
		return res, fmt.Errorf("enable %q: %w", login, err)
	}
	b.after(ctx, login, &res, func() account.Verification { return b.Verify(ctx, login, false) })
	return res, nil
}

// Status implements account.Backend.
func (b *Backend) Status(ctx context.Context, login string) (account.Status, error) {
	st := account.Status{Login: login}
	if err := checkLogin(login); err != nil {
		return st, fmt.Errorf("status %q: %w", login, err)
	}
	data, err := os.ReadFile(b.cfg.Path)
	if err != nil {
		return st, fmt.Errorf("status %q: %w", login, err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	i, err := findLine(lines, login)
	if errors.Is(err, errNoUser) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("status %q: %w", login, err)
	}
	st.Exists = true
	field := strings.SplitN(strings.TrimRight(lines[i], "\r\n"), ":", 3)[1]
	if _, ok := strings.CutPrefix(field, DisabledPrefix); ok {
		st.Disabled = true
		st.Detail = "disabled by saslguard"
	} else if strings.HasPrefix(field, "{") {
		st.Detail = "scheme " + field[:strings.IndexByte(field+"}", '}')+1]
	}
	return st, nil
}

var errNoUser = errors.New("no such login in the passwd-file")

// findLine returns the index of login's line: an exact match of the user
// field, or else the only case-insensitive match.
func findLine(lines []string, login string) (int, error) {
	folded := -1
	nfold := 0
	for i, l := range lines {
		if l == "" || l[0] == '#' {
			continue
		}
		user, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		if user == login {
			return i, nil
		}
		if strings.EqualFold(user, login) {
			folded = i
			nfold++
		}
	}
	switch {
	case nfold == 1:
		return folded, nil
	case nfold > 1:
		return -1, fmt.Errorf("login matches %d lines ignoring case and none exactly", nfold)
	}
	return -1, errNoUser
}

func validField(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ':' || c <= ' ' || c == 0x7f {
			return false
		}
	}
	return s != ""
}

// edit replaces login's password field with change(old), and adds
// DisabledField to its extra fields when change says marked (removes it
// otherwise), under a lock, by writing a new file next to the old one (same
// owner, group and mode), syncing it and renaming it over the old one.
func (b *Backend) edit(login string, change func(old string) (field string, marked bool, err error), res *account.Result) error {
	lock, err := os.OpenFile(b.cfg.Path+".saslguard-lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lock passwd-file: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock passwd-file: %w", err)
	}
	f, err := os.Open(b.cfg.Path)
	if err != nil {
		return fmt.Errorf("open passwd-file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat passwd-file: %w", err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("read passwd-file: %w", err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	i, err := findLine(lines, login)
	if err != nil {
		return err
	}
	body, eol := lines[i], ""
	if strings.HasSuffix(body, "\n") {
		body, eol = body[:len(body)-1], "\n"
	}
	if strings.HasSuffix(body, "\r") {
		body, eol = body[:len(body)-1], "\r"+eol
	}
	// The extra fields (the 8th field) may hold ':' themselves.
	parts := strings.SplitN(body, ":", 8)
	if len(parts) < 2 {
		return fmt.Errorf("passwd-file line of the login has no password field")
	}
	newField, marked, err := change(parts[1])
	if err != nil {
		return err
	}
	if !validField(newField) {
		return fmt.Errorf("new password field is not valid")
	}
	parts[1] = newField
	if marked || len(parts) == 8 {
		for len(parts) < 8 {
			parts = append(parts, "") // empty fields are unset ones
		}
		parts[7] = markExtra(parts[7], marked)
	}
	line := strings.Join(parts, ":") + eol
	if line == lines[i] {
		return nil
	}
	lines[i] = line
	// Dovecot re-reads a passwd-file when its mtime (whole seconds) or size
	// changed, and checks at most once a second. So never write in the
	// second of the old mtime (a same-size edit would go unseen); Verify
	// then waits, within its bound, until Dovecot shows the change.
	b.waitPast(st.ModTime())
	if err := replaceFile(b.cfg.Path, []byte(strings.Join(lines, "")), st); err != nil {
		return err
	}
	res.Changed = true
	return nil
}

// markExtra returns the space-separated extra fields with DisabledKey
// removed, and DisabledField appended when marked. Other fields and their
// spacing are kept as they were.
func markExtra(extra string, marked bool) string {
	var keep []string
	if extra != "" {
		for _, f := range strings.Split(extra, " ") {
			if f != DisabledKey && !strings.HasPrefix(f, DisabledKey+"=") {
				keep = append(keep, f)
			}
		}
	}
	if marked {
		keep = append(keep, DisabledField)
	}
	return strings.Join(keep, " ")
}

// waitPast sleeps until the clock is in a later second than t.
func (b *Backend) waitPast(t time.Time) {
	now := b.cfg.Now()
	if now.Unix() <= t.Unix() {
		b.cfg.Sleep(time.Unix(t.Unix()+1, 0).Sub(now))
	}
}

// replaceFile atomically replaces path with data, keeping st's owner, group
// and mode.
func replaceFile(path string, data []byte, st os.FileInfo) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".saslguard-*")
	if err != nil {
		return fmt.Errorf("write passwd-file: %w", err)
	}
	defer os.Remove(tmp.Name())
	fail := func(err error) error {
		tmp.Close()
		return fmt.Errorf("write passwd-file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		if err := tmp.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
			return fail(err)
		}
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write passwd-file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace passwd-file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync passwd-file directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync passwd-file directory: %w", err)
	}
	return nil
}

// newPassword makes a random password (192 bits, base64url) and its
// SHA512-CRYPT hash from doveadm pw, which reads the password twice from
// standard input: it never appears on a command line.
func (b *Backend) newPassword(ctx context.Context) (string, string, error) {
	raw := make([]byte, 24)
	if _, err := io.ReadFull(b.cfg.Rand, raw); err != nil {
		return "", "", fmt.Errorf("generate password: %w", err)
	}
	pw := base64.RawURLEncoding.EncodeToString(raw)
	in := strings.NewReader(pw + "\n" + pw + "\n")
	out, stderr, err := b.cfg.Runner.Run(ctx, b.doveadm("pw", "-s", "SHA512-CRYPT"), nil, in)
	if err != nil {
		return "", "", fmt.Errorf("hash password: %w: %s", err, firstLine(stderr))
	}
	hash := string(bytes.TrimSpace(out))
	if !strings.HasPrefix(hash, "{SHA512-CRYPT}$6$") || !validField(hash) {
		return "", "", fmt.Errorf("hash password: unexpected doveadm pw output")
	}
	return pw, hash, nil
}

// after flushes Dovecot's auth cache, verifies the change with verify
// (which flushes again while it waits), and then ends the login's IMAP/POP
// sessions, so a client that logs in again meets the new entry. Failures of
// the flush and the kick become notes: the file change stands.
func (b *Backend) after(ctx context.Context, login string, res *account.Result, verify func() account.Verification) {
	if !res.Changed {
		res.Verification = verify()
		return
	}
	if _, stderr, err := b.cfg.Runner.Run(ctx, b.doveadm("auth", "cache", "flush"), nil, nil); err != nil {
		res.Notes = append(res.Notes, "doveadm auth cache flush failed (the old password may work until the cache expires): "+err.Error()+": "+firstLine(stderr))
	}
	res.Verification = verify()
	if strings.ContainsAny(login, "*?") {
		res.Notes = append(res.Notes, "not kicking sessions: the login contains a doveadm wildcard")
		return
	}
	// doveadm kick exits 68 with "no users kicked" when there was no session.
	out, stderr, err := b.cfg.Runner.Run(ctx, b.doveadm("kick", "--", login), nil, nil)
	if err != nil && !bytes.Contains(out, []byte("no users kicked")) {
		res.Notes = append(res.Notes, "doveadm kick failed: "+err.Error()+": "+firstLine(stderr))
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// Verify implements account.Backend: it asks Dovecot for the login's passdb
// entry (doveadm auth lookup, after flushing the auth cache so the answer is
// not an old cached one) until the entry shows DisabledField (disabled) or
// shows the login without it (enabled), or the bound passes. Dovecot checks
// the file at most once a second, so this usually takes up to a second.
func (b *Backend) Verify(ctx context.Context, login string, disabled bool) account.Verification {
	if err := checkLogin(login); err != nil {
		return account.Verification{Method: "not checked: " + err.Error()}
	}
	start := b.cfg.Now()
	for try := 1; ; try++ {
		// A flush failure is already a note of the change; the lookup
		// below says what Dovecot answers either way.
		b.cfg.Runner.Run(ctx, b.doveadm("auth", "cache", "flush"), nil, nil)
		out, stderr, err := b.cfg.Runner.Run(ctx, b.doveadm("auth", "lookup", "--", login), nil, nil)
		elapsed := b.cfg.Now().Sub(start)
		var seen string
		switch {
		case err != nil && strings.Contains(string(stderr)+string(out), "doesn't exist"):
			seen = "no such user"
		case err != nil:
			seen = err.Error() + ": " + firstLine(stderr)
		case hasDisabledField(out) == disabled:
			what := "no " + DisabledKey + " field"
			if disabled {
				what = DisabledField
			}
			return account.Verification{Verified: true, Method: fmt.Sprintf("doveadm auth lookup: %s after %.1f s", what, elapsed.Seconds())}
		case disabled:
			seen = "still enabled"
		default:
			seen = "still disabled"
		}
		if b.expired(elapsed, try) || ctx.Err() != nil {
			return account.Verification{Method: fmt.Sprintf("doveadm auth lookup: %s after %.1f s", seen, elapsed.Seconds())}
		}
		b.cfg.Sleep(pollInterval)
	}
}

// expired reports whether Verify's bound has passed after elapsed and the
// given number of tries (also counted, in case the clock stands still).
func (b *Backend) expired(elapsed time.Duration, tries int) bool {
	return elapsed >= b.cfg.VerifyTimeout || time.Duration(tries)*pollInterval > b.cfg.VerifyTimeout
}

// hasDisabledField reports whether doveadm auth lookup's output lists
// DisabledField among the passdb fields ("  saslguard_disabled: yes").
func hasDisabledField(out []byte) bool {
	for _, line := range strings.Split(string(out), "\n") {
		key, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && strings.TrimSpace(key) == DisabledKey && strings.TrimSpace(value) == "yes" {
			return true
		}
	}
	return false
}
