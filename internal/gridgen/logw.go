package gridgen

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// rec is one log line: its time, the order it was written in (ties keep
// it) and the text after the host name.
type rec struct {
	t   time.Time
	seq int
	s   string
}

// logw collects the lines of one server's log, as Postfix 3.7 with Dovecot
// SASL and LMTP writes them, and writes them in time order.
type logw struct {
	r      *rng
	host   string // syslog host name
	fqdn   string // the server's own name (message-ids, NDRs, LMTP relay)
	pubIP  string // the server's public address, quoted by remote refusals
	lanIP  string // Dovecot's local address
	recs   []rec
	seq    int
	inode  uint64
	qmgr   int
	pids   map[string][]int
	nextPI int
}

func newLogw(r *rng, host, fqdn, pubIP, lanIP string) *logw {
	w := &logw{r: r, host: host, fqdn: fqdn, pubIP: pubIP, lanIP: lanIP,
		inode: uint64(r.between(0x10000, 0x9ffff)) << 4, pids: map[string][]int{}}
	w.nextPI = r.between(900, 3000)
	w.qmgr = w.newPID()
	return w
}

func (w *logw) newPID() int {
	w.nextPI += 1 + w.r.intn(40)
	if w.nextPI > 4_000_000 {
		w.nextPI = 1000
	}
	return w.nextPI
}

// pid returns a process id of a long-lived daemon (cleanup, smtp, lmtp,
// bounce), a few of each, replaced now and then as Postfix does.
func (w *logw) pid(daemon string) int {
	p := w.pids[daemon]
	if len(p) < 3 || w.r.chance(0.002) {
		np := w.newPID()
		if len(p) >= 3 {
			p[w.r.intn(len(p))] = np
		} else {
			p = append(p, np)
		}
		w.pids[daemon] = p
		return np
	}
	return pick(w.r, p)
}

func (w *logw) add(t time.Time, format string, a ...any) {
	w.seq++
	w.recs = append(w.recs, rec{t: t, seq: w.seq, s: fmt.Sprintf(format, a...)})
}

// qid returns a new short queue id: five hex digits of microseconds and
// the queue file's inode number, as Postfix makes them.
func (w *logw) qid(t time.Time) string {
	w.inode += uint64(1 + w.r.intn(7))
	return fmt.Sprintf("%05X%X", t.Nanosecond()/1000&0xfffff, w.inode)
}

// write sorts the lines by time and writes them with a classic syslog
// envelope ("Mar  2 08:00:01 mail postfix/...") or, with rfc3339, the
// high-precision stamp of rsyslog. keep, when set, selects lines.
func (w *logw) write(out io.Writer, rfc3339 bool, keep func(string) bool) (lines int, err error) {
	sort.SliceStable(w.recs, func(i, j int) bool {
		if !w.recs[i].t.Equal(w.recs[j].t) {
			return w.recs[i].t.Before(w.recs[j].t)
		}
		return w.recs[i].seq < w.recs[j].seq
	})
	bw := bufio.NewWriterSize(out, 1<<16)
	for _, rc := range w.recs {
		if keep != nil && !keep(rc.s) {
			continue
		}
		if rfc3339 {
			bw.WriteString(rc.t.UTC().Format("2006-01-02T15:04:05.000000+00:00"))
		} else {
			bw.WriteString(rc.t.UTC().Format(time.Stamp))
		}
		bw.WriteByte(' ')
		bw.WriteString(w.host)
		bw.WriteByte(' ')
		bw.WriteString(rc.s)
		bw.WriteByte('\n')
		lines++
	}
	return lines, bw.Flush()
}

// outcome is what became of one recipient.
type outcome uint8

const (
	delivered  outcome = iota // accepted by the remote MX, or stored locally
	spamReject                // 5.7.1 refusal that names spam or a block list
	spamDefer                 // 4.7.x deferral that names volume or complaints
	noSuchUser                // 5.1.1 unknown recipient
)

type rcpt struct {
	addr string
	out  outcome
}

// message is one message submitted in a session.
type message struct {
	t     time.Time
	from  string
	rcpts []rcpt
	size  int
}

// client is where a session comes from.
type client struct {
	name, ip string
}

func (c client) String() string { return c.name + "[" + c.ip + "]" }

// session writes one SMTP session: connect, optional failed AUTH
// attempts, the messages and their deliveries, disconnect. login is empty
// for unauthenticated (port 25) mail. It returns the time of the last line.
func (w *logw) session(t time.Time, service string, c client, login, mech string, fails int, msgs []message, org *org) time.Time {
	tag := "postfix/smtpd"
	if service != "" {
		tag = "postfix/" + service + "/smtpd"
	}
	pid := w.newPID()
	w.add(t, "%s[%d]: connect from %s", tag, pid, c)
	at := t.Add(time.Duration(50+w.r.intn(400)) * time.Millisecond)
	for i := 0; i < fails; i++ {
		w.add(at, "%s[%d]: warning: %s: SASL %s authentication failed: (reason unavailable), sasl_username=%s", tag, pid, c, mech, login)
		at = at.Add(time.Duration(1500+w.r.intn(2500)) * time.Millisecond)
	}
	nrcpt := 0
	last := at
	for _, m := range msgs {
		if m.t.Before(at) {
			m.t = at
		}
		end := w.message(tag, pid, c, login, mech, m, org)
		nrcpt += len(m.rcpts)
		at = m.t.Add(time.Duration(200+w.r.intn(600)) * time.Millisecond)
		if end.After(last) {
			last = end
		}
	}
	if at.After(last) {
		last = at
	}
	auth := ""
	cmds := 2 // ehlo, quit
	switch {
	case login != "" && len(msgs) > 0:
		auth = " auth=1"
		cmds++
	case login != "":
		auth = fmt.Sprintf(" auth=0/%d", fails)
		cmds += fails
	}
	rest := ""
	if len(msgs) > 0 {
		rest = fmt.Sprintf(" mail=%d rcpt=%d data=%d", len(msgs), nrcpt, len(msgs))
		cmds += 2*len(msgs) + nrcpt
	}
	tls := service != "smtps" && (service != "" || len(msgs) > 0)
	if tls {
		rest = " starttls=1" + rest
		cmds += 2 // starttls, the second ehlo
	}
	w.add(at, "%s[%d]: disconnect from %s ehlo=%d%s%s quit=1 commands=%d", tag, pid, c, 1+boolInt(tls), auth, rest, cmds)
	return last
}

// secs formats seconds as Postfix's delay fields do: two decimals below
// one second, one below ten, whole seconds above, no trailing zeros.
func secs(x float64) string {
	var s string
	switch {
	case x < 1:
		s = strconv.FormatFloat(x, 'f', 2, 64)
	case x < 10:
		s = strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" {
		return "0"
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// message writes one accepted message and its deliveries; it returns the
// time of its last line.
func (w *logw) message(tag string, pid int, c client, login, mech string, m message, org *org) time.Time {
	q := w.qid(m.t)
	if login != "" {
		w.add(m.t, "%s[%d]: %s: client=%s, sasl_method=%s, sasl_username=%s", tag, pid, q, c, mech, login)
	} else {
		w.add(m.t, "%s[%d]: %s: client=%s", tag, pid, q, c)
	}
	t := m.t.Add(time.Duration(20+w.r.intn(80)) * time.Millisecond)
	w.add(t, "postfix/cleanup[%d]: %s: message-id=<%s>", w.pid("cleanup"), q, w.msgid(t, m.from, c))
	t = t.Add(time.Duration(10+w.r.intn(60)) * time.Millisecond)
	qm := t
	w.add(t, "postfix/qmgr[%d]: %s: from=<%s>, size=%d, nrcpt=%d (queue active)", w.qmgr, q, m.from, m.size, len(m.rcpts))
	return w.deliver(q, qm, m.from, m.rcpts, org)
}

// deliver writes the delivery of each recipient, the non-delivery
// notification when some bounced, and "removed" when nothing is left.
func (w *logw) deliver(q string, queued time.Time, from string, rcpts []rcpt, org *org) time.Time {
	last := queued
	deferred := false // a deferred recipient keeps the message queued
	removed := false
	var bounced []string
	// recipients of one domain go out in one transaction
	for _, rc := range rcpts {
		dom := domainOf(rc.addr)
		d := queued.Add(time.Duration(100+w.r.intn(1900)) * time.Millisecond)
		total := secs(d.Sub(queued).Seconds() + 0.05 + w.r.float()*0.3)
		delays := "delays=" + secs(0.05+w.r.float()*0.2) + "/" + secs(w.r.float()*0.02) + "/" + secs(w.r.float()*0.5) + "/" + secs(w.r.float()*0.8)
		if org.local(dom) {
			lp := w.pid("lmtp")
			if rc.out == noSuchUser {
				w.add(d, "postfix/lmtp[%d]: %s: to=<%s>, relay=%s[private/dovecot-lmtp], delay=%s, %s, dsn=5.1.1, status=bounced (host %s[private/dovecot-lmtp] said: 550 5.1.1 <%s> User doesn't exist: %s (in reply to RCPT TO command))",
					lp, q, rc.addr, w.fqdn, total, delays, w.fqdn, rc.addr, rc.addr)
				bounced = append(bounced, rc.addr)
			} else {
				w.add(d, "postfix/lmtp[%d]: %s: to=<%s>, relay=%s[private/dovecot-lmtp], delay=%s, %s, dsn=2.0.0, status=sent (250 2.0.0 <%s> %s Saved)",
					lp, q, rc.addr, w.fqdn, total, delays, rc.addr, w.token(22))
			}
		} else {
			mx := mxOf(w.r, dom)
			relay := fmt.Sprintf("%s[%s]:25", mx.host, mx.ip)
			sp := w.pid("smtp")
			switch rc.out {
			case delivered:
				w.add(d, "postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%s, %s, dsn=2.0.0, status=sent (%s)", sp, q, rc.addr, relay, total, delays, mx.accept(w, d))
			case spamReject:
				w.add(d, "postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%s, %s, dsn=5.7.1, status=bounced (host %s[%s] said: %s)", sp, q, rc.addr, relay, total, delays, mx.host, mx.ip, mx.reject(w))
				bounced = append(bounced, rc.addr)
			case spamDefer:
				w.add(d, "postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%s, %s, dsn=4.7.0, status=deferred (host %s[%s] said: %s)", sp, q, rc.addr, relay, total, delays, mx.host, mx.ip, mx.deferral(w))
				deferred = true
			case noSuchUser:
				w.add(d, "postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%s, %s, dsn=5.1.1, status=bounced (host %s[%s] said: 550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))", sp, q, rc.addr, relay, total, delays, mx.host, mx.ip, rc.addr)
				bounced = append(bounced, rc.addr)
			}
		}
		if d.After(last) {
			last = d
		}
	}
	if len(bounced) > 0 && from != "" {
		t := last.Add(time.Duration(5+w.r.intn(50)) * time.Millisecond)
		nq := w.qid(t)
		w.add(t, "postfix/bounce[%d]: %s: sender non-delivery notification: %s", w.pid("bounce"), q, nq)
		if !deferred {
			w.add(t.Add(time.Duration(1+w.r.intn(5))*time.Millisecond), "postfix/qmgr[%d]: %s: removed", w.qmgr, q)
			removed = true
		}
		ndr := t.Add(time.Duration(2+w.r.intn(20)) * time.Millisecond)
		w.add(ndr, "postfix/cleanup[%d]: %s: message-id=<%s.%s@%s>", w.pid("cleanup"), nq, t.UTC().Format("20060102150405"), nq, w.fqdn)
		w.add(ndr, "postfix/qmgr[%d]: %s: from=<>, size=%d, nrcpt=1 (queue active)", w.qmgr, nq, 2400+w.r.intn(4000))
		out := delivered
		switch {
		case org.local(domainOf(from)) && !org.isUser(from):
			out = noSuchUser
		case !org.local(domainOf(from)) && w.r.chance(0.6):
			out = noSuchUser
		}
		// a notification to the null sender that fails is dropped: no
		// second bounce
		end := w.deliver(nq, ndr, "", []rcpt{{from, out}}, org)
		if end.After(last) {
			last = end
		}
	}
	if !deferred && !removed {
		last = last.Add(time.Duration(1+w.r.intn(5)) * time.Millisecond)
		w.add(last, "postfix/qmgr[%d]: %s: removed", w.qmgr, q)
	}
	return last
}

const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func (w *logw) token(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteByte(b64[w.r.intn(len(b64))])
	}
	return b.String()
}

// msgid is a Message-ID in the style of the sending client.
func (w *logw) msgid(t time.Time, from string, c client) string {
	dom := domainOf(from)
	if dom == "" {
		dom = w.fqdn
	}
	switch w.r.intn(3) {
	case 0:
		return fmt.Sprintf("%s.%d@%s", t.UTC().Format("20060102150405"), w.r.between(1000, 99999), dom)
	case 1:
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x@%s", w.r.u64()&0xffffffff, w.r.intn(1<<16), w.r.intn(1<<16), w.r.intn(1<<16), w.r.u64()&0xffffffffffff, dom)
	default:
		return fmt.Sprintf("%s@%s", strings.NewReplacer("+", "", "/", "").Replace(w.token(24)), dom)
	}
}

// imapLogin writes a Dovecot IMAP login and, later, its logout.
func (w *logw) imapLogin(t time.Time, user, ip string, stay time.Duration) {
	mpid := w.newPID()
	sess := w.token(16)
	w.add(t, "dovecot: imap-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=%s, mpid=%d, TLS, session=<%s>", user, ip, w.lanIP, mpid, sess)
	w.add(t.Add(stay), "dovecot: imap(%s)<%d><%s>: Disconnected: Logged out in=%d out=%d deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=%d body_bytes=%d",
		user, mpid, sess, w.r.between(80, 4000), w.r.between(600, 90000), w.r.intn(20), w.r.intn(400000))
}

// relayDenied writes an unauthenticated client refused relaying.
func (w *logw) relayDenied(t time.Time, c client, from, to string) {
	pid := w.newPID()
	w.add(t, "postfix/smtpd[%d]: connect from %s", pid, c)
	w.add(t.Add(300*time.Millisecond), "postfix/smtpd[%d]: NOQUEUE: reject: RCPT from %s: 454 4.7.1 <%s>: Relay access denied; from=<%s> to=<%s> proto=ESMTP helo=<%s>", pid, c, to, from, to, c.ip)
	w.add(t.Add(600*time.Millisecond), "postfix/smtpd[%d]: disconnect from %s ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4", pid, c)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}
