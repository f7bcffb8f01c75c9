// Package envelope parses the syslog envelope of a mail log line: the time,
// the host, the program tag and its pid, and the message after them. It knows
// classic BSD syslog (no year, no zone), RFC 3339 stamps (rsyslog's high
// precision format and journalctl -o short-iso), RFC 5424, journalctl -o json
// and Dovecot's own log format, also behind the prefixes container logs add
// (docker compose's "name  | ", the RFC 3339 stamp of docker logs -t and
// kubectl logs --timestamps). The daemon parsers work on the message.
//
// A Parser is not safe for concurrent use; give each goroutine its own.
package envelope

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Format names the envelope form a line was written in.
type Format uint8

// Formats.
const (
	Unknown    Format = iota
	BSD               // Nov 27 05:39:22 host tag[pid]: msg
	RFC3339           // 2026-11-27T05:39:22.123+01:00 host tag[pid]: msg
	RFC5424           // <22>1 2026-11-27T05:39:22Z host app procid msgid sd msg
	Journal           // journalctl -o json
	DovecotLog        // 2026-11-27 05:39:22 auth: Info: ... (Dovecot's log_path)
)

var formatNames = [...]string{"unknown", "bsd", "rfc3339", "rfc5424", "journal", "dovecot"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// Envelope is the parsed frame of one log line. Strings point into the line.
type Envelope struct {
	Time time.Time // UTC
	// YearKnown is false for BSD stamps, whose year the Parser assumed
	// (Parser.Year): the caller corrects it across a year boundary.
	YearKnown bool
	Format    Format
	Host      string
	Tag       string // program without pid: "postfix/submission/smtpd", "dovecot"
	PID       int
	Msg       string
	// Repeat is 1, or N for rsyslog's "message repeated N times: [...]".
	Repeat int
	// Journal only: fields the journal sets itself, and the entry's
	// cursor. UID (from the socket's credentials), Exe and Unit (read by
	// journald from /proc and the process's cgroup) cannot be set by the
	// process that logs; Comm can (prctl PR_SET_NAME), as can the tag.
	// Exe and Unit are empty when the process ended before journald read
	// them.
	Comm, UID, Exe, Unit, Cursor string
	// Suppressed is set for journald's "Suppressed N messages" lines.
	Suppressed int
	// Container names the container log prefix read before the line:
	// "compose" (docker compose's "name  | "), "stamp" (docker logs -t,
	// kubectl logs --timestamps; the time is the stamp's), or both.
	Container string
}

// Errors returned by Parse.
var (
	ErrNoEnvelope = errors.New("no syslog envelope recognised")
	ErrBadTime    = errors.New("bad timestamp")
)

// Parser parses envelopes. The zero value reads BSD stamps as UTC in year 0;
// set Loc and Year.
type Parser struct {
	// Loc is the zone of stamps that carry none (BSD, Dovecot's format).
	Loc *time.Location
	// Year is assumed for BSD stamps.
	Year int

	// one-entry cache: the unix time of the start of an hour in Loc.
	cacheKey  int64
	cacheBase int64
	cacheOK   bool
}

// Parse reads the envelope of line (a trailing "\n" or "\r\n" is ignored).
func (p *Parser) Parse(line string) (Envelope, error) {
	var e Envelope
	err := p.ParseInto(line, &e)
	return e, err
}

// ParseInto is Parse writing into e (reset first), for the hot path.
func (p *Parser) ParseInto(line string, e *Envelope) error {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	*e = Envelope{Repeat: 1}
	if line == "" {
		return ErrNoEnvelope
	}
	err := p.dispatch(line, e, true)
	if err != nil {
		// only a line that is not a log line as it stands pays for
		// looking for docker compose's prefix
		rest, ok := composePrefix(line)
		if !ok {
			return err
		}
		*e = Envelope{Repeat: 1}
		if err := p.dispatch(rest, e, true); err != nil {
			return err
		}
		if e.Container == "" {
			e.Container = "compose"
		} else {
			e.Container = "compose+stamp" // the only other prefix
		}
	}
	if len(e.Msg) > 17 && e.Msg[0] == 'm' {
		unrepeat(e)
	}
	return nil
}

// dispatch parses line by its first byte. stamped allows an RFC 3339 stamp
// before the line's own envelope (a container log's).
func (p *Parser) dispatch(line string, e *Envelope, stamped bool) error {
	switch c := line[0]; {
	case c >= 'A' && c <= 'Z':
		return p.parseBSD(line, e)
	case c >= '0' && c <= '9':
		return p.parseNumericStamp(line, e, stamped)
	case c == '{':
		return p.parseJournal(line, e)
	case c == '<':
		return p.parsePRI(line, e)
	}
	return ErrNoEnvelope
}

// composePrefix strips docker compose's "service  | " (the name padded to
// the longest service's, "mailserver-1  | " in Compose v2, in colour when
// it wrote to a terminal) from the start of line.
func composePrefix(line string) (string, bool) {
	i := skipANSI(line, 0)
	start := i
	for i < len(line) && i-start < 128 && isNameByte(line[i]) {
		i++
	}
	if i == start || i-start >= 128 {
		return "", false
	}
	if i < len(line) && line[i] == '\x1b' {
		i = skipANSI(line, i)
	}
	sp := i
	for i < len(line) && line[i] == ' ' {
		i++
	}
	if i == sp || i >= len(line) || line[i] != '|' {
		return "", false
	}
	i = skipANSI(line, i+1)
	if i >= len(line) || line[i] != ' ' {
		return "", false
	}
	i = skipANSI(line, i+1)
	if i >= len(line) {
		return "", false
	}
	return line[i:], true
}

// isNameByte tells the bytes of a container or service name.
func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '_' || c == '.'
}

// skipANSI skips terminal colour sequences (ESC [ ... letter) at line[i:].
func skipANSI(line string, i int) int {
	for i+1 < len(line) && line[i] == '\x1b' && line[i+1] == '[' {
		j := i + 2
		for j < len(line) && j-i < 16 && (isDigit(line[j]) || line[j] == ';') {
			j++
		}
		if j >= len(line) || j-i >= 16 {
			return i
		}
		i = j + 1 // the final letter
	}
	return i
}

// parsePRI handles "<PRI>" prefixes: RFC 5424 ("<22>1 ...") or BSD/RFC 3339
// lines as sent on the wire ("<22>Nov 27 ...").
func (p *Parser) parsePRI(line string, e *Envelope) error {
	end := strings.IndexByte(line, '>')
	if end < 2 || end > 4 {
		return ErrNoEnvelope
	}
	for i := 1; i < end; i++ {
		if !isDigit(line[i]) {
			return ErrNoEnvelope
		}
	}
	rest := line[end+1:]
	if strings.HasPrefix(rest, "1 ") {
		return p.parse5424(rest[2:], e)
	}
	if rest == "" {
		return ErrNoEnvelope
	}
	if isDigit(rest[0]) {
		return p.parseNumericStamp(rest, e, false)
	}
	return p.parseBSD(rest, e)
}

func monthOf(s string) time.Month {
	if len(s) < 3 {
		return 0
	}
	// a switch on three bytes is faster than the map on the hot path
	switch s[:3] {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// parseBSD reads "Mmm dd hh:mm:ss host tag[pid]: msg". The day may be padded
// with a space or not padded at all. A line with no host ("Nov 27 05:39:22
// auth: Info: ...", Dovecot's log_path with a BSD log_timestamp) is
// accepted too.
// monthDays is the length of each month, February's in a leap year (the
// year of a classic stamp is not known yet).
var monthDays = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func (p *Parser) parseBSD(line string, e *Envelope) error {
	mon := monthOf(line)
	if mon == 0 || len(line) < 15 || line[3] != ' ' {
		return ErrNoEnvelope
	}
	i := 4
	if line[i] == ' ' {
		i++
	}
	day := 0
	for n := 0; n < 2 && i < len(line) && isDigit(line[i]); n++ {
		day = day*10 + int(line[i]-'0')
		i++
	}
	if day < 1 || day > monthDays[mon] || i >= len(line) || line[i] != ' ' {
		return ErrBadTime // Feb 30 would roll into March
	}
	i++
	h, m, s, ok := clock(line, i)
	if !ok {
		return ErrBadTime
	}
	i += 8
	// optional fraction
	if i < len(line) && line[i] == '.' {
		i++
		for i < len(line) && isDigit(line[i]) {
			i++
		}
	}
	if i >= len(line) || line[i] != ' ' {
		return ErrNoEnvelope
	}
	e.Time = p.localTime(p.Year, mon, day, h, m, s)
	e.Format = BSD
	return p.hostTag(line[i+1:], e, true)
}

// localTime computes the UTC instant of a wall-clock time in p.Loc, caching
// the start of the hour.
func (p *Parser) localTime(year int, mon time.Month, day, h, m, s int) time.Time {
	key := ((int64(year)*16+int64(mon))*32+int64(day))*32 + int64(h)
	if !p.cacheOK || key != p.cacheKey {
		loc := p.Loc
		if loc == nil {
			loc = time.UTC
		}
		p.cacheBase = time.Date(year, mon, day, h, 0, 0, 0, loc).Unix()
		p.cacheKey = key
		p.cacheOK = true
	}
	return time.Unix(p.cacheBase+int64(m*60+s), 0).UTC()
}

func clock(line string, i int) (h, m, s int, ok bool) {
	if i+8 > len(line) || line[i+2] != ':' || line[i+5] != ':' {
		return 0, 0, 0, false
	}
	for _, j := range [...]int{0, 1, 3, 4, 6, 7} {
		if !isDigit(line[i+j]) {
			return 0, 0, 0, false
		}
	}
	h = int(line[i]-'0')*10 + int(line[i+1]-'0')
	m = int(line[i+3]-'0')*10 + int(line[i+4]-'0')
	s = int(line[i+6]-'0')*10 + int(line[i+7]-'0')
	if h > 23 || m > 59 || s > 60 {
		return 0, 0, 0, false
	}
	if s == 60 {
		s = 59 // leap second
	}
	return h, m, s, true
}

// parseNumericStamp handles "2026-11-27T05:39:22..." (RFC 3339, short-iso)
// and "2026-11-27 05:39:22 " (Dovecot's own format). When stamped, an RFC
// 3339 stamp may come before another envelope, or before a tag with no
// host: a container's log (docker logs -t, kubectl logs --timestamps).
func (p *Parser) parseNumericStamp(line string, e *Envelope, stamped bool) error {
	if len(line) < 19 || line[4] != '-' || line[7] != '-' {
		return ErrNoEnvelope
	}
	switch line[10] {
	case 'T':
		t, n, err := parseISO(line)
		if err != nil {
			return err
		}
		e.Time, e.YearKnown, e.Format = t, true, RFC3339
		if n >= len(line) || line[n] != ' ' {
			return ErrNoEnvelope
		}
		rest := line[n+1:]
		if stamped && rest != "" && (isDigit(rest[0]) || rest[0] >= 'A' && rest[0] <= 'Z' && monthOf(rest) != 0) {
			if p.dispatch(rest, e, false) == nil {
				// the container's stamp, then the line's own
				// envelope: the container's stamp carries its year
				// and zone
				e.Time, e.YearKnown, e.Container = t, true, "stamp"
				return nil
			}
			*e = Envelope{Time: t, YearKnown: true, Format: RFC3339, Repeat: 1}
		}
		return p.hostTag(rest, e, false)
	case ' ':
		y, mon, d, ok := date(line)
		if !ok {
			return ErrBadTime
		}
		h, m, s, ok := clock(line, 11)
		if !ok {
			return ErrBadTime
		}
		i := 19
		if i < len(line) && (line[i] == '.' || line[i] == ',') {
			i++
			for i < len(line) && isDigit(line[i]) {
				i++
			}
		}
		if i >= len(line) || line[i] != ' ' {
			return ErrNoEnvelope
		}
		e.Time = p.localTime(y, mon, d, h, m, s)
		e.YearKnown, e.Format = true, DovecotLog
		return p.hostTag(line[i+1:], e, true)
	}
	return ErrNoEnvelope
}

func date(line string) (y int, mon time.Month, d int, ok bool) {
	for _, j := range [...]int{0, 1, 2, 3, 5, 6, 8, 9} {
		if !isDigit(line[j]) {
			return 0, 0, 0, false
		}
	}
	y = int(line[0]-'0')*1000 + int(line[1]-'0')*100 + int(line[2]-'0')*10 + int(line[3]-'0')
	mon = time.Month(int(line[5]-'0')*10 + int(line[6]-'0'))
	d = int(line[8]-'0')*10 + int(line[9]-'0')
	if mon < 1 || mon > 12 || d < 1 || d > 31 {
		return 0, 0, 0, false
	}
	return y, mon, d, true
}

// parseISO reads an RFC 3339 stamp at the start of s, with an optional
// fraction and a zone of Z, +hh:mm or +hhmm. It returns the instant and the
// number of bytes read.
func parseISO(s string) (time.Time, int, error) {
	if len(s) < 20 {
		return time.Time{}, 0, ErrBadTime
	}
	y, mon, d, ok := date(s)
	if !ok || s[10] != 'T' {
		return time.Time{}, 0, ErrBadTime
	}
	h, m, sec, ok := clock(s, 11)
	if !ok {
		return time.Time{}, 0, ErrBadTime
	}
	i := 19
	ns := 0
	if i < len(s) && s[i] == '.' {
		i++
		digits := 0
		for i < len(s) && isDigit(s[i]) {
			if digits < 9 {
				ns = ns*10 + int(s[i]-'0')
				digits++
			}
			i++
		}
		for ; digits < 9; digits++ {
			ns *= 10
		}
	}
	if i >= len(s) {
		return time.Time{}, 0, ErrBadTime
	}
	off := 0
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		i++
		if i+2 > len(s) || !isDigit(s[i]) || !isDigit(s[i+1]) {
			return time.Time{}, 0, ErrBadTime
		}
		oh := int(s[i]-'0')*10 + int(s[i+1]-'0')
		i += 2
		if i < len(s) && s[i] == ':' {
			i++
		}
		om := 0
		if i+2 <= len(s) && isDigit(s[i]) && isDigit(s[i+1]) {
			om = int(s[i]-'0')*10 + int(s[i+1]-'0')
			i += 2
		}
		if oh > 23 || om > 59 {
			return time.Time{}, 0, ErrBadTime
		}
		off = sign * (oh*3600 + om*60)
	default:
		return time.Time{}, 0, ErrBadTime
	}
	unix := DaysFromCivil(y, int(mon), d)*86400 + int64(h*3600+m*60+sec) - int64(off)
	return time.Unix(unix, int64(ns)).UTC(), i, nil
}

// DaysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm): a date to Unix time without time.Date's
// cost, for the parsers' hot paths.
func DaysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// parse5424 reads the part after "<PRI>1 ": TIMESTAMP HOST APP PROCID MSGID SD MSG.
func (p *Parser) parse5424(s string, e *Envelope) error {
	var fields [5]string
	for k := 0; k < 5; k++ {
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			return ErrNoEnvelope
		}
		fields[k], s = s[:sp], s[sp+1:]
	}
	if fields[0] == "-" {
		return ErrBadTime
	}
	t, n, err := parseISO(fields[0])
	if err != nil || n != len(fields[0]) {
		return ErrBadTime
	}
	e.Time, e.YearKnown, e.Format = t, true, RFC5424
	e.Host = nilDash(fields[1])
	e.Tag = nilDash(fields[2])
	if pid, err := strconv.Atoi(fields[3]); err == nil && pid >= 0 {
		e.PID = pid
	}
	// structured data: "-" or one or more [id k="v"...] elements
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	} else {
		for strings.HasPrefix(s, "[") {
			end := sdEnd(s)
			if end < 0 {
				return ErrNoEnvelope
			}
			s = s[end+1:]
		}
	}
	s = strings.TrimPrefix(s, " ")
	s = strings.TrimPrefix(s, "\ufeff") // BOM before MSG
	e.Msg = s
	return nil
}

// sdEnd finds the ']' closing the SD-ELEMENT that starts s, honouring \] escapes.
func sdEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ']':
			return i
		}
	}
	return -1
}

func nilDash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// hostTag reads "host tag[pid]: msg" (or, when hostless is allowed and the
// first word ends in ':', "tag: msg" with no host).
func (p *Parser) hostTag(s string, e *Envelope, hostless bool) error {
	sp := 0 // a host name is short: a loop beats IndexByte's set-up
	for sp < len(s) && s[sp] != ' ' {
		sp++
	}
	if sp == 0 || sp == len(s) {
		return ErrNoEnvelope
	}
	first := s[:sp]
	if first[len(first)-1] == ':' {
		if hostless && isDovecotProcess(first[:len(first)-1]) {
			e.Tag = "dovecot"
			e.Msg = s
			return nil
		}
		// "tag[pid]: msg" with no host: a daemon that logs to its
		// standard output in a container, or a syslog without
		// hostnames (a host name never ends in a colon)
		return tag(s, e)
	}
	e.Host = first
	return tag(s[sp+1:], e)
}

// tagEnd marks the bytes that end a syslog tag.
var tagEnd = [256]bool{':': true, '[': true, ' ': true}

// tag reads "tag[pid]: msg" or "tag: msg".
func tag(s string, e *Envelope) error {
	// the tag ends at the first ':', '[' or ' ' (a space before the colon
	// is not a tag); one pass over a few bytes beats three IndexByte calls
	i := 0
	for i < len(s) && i <= 256 && !tagEnd[s[i]] {
		i++
	}
	if i == 0 || i > 256 || i == len(s) || s[i] == ' ' {
		return ErrNoEnvelope
	}
	e.Tag = s[:i]
	if s[i] == '[' {
		end := 1
		for end < len(s)-i && s[i+end] != ']' {
			end++
		}
		if end == len(s)-i {
			return ErrNoEnvelope
		}
		pid := 0
		for _, c := range []byte(s[i+1 : i+end]) {
			if !isDigit(c) || pid > 1<<30 {
				pid = -1
				break
			}
			pid = pid*10 + int(c-'0')
		}
		if pid > 0 {
			e.PID = pid
		}
		i += end + 1
	}
	if i >= len(s) || s[i] != ':' {
		return ErrNoEnvelope
	}
	i++
	if i < len(s) && s[i] == ' ' {
		i++
	}
	e.Msg = s[i:]
	return nil
}

// isDovecotProcess tells names that Dovecot's own log prefixes its lines
// with: auth, auth-worker(123), imap-login, pop3(user)<...>, lmtp(...).
func isDovecotProcess(name string) bool {
	if i := strings.IndexByte(name, '('); i > 0 {
		name = name[:i]
	}
	switch name {
	case "auth", "auth-worker", "imap-login", "pop3-login", "submission-login",
		"managesieve-login", "imap", "pop3", "lmtp", "lda", "master", "config",
		"anvil", "log", "stats", "dict", "indexer", "indexer-worker", "doveadm",
		"submission", "managesieve", "imap-urlauth-login", "quota-status":
		return true
	}
	return false
}

// unrepeat turns rsyslog's "message repeated N times: [ msg]" into msg
// with Repeat N.
func unrepeat(e *Envelope) {
	const pfx = "message repeated "
	if !strings.HasPrefix(e.Msg, pfx) {
		return
	}
	rest := e.Msg[len(pfx):]
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return
	}
	n, err := strconv.Atoi(rest[:sp])
	if err != nil || n < 1 {
		return
	}
	rest = rest[sp+1:]
	if !strings.HasPrefix(rest, "times: [") {
		return
	}
	inner := strings.TrimSuffix(rest[len("times: ["):], "]")
	e.Msg = strings.TrimPrefix(inner, " ")
	e.Repeat = n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
