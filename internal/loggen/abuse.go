package loggen

import "strconv"

// This file holds the internet's background abuse: rejected and aborted
// connections, forged senders, and password guessing that never succeeds.

// rejectSession writes an inbound connection refused at RCPT time.
func (g *gen) rejectSession(t int64) {
	r := g.r
	pid := g.newPID()
	ip := ipv4(r, attackerOctets)
	client := "unknown[" + ip + "]"
	b := g.s.begin(tagSmtpd, pid)
	b = append(b, "connect from "...)
	b = append(b, client...)
	g.s.emit(t, b)
	t += int64(r.between(300_000, 3_000_000))
	from := g.forgedSender(false)
	helo := domainOf(from)
	b = g.s.begin(tagSmtpd, pid)
	b = append(b, "NOQUEUE: reject: RCPT from "...)
	b = append(b, client...)
	switch r.intn(3) {
	case 0:
		b = append(b, ": 554 5.7.1 Service unavailable; Client host ["...)
		b = append(b, ip...)
		b = append(b, "] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/"...)
		b = append(b, ip...)
		b = append(b, "; from=<"...)
		b = append(b, from...)
		b = append(b, "> to=<"...)
		b = append(b, pick(r, g.w.users).login...)
	case 1:
		to := g.localPart() + "@" + orgDomain
		b = append(b, ": 550 5.1.1 <"...)
		b = append(b, to...)
		b = append(b, ">: Recipient address rejected: User unknown in virtual mailbox table; from=<"...)
		b = append(b, from...)
		b = append(b, "> to=<"...)
		b = append(b, to...)
	default:
		to := g.randomExternal(0).addr
		b = append(b, ": 454 4.7.1 <"...)
		b = append(b, to...)
		b = append(b, ">: Relay access denied; from=<"...)
		b = append(b, from...)
		b = append(b, "> to=<"...)
		b = append(b, to...)
	}
	b = append(b, "> proto=ESMTP helo=<"...)
	b = append(b, helo...)
	b = append(b, '>')
	g.s.emit(t, b)
	b = g.s.begin(tagSmtpd, pid)
	b = append(b, "disconnect from "...)
	b = append(b, client...)
	b = append(b, " ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4"...)
	g.s.emit(t+int64(r.between(10_000, 500_000)), b)
}

// scanSession writes a connection that gives up early: port scanners and
// dictionary bots that never get to MAIL FROM.
func (g *gen) scanSession(t int64) {
	r := g.r
	tag := tagSmtpd
	if r.chance(0.3) {
		tag = tagSubmission
	}
	pid := g.newPID()
	client := "unknown[" + ipv4(r, attackerOctets) + "]"
	b := g.s.begin(tag, pid)
	b = append(b, "connect from "...)
	b = append(b, client...)
	g.s.emit(t, b)
	t += int64(r.between(100_000, 5_000_000))
	after, counts := "CONNECT", " commands=0"
	if r.chance(0.6) {
		after, counts = "EHLO", " ehlo=1 commands=1"
	}
	b = g.s.begin(tag, pid)
	b = append(b, "lost connection after "...)
	b = append(b, after...)
	b = append(b, " from "...)
	b = append(b, client...)
	g.s.emit(t, b)
	b = g.s.begin(tag, pid)
	b = append(b, "disconnect from "...)
	b = append(b, client...)
	b = append(b, counts...)
	g.s.emit(t+int64(r.between(100, 5_000)), b)
}

var spamTLDs = []string{"com", "net", "info", "top", "xyz", "ru", "com.br", "online", "site", "biz", "cn"}

// forgedSender invents a sender address in a random domain. The domain is
// remembered: a fraction of forged domains have no MX, so bounces to them
// stay deferred.
func (g *gen) forgedSender(remember bool) string {
	r := g.r
	const cons, vow = "bcdfghklmnprstvz", "aeiou"
	b := make([]byte, 0, 40)
	switch r.intn(3) {
	case 0:
		b = append(b, pick(r, []string{"info", "sales", "support", "billing", "service", "noreply", "office", "news"})...)
	case 1:
		b = append(b, g.localPart()...)
	default:
		for i := 0; i < r.between(5, 10); i++ {
			b = append(b, "abcdefghijklmnopqrstuvwxyz0123456789"[r.intn(36)])
		}
	}
	b = append(b, '@')
	dom := len(b)
	for i := r.between(2, 4); i > 0; i-- {
		b = append(b, cons[r.intn(len(cons))], vow[r.intn(len(vow))])
	}
	if r.chance(0.4) {
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(r.between(1, 999)), 10)
	}
	b = append(b, '.')
	b = append(b, pick(r, spamTLDs)...)
	if remember {
		g.forged[string(b[dom:])] = r.chance(0.35)
	}
	return string(b)
}

// authFailLine writes Dovecot's line for a failed authentication of name
// from ip and, when tag is set, smtpd's warning two seconds later in one of
// three forms (with or without sasl_username).
func (g *gen) authFailLine(t int64, tag string, pid int, ip, name string) {
	r := g.r
	b := g.s.begin(tagDovecot, -1)
	b = append(b, "auth: Info: passwd-file("...)
	b = append(b, name...)
	b = append(b, ',')
	b = append(b, ip...)
	_, exists := g.w.byLogin[name]
	if exists {
		b = append(b, "): Password mismatch"...)
	} else {
		b = append(b, "): unknown user"...)
	}
	g.s.emit(t, b)
	g.failed[name] = true
	if tag == "" {
		return
	}
	b = g.s.begin(tag, pid)
	b = append(b, "warning: unknown["...)
	b = append(b, ip...)
	switch x := r.intn(20); {
	case x < 9:
		b = append(b, "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username="...)
		b = append(b, name...)
	case x < 16:
		b = append(b, "]: SASL PLAIN authentication failed: (reason unavailable), sasl_username="...)
		b = append(b, name...)
	default:
		b = append(b, "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"...)
	}
	g.s.emit(t+int64(r.between(1_900_000, 2_300_000)), b)
}

// failSession writes one SMTP connection with failed AUTH attempts for names.
func (g *gen) failSession(t int64, tag, ip string, names []string) int64 {
	r := g.r
	pid := g.newPID()
	client := "unknown[" + ip + "]"
	b := g.s.begin(tag, pid)
	b = append(b, "connect from "...)
	b = append(b, client...)
	g.s.emit(t, b)
	t += int64(r.between(100_000, 900_000))
	for _, n := range names {
		g.authFailLine(t, tag, pid, ip, n)
		t += int64(r.between(2_400_000, 4_000_000))
	}
	quit := r.chance(0.3)
	if !quit {
		b = g.s.begin(tag, pid)
		b = append(b, "lost connection after AUTH from "...)
		b = append(b, client...)
		g.s.emit(t, b)
	}
	b = g.s.begin(tag, pid)
	b = append(b, "disconnect from "...)
	b = append(b, client...)
	na := int64(len(names))
	if tag == tagSubmission {
		b = append(b, " ehlo=2 starttls=1 auth=0/"...)
	} else {
		b = append(b, " ehlo=1 auth=0/"...)
	}
	b = strconv.AppendInt(b, na, 10)
	ok := int64(1)
	if tag == tagSubmission {
		ok = 3
	}
	if quit {
		b = append(b, " quit=1"...)
		ok++
	}
	b = append(b, " commands="...)
	b = strconv.AppendInt(b, ok, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, ok+na, 10)
	g.s.emit(t+int64(r.between(1_000, 100_000)), b)
	return t
}

// imapFail writes failed IMAP logins from one connection.
func (g *gen) imapFail(t int64, ip string, name string, attempts int) int64 {
	r := g.r
	for i := 0; i < attempts; i++ {
		g.authFailLine(t, "", 0, ip, name)
		t += int64(r.between(2_100_000, 5_000_000))
	}
	b := g.s.begin(tagDovecot, -1)
	b = append(b, "imap-login: Disconnected: Connection closed (auth failed, "...)
	b = strconv.AppendInt(b, int64(attempts), 10)
	b = append(b, " attempts in "...)
	b = strconv.AppendInt(b, int64(attempts*3), 10)
	b = append(b, " secs): user=<"...)
	b = append(b, name...)
	b = append(b, ">, method=PLAIN, rip="...)
	b = append(b, ip...)
	b = append(b, ", lip="+serverIP+", TLS, "...)
	b = g.sessionID(b)
	g.s.emit(t, b)
	return t
}

// bruteCampaign writes a password-guessing campaign from a few addresses
// against existing and invented names. It never succeeds.
func (g *gen) bruteCampaign(t int64) {
	r := g.r
	nIP := r.between(1, 5)
	names := make([]string, 0, 16)
	for i := r.between(3, 14); i > 0; i-- {
		switch x := r.intn(10); {
		case x < 4:
			names = append(names, pick(r, g.w.users).login)
		case x < 7:
			names = append(names, pick(r, bogusLocal)+"@"+orgDomain)
		case x < 8:
			names = append(names, pick(r, bogusLocal)+"@"+orgDomain2)
		case x < 9:
			names = append(names, pick(r, bogusLocal))
		default:
			names = append(names, g.localPart()+"@"+orgDomain)
		}
	}
	imap := r.chance(0.3)
	tag := tagSmtps
	if r.chance(0.5) {
		tag = tagSubmission
	}
	for i := 0; i < nIP; i++ {
		ip := ipv4(r, attackerOctets)
		if r.chance(0.1) {
			ip = ipv6(r, pick(r, attackerV6))
		}
		tt := t + r.dur(10*usMin)
		for rounds := r.between(1, 4); rounds > 0; rounds-- {
			for j := 0; j < len(names); {
				k := min(len(names)-j, r.between(1, 3))
				if imap {
					tt = g.imapFail(tt, ip, names[j], k)
				} else {
					tt = g.failSession(tt, tag, ip, names[j:j+k])
				}
				j += k
				tt += int64(r.between(1, 40)) * usSec
			}
		}
	}
}
