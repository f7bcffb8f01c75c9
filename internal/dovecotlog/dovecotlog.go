// Package dovecotlog reads Dovecot's log messages into events: failed
// authentications (passdb lines and login processes' "auth failed"
// disconnects) and successful IMAP/POP3 logins. When Postfix uses Dovecot
// for SASL, a failed SMTP AUTH shows in both logs.
package dovecotlog

import (
	"strconv"
	"strings"

	"github.com/saslguard/saslguard/internal/event"
)

// IsDovecot tells whether a syslog tag is Dovecot's.
func IsDovecot(tag string) bool {
	return tag == "dovecot" || strings.HasPrefix(tag, "dovecot-") ||
		strings.HasSuffix(tag, "-login") || tag == "auth" || strings.HasPrefix(tag, "auth-worker")
}

// Parse reads a Dovecot message such as "auth: Info: passwd-file(u,ip):
// Password mismatch" or "imap-login: Login: user=<u>, method=PLAIN,
// rip=ip, ...". tag is the syslog tag: when it is a process name itself
// ("imap-login"), msg lacks the "imap-login: " prefix. Strings in ev point
// into msg.
func Parse(tag, msg string, ev *event.Event) bool {
	ev.Source = event.Dovecot
	proc := tag
	if tag == "dovecot" || strings.HasPrefix(tag, "dovecot-") {
		p, rest, ok := strings.Cut(msg, ": ")
		if !ok {
			return false
		}
		proc, msg = p, rest
	}
	msg = stripLevel(msg)
	name := proc
	if i := strings.IndexByte(name, '('); i > 0 {
		name = name[:i]
	}
	switch {
	case strings.HasSuffix(name, "-login"):
		return parseLogin(strings.TrimSuffix(name, "-login"), msg, ev)
	case name == "auth" || name == "auth-worker":
		return parseAuth(msg, ev)
	}
	ev.Kind = event.Ignored
	return true
}

func stripLevel(msg string) string {
	for _, l := range [...]string{"Info: ", "Warning: ", "Error: ", "Debug: ", "Fatal: ", "Panic: "} {
		if strings.HasPrefix(msg, l) {
			return msg[len(l):]
		}
	}
	return msg
}

// parseLogin handles imap-login, pop3-login, submission-login lines.
func parseLogin(service, msg string, ev *event.Event) bool {
	ev.Service = service
	fields, ok := loginFields(msg)
	switch {
	case strings.HasPrefix(msg, "Login: "):
		if !ok || fields.user == "" {
			return false
		}
		ev.Kind = event.Login
	case strings.Contains(msg, "(auth failed"):
		ev.Kind = event.AuthFailure
		ev.AuthTotal = attempts(msg)
	default:
		ev.Kind = event.Ignored
		return true
	}
	ev.Login = fields.user
	ev.Method = fields.method
	ev.ClientIP = fields.rip
	return true
}

type loginInfo struct{ user, method, rip string }

// loginFields reads "user=<u>, method=M, rip=IP, lip=IP, ..." wherever it
// starts in msg.
func loginFields(msg string) (loginInfo, bool) {
	var li loginInfo
	i := strings.Index(msg, "user=<")
	if i < 0 {
		if j := strings.Index(msg, "rip="); j >= 0 {
			li.rip = upTo(msg[j+4:], ',')
		}
		return li, false
	}
	rest := msg[i+len("user=<"):]
	end := strings.Index(rest, ">, ")
	if end < 0 {
		end = strings.LastIndexByte(rest, '>')
		if end < 0 {
			return li, false
		}
	}
	li.user = rest[:end]
	rest = rest[end:]
	if j := strings.Index(rest, "method="); j >= 0 {
		li.method = upTo(rest[j+7:], ',')
	}
	if j := strings.Index(rest, "rip="); j >= 0 {
		li.rip = upTo(rest[j+4:], ',')
	}
	return li, true
}

func upTo(s string, c byte) string {
	if i := strings.IndexByte(s, c); i >= 0 {
		return s[:i]
	}
	return s
}

// attempts reads "(auth failed, 3 attempts in 15 secs)"; at least 1.
func attempts(msg string) int {
	i := strings.Index(msg, "auth failed, ")
	if i < 0 {
		return 1
	}
	num, _, _ := strings.Cut(msg[i+len("auth failed, "):], " ")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 1000 {
		return 1
	}
	return n
}

var failurePhrases = []string{"Password mismatch", "unknown user", "pam_authenticate() failed", "User not known"}

// parseAuth reads passdb lines: "passwd-file(user,ip[,<session>]): Password
// mismatch", "... unknown user", "pam(user,ip): pam_authenticate() failed".
func parseAuth(msg string, ev *event.Event) bool {
	// The driver's "(user,ip): " may follow other prefixes such as
	// "conn unix:auth-worker (pid=1,uid=2): auth-worker<4>: ".
	close := -1
	for _, phrase := range failurePhrases {
		if i := strings.Index(msg, "): "+phrase); i >= 0 {
			close = i
			break
		}
	}
	if close < 0 {
		ev.Kind = event.Ignored
		return true
	}
	open := strings.LastIndexByte(msg[:close], '(')
	if open < 0 {
		ev.Kind = event.Ignored
		return true
	}
	args := msg[open+1 : close]
	// args: user,ip or user,ip,<session>; the user may hold commas.
	if i := strings.LastIndexByte(args, ','); i >= 0 && strings.HasPrefix(args[i+1:], "<") {
		args = args[:i]
	}
	i := strings.LastIndexByte(args, ',')
	if i < 0 {
		return false
	}
	ev.Kind = event.AuthFailure
	ev.Service = "auth"
	ev.Login, ev.ClientIP = args[:i], args[i+1:]
	if ev.Login == "?" {
		ev.Login = ""
	}
	return true
}
