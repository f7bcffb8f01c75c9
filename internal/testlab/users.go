package testlab

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validLogin accepts what the lab's passwd-file and hash map can hold
// safely: a full address without separators, white space or control bytes.
func validLogin(login string) error {
	if login == "" || len(login) > 200 {
		return fmt.Errorf("invalid login %q: empty or too long", login)
	}
	local, domain, ok := strings.Cut(login, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return fmt.Errorf("invalid login %q: want local@domain", login)
	}
	for _, r := range login {
		if r <= ' ' || r == 0x7f || r == ':' || r == '#' || r == '/' || r > 0x7e {
			return fmt.Errorf("invalid login %q: character %q not allowed", login, r)
		}
	}
	return nil
}

func validPassword(pw string) error {
	if pw == "" {
		return fmt.Errorf("empty password")
	}
	for _, r := range pw {
		if r < ' ' || r == 0x7f || r == ':' {
			return fmt.Errorf("password contains a character the passwd-file cannot hold (%q)", r)
		}
	}
	return nil
}

// passwdLine renders a Dovecot passwd-file line; uid, gid and home come
// from userdb default_fields.
func passwdLine(login, password string) (string, error) {
	if err := validLogin(login); err != nil {
		return "", err
	}
	if err := validPassword(password); err != nil {
		return "", err
	}
	return login + ":{PLAIN}" + password + "::::::", nil
}

// writePasswd rewrites the passwd-file atomically, owned root:dovecot 0640
// (the auth process reads it as the dovecot user).
func (l *Lab) writePasswd(doveGID int) error {
	logins := make([]string, 0, len(l.users))
	for k := range l.users {
		logins = append(logins, k)
	}
	sort.Strings(logins)
	var b strings.Builder
	for _, k := range logins {
		b.WriteString(l.users[k])
		b.WriteByte('\n')
	}
	return writePasswdFile(l.PasswdFile, b.String(), doveGID)
}

func writePasswdFile(path, body string, doveGID int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o640); err != nil {
		return fmt.Errorf("write passwd-file: %w", err)
	}
	if err := os.Chown(tmp, 0, doveGID); err != nil {
		return fmt.Errorf("chown passwd-file: %w", err)
	}
	if err := os.Chmod(tmp, 0o640); err != nil {
		return fmt.Errorf("chmod passwd-file: %w", err)
	}
	// Dovecot reloads the file when its mtime (in seconds) or size changes:
	// make sure two edits within one second still differ in mtime.
	if old, err := os.Stat(path); err == nil {
		mt := time.Now()
		if !mt.Truncate(time.Second).After(old.ModTime().Truncate(time.Second)) {
			mt = old.ModTime().Truncate(time.Second).Add(time.Second)
		}
		if err := os.Chtimes(tmp, mt, mt); err != nil {
			return fmt.Errorf("touch passwd-file: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("install passwd-file: %w", err)
	}
	return nil
}

// writeVmailbox rewrites Postfix's virtual_mailbox_maps source and runs
// postmap, so mail to the lab's users is delivered and mail to anyone else in
// lab.test bounces.
func (l *Lab) writeVmailbox() error {
	logins := make([]string, 0, len(l.users))
	for k := range l.users {
		if strings.HasSuffix(strings.ToLower(k), "@"+Domain) {
			logins = append(logins, k)
		}
	}
	sort.Strings(logins)
	var b strings.Builder
	for _, k := range logins {
		local, domain, _ := strings.Cut(k, "@")
		fmt.Fprintf(&b, "%s %s/%s/Maildir/\n", k, domain, local)
	}
	if err := os.WriteFile(l.vmailboxPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write vmailbox: %w", err)
	}
	out, err := l.run(context.Background(), l.bins.postmap, "-c", l.ConfigDir, "hash:"+l.vmailboxPath)
	if err != nil {
		return fmt.Errorf("postmap vmailbox: %w: %s", err, out)
	}
	return nil
}

func dovecotGID() (int, error) {
	g, err := user.LookupGroup("dovecot")
	if err != nil {
		return 0, fmt.Errorf("look up group dovecot: %w", err)
	}
	return strconv.Atoi(g.Gid)
}

func (l *Lab) saveUsers() error {
	gid, err := dovecotGID()
	if err != nil {
		return err
	}
	if err := l.writePasswd(gid); err != nil {
		return err
	}
	return l.writeVmailbox()
}

// AddUser adds (or replaces) a login with a password; a login in lab.test
// also gets a mailbox. Dovecot re-reads the passwd-file when it changes, but
// checks at most once a second: allow a second before relying on the change.
func (l *Lab) AddUser(login, password string) error {
	line, err := passwdLine(login, password)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users[login] = line
	return l.saveUsers()
}

// SetPassword changes an existing login's password. As with AddUser,
// Dovecot may take up to a second to notice the new file. (auth_cache_size is
// set, but Dovecot 2.3 does not cache passwd-file lookups: the old password
// stops working without a cache flush.)
func (l *Lab) SetPassword(login, password string) error {
	line, err := passwdLine(login, password)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.users[login]; !ok {
		return fmt.Errorf("set password: no such login %q", login)
	}
	l.users[login] = line
	return l.saveUsers()
}

// Users returns the logins the lab created, sorted. (It does not see edits
// made to the passwd-file by others.)
func (l *Lab) Users() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.users))
	for k := range l.users {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Password returns the password Start or AddUser gave a login.
func (l *Lab) Password(login string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line, ok := l.users[login]
	if !ok {
		return "", false
	}
	_, rest, _ := strings.Cut(line, ":{PLAIN}")
	pw, _, _ := strings.Cut(rest, ":")
	return pw, true
}

// MailboxDir is the Maildir of a lab.test login.
func (l *Lab) MailboxDir(login string) string {
	local, domain, _ := strings.Cut(login, "@")
	return filepath.Join(l.MailDir, domain, local, "Maildir")
}
