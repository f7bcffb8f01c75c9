// Package postfixlog reads the messages of Postfix's log lines (the part
// after "postfix/smtpd[123]: ") into events: logins, envelope senders,
// recipients and their outcome, queue hops, bounces, rejections and failed
// AUTH attempts.
package postfixlog

import (
	"strconv"
	"strings"

	"github.com/saslguard/saslguard/internal/event"
)

// Daemon returns the Postfix daemon named by a syslog tag ("smtpd" for
// "postfix/submission/smtpd", "postfix-out/qmgr", "mailout/smtp"), or ""
// when the tag is not Postfix's: its last path element must be a Postfix
// program.
func Daemon(tag string) string {
	i := strings.LastIndexByte(tag, '/')
	if i <= 0 {
		return ""
	}
	switch d := tag[i+1:]; d {
	case "smtpd", "cleanup", "qmgr", "smtp", "lmtp", "local", "virtual", "pipe", "bounce", "pickup",
		"postsuper", "error", "retry", "discard", "master", "postscreen", "dnsblog", "anvil",
		"scache", "tlsmgr", "tlsproxy", "verify", "proxymap", "trivial-rewrite", "postfix-script",
		"postlogd", "sendmail", "postdrop", "postqueue", "postmap", "spawn", "flush", "showq",
		"nqmgr", "oqmgr", "qmqpd", "postalias", "postmulti", "relay":
		return d
	}
	return ""
}

// Service returns the middle of a tag such as "postfix/submission/smtpd"
// ("submission"), or "" for "postfix/smtpd".
func Service(tag string) string {
	first := strings.IndexByte(tag, '/')
	last := strings.LastIndexByte(tag, '/')
	if first < 0 || first == last {
		return ""
	}
	return tag[first+1 : last]
}

// Parse reads msg, logged by daemon, into ev (Kind and the fields that kind
// uses). It returns false when it does not understand the line. Strings in
// ev point into msg.
func Parse(daemon, msg string, ev *event.Event) bool {
	ev.Source = event.Postfix
	qid, rest, hasQID := splitQID(msg)
	if hasQID {
		ev.QID = qid
		return parseQueued(daemon, rest, ev)
	}
	if daemon == "smtpd" && parseSMTPD(msg, ev) {
		return true
	}
	if daemon != "smtpd" && parseOther(daemon, msg, ev) {
		return true
	}
	// Verbose (-v, debug_peer_list) and other chatter without a queue id:
	// understood as nothing to use, unless it carries what saslguard reads.
	if !hasKeyField(msg) {
		ev.Kind = event.Ignored
		return true
	}
	return false
}

// hasKeyField tells whether a line carries a login, client, sender,
// recipient, status or AUTH failure: such a line must be understood.
func hasKeyField(msg string) bool {
	return strings.Contains(msg, "sasl_username=") || strings.Contains(msg, "client=") ||
		strings.Contains(msg, "from=<") || strings.Contains(msg, "to=<") ||
		strings.Contains(msg, "status=") || strings.Contains(msg, "authentication failed")
}

// qidClass classifies bytes for splitQID: 1 upper-case hex digit or
// digit, 2 other letters allowed in long ids, 3 vowels and 'z' handled apart.
var qidClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = 1
	}
	for c := 'G'; c <= 'Z'; c++ {
		t[c] = 2
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 2
	}
	for _, c := range "AEIOUaeiou" {
		t[c] |= 4 // a vowel: never in a long id
	}
	t['z'] = 8 // the long id's separator
	return t
}()

// maxQIDLen is the length of the longest queue id splitQID accepts.
const maxQIDLen = 23

// splitQID splits "QID: rest". NOQUEUE gives an empty id and ok. A short
// queue id is upper-case hex; a long one (enable_long_queue_ids) is a time
// stamp in an alphabet without vowels, a 'z', and the inode number.
func splitQID(msg string) (qid, rest string, ok bool) {
	// A queue id is short: look no further than its longest form, a long
	// id with a 64-bit inode number (10 + 1 + 12 characters).
	i := 0
	for i < len(msg) && i <= maxQIDLen && msg[i] != ':' {
		i++
	}
	if i < 5 || i > maxQIDLen || i+1 >= len(msg) || msg[i+1] != ' ' {
		return "", "", false
	}
	if i == 7 && msg[:7] == "NOQUEUE" {
		return "", msg[9:], true
	}
	var all uint8 = 1
	var any uint8
	for j := 0; j < i; j++ {
		c := qidClass[msg[j]]
		if c == 0 {
			return "", "", false
		}
		all &= c
		any |= c
	}
	switch {
	case all&1 == 1 && i <= 21: // every byte a digit or A-F: 5 of microseconds, up to 16 of inode
	case any&4 == 0 && any&8 != 0 && i >= 12: // long id
	default:
		return "", "", false
	}
	return msg[:i], msg[i+2:], true
}

// ValidQID tells whether s has the shape of a Postfix queue id (short hex or
// long form).
func ValidQID(s string) bool {
	q, _, ok := splitQID(s + ": ")
	return ok && q == s
}

// parseQueued handles "QID: ..." messages (and NOQUEUE ones, with ev.QID "").
func parseQueued(daemon, rest string, ev *event.Event) bool {
	switch {
	case strings.HasPrefix(rest, "client="):
		return parseClient(rest[len("client="):], ev)
	case strings.HasPrefix(rest, "to=<"):
		return parseDelivery(rest, ev)
	case strings.HasPrefix(rest, "from=<"):
		return parseFrom(rest, ev)
	case rest == "removed":
		ev.Kind = event.Removed
		return true
	case strings.HasPrefix(rest, "message-id="):
		ev.Kind = event.MessageID
		id := rest[len("message-id="):]
		id = strings.TrimPrefix(id, "<")
		if i := strings.IndexByte(id, '>'); i >= 0 {
			id = id[:i]
		}
		ev.MessageID = id
		return true
	case strings.HasPrefix(rest, "uid="):
		return parsePickup(rest, ev)
	case strings.HasPrefix(rest, "reject: "), strings.HasPrefix(rest, "milter-reject: "):
		return parseReject(rest, ev)
	case strings.HasPrefix(rest, "hold: "), strings.HasPrefix(rest, "milter-hold: "), rest == "placed on hold":
		ev.Kind = event.Hold
		return true
	case rest == "released from hold":
		ev.Kind = event.Release
		return true
	case strings.HasPrefix(rest, "sender non-delivery notification: "),
		strings.HasPrefix(rest, "sender delivery status notification: "),
		strings.HasPrefix(rest, "postmaster non-delivery notification: "),
		strings.HasPrefix(rest, "sender delay notification: "),
		strings.HasPrefix(rest, "postmaster delay notification: "):
		_, id, _ := strings.Cut(rest, "notification: ")
		if !ValidQID(id) {
			return false
		}
		ev.Kind = event.Notify
		ev.NewQID = id
		return true
	}
	if ignoredQueued(rest) || !hasKeyField(rest) {
		ev.Kind = event.Ignored
		return true
	}
	return false
}

var ignoredQueuedPrefixes = []string{
	"warning: ", "info: ", "discard: ", "replace: ", "redirect: ", "filter: ", "prepend: ",
	"resent-message-id=", "skipped, still being delivered", "requeued", "host ", "lost connection",
	"conversation with ", "enabling PIX", "Cannot start TLS", "TLS is required", "Server certificate not",
	"sender delay notification", "milter-discard", "milter-replace", "delivery temporarily suspended",
	"Trusted TLS", "Untrusted TLS", "Verified TLS", "Anonymous TLS", "SASL authentication failed",
	"breaking line", "cannot ",
}

func ignoredQueued(rest string) bool {
	for _, p := range ignoredQueuedPrefixes {
		if strings.HasPrefix(rest, p) {
			return true
		}
	}
	return false
}

// parseClient reads smtpd's "client=name[ip]:port, sasl_method=M,
// sasl_username=U, sasl_sender=S, orig_queue_id=Q, orig_client=..." (after
// "client=").
func parseClient(s string, ev *event.Event) bool {
	name, ip, rest, ok := hostAddr(s)
	if !ok {
		return false
	}
	ev.Kind = event.Client
	ev.ClientName, ev.ClientIP = name, ip
	for rest != "" {
		if !strings.HasPrefix(rest, ", ") {
			break
		}
		rest = rest[2:]
		key, val, ok := strings.Cut(rest, "=")
		if !ok {
			return true
		}
		// A user name can hold ", ": it runs to the next known key.
		end := nextKnownKey(val)
		val, rest = val[:end], val[end:]
		switch key {
		case "sasl_method":
			ev.Method = val
		case "sasl_username":
			ev.Login = val
		case "orig_queue_id":
			ev.OrigQID = val
		}
	}
	return true
}

// nextKnownKey returns where the next ", key=" of a client line starts in
// s, or len(s): one pass over the ", " separators.
func nextKnownKey(s string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], ", ")
		if i < 0 {
			return len(s)
		}
		i += off
		rest := s[i+2:]
		if strings.HasPrefix(rest, "sasl_") && (strings.HasPrefix(rest, "sasl_method=") ||
			strings.HasPrefix(rest, "sasl_username=") || strings.HasPrefix(rest, "sasl_sender=")) ||
			strings.HasPrefix(rest, "orig_") && (strings.HasPrefix(rest, "orig_queue_id=") ||
				strings.HasPrefix(rest, "orig_client=")) {
			return i
		}
		off = i + 2
	}
}

// hostAddr reads "name[ip]" or "name[ip]:port" and returns what follows.
func hostAddr(s string) (name, ip, rest string, ok bool) {
	// names and addresses are short: loops beat IndexByte's set-up
	lb := 0
	for lb < len(s) && s[lb] != '[' {
		lb++
	}
	rb := lb
	for rb < len(s) && s[rb] != ']' {
		rb++
	}
	if rb >= len(s) {
		return "", "", "", false
	}
	name, ip, rest = s[:lb], s[lb+1:rb], s[rb+1:]
	if strings.HasPrefix(rest, ":") {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i > 1 {
			rest = rest[i:]
		}
	}
	ip = strings.TrimPrefix(ip, "IPv6:")
	return name, ip, rest, true
}

// parseDelivery reads "to=<r>, orig_to=<o>, relay=R, delay=D, delays=...,
// dsn=X.Y.Z, status=S (reply)".
func parseDelivery(s string, ev *event.Event) bool {
	addr, rest, ok := angle(s[len("to="):])
	if !ok {
		return false
	}
	ev.Kind = event.Delivery
	ev.Recipient = addr
	// one pass over the fields: ", orig_to=<>, relay=R, ..., dsn=D, status=S (reply)"
	st := ""
	for rest != "" {
		i := strings.Index(rest, ", ")
		if i < 0 {
			break
		}
		rest = rest[i+2:]
		switch {
		case strings.HasPrefix(rest, "relay="):
			ev.Relay = upToComma(rest[len("relay="):])
		case strings.HasPrefix(rest, "dsn="):
			ev.DSN = upToComma(rest[len("dsn="):])
		case strings.HasPrefix(rest, "status="):
			st = rest[len("status="):]
			rest = ""
		}
	}
	if st == "" {
		return true
	}
	word, reply, _ := strings.Cut(st, " ")
	ev.Status = word
	reply = strings.TrimPrefix(reply, "(")
	reply = strings.TrimSuffix(reply, ")")
	ev.Reply = reply
	if word == "sent" {
		if j := strings.Index(reply, "queued as "); j >= 0 {
			id := reply[j+len("queued as "):]
			k := 0
			for k < len(id) && isAlnum(id[k]) {
				k++
			}
			if ValidQID(id[:k]) {
				ev.NewQID = id[:k]
			}
		}
	}
	return true
}

// parseFrom reads qmgr's "from=<s>, size=N, nrcpt=N (queue active)" or
// "from=<s>, status=expired, returned to sender".
func parseFrom(s string, ev *event.Event) bool {
	addr, rest, ok := angle(s[len("from="):])
	if !ok {
		return false
	}
	ev.Sender = addr
	if strings.Contains(rest, "status=expired") {
		ev.Kind = event.Expired
		ev.Status = "expired"
		return true
	}
	ev.Kind = event.From
	if v, ok := field(rest, ", size="); ok {
		ev.Size, _ = strconv.ParseInt(v, 10, 64)
	}
	if v, ok := field(rest, ", nrcpt="); ok {
		v, _, _ = strings.Cut(v, " ")
		ev.Nrcpt, _ = strconv.Atoi(v)
	}
	return true
}

// parsePickup reads "uid=N from=<s>" with an optional " orig_id=Q".
func parsePickup(s string, ev *event.Event) bool {
	i := strings.Index(s, " from=<")
	if i < 0 {
		return false
	}
	addr, rest, ok := angle(s[i+len(" from="):])
	if !ok {
		return false
	}
	ev.Kind = event.Pickup
	ev.Sender = addr
	if j := strings.Index(rest, "orig_id="); j >= 0 {
		id := rest[j+len("orig_id="):]
		id, _, _ = strings.Cut(id, " ")
		if ValidQID(id) {
			ev.OrigQID = id
		}
	}
	return true
}

// parseReject reads "reject: RCPT from name[ip]: 554 5.7.1 <x>: text;
// from=<s> to=<r> proto=ESMTP helo=<h>" and cleanup's "reject: header ...".
func parseReject(s string, ev *event.Event) bool {
	_, s, _ = strings.Cut(s, ": ")
	ev.Kind = event.Reject
	if i := strings.Index(s, " from "); i >= 0 && i < 16 {
		if name, ip, rest, ok := hostAddr(s[i+len(" from "):]); ok {
			ev.ClientName, ev.ClientIP = name, ip
			s = strings.TrimPrefix(rest, ": ")
		}
	}
	text := s
	if i := strings.LastIndex(s, "; from=<"); i >= 0 {
		text = s[:i]
		tail := s[i+len("; from="):]
		if addr, rest, ok := angle(tail); ok {
			ev.Sender = addr
			if j := strings.Index(rest, " to=<"); j >= 0 {
				if r, _, ok := angle(rest[j+len(" to="):]); ok {
					ev.Recipient = r
				}
			}
		}
	}
	ev.Reply = text
	if code, after, ok := strings.Cut(text, " "); ok && len(code) == 3 {
		if dsn, _, ok := strings.Cut(after, " "); ok && strings.Count(dsn, ".") == 2 {
			ev.DSN = dsn
		}
	}
	return true
}

// parseSMTPD handles smtpd lines without a queue id.
func parseSMTPD(msg string, ev *event.Event) bool {
	switch {
	case strings.HasPrefix(msg, "warning: "):
		w := msg[len("warning: "):]
		if i := strings.Index(w, ": SASL "); i >= 0 && strings.Contains(w[i:], " authentication failed") {
			return parseAuthFailure(w, i, ev)
		}
		ev.Kind = event.Ignored
		return true
	case strings.HasPrefix(msg, "disconnect from "):
		name, ip, rest, ok := hostAddr(msg[len("disconnect from "):])
		if !ok {
			return false
		}
		ev.Kind = event.Disconnect
		ev.ClientName, ev.ClientIP = name, ip
		if i := strings.Index(rest, " auth="); i >= 0 {
			v, _, _ := strings.Cut(rest[i+len(" auth="):], " ")
			okS, totS, slash := strings.Cut(v, "/")
			ev.AuthOK, _ = strconv.Atoi(okS)
			if slash {
				ev.AuthTotal, _ = strconv.Atoi(totS)
			} else {
				ev.AuthTotal = ev.AuthOK
			}
		}
		return true
	}
	for _, p := range ignoredSMTPD {
		if strings.HasPrefix(msg, p) {
			ev.Kind = event.Ignored
			return true
		}
	}
	if isDebug(msg) {
		ev.Kind = event.Ignored
		return true
	}
	return false
}

// isDebug tells the lines of debug_peer_list and -v ("dict_proxy_lookup:
// table=...", "generic_checks: name=...", "< host[ip]: EHLO x"): a
// lower-case function name and a colon, or a command echo.
func isDebug(msg string) bool {
	if strings.HasPrefix(msg, "< ") || strings.HasPrefix(msg, "> ") {
		return true
	}
	i := 0
	for i < len(msg) && (msg[i] >= 'a' && msg[i] <= 'z' || msg[i] == '_' || msg[i] >= '0' && msg[i] <= '9') {
		i++
	}
	return i > 2 && i+1 < len(msg) && msg[i] == ':' && msg[i+1] == ' ' && strings.IndexByte(msg[:i], '_') > 0
}

var ignoredSMTPD = []string{
	"connect from ", "lost connection after ", "timeout after ", "too many errors after ",
	"improper command pipelining", "Anonymous TLS connection", "Trusted TLS connection",
	"Untrusted TLS connection", "Verified TLS connection", "SSL_accept error", "statistics: ",
	"error: ", "fatal: ", "panic: ", "Peer certificate", "setting up TLS", "discarding EHLO",
	"non-SMTP command", "TLS SNI", "proxy-accept", "proxy-reject", "xclient", "NOQUEUE: lost",
	"table ", "mapping ", "match_", "ctable_",
}

// parseAuthFailure reads "name[ip]: SASL LOGIN authentication failed:
// reason, sasl_username=u" (w is the text after "warning: ", i the index of
// ": SASL ").
func parseAuthFailure(w string, i int, ev *event.Event) bool {
	name, ip, _, ok := hostAddr(w[:i])
	if !ok {
		return false
	}
	ev.Kind = event.AuthFailure
	ev.ClientName, ev.ClientIP = name, ip
	rest := w[i+len(": SASL "):]
	ev.Method, _, _ = strings.Cut(rest, " ")
	if j := strings.LastIndex(rest, ", sasl_username="); j >= 0 {
		u := rest[j+len(", sasl_username="):]
		if u != "(unavailable)" {
			ev.Login = u
		}
	}
	return true
}

// parseOther handles lines of daemons other than smtpd that carry no
// queue id.
func parseOther(daemon, msg string, ev *event.Event) bool {
	switch daemon {
	case "smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard", "relay",
		"qmgr", "nqmgr", "oqmgr", "cleanup", "bounce", "pickup", "postsuper", "trivial-rewrite":
		// warnings and connection chatter without a queue id
		if strings.HasPrefix(msg, "warning: ") || strings.HasPrefix(msg, "connect to ") ||
			strings.HasPrefix(msg, "Deleted: ") || strings.HasPrefix(msg, "Placed on hold: ") ||
			strings.HasPrefix(msg, "Released from hold: ") || strings.HasPrefix(msg, "Requeued: ") ||
			strings.HasPrefix(msg, "error: ") || strings.HasPrefix(msg, "fatal: ") ||
			strings.HasPrefix(msg, "Untrusted TLS") || strings.HasPrefix(msg, "Trusted TLS") ||
			strings.HasPrefix(msg, "Verified TLS") || strings.HasPrefix(msg, "Anonymous TLS") ||
			strings.HasPrefix(msg, "panic: ") || strings.HasPrefix(msg, "SSL_connect") {
			ev.Kind = event.Ignored
			return true
		}
		return false
	}
	// master, anvil, postscreen, scache, tlsmgr...: nothing saslguard uses.
	ev.Kind = event.Ignored
	return true
}

// angle reads "<addr>" at the start of s and returns addr and what follows
// the '>'. An address can hold '>' (it is hostile input): the address runs to
// the last '>' before the next ", " or the end.
func angle(s string) (addr, rest string, ok bool) {
	if !strings.HasPrefix(s, "<") {
		return "", "", false
	}
	s = s[1:]
	end := strings.Index(s, ">, ")
	if end < 0 {
		end = strings.Index(s, "> ")
	}
	if end < 0 {
		end = strings.LastIndexByte(s, '>')
		if end < 0 {
			return "", "", false
		}
	}
	return s[:end], s[end+1:], true
}

func upToComma(s string) string {
	if j := strings.Index(s, ", "); j >= 0 {
		return s[:j]
	}
	return s
}

// field returns the value after key up to the next ", " (or the end).
func field(s, key string) (string, bool) {
	i := strings.Index(s, key)
	if i < 0 {
		return "", false
	}
	v := s[i+len(key):]
	if j := strings.Index(v, ", "); j >= 0 {
		v = v[:j]
	}
	return v, true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
