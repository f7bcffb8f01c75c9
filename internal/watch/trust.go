package watch

import (
	"context"
	"fmt"
	"os/user"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/saslguard/saslguard/internal/envelope"
	"github.com/saslguard/saslguard/internal/postfixlog"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
)

// JournalTrust says which processes may have written the Postfix lines
// read from the systemd journal. Any local user can log lines tagged
// postfix/submission/smtpd (logger -t, or a process that names itself
// smtpd: _COMM and SYSLOG_IDENTIFIER are the sender's word); the journal
// also records fields the sender cannot set: _UID (from the socket's
// credentials), _EXE and _SYSTEMD_UNIT (read by journald from /proc and the
// process's cgroup). A journal line with a Postfix tag is read only when
// they show one of Postfix's own processes; other lines are counted
// (Stats.Untrusted) and dropped. Lines from files carry no such fields and
// are all read: what contain mode acts on is checked against the queue
// files.
type JournalTrust struct {
	// UIDs are the _UID values of Postfix's processes: the mail_owner's
	// (smtpd, cleanup, qmgr, pickup) and root's (master, postsuper).
	// Postfix lines logged with another _UID (sendmail, postdrop or
	// postlog run by a user, logger) are dropped. Required.
	UIDs []string
	// Dirs hold Postfix's programs (daemon_directory, command_directory):
	// a line whose _EXE is elsewhere is dropped. Empty: not checked.
	Dirs []string
	// Units are prefixes of the systemd units Postfix runs in ("postfix"
	// covers postfix.service and postfix@-.service): a line whose
	// _SYSTEMD_UNIT starts with none of them is dropped. Empty: not
	// checked.
	Units []string
	// OnDrop, when set, is told about the first few dropped lines.
	OnDrop func(tag, why string)
}

// maxDropReports is how many dropped lines OnDrop is told about.
const maxDropReports = 10

// written says why a journal line with a Postfix tag was not written by
// one of Postfix's processes ("" when it was). _EXE and _SYSTEMD_UNIT are
// missing when the process ended before journald read them: then _UID
// decides alone.
func (t *JournalTrust) written(env *envelope.Envelope) string {
	if !slices.Contains(t.UIDs, env.UID) {
		return "_UID " + quoteField(env.UID) + " is not Postfix's"
	}
	if env.Exe != "" && len(t.Dirs) > 0 && !slices.Contains(t.Dirs, path.Dir(env.Exe)) {
		return "_EXE " + quoteField(env.Exe) + " is not a Postfix program"
	}
	if env.Unit != "" && len(t.Units) > 0 && !slices.ContainsFunc(t.Units, func(u string) bool { return strings.HasPrefix(env.Unit, u) }) {
		return "_SYSTEMD_UNIT " + quoteField(env.Unit) + " is not Postfix's"
	}
	return ""
}

// untrusted reports whether the line just parsed is a journal line with a
// Postfix tag that Postfix did not write.
func (e *Engine) untrusted() bool {
	t := e.cfg.Journal
	env := &e.parser.Last
	if t == nil || env.Format != envelope.Journal || postfixlog.Daemon(env.Tag) == "" {
		return false
	}
	why := t.written(env)
	if why == "" {
		return false
	}
	e.Stats.Untrusted++
	if t.OnDrop != nil && e.Stats.Untrusted <= maxDropReports {
		t.OnDrop(quoteField(env.Tag), why)
	}
	return true
}

// quoteField shortens and quotes a journal field for a message (a new
// string: the field points into the line's buffer).
func quoteField(s string) string {
	if len(s) > 80 {
		s = s[:80]
	}
	return strconv.Quote(s)
}

// PostfixJournalTrust asks postconf for the Postfix instance's mail_owner,
// daemon_directory and command_directory and returns the trust they give:
// the mail_owner's and root's _UID, programs in those directories, units
// named postfix*. binDir is where postconf is ("" for /usr/sbin).
func PostfixJournalTrust(ctx context.Context, configDir, binDir string) (*JournalTrust, error) {
	if binDir == "" {
		binDir = "/usr/sbin"
	}
	vals, err := postfixq.Postconf(ctx, postfixq.ExecRunner{}, path.Join(binDir, "postconf"), configDir,
		"mail_owner", "daemon_directory", "command_directory")
	if err != nil {
		return nil, err
	}
	owner := vals["mail_owner"]
	u, err := user.Lookup(owner)
	if err != nil {
		return nil, fmt.Errorf("postfix mail_owner %q: %w", owner, err)
	}
	t := &JournalTrust{UIDs: []string{u.Uid, "0"}, Units: []string{"postfix"}}
	for _, k := range []string{"daemon_directory", "command_directory"} {
		if d := vals[k]; d != "" {
			t.Dirs = append(t.Dirs, path.Clean(d))
		}
	}
	return t, nil
}
