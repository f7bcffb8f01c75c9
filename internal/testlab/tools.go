package testlab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// Tool names accepted by Command.
const (
	ToolPostfix   = "postfix"
	ToolPostconf  = "postconf"
	ToolPostqueue = "postqueue"
	ToolPostsuper = "postsuper"
	ToolPostcat   = "postcat"
	ToolPostmap   = "postmap"
	ToolDoveadm   = "doveadm"
)

// Command returns the argument vector that runs a Postfix tool (postfix,
// postconf, postqueue, postsuper, postcat, postmap) with "-c ConfigDir", or
// doveadm with "-c DovecotConf", followed by args. Code under test that takes
// a command prefix can be given Command(tool) with no args.
func (l *Lab) Command(tool string, args ...string) ([]string, error) {
	var bin, conf string
	switch tool {
	case ToolPostfix:
		bin, conf = l.bins.postfix, l.ConfigDir
	case ToolPostconf:
		bin, conf = l.bins.postconf, l.ConfigDir
	case ToolPostqueue:
		bin, conf = l.bins.postqueue, l.ConfigDir
	case ToolPostsuper:
		bin, conf = l.bins.postsuper, l.ConfigDir
	case ToolPostcat:
		bin, conf = l.bins.postcat, l.ConfigDir
	case ToolPostmap:
		bin, conf = l.bins.postmap, l.ConfigDir
	case ToolDoveadm:
		bin, conf = l.bins.doveadm, l.DovecotConf
	default:
		return nil, fmt.Errorf("unknown tool %q", tool)
	}
	return append([]string{bin, "-c", conf}, args...), nil
}

// Run runs a tool of this lab (see Command) and returns its standard output.
// A non-zero exit is an error that includes standard error.
func (l *Lab) Run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	argv, err := l.Command(tool, args...)
	if err != nil {
		return nil, err
	}
	return l.runStdout(ctx, nil, argv...)
}

// RunInput is Run with data on standard input (postsuper -d -).
func (l *Lab) RunInput(ctx context.Context, stdin []byte, tool string, args ...string) ([]byte, error) {
	argv, err := l.Command(tool, args...)
	if err != nil {
		return nil, err
	}
	return l.runStdout(ctx, stdin, argv...)
}

func (l *Lab) runStdout(ctx context.Context, stdin []byte, argv ...string) ([]byte, error) {
	cmd := execCommand(ctx, argv)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("run %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// Postconf returns the value of one main.cf parameter (postconf -h NAME).
func (l *Lab) Postconf(ctx context.Context, name string) (string, error) {
	out, err := l.Run(ctx, ToolPostconf, "-h", name)
	return strings.TrimSpace(string(out)), err
}

// SetMain edits main.cf (postconf -e name=value ...). Call Reload after.
func (l *Lab) SetMain(ctx context.Context, settings ...string) error {
	for _, s := range settings {
		if err := checkLine(s); err != nil {
			return fmt.Errorf("postconf -e %q: %w", s, err)
		}
	}
	_, err := l.Run(ctx, ToolPostconf, append([]string{"-e"}, settings...)...)
	return err
}

// Reload runs postfix reload.
func (l *Lab) Reload(ctx context.Context) error {
	_, err := l.Run(ctx, ToolPostfix, "reload")
	return err
}

// FlushAuthCache runs doveadm auth cache flush.
func (l *Lab) FlushAuthCache(ctx context.Context) error {
	_, err := l.Run(ctx, ToolDoveadm, "auth", "cache", "flush")
	return err
}

// Kick runs doveadm kick LOGIN (ends the login's IMAP sessions).
func (l *Lab) Kick(ctx context.Context, login string) error {
	_, err := l.Run(ctx, ToolDoveadm, "kick", login)
	return err
}

// QueueRecipient is one recipient in postqueue -j output.
type QueueRecipient struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason"`
}

// QueueEntry is one message in postqueue -j output.
type QueueEntry struct {
	QueueName    string           `json:"queue_name"`
	QueueID      string           `json:"queue_id"`
	ArrivalTime  int64            `json:"arrival_time"`
	MessageSize  int64            `json:"message_size"`
	ForcedExpire bool             `json:"forced_expire"`
	Sender       string           `json:"sender"`
	Recipients   []QueueRecipient `json:"recipients"`
}

// Queue lists the queue (postqueue -j).
func (l *Lab) Queue(ctx context.Context) ([]QueueEntry, error) {
	out, err := l.Run(ctx, ToolPostqueue, "-j")
	if err != nil {
		return nil, err
	}
	var es []QueueEntry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e QueueEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return es, fmt.Errorf("parse postqueue -j line %q: %w", line, err)
		}
		es = append(es, e)
	}
	return es, sc.Err()
}

// QueueCounts counts messages per queue name (active, deferred, hold, ...).
func QueueCounts(es []QueueEntry) map[string]int {
	m := map[string]int{}
	for _, e := range es {
		m[e.QueueName]++
	}
	return m
}

// WaitQueue polls postqueue -j until cond holds or ctx ends (bounded by
// a 30 s default when ctx has no deadline), and returns the last listing.
func (l *Lab) WaitQueue(ctx context.Context, cond func([]QueueEntry) bool) ([]QueueEntry, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	var last []QueueEntry
	for {
		es, err := l.Queue(ctx)
		if err == nil {
			last = es
			if cond(es) {
				return es, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("wait for queue (%d entries %v): %w", len(last), QueueCounts(last), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Postcat returns postcat output for queue ids (postcat -q ID ...), with
// extra flags first (e.g. "-e").
func (l *Lab) Postcat(ctx context.Context, flags []string, ids ...string) ([]byte, error) {
	args := append([]string{}, flags...)
	for _, id := range ids {
		args = append(args, "-q", id)
	}
	return l.Run(ctx, ToolPostcat, args...)
}

// Postsuper runs postsuper with args (e.g. "-h", "ALL").
func (l *Lab) Postsuper(ctx context.Context, args ...string) ([]byte, error) {
	return l.Run(ctx, ToolPostsuper, args...)
}

// bounded gives ctx a 30 s deadline when it has none, so a wait never hangs
// a test forever.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, 30*time.Second)
}

// Log selects one of the lab's log files.
type Log int

const (
	// PostfixLog is LogPath().
	PostfixLog Log = iota
	// DovecotLog is the Dovecot log (Lab.DovecotLog).
	DovecotLog
)

func (l *Lab) logPath(which Log) string {
	if which == DovecotLog {
		return l.DovecotLog
	}
	return l.maillog
}

// WaitLog polls a log until a line contains substr (or, when re is not nil,
// matches re) and returns that line. The wait is bounded by ctx, or 30 s
// when ctx has no deadline.
func (l *Lab) WaitLog(ctx context.Context, which Log, substr string, re *regexp.Regexp) (string, error) {
	return l.WaitLogN(ctx, which, substr, re, 1)
}

// WaitLogN is WaitLog for the n-th matching line.
func (l *Lab) WaitLogN(ctx context.Context, which Log, substr string, re *regexp.Regexp, n int) (string, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	path := l.logPath(which)
	seen := 0
	for {
		seen = 0
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			if (re != nil && re.MatchString(line)) || (re == nil && strings.Contains(line, substr)) {
				seen++
				if seen >= n {
					return line, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			what := fmt.Sprintf("%q", substr)
			if re != nil {
				what = re.String()
			}
			return "", fmt.Errorf("wait for %s in %s (%d of %d seen): %w", what, path, seen, n, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// LogLines returns the lines of a log matching substr (all when empty).
func (l *Lab) LogLines(which Log, substr string) ([]string, error) {
	b, err := os.ReadFile(l.logPath(which))
	if err != nil {
		return nil, fmt.Errorf("read log: %w", err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line != "" && strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out, nil
}

// SessionPID waits for the smtpd "connect from unknown[IP]" line of a
// session opened from localIP and returns that smtpd's pid (the process a
// test must end to stop an already-authenticated session). Use a distinct
// source address per session: the log does not show client ports. With
// several connects from the address, the last one logged wins.
func (l *Lab) SessionPID(ctx context.Context, localIP string) (int, error) {
	re, err := regexp.Compile(`/smtpd\[(\d+)\]: connect from [^\[\s]*\[` + regexp.QuoteMeta(localIP) + `\]$`)
	if err != nil {
		return 0, fmt.Errorf("session pid: %w", err)
	}
	if _, err := l.WaitLog(ctx, PostfixLog, "", re); err != nil {
		return 0, err
	}
	lines, err := l.LogLines(PostfixLog, "connect from")
	if err != nil {
		return 0, err
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if m := re.FindStringSubmatch(lines[i]); m != nil {
			var pid int
			if _, err := fmt.Sscan(m[1], &pid); err == nil && pid > 1 {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("session pid for %s: no connect line", localIP)
}

// DebianShape turns the lab's Postfix into a fresh Debian install's shape:
// main.cf with only smtpd_relay_restrictions; submission naming
// "$mua_recipient_restrictions" and "$mua_client_restrictions" (as Debian's
// master.cf suggests) without main.cf defining them; smtps (when the lab
// has it) with its own "permit_sasl_authenticated,reject". It returns the
// two services' master.cf names ("" for smtps when the lab has none) and
// reloads Postfix.
func (l *Lab) DebianShape(ctx context.Context) (submission, smtps string, err error) {
	submission = fmt.Sprintf("127.0.0.1:%d/inet", l.ports.Submission)
	if l.ports.SMTPS != 0 {
		smtps = fmt.Sprintf("127.0.0.1:%d/inet", l.ports.SMTPS)
	}
	for _, args := range [][]string{
		{"-X", "smtpd_recipient_restrictions"},
		{"-e", "smtpd_relay_restrictions=permit_mynetworks permit_sasl_authenticated defer_unauth_destination"},
		{"-P", submission + "/smtpd_recipient_restrictions=$mua_recipient_restrictions"},
		{"-P", submission + "/smtpd_client_restrictions=$mua_client_restrictions"},
	} {
		if _, err := l.Run(ctx, "postconf", args...); err != nil {
			return "", "", err
		}
	}
	return submission, smtps, l.Reload(ctx)
}

// AppendForgedLines appends to the log at path what any local user can
// write through syslog (logger -t postfix/submission/smtpd ...): login
// "sends" one message per queue id, from the client addresses ips in turn,
// with forged senders. The ids may be real ones copied from mailq, or made
// up.
func AppendForgedLines(path, login string, ids, ips []string) error {
	var b strings.Builder
	stamp := time.Now().Format("Jan _2 15:04:05")
	for i, qid := range ids {
		ip := ips[i%len(ips)]
		pid := 41000 + i
		fmt.Fprintf(&b, "%s mail postfix/submission/smtpd[%d]: connect from unknown[%s]\n", stamp, pid, ip)
		fmt.Fprintf(&b, "%s mail postfix/submission/smtpd[%d]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=%s\n", stamp, pid, qid, ip, login)
		fmt.Fprintf(&b, "%s mail postfix/cleanup[%d]: %s: message-id=<%d.forged@x>\n", stamp, pid+500, qid, i)
		fmt.Fprintf(&b, "%s mail postfix/qmgr[%d]: %s: from=<sale%d@forged%d.example>, size=400, nrcpt=1 (queue active)\n", stamp, pid+900, qid, i, i)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
