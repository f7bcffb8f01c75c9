// Package eximgen writes synthetic Exim 4 main logs for saslguard's tests
// and benchmarks: an organisation's users with days of ordinary history,
// inbound internet mail, a legitimate bulk sender, a user who mistypes a
// password, password-guessing noise, and on the last day one account
// takeover: the stolen login sends spam with forged senders from new IPs,
// remote servers refuse it as spam and the bounces come back. The lines
// have the shapes Exim 4.96 and 4.97+ write; the same Config gives the
// same bytes.
package eximgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Config describes the log.
type Config struct {
	Seed  uint64
	Start time.Time // the first day (UTC midnight); zero means 2026-03-01
	Days  int       // days of history before the takeover day (default 5)
	Users int       // ordinary users (default 30)
	// Bulk is how many messages the bulk sender sends each day (default 300).
	Bulk int
	// LongIDs writes Exim 4.97's 23-character message ids.
	LongIDs bool
	// Millis, PID and Zone turn on +millisec, +pid and log_timezone.
	Millis, PID, Zone bool
	// Syslog writes the lines through syslog: "Mar  4 02:04:21 mx
	// exim[1234]: 2026-03-04 02:04:21 ...".
	Syslog bool
	// Spam is the number of spam messages the stolen login sends (default 70).
	Spam int
}

// Truth is what the log holds.
type Truth struct {
	Compromised string    // the stolen login
	Start       time.Time // its first spam message
	Bulk, Typo  string    // the bulk sender and the user who mistyped
	Users       []string  // the ordinary users (Compromised and Typo among them)
	Messages    int       // messages sent by logins
}

type line struct {
	t   time.Time
	seq int
	pid int
	s   string
}

type gen struct {
	cfg   Config
	r     *rand.Rand
	lines []line
	seq   int
	ids   int
	pid   int
	truth Truth
}

const domain = "corp.example"

// Write writes the log to w and returns what it holds.
func Write(w io.Writer, cfg Config) (*Truth, error) {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Days <= 0 {
		cfg.Days = 5
	}
	if cfg.Users <= 0 {
		cfg.Users = 30
	}
	if cfg.Bulk <= 0 {
		cfg.Bulk = 300
	}
	if cfg.Spam <= 0 {
		cfg.Spam = 70
	}
	g := &gen{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 0x5a5)), pid: 1000}
	bw := bufio.NewWriterSize(w, 1<<16)
	users := make([]string, cfg.Users)
	homes := make([]string, cfg.Users)
	for i := range users {
		users[i] = fmt.Sprintf("user%03d@%s", i, domain)
		homes[i] = fmt.Sprintf("198.51.%d.%d", 100+i/200, 1+i%200)
	}
	stolen, typo := 3%cfg.Users, 5%cfg.Users
	users[stolen] = "t.mueller@" + domain
	if typo != stolen {
		users[typo] = "m.weber@" + domain
	}
	g.truth = Truth{Compromised: users[stolen], Bulk: "newsletter@" + domain, Typo: users[typo], Users: users}
	for day := 0; day <= cfg.Days; day++ {
		d0 := cfg.Start.AddDate(0, 0, day)
		g.chatter(d0)
		for i, u := range users {
			n := 1 + g.r.IntN(4)
			for k := 0; k < n; k++ {
				t := d0.Add(time.Duration(8*3600+g.r.IntN(10*3600)) * time.Second)
				if i == typo && k == 0 {
					for f := 0; f < 2; f++ {
						g.authFail(t.Add(-time.Duration(30-10*f)*time.Second), "dovecot_plain", "(["+homes[i]+"])", homes[i], u)
					}
				}
				g.userMessage(t, u, homes[i], u, 1+g.r.IntN(3), false)
			}
		}
		bt := d0.Add(10 * time.Hour)
		for k := 0; k < cfg.Bulk; k++ {
			g.userMessage(bt.Add(time.Duration(k)*4*time.Second), g.truth.Bulk, "192.0.2.50", "news@"+domain, 1, false)
		}
		for k := 0; k < 4*cfg.Users; k++ {
			g.inbound(d0.Add(time.Duration(g.r.IntN(86400))*time.Second), users[g.r.IntN(len(users))])
		}
		for k := 0; k < 20; k++ {
			ip := fmt.Sprintf("45.%d.%d.%d", 10+g.r.IntN(50), g.r.IntN(250), 1+g.r.IntN(250))
			name := []string{"admin", "info", "test", "sales@" + domain, users[g.r.IntN(len(users))]}[g.r.IntN(5)]
			g.authFail(d0.Add(time.Duration(g.r.IntN(86400))*time.Second), "dovecot_login", "(User)", ip, name)
		}
		if day == cfg.Days {
			g.takeover(d0.Add(2*time.Hour+4*time.Minute+21*time.Second), users[stolen])
		}
		if err := g.flush(bw, d0.AddDate(0, 0, 1)); err != nil {
			return nil, err
		}
	}
	if err := g.flush(bw, time.Time{}); err != nil {
		return nil, err
	}
	return &g.truth, bw.Flush()
}

// takeover: failed guesses, then spam from 8 new IPs with forged senders.
func (g *gen) takeover(t time.Time, login string) {
	ips := make([]string, 8)
	for i := range ips {
		ips[i] = fmt.Sprintf("%d.%d.%d.%d", 77+i*9, 20+i, g.r.IntN(250), 1+g.r.IntN(250))
	}
	for f := 0; f < 6; f++ {
		g.authFail(t.Add(-time.Duration(40-f*5)*time.Minute), "dovecot_login", "(ylmf-pc)", ips[f%3], login)
	}
	g.truth.Start = t
	for k := 0; k < g.cfg.Spam; k++ {
		at := t.Add(time.Duration(k*35+g.r.IntN(20)) * time.Second)
		from := fmt.Sprintf("%s%d@%s", []string{"sales", "info", "office", "support"}[k%4], k, []string{"promo-deals.example", "bestpharm.example", "win-now.example", "cheap-loans.example", "x" + strconv.Itoa(k) + ".example"}[k%5])
		g.userMessage(at, login, ips[k%len(ips)], from, 3+g.r.IntN(8), true)
	}
}

// userMessage writes an authenticated message and its deliveries. Spam is
// refused by many remote servers and bounces back to the forged sender.
func (g *gen) userMessage(t time.Time, login, ip, from string, nrcpt int, spam bool) {
	g.truth.Messages++
	id := g.newID(t)
	pid := g.newPID()
	rcpts := make([]string, nrcpt)
	for i := range rcpts {
		rcpts[i] = fmt.Sprintf("%s%d@%s", []string{"anna", "ben", "chris", "dora"}[g.r.IntN(4)], g.r.IntN(900), []string{"gmail.example", "web.example", "partner-firm.example", "outlook.example"}[g.r.IntN(4)])
	}
	helo := "(" + []string{"DESKTOP-4F2K9Q", "[192.168.1.20]", "laptop.home"}[g.r.IntN(3)] + ")"
	auth := "dovecot_plain"
	if g.r.IntN(2) == 0 {
		auth = "dovecot_login"
	}
	if spam {
		helo = "(ylmf-pc)"
	}
	subj := `"Quarterly report"`
	if spam {
		subj = `"Re: your \"invoice\" for March"`
	}
	size := 2000 + g.r.IntN(40000)
	arr := fmt.Sprintf("%s <= %s H=%s [%s]:%d I=[203.0.113.10]:587 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=%s:%s S=%d id=%s.%d@%s T=%s for %s",
		id, from, helo, ip, 40000+g.r.IntN(20000), auth, login, size, id, g.r.IntN(1e6), "mail."+domain, subj, join(rcpts))
	g.add(t, pid, arr)
	tt := t.Add(time.Second)
	bounced := false
	for _, rc := range rcpts {
		mx := "mx." + rc[indexAt(rc)+1:]
		mxip := fmt.Sprintf("203.0.%d.%d", 120+g.r.IntN(5), 1+g.r.IntN(250))
		dpid := g.newPID()
		switch x := g.r.IntN(10); {
		case spam && x < 5:
			g.add(tt, dpid, fmt.Sprintf("%s ** %s R=dnslookup T=remote_smtp H=%s [%s] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error from remote mail server after pipelined end of data: 550 5.7.1 Message rejected as spam (score 12.4)", id, rc, mx, mxip))
			bounced = true
		case spam && x < 7:
			g.add(tt, dpid, fmt.Sprintf("%s == %s R=dnslookup T=remote_smtp defer (-45) H=%s [%s]: SMTP error from remote mail server after RCPT TO:<%s>: 451 4.7.1 Your IP is listed at a blocklist, try again later", id, rc, mx, mxip, rc))
		default:
			g.add(tt, dpid, fmt.Sprintf("%s => %s R=dnslookup T=remote_smtp H=%s [%s] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 OK  %d - gsmtp\"", id, rc, mx, mxip, g.r.IntN(1e9)))
		}
		tt = tt.Add(time.Duration(g.r.IntN(1500)) * time.Millisecond)
	}
	if bounced {
		bid := g.newID(tt)
		g.add(tt, 0, fmt.Sprintf("%s <= <> R=%s U=Debian-exim P=local S=%d", bid, id, size/4))
		bt := tt.Add(2 * time.Second)
		g.add(bt, 0, fmt.Sprintf("%s ** %s R=dnslookup T=remote_smtp: Unrouteable address", bid, from))
		g.add(bt, 0, bid+" Completed")
	}
	if !spam || g.r.IntN(3) > 0 {
		g.add(tt.Add(time.Second), 0, id+" Completed")
	}
}

// inbound writes a message from the internet to a user.
func (g *gen) inbound(t time.Time, user string) {
	id := g.newID(t)
	ip := fmt.Sprintf("209.85.%d.%d", g.r.IntN(250), 1+g.r.IntN(250))
	pid := g.newPID()
	g.add(t, pid, fmt.Sprintf("SMTP connection from mail-%d.example [%s]:%d I=[203.0.113.10]:25 (TCP/IP connection count = 1)", g.r.IntN(99), ip, 30000+g.r.IntN(30000)))
	g.add(t, pid, fmt.Sprintf("%s <= news%d@shop.example H=mail-%d.example [%s]:%d I=[203.0.113.10]:25 P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=%d id=%d@shop.example T=\"Offers\" for %s",
		id, g.r.IntN(50), g.r.IntN(99), ip, 30000+g.r.IntN(30000), 3000+g.r.IntN(60000), g.r.IntN(1e9), user))
	local := user[:indexAt(user)]
	g.add(t.Add(time.Second), 0, fmt.Sprintf("%s => %s <%s> R=local_user T=mail_spool", id, local, user))
	g.add(t.Add(time.Second), 0, id+" Completed")
}

func (g *gen) authFail(t time.Time, auth, helo, ip, name string) {
	g.add(t, g.newPID(), fmt.Sprintf("%s authenticator failed for %s [%s]:%d I=[203.0.113.10]:587: 535 Incorrect authentication data (set_id=%s)", auth, helo, ip, 40000+g.r.IntN(20000), name))
}

func (g *gen) chatter(d0 time.Time) {
	for h := 0; h < 24; h++ {
		t := d0.Add(time.Duration(h) * time.Hour)
		p := g.newPID()
		g.add(t, p, fmt.Sprintf("Start queue run: pid=%d", p))
		g.add(t.Add(time.Second), p, fmt.Sprintf("End queue run: pid=%d", p))
		g.add(t.Add(17*time.Minute), g.newPID(), fmt.Sprintf("no host name found for IP address 185.%d.%d.%d", g.r.IntN(250), g.r.IntN(250), 1+g.r.IntN(250)))
		g.add(t.Add(18*time.Minute), g.newPID(), fmt.Sprintf("TLS error on connection from [185.%d.%d.%d]:%d (SSL_accept): error:0A000126:SSL routines::unexpected eof while reading", g.r.IntN(250), g.r.IntN(250), 1+g.r.IntN(250), 1024+g.r.IntN(60000)))
	}
}

func (g *gen) add(t time.Time, pid int, s string) {
	g.seq++
	if pid == 0 {
		pid = g.newPID()
	}
	g.lines = append(g.lines, line{t: t, seq: g.seq, pid: pid, s: s})
}

func (g *gen) newPID() int {
	g.pid++
	if g.pid > 4000000 {
		g.pid = 1000
	}
	return g.pid
}

const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func base62(v int64, n int) string {
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = b62[v%62]
		v /= 62
	}
	return string(b)
}

// newID returns a message id unique in the log, in Exim's alphabet.
func (g *gen) newID(t time.Time) string {
	g.ids++
	if g.cfg.LongIDs {
		return base62(t.Unix(), 6) + "-" + base62(int64(g.ids), 11) + "-" + base62(int64(g.r.IntN(62*62*62*62)), 4)
	}
	return base62(t.Unix(), 6) + "-" + base62(int64(g.ids), 6) + "-" + base62(int64(g.r.IntN(62*62)), 2)
}

// flush writes the lines before until (all when until is zero) in time
// order.
func (g *gen) flush(w *bufio.Writer, until time.Time) error {
	slices.SortFunc(g.lines, func(a, b line) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	n := 0
	zone := time.FixedZone("", 3600)
	for _, l := range g.lines {
		if !until.IsZero() && !l.t.Before(until) {
			break
		}
		n++
		var b []byte
		if g.cfg.Syslog {
			b = l.t.AppendFormat(b, time.Stamp)
			b = append(b, " mx exim["...)
			b = strconv.AppendInt(b, int64(l.pid), 10)
			b = append(b, "]: "...)
		}
		t := l.t
		if g.cfg.Zone {
			t = t.In(zone)
		}
		if g.cfg.Millis {
			b = t.AppendFormat(b, "2006-01-02 15:04:05.000")
		} else {
			b = t.AppendFormat(b, time.DateTime)
		}
		if g.cfg.Zone {
			b = t.AppendFormat(b, " -0700")
		}
		if g.cfg.PID {
			b = append(b, " ["...)
			b = strconv.AppendInt(b, int64(l.pid), 10)
			b = append(b, ']')
		}
		b = append(b, ' ')
		b = append(b, l.s...)
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	g.lines = append(g.lines[:0], g.lines[n:]...)
	return nil
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func indexAt(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			return i
		}
	}
	return len(s)
}
