// Package eximlog reads Exim's logs into events: the main log (Debian's
// /var/log/exim4/mainlog, cPanel's /var/log/exim_mainlog), the reject log
// and the panic log, written by Exim itself ("2026-03-04 02:04:21
// 1xWoo6-0000l6-0p <= ...", with the log_selector's +millisec and +pid and
// log_timezone's zone) or through syslog ("exim[1234]: ..." after any stamp
// package envelope reads).
//
// Exim logs no line for a successful AUTH: the login shows on the arrival
// line ("<= sender ... P=esmtpa A=dovecot_login:user@dom S=..."), which
// says in one line what Postfix says in its client and qmgr lines
// (event.Arrival). Deliveries (=>, ->, >>, *>), failures (**), deferrals
// (==) and "Completed" are Postfix's delivery and removed events; a bounce
// ("<= <> R=PARENT") is Postfix's notify; "authenticator failed for"
// lines are failed logins.
//
// Message ids come in two forms: 16 characters (Exim up to 4.96,
// 1xWoo6-0000l6-0p) and 23 (4.97 and later, 1xWoo6-00000000l6G-0p00). An
// event's QID is the 16-character id as logged and the 23-character id
// without its two dashes (21 characters, what event.QKey holds): the same
// for every line of a message, never two messages' ids the same (the two
// forms differ in length). SpoolID gives the id back as Exim writes it.
package eximlog

import (
	"strings"
	"time"
	"unsafe"

	"github.com/saslguard/saslguard/internal/envelope"
	"github.com/saslguard/saslguard/internal/event"
)

// Status says what became of a line.
type Status uint8

// Statuses.
const (
	// NotExim: the line is not (recognisably) Exim's.
	NotExim Status = iota
	// Parsed: an event (possibly event.Ignored) was produced.
	Parsed
	// Unparsed: an Exim line no branch of the parser understood.
	Unparsed
)

// Program names: what a line was read as ("exim/arrival"), for the
// statistics of unread lines and for explain.
const (
	progArrival  = "exim/arrival"
	progDelivery = "exim/delivery"
	progAuth     = "exim/auth"
	progReject   = "exim/reject"
	progMessage  = "exim/message" // other lines of a message
	progOther    = "exim/other"   // lines without a message id
	progHeader   = "exim/header"  // reject log lines after an entry
)

// Parser reads Exim lines. It keeps a small cache for the conversion of
// local time stamps and an arena for the ids it rewrites; it is not safe for
// concurrent use.
type Parser struct {
	loc       *time.Location
	cacheKey  int64
	cacheBase int64
	cacheOK   bool
	arena     []byte
}

// Frame is what a line says before its message: the time, the pid, and the
// message after them (Msg). Native lines have Host "".
type Frame struct {
	Time time.Time
	PID  int
	Zone bool // the stamp carried its zone (log_timezone)
	Msg  string
}

// IsTag tells whether a syslog tag is Exim's: "exim", "exim4", or such a
// name as the last element of a path.
func IsTag(tag string) bool {
	if i := strings.LastIndexByte(tag, '/'); i >= 0 {
		tag = tag[i+1:]
	}
	if !strings.HasPrefix(tag, "exim") {
		return false
	}
	for i := 4; i < len(tag); i++ {
		if tag[i] < '0' || tag[i] > '9' {
			return false
		}
	}
	return true
}

// Stamped tells cheaply whether line starts like Exim's own time stamp,
// "2026-03-04 02:04:21 ": the lines ParseNative may take.
func Stamped(line string) bool {
	return len(line) > 20 && line[10] == ' ' && line[4] == '-' && line[7] == '-' && line[13] == ':' &&
		isDigit(line[0]) && isDigit(line[18])
}

// ParseNative reads a line of Exim's own log file. A line with a message
// id, a pid or a zone after the stamp is Exim's; one with neither is taken
// only when its words are Exim's (Dovecot's own log has the same stamp).
// The frame is written to fr; ev is filled (the caller resets it).
func (p *Parser) ParseNative(line string, loc *time.Location, ev *event.Event, fr *Frame) (string, Status) {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	rest, ok := p.stamp(line, loc, fr)
	if !ok {
		return "", NotExim
	}
	fr.Msg = rest
	definite := fr.PID != 0 || fr.Zone
	ev.Time, ev.PID, ev.Program, ev.Source, ev.Count = fr.Time, fr.PID, "exim", event.Exim, 1
	return p.body(rest, definite, ev)
}

// ParseWrapped reads the message of a syslog line whose tag is Exim's
// (IsTag). The message may start with Exim's own stamp (syslog_timestamp):
// when it does and the syslog stamp had no year (yearKnown false), the
// event takes Exim's stamp, which has one. ev's envelope fields are set by
// the caller.
func (p *Parser) ParseWrapped(msg string, yearKnown bool, loc *time.Location, ev *event.Event) (string, Status) {
	ev.Source = event.Exim
	if Stamped(msg) {
		var fr Frame
		if rest, ok := p.stamp(msg, loc, &fr); ok {
			msg = rest
			if !yearKnown || fr.Zone {
				ev.Time, ev.YearGuessed = fr.Time, false
			}
			if fr.PID != 0 {
				ev.PID = fr.PID
			}
		}
	} else if len(msg) > 2 && msg[0] == '[' {
		if pid, n := bracketPID(msg); n > 0 {
			ev.PID, msg = pid, msg[n:]
		}
	}
	return p.body(msg, true, ev)
}

// stamp reads "YYYY-MM-DD HH:MM:SS[.fff][ +hhmm][ [pid]] " and returns what
// follows.
func (p *Parser) stamp(line string, loc *time.Location, fr *Frame) (string, bool) {
	if !Stamped(line) {
		return "", false
	}
	for _, j := range [...]int{1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17} {
		if !isDigit(line[j]) {
			return "", false
		}
	}
	if line[16] != ':' {
		return "", false
	}
	y := num(line[0:4])
	mon, d := num(line[5:7]), num(line[8:10])
	h, mi, s := num(line[11:13]), num(line[14:16]), num(line[17:19])
	if mon < 1 || mon > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return "", false
	}
	if s == 60 {
		s = 59
	}
	i := 19
	ns := 0
	if line[i] == '.' {
		i++
		digits := 0
		for i < len(line) && isDigit(line[i]) {
			if digits < 9 {
				ns = ns*10 + int(line[i]-'0')
				digits++
			}
			i++
		}
		if digits == 0 {
			return "", false
		}
		for ; digits < 9; digits++ {
			ns *= 10
		}
	}
	if i >= len(line) || line[i] != ' ' {
		return "", false
	}
	i++
	*fr = Frame{}
	// a zone: " +0100" (log_timezone)
	if i+5 < len(line) && (line[i] == '+' || line[i] == '-') && line[i+5] == ' ' &&
		isDigit(line[i+1]) && isDigit(line[i+2]) && isDigit(line[i+3]) && isDigit(line[i+4]) {
		oh, om := num(line[i+1:i+3]), num(line[i+3:i+5])
		if oh > 23 || om > 59 {
			return "", false
		}
		off := oh*3600 + om*60
		if line[i] == '-' {
			off = -off
		}
		unix := envelope.DaysFromCivil(y, mon, d)*86400 + int64(h*3600+mi*60+s) - int64(off)
		fr.Time = time.Unix(unix, int64(ns)).UTC()
		fr.Zone = true
		i += 6
	} else {
		fr.Time = p.localTime(loc, y, mon, d, h, mi, s, ns)
	}
	if i < len(line) && line[i] == '[' {
		if pid, n := bracketPID(line[i:]); n > 0 {
			fr.PID = pid
			i += n
		}
	}
	return line[i:], true
}

// bracketPID reads "[1234] " and returns the pid and the bytes read.
func bracketPID(s string) (int, int) {
	pid, j := 0, 1
	for j < len(s) && j < 12 && isDigit(s[j]) {
		pid = pid*10 + int(s[j]-'0')
		j++
	}
	if j == 1 || j+1 >= len(s) || s[j] != ']' || s[j+1] != ' ' || pid == 0 {
		return 0, 0
	}
	return pid, j + 2
}

// localTime converts a wall-clock time in loc, caching the start of the
// hour (a log's lines share few hours).
func (p *Parser) localTime(loc *time.Location, y, mon, d, h, mi, s, ns int) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	key := ((int64(y)*16+int64(mon))*32+int64(d))*32 + int64(h)
	if !p.cacheOK || key != p.cacheKey || loc != p.loc {
		p.cacheBase = time.Date(y, time.Month(mon), d, h, 0, 0, 0, loc).Unix()
		p.cacheKey, p.loc, p.cacheOK = key, loc, true
	}
	return time.Unix(p.cacheBase+int64(mi*60+s), int64(ns)).UTC()
}

// body reads what follows the stamp (and pid).
func (p *Parser) body(msg string, definite bool, ev *event.Event) (string, Status) {
	if id, rest, ok := splitID(msg); ok {
		ev.QID = p.qid(id)
		return p.message(rest, ev)
	}
	prog, st := p.noID(msg, ev)
	if st == NotExim && definite {
		if hasKey(msg) {
			return progOther, Unparsed
		}
		ev.Kind = event.Ignored
		return progOther, Parsed
	}
	return prog, st
}

// idClass marks the bytes of an Exim message id: base 62.
var idClass = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	return t
}()

// ValidID tells whether s is an Exim message id: 6-6-2 or 6-11-4
// characters of base 62.
func ValidID(s string) bool {
	var a, b int
	switch len(s) {
	case 16:
		a, b = 6, 13
	case 23:
		a, b = 6, 18
	default:
		return false
	}
	if s[a] != '-' || s[b] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i != a && i != b && !idClass[s[i]] {
			return false
		}
	}
	return true
}

// splitID splits "ID rest" (or a lone "ID").
func splitID(msg string) (id, rest string, ok bool) {
	if len(msg) < 16 || !idClass[msg[0]] || msg[6] != '-' {
		return "", "", false
	}
	for _, n := range [...]int{16, 23} {
		if len(msg) >= n && (len(msg) == n || msg[n] == ' ') && ValidID(msg[:n]) {
			if len(msg) == n {
				return msg, "", true
			}
			return msg[:n], msg[n+1:], true
		}
	}
	return "", "", false
}

// QID returns the queue id under which events name the message id (see
// the package comment).
func QID(id string) string {
	if len(id) == 23 {
		return id[:6] + id[7:18] + id[19:]
	}
	return id
}

// SpoolID returns the message id as Exim writes it for a QID of an Exim
// event.
func SpoolID(qid string) string {
	if len(qid) == 21 && !strings.Contains(qid, "-") {
		return qid[:6] + "-" + qid[6:17] + "-" + qid[17:]
	}
	return qid
}

// qid is QID without an allocation per line: a long id's 21 bytes go to an
// arena that is never written over.
func (p *Parser) qid(id string) string {
	if len(id) != 23 {
		return id
	}
	if cap(p.arena)-len(p.arena) < 21 {
		p.arena = make([]byte, 0, 32<<10)
	}
	start := len(p.arena)
	p.arena = append(p.arena, id[:6]...)
	p.arena = append(p.arena, id[7:18]...)
	p.arena = append(p.arena, id[19:]...)
	b := p.arena[start:len(p.arena):len(p.arena)]
	return unsafe.String(&b[0], len(b))
}

// message reads the line of a message after its id.
func (p *Parser) message(rest string, ev *event.Event) (string, Status) {
	if len(rest) >= 3 && rest[2] == ' ' {
		switch rest[:2] {
		case "<=":
			return p.arrival(rest[3:], ev)
		case "=>", "->", ">>", "*>":
			return delivery(rest[3:], "sent", ev)
		case "**":
			return delivery(rest[3:], "bounced", ev)
		case "==":
			return delivery(rest[3:], "deferred", ev)
		case "(=":
			// fakereject: the client was told the message was
			// refused; it is not queued
			ev.Kind = event.Ignored
			return progArrival, Parsed
		}
	}
	switch {
	case rest == "Completed" || strings.HasPrefix(rest, "Completed "):
		ev.Kind = event.Removed
		return progMessage, Parsed
	case strings.HasPrefix(rest, "Frozen") || strings.HasPrefix(rest, "frozen by ") || strings.HasPrefix(rest, "Message is frozen"):
		ev.Kind = event.Hold
		return progMessage, Parsed
	case strings.HasPrefix(rest, "Unfrozen by "):
		ev.Kind = event.Release
		return progMessage, Parsed
	case strings.HasPrefix(rest, "H=") || strings.HasPrefix(rest, "DS H="):
		// a rejection after DATA, or a remote host's trouble
		return reject(rest, ev)
	}
	if hasKey(rest) && !strings.Contains(rest, " authenticator failed H=") && !strings.Contains(rest, " authenticator cancelled ") {
		// an id line with what must be read, in a shape not known
		return progMessage, Unparsed
	}
	// the message's other lines ("removed by", "SMTP error from remote
	// mail server", "Spool file is locked", retry notes, and our own
	// AUTH failing at a smarthost, "NAME authenticator failed H=...")
	ev.Kind = event.Ignored
	return progMessage, Parsed
}

// hasKey tells whether a line carries what must be read: an arrival, a
// login or a failed login.
func hasKey(s string) bool {
	return strings.Contains(s, "<= ") || strings.Contains(s, " A=") || strings.Contains(s, "authenticator failed")
}

// fields walks the "key=value" words of a line. Values may be quoted
// ("T=\"a \\\"b\\\"\""), an address may hold a quoted local part with
// spaces; H= and the client part of other lines are read by host.
type fields struct {
	s string
	i int
}

// next returns the next word, its key ("" for a bare word) and its value.
func (f *fields) next() (key, val string, ok bool) {
	s := f.s
	for f.i < len(s) && s[f.i] == ' ' {
		f.i++
	}
	if f.i >= len(s) {
		return "", "", false
	}
	start := f.i
	// a key is short and made of letters, digits and '*'
	j := f.i
	for j < len(s) && j-start < 8 && (isAlnum(s[j]) || s[j] == '*') {
		j++
	}
	if j > start && j < len(s) && s[j] == '=' {
		key = s[start:j]
		f.i = j + 1
		if key == "H" {
			return key, "", true // the caller reads it with host
		}
		v := f.word()
		return key, v, true
	}
	return "", f.word(), true
}

// word reads up to the next space outside double quotes (backslash escapes
// a character inside them).
func (f *fields) word() string {
	s := f.s
	start := f.i
	quoted := false
	for f.i < len(s) {
		c := s[f.i]
		switch {
		case quoted && c == '\\':
			f.i++
		case c == '"':
			quoted = !quoted
		case c == ' ' && !quoted:
			return s[start:f.i]
		}
		f.i++
	}
	if f.i > len(s) {
		f.i = len(s)
	}
	return s[start:f.i]
}

// host reads a host part at f.i: "name (helo) [ip]:port", "(helo) [ip]",
// "name [ip]", "[ip]:port". The HELO name runs to its matching
// parenthesis; the address must look like one.
func (f *fields) host() (name, ip string, ok bool) {
	s := f.s
	i := f.i
	if i < len(s) && s[i] != '(' && s[i] != '[' {
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '[' && s[j] != '(' {
			j++
		}
		name = s[i:j]
		i = j
		if i < len(s) && s[i] == ' ' {
			i++
		}
	}
	if i < len(s) && s[i] == '(' {
		depth := 0
		j := i
		for ; j < len(s); j++ {
			if s[j] == '(' {
				depth++
			} else if s[j] == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if j >= len(s) {
			return "", "", false
		}
		i = j + 1
		if i < len(s) && s[i] == ' ' {
			i++
		}
	}
	if i >= len(s) || s[i] != '[' {
		return "", "", false
	}
	j := i + 1
	for j < len(s) && s[j] != ']' {
		if !ipByte[s[j]] {
			return "", "", false
		}
		j++
	}
	if j >= len(s) || j == i+1 {
		return "", "", false
	}
	ip = s[i+1 : j]
	j++
	if j < len(s) && (s[j] == ':' || s[j] == '.') {
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k > j+1 {
			j = k
		}
	}
	f.i = j
	return name, strings.TrimPrefix(ip, "IPv6:"), true
}

var ipByte = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF.:IPv" {
		t[c] = true
	}
	return t
}()

// arrival reads "sender [R=id] H=... [I=...] [U=...] P=proto [A=auth[:id]]
// [S=size] ... [id=msgid] [T="subject"] [from <s>] [for rcpt ...]".
//
// Exim writes its fields in a fixed order: H, I, U and P, then the TLS
// fields, then A, then S. What a client chose (the sender, the HELO name,
// the ident, a certificate's DN, the message id, the subject) cannot forge
// a login: A= counts only after a P= of an authenticated protocol and
// before S=, and a line with H, I, U, P, A, S or R twice is not read.
func (p *Parser) arrival(rest string, ev *event.Event) (string, Status) {
	f := fields{s: rest}
	sender := f.word()
	if sender == "" {
		return progArrival, Unparsed
	}
	if sender == "<>" {
		sender = ""
	}
	ev.Sender = sender
	var seen uint8
	const (
		sH = 1 << iota
		sI
		sU
		sP
		sA
		sS
		sR
	)
	once := func(bit uint8) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	proto, auth, ref := "", "", ""
	for {
		key, val, ok := f.next()
		if !ok {
			break
		}
		switch key {
		case "":
			if val == "for" {
				ev.Nrcpt = countWords(rest[f.i:])
				f.i = len(rest)
			}
			// "from <sender>" (+return_path_on_delivery), L, K, PRDR, DS
			continue
		case "H":
			if !once(sH) {
				return progArrival, Unparsed
			}
			name, ip, ok := f.host()
			if !ok {
				return progArrival, Unparsed
			}
			ev.ClientName, ev.ClientIP = name, ip
		case "I":
			if !once(sI) {
				return progArrival, Unparsed
			}
		case "U":
			if !once(sU) {
				return progArrival, Unparsed
			}
		case "P":
			if !once(sP) || seen&sS != 0 {
				return progArrival, Unparsed
			}
			proto = val
		case "A":
			if !once(sA) {
				return progArrival, Unparsed
			}
			if seen&sP != 0 && seen&sS == 0 {
				auth = val
			}
		case "S":
			if !once(sS) {
				return progArrival, Unparsed
			}
			ev.Size, _ = atoi64(val) // the test suite's "S=sss" is read as 0
		case "R":
			if !once(sR) {
				return progArrival, Unparsed
			}
			ref = val
		case "id":
			ev.MessageID = val
		}
	}
	if ref != "" && sender == "" {
		// a bounce or delay warning Exim made for message ref: Postfix's
		// notify
		if !ValidID(ref) {
			return progArrival, Unparsed
		}
		ev.Kind = event.Notify
		ev.NewQID, ev.QID = ev.QID, p.qid(ref)
		ev.Sender, ev.Size, ev.ClientName, ev.ClientIP, ev.MessageID, ev.Nrcpt = "", 0, "", "", "", 0
		return progArrival, Parsed
	}
	ev.Kind = event.Arrival
	if auth != "" && authenticated(proto) {
		method, id, hasID := strings.Cut(auth, ":")
		ev.Method = method
		if hasID {
			// "A=auth:id:sender" with +smtp_mailauth: the sender is an
			// address after the last colon
			if j := strings.LastIndexByte(id, ':'); j >= 0 && strings.IndexByte(id[j+1:], '@') >= 0 || j >= 0 && id[j+1:] == "<>" {
				id = id[:j]
			}
			ev.Login = id
		}
	}
	return progArrival, Parsed
}

// authenticated tells whether a received protocol is one a client used
// after AUTH: esmtpa, esmtpsa, utf8esmtpsa...
func authenticated(proto string) bool {
	return len(proto) > 1 && proto[len(proto)-1] == 'a' && strings.Contains(proto, "smtp")
}

// countWords counts the space-separated words of s (quotes honoured).
func countWords(s string) int {
	f := fields{s: s}
	n := 0
	for {
		for f.i < len(s) && s[f.i] == ' ' {
			f.i++
		}
		if f.i >= len(s) || f.word() == "" {
			return n
		}
		n++
	}
}

// delivery reads "addr [(parent)] [<orig>] [F=<s>] R=router T=transport
// [H=host [ip]] ... [C=\"reply\"]" and, for failures and deferrals, ":
// error text" (the remote reply in "SMTP error from remote mail server
// after RCPT TO:<x>: 550 5.7.1 ...").
func delivery(rest, status string, ev *event.Event) (string, Status) {
	f := fields{s: rest}
	addr := f.word()
	if addr == "" {
		return progDelivery, Unparsed
	}
	ev.Kind = event.Delivery
	ev.Status = status
	reply := ""
	if status != "sent" && strings.HasSuffix(addr, ":") && !strings.HasSuffix(addr, `":`) {
		addr = addr[:len(addr)-1]
		reply = strings.TrimPrefix(rest[f.i:], " ")
		f.i = len(rest)
	}
	ev.Recipient = addr
	relay, transport := "", false
	for reply == "" {
		for f.i < len(rest) && rest[f.i] == ' ' {
			f.i++
		}
		if f.i >= len(rest) {
			break
		}
		if c := rest[f.i]; c == ':' && status != "sent" {
			reply = strings.TrimPrefix(rest[f.i+1:], " ")
			break
		}
		key, val, ok := f.next()
		if !ok {
			break
		}
		if status != "sent" && key != "C" && strings.HasSuffix(val, ":") && !strings.HasSuffix(val, `":`) {
			// the last field before the error text: "T=remote_smtp:",
			// "defer (-44):"
			reply = strings.TrimPrefix(rest[f.i:], " ")
			val = val[:len(val)-1]
			f.i = len(rest)
		}
		switch key {
		case "":
			if len(val) > 1 && val[0] == '<' && val[len(val)-1] == '>' && ev.Recipient == addr && relay == "" && !transport {
				ev.Recipient = val[1 : len(val)-1] // the address as given, of a local delivery
			}
		case "H":
			start := f.i
			if _, _, ok := f.host(); ok {
				// "name [ip]" as logged (no copy): loopback shows as "[127."
				relay = rest[start:f.i]
				if k := strings.LastIndexByte(relay, ']'); k > 0 {
					relay = relay[:k+1]
				}
			} else {
				relay = f.word() // a host named without its address
			}
			if status != "sent" && strings.HasPrefix(rest[f.i:], ": ") {
				reply = rest[f.i+2:]
				f.i = len(rest)
			}
		case "T":
			transport = true
		case "C":
			if id := acceptedID(val); id != "" {
				ev.NewQID = id
			}
			ev.Reply = unquote(val)
		}
	}
	switch {
	case relay != "":
		ev.Relay = relay
	case transport && status == "sent":
		ev.Relay = "local"
	default:
		ev.Relay = "none"
	}
	if status == "sent" && !transport && relay == "" {
		ev.Relay = "local" // :blackhole:, a file or pipe named by a filter
	}
	if reply != "" {
		ev.Reply, ev.DSN = remoteReply(reply)
	}
	return progDelivery, Parsed
}

// remoteReply cuts Exim's "SMTP error from remote mail server after RCPT
// TO:<x>: " off an error text, leaving the remote reply, and returns its
// enhanced status code when it has one.
func remoteReply(text string) (reply, dsn string) {
	reply = text
	if i := strings.Index(text, "SMTP error from remote mail"); i >= 0 {
		after := text[i:]
		if j := strings.Index(after, ": "); j >= 0 {
			reply = after[j+2:]
			// an older form names the host again: "host mx [ip]: 550 ..."
			if strings.HasPrefix(reply, "host ") {
				if k := strings.Index(reply, "]: "); k >= 0 {
					reply = reply[k+3:]
				}
			}
		}
	}
	if len(reply) > 9 && isDigit(reply[0]) && isDigit(reply[1]) && isDigit(reply[2]) && (reply[3] == ' ' || reply[3] == '-') {
		d := reply[4:]
		if sp := strings.IndexByte(d, ' '); sp > 0 {
			d = d[:sp]
		}
		if len(d) >= 5 && (d[0] == '2' || d[0] == '4' || d[0] == '5') && d[1] == '.' && strings.Count(d, ".") == 2 {
			dsn = d
		}
	}
	return reply, dsn
}

// acceptedID finds the id a loopback server gave a message it accepted
// (`C="250 OK id=1xWoo6-0000l6-0p"`, `queued as ...`), for a content
// filter's re-injection into Exim.
func acceptedID(c string) string {
	for _, k := range [...]string{"id=", "queued as "} {
		if i := strings.Index(c, k); i >= 0 {
			s := c[i+len(k):]
			for _, n := range [...]int{23, 16} {
				if len(s) >= n && ValidID(s[:n]) && (len(s) == n || !idClass[s[n]]) {
					return QID(s[:n])
				}
			}
		}
	}
	return ""
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// reject reads "H=host [U=..] [X=..] F=<sender> [A=auth:id] [temporarily ]rejected
// RCPT <r>: text" and the other lines about a client (sender verify,
// warnings). A rejection names the login only through the session of the
// process that logged it: with no pid (no +pid, no syslog), it is ignored.
func reject(rest string, ev *event.Event) (string, Status) {
	f := fields{s: rest}
	name, ip := "", ""
	var gotHost bool
	for {
		for f.i < len(rest) && rest[f.i] == ' ' {
			f.i++
		}
		start := f.i
		key, val, ok := f.next()
		if !ok {
			break
		}
		switch key {
		case "H":
			n, a, ok := f.host()
			if !ok {
				return progReject, Unparsed
			}
			name, ip, gotHost = n, a, true
			continue
		case "F":
			ev.Sender = strings.TrimSuffix(strings.TrimPrefix(val, "<"), ">")
			continue
		case "A":
			if a, id, ok := strings.Cut(val, ":"); ok {
				ev.Method, ev.Login = a, id
			}
			continue
		case "":
			if val == "DS" {
				continue
			}
		default:
			continue
		}
		// the first bare word ends the fields
		text := rest[start:]
		if !gotHost {
			return progReject, Unparsed
		}
		if !strings.HasPrefix(text, "rejected ") && !strings.HasPrefix(text, "temporarily rejected ") {
			// sender verify, warnings, dropped connections
			ev.Kind, ev.Sender, ev.Login, ev.Method = event.Ignored, "", "", ""
			return progReject, Parsed
		}
		if ev.PID == 0 {
			ev.Kind, ev.Sender, ev.Login, ev.Method = event.Ignored, "", "", ""
			return progReject, Parsed
		}
		ev.Kind = event.Reject
		ev.ClientName, ev.ClientIP = name, ip
		if i := strings.Index(text, "RCPT <"); i >= 0 {
			r := text[i+len("RCPT <"):]
			if j := strings.Index(r, ">: "); j >= 0 {
				ev.Recipient = r[:j]
			}
		}
		if i := strings.Index(text, ": "); i >= 0 {
			ev.Reply = text[i+2:]
		}
		return progReject, Parsed
	}
	if gotHost {
		ev.Kind = event.Ignored
		ev.Sender, ev.Login, ev.Method = "", "", ""
		return progReject, Parsed
	}
	return progReject, Unparsed
}

// noID reads a line without a message id: failed logins, rejections,
// connection chatter, queue runs.
func (p *Parser) noID(msg string, ev *event.Event) (string, Status) {
	if i := strings.Index(msg, " authenticator failed for "); i > 0 && strings.IndexByte(msg[:i], ' ') < 0 {
		return authFailure(msg[:i], msg[i+len(" authenticator failed for "):], ev)
	}
	if strings.HasPrefix(msg, "H=") || strings.HasPrefix(msg, "DS H=") {
		return reject(msg, ev)
	}
	if strings.Contains(msg, " authenticator failed H=") || strings.Contains(msg, " authenticator cancelled ") {
		// our own AUTH failing at a smarthost (an event action's custom
		// text): not a client's failed login
		ev.Kind = event.Ignored
		return progAuth, Parsed
	}
	for _, c := range chatter {
		if strings.HasPrefix(msg, c) {
			ev.Kind = event.Ignored
			return progOther, Parsed
		}
	}
	return progOther, NotExim
}

// chatter are the starts of Exim's lines without a message id that carry
// nothing saslguard uses.
var chatter = []string{
	"SMTP connection from ", "SMTP call from ", "SMTP command timeout", "SMTP data timeout",
	"SMTP protocol error", "SMTP protocol synchronization error", "SMTP syntax error",
	"SMTP connection lost", "no host name found for IP address", "no IP address found for host",
	"no MAIL in ", "TLS error on connection", "TLS session", "TLS client", "Start queue run", "End queue run",
	"exim ", "pid ", "cwd=", "Warning: ", "ignoring AUTH=", "unexpected disconnection while reading SMTP command",
	"Connection from ", "connection from ", "rejected EHLO", "rejected HELO", "rejected connection",
	"refused connection", "Connection refused", "too many connections", "DNS list lookup", "daemon ",
	"Failed to ", "failed to ", "Cannot open ", "Cannot ", "Could not ", "Received ", "Spool ",
	"Sender identification ", "LOG: ", "socket ", "listen", "SIGHUP", "SIGTERM", "rejected from ",
	"rejected ", "temporarily rejected ", "SMTP ", "TLS ", "Tainted ", "DKIM: ", "spamd ", "malware ",
	"string too large", "lowest numbered MX", "remote host address is the local host",
	"Message ", "acl_", "ACL ", "sender verify ", "Reserved ", "Unsafe ",
	// the panic log's
	"Exim configuration error", "Exim ", "daemon: ", "exec of ", "fork ", "unable to ", "Unable to ",
	"write failed", "DNS ", "tls_", "dkim", "getpwnam", "local_scan",
}

// authFailure reads "NAME authenticator failed for [H=]host [I=..] [U=..]
// [Ci=..]: CODE text[ (set_id=LOGIN)][: more]". Only 535 is a wrong
// password; 435 (the authenticator could not tell), 501 (cancelled) and
// the like are not counted as failed logins.
func authFailure(name, rest string, ev *event.Event) (string, Status) {
	f := fields{s: rest}
	if strings.HasPrefix(rest, "H=") {
		f.i = 2
	}
	host, ip, ok := f.host()
	if !ok && !strings.HasPrefix(rest, "U=") {
		return progAuth, Unparsed // a local session ("for U=user") names no host
	}
	// fields to the ": CODE " that starts the reply
	i := f.i
	code := ""
	for {
		j := strings.Index(rest[i:], ": ")
		if j < 0 {
			return progAuth, Unparsed
		}
		i += j + 2
		if len(rest)-i >= 3 && isDigit(rest[i]) && isDigit(rest[i+1]) && isDigit(rest[i+2]) && (len(rest)-i == 3 || rest[i+3] == ' ') {
			code = rest[i : i+3]
			break
		}
	}
	reply := rest[i:]
	if code != "535" {
		ev.Kind = event.Ignored
		return progAuth, Parsed
	}
	ev.Kind = event.AuthFailure
	ev.Method = name
	ev.ClientName, ev.ClientIP = host, ip
	if k := strings.Index(reply, " (set_id="); k >= 0 {
		id := reply[k+len(" (set_id="):]
		if e := strings.Index(id, "): "); e >= 0 {
			id = id[:e]
		} else {
			id = strings.TrimSuffix(id, ")")
		}
		ev.Login = id
	}
	return progAuth, Parsed
}

// Loose reads the lines of Exim's logs that have no syslog envelope
// package envelope knows and that ParseNative did not take: the header
// lines that follow a reject log entry ("Envelope-from: <...>", "P
// Received: from ...", continuation lines), counted as understood and
// skipped; syslog lines whose stamp was cut off ("host exim[pid]: 2026-...
// ..."), read by Exim's own stamp; and Exim-stamped lines with a login or
// an arrival in a shape not known, counted as not understood. The frame is
// written to fr.
func (p *Parser) Loose(line string, loc *time.Location, ev *event.Event, fr *Frame) (string, Status) {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	if line == "" {
		return "", NotExim
	}
	if Stamped(line) {
		if hasKey(line) {
			return progOther, Unparsed
		}
		return "", NotExim
	}
	if sp := strings.IndexByte(line, ' '); sp > 0 && sp < 256 && strings.HasPrefix(line[sp+1:], "exim") {
		// "host exim[pid]: 2026-03-04 02:04:21 ..."
		tag := line[sp+1:]
		j := 0
		for j < len(tag) && tag[j] != '[' && tag[j] != ':' && tag[j] != ' ' {
			j++
		}
		msg, pid := tag[j:], 0
		if strings.HasPrefix(msg, "[") {
			k := 1
			for k < len(msg) && k < 12 && isDigit(msg[k]) {
				pid = pid*10 + int(msg[k]-'0')
				k++
			}
			if k < len(msg) && msg[k] == ']' {
				msg = msg[k+1:]
			}
		}
		if IsTag(tag[:j]) && strings.HasPrefix(msg, ": ") && Stamped(msg[2:]) {
			ev.Host, ev.Program, ev.PID, ev.Count = line[:sp], "exim", pid, 1
			prog, st := p.ParseWrapped(msg[2:], false, loc, ev)
			fr.Time, fr.PID, fr.Msg = ev.Time, ev.PID, msg[2:]
			return prog, st
		}
	}
	header := false
	switch {
	case strings.HasPrefix(line, "Envelope-from: ") || strings.HasPrefix(line, "Envelope-to: "):
		header = true
	case line[0] == ' ' || line[0] == '\t':
		header = len(strings.TrimLeft(line, " \t")) > 0 // a header's continuation
	case len(line) > 3 && line[1] == ' ' && (line[0] == '*' || line[0] >= 'A' && line[0] <= 'Z'):
		// "P Received: ...": the header's type letter, then the header
		j := 2
		for j < len(line) && (isAlnum(line[j]) || line[j] == '-' || line[j] == '_') {
			j++
		}
		header = j > 2 && j < len(line) && line[j] == ':'
	}
	if !header {
		return "", NotExim
	}
	ev.Kind, ev.Source, ev.Program, ev.Count = event.Ignored, event.Exim, "exim", 1
	return progHeader, Parsed
}

func num(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func atoi64(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
