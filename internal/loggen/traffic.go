package loggen

import (
	"strconv"
	"strings"
	"time"
)

// workProfile is the share of a working day's traffic in each hour (UTC).
var workProfile = func() [24]float64 {
	w := [24]float64{0.2, 0.1, 0.1, 0.1, 0.15, 0.3, 0.8, 2.5, 6, 8, 8.5, 8, 6, 7, 8, 8, 7, 5, 3, 2, 1.5, 1.2, 0.8, 0.4}
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}()

// tick emits every session that starts in the minute from m.
func (g *gen) tick(m int64) {
	r := g.r
	tm := time.UnixMicro(m).UTC()
	h, mi := tm.Hour(), tm.Minute()
	wf := 1.0
	weekend := false
	switch tm.Weekday() {
	case time.Saturday:
		wf, weekend = 0.15, true
	case time.Sunday:
		wf, weekend = 0.1, true
	}
	// Share of a day's volume in this hour. The float64 conversions in the
	// rates below keep compilers from fusing multiply-adds, which would
	// change results by an ulp on some architectures.
	work := wf * workProfile[h]
	flat := 1.0 / 24
	at := func() int64 { return m + r.dur(usMin) }

	if mi%30 == 0 {
		g.recyclePIDs()
	}
	for n := r.poisson(g.userDaily * work / 60); n > 0; n-- {
		g.userSession(at())
	}
	for n := r.poisson(g.imapDaily * (float64(0.6*work) + float64(0.4*wf*flat)) / 60); n > 0; n-- {
		u := pick(r, g.w.users)
		t := at()
		g.imapLogin(t, u.login, g.userIP(u, t), nil)
	}
	if !weekend && h >= 8 && h < 18 {
		for n := r.poisson(g.newsDaily / 600 / 5); n > 0; n-- {
			g.bulkSession(at(), g.w.bulk[0], r.between(1, 9))
		}
	}
	for n := r.poisson(g.notifDaily / 1440 / 2); n > 0; n-- {
		g.bulkSession(at(), g.w.bulk[1], r.between(1, 3))
	}
	for n := r.poisson(g.inboundDaily * (float64(0.5*flat) + float64(0.5*work)) / 60); n > 0; n-- {
		g.inboundSession(at())
	}
	for n := r.poisson(g.rejectDaily / 1440); n > 0; n-- {
		g.rejectSession(at())
	}
	if mi == 17 {
		g.pickup(m+int64(r.between(1, 3))*usSec, 0)
	}
	if h == 6 && mi == 25 {
		g.pickup(m+int64(r.between(1, 40))*usSec, 0)
	}
	for n := r.poisson(g.webDaily * work / 60); n > 0; n-- {
		g.pickup(at(), 33)
	}
	for n := r.poisson(g.rejectDaily / 2 / 1440); n > 0; n-- {
		g.scanSession(at())
	}
	if mi == 7 && r.chance(0.6) {
		g.anvilStats(m + r.dur(usMin))
	}
	for n := r.poisson(g.bruteDaily / 1440); n > 0; n-- {
		g.bruteCampaign(at())
	}
	for _, tk := range g.takeovers {
		if !tk.done && tk.phaseStart < m+usMin {
			tk.done = true
			g.runTakeover(tk)
		}
	}
}

// userIP is where user u connects from at t.
func (g *gen) userIP(u *user, t int64) string {
	day := (t - g.start) / usDay
	if len(u.travel) > 0 && (day+int64(hashString(u.login)%7))%7 < 3 {
		// On a trip three days a week, two addresses a day.
		return u.travel[int(day*3+int64(g.r.intn(2)))%len(u.travel)]
	}
	if len(u.ips) > 1 {
		h := (t % usDay) / usHour
		wd := time.UnixMicro(t).UTC().Weekday()
		if h >= 7 && h < 17 && wd != time.Saturday && wd != time.Sunday && g.r.chance(0.85) {
			return u.ips[0]
		}
	}
	return u.ips[len(u.ips)-1]
}

func (g *gen) userSession(t int64) {
	r := g.r
	u := g.w.sender(r)
	ip := g.userIP(u, t)
	tag := tagSubmission
	if hashString(u.login)%6 == 0 {
		tag = tagSmtps
	}
	method := "PLAIN"
	if hashString(u.login)%4 == 0 {
		method = "LOGIN"
	}
	n := 1
	if r.chance(0.1) {
		n = r.between(2, 3)
	}
	maxRcpt := 3
	if u.kind == kindHeavy {
		maxRcpt = 6
	}
	g.authSession(t, tag, ip, u.login, method, n, nil, func(m *message) {
		m.sender = u.login
		m.msgID = g.msgID(orgDomain)
		m.size = 1200 + int(r.exp(25000))
		m.filter = r.chance(0.12)
		m.rcpts = m.rcpts[:0]
		k := 1
		if r.chance(0.3) {
			k = r.between(1, maxRcpt)
		}
		for i := 0; i < k; i++ {
			if r.chance(0.45) {
				v := pick(r, g.w.users)
				m.rcpts = append(m.rcpts, rcpt{addr: v.login, kind: v.local})
			} else {
				m.rcpts = append(m.rcpts, g.randomExternal(0.015))
			}
		}
	})
	u.sent += n
}

func (g *gen) bulkSession(t int64, u *user, n int) {
	r := g.r
	ip := pick(r, u.ips)
	g.authSession(t, tagSubmission, ip, u.login, "PLAIN", n, nil, func(m *message) {
		m.sender = u.login
		m.msgID = g.msgID(domainOf(u.login))
		m.filter = false
		m.rcpts = m.rcpts[:0]
		if u.login == newsletter {
			m.size = 30000 + r.intn(50000)
			m.rcpts = append(m.rcpts, g.randomExternal(0.03))
		} else {
			m.size = 3000 + r.intn(6000)
			if r.chance(0.3) {
				v := pick(r, g.w.users)
				m.rcpts = append(m.rcpts, rcpt{addr: v.login, kind: v.local})
			} else {
				m.rcpts = append(m.rcpts, g.randomExternal(0.01))
			}
		}
	})
	u.sent += n
}

var freemailUsed = []int{0, 0, 0, 1, 1, 2, 3, 4}

// randomExternal makes an address at a provider or partner; bad is the
// probability that the mailbox does not exist.
func (g *gen) randomExternal(bad float64) rcpt {
	r := g.r
	var d string
	if r.chance(0.55) {
		p := &providers[pick(r, freemailUsed)]
		d = pick(r, p.domains)
	} else {
		d = pick(r, g.w.partners)
	}
	rc := g.externalRcpt(g.localPart()+"@"+d, d)
	rc.bad = r.chance(bad)
	return rc
}

func (g *gen) localPart() string {
	r := g.r
	f, l := pick(r, firstNames), pick(r, lastNames)
	switch r.intn(4) {
	case 0:
		return f + "." + l
	case 1:
		return f + l + strconv.Itoa(r.between(1, 99))
	case 2:
		return f[:1] + "." + l
	}
	return f + "_" + l
}

func (g *gen) msgID(domain string) string {
	b := make([]byte, 0, 64)
	x := g.r.u64()
	for i := 0; i < 8; i++ {
		b = append(b, "0123456789abcdef"[x&15])
		x >>= 4
	}
	b = append(b, '-')
	for i := 0; i < 4; i++ {
		b = append(b, "0123456789abcdef"[x&15])
		x >>= 4
	}
	b = append(b, '-')
	x = g.r.u64()
	for i := 0; i < 12; i++ {
		b = append(b, "0123456789abcdef"[x&15])
		x >>= 4
	}
	b = append(b, '@')
	b = append(b, domain...)
	return string(b)
}

// authSession writes an authenticated SMTP session with n messages, each
// filled in by build. tk is the takeover the session belongs to, if any.
func (g *gen) authSession(t int64, tag, ip, login, method string, n int, tk *takeover, build func(m *message)) int64 {
	r := g.r
	pid := g.newPID()
	client := "unknown[" + ip + "]"
	b := g.s.begin(tag, pid)
	b = append(b, "connect from "...)
	b = append(b, client...)
	g.s.emit(t, b)
	t += int64(r.between(30_000, 400_000))
	b = g.s.begin(tag, pid)
	b = append(b, "Anonymous TLS connection established from "...)
	b = append(b, client...)
	b = append(b, ": TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"...)
	g.s.emit(t, b)
	rcpts := 0
	m := &g.msg
	for i := 0; i < n; i++ {
		if tk != nil {
			t += int64(r.between(150_000, 2_000_000))
		} else {
			t += int64(r.between(300_000, 5_000_000))
		}
		m.spam, m.ndr, m.filter = 0, false, false
		m.client = client
		build(m)
		qid := g.newQID(t)
		b = g.s.begin(tag, pid)
		b = append(b, qid...)
		b = append(b, ": client="...)
		b = append(b, client...)
		b = append(b, ", sasl_method="...)
		b = append(b, method...)
		b = append(b, ", sasl_username="...)
		b = append(b, login...)
		g.s.emit(t, b)
		if tk != nil {
			tk.noteMessage(t)
		} else {
			g.success[login] = true
		}
		rcpts += len(m.rcpts)
		tEnd := t + int64(r.between(400_000, 1_500_000))
		g.queueMessage(t, tEnd-int64(r.between(10_000, 300_000)), tEnd, qid, m, m.filter)
		t = tEnd
	}
	t += int64(r.between(60_000, 400_000))
	b = g.s.begin(tag, pid)
	b = append(b, "disconnect from "...)
	b = append(b, client...)
	cmds := 2 + 3*n + rcpts
	if tag == tagSubmission {
		b = append(b, " ehlo=2 starttls=1"...)
		cmds += 2
	} else {
		b = append(b, " ehlo=1"...)
	}
	b = append(b, " auth=1 mail="...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, " rcpt="...)
	b = strconv.AppendInt(b, int64(rcpts), 10)
	b = append(b, " data="...)
	b = strconv.AppendInt(b, int64(n), 10)
	if tk == nil || r.chance(0.5) {
		b = append(b, " quit=1"...)
	} else {
		cmds--
	}
	b = append(b, " commands="...)
	b = strconv.AppendInt(b, int64(cmds), 10)
	g.s.emit(t, b)
	return t
}

func (g *gen) sessionID(b []byte) []byte {
	b = append(b, "session=<"...)
	b = g.appendB64(b, 16)
	return append(b, '>')
}

// imapLogin writes a successful Dovecot IMAP login and its logout.
func (g *gen) imapLogin(t int64, login, ip string, tk *takeover) {
	r := g.r
	mpid := g.newPID()
	sess := g.sessionID(nil)
	b := g.s.begin(tagDovecot, -1)
	b = append(b, "imap-login: Login: user=<"...)
	b = append(b, login...)
	b = append(b, ">, method=PLAIN, rip="...)
	b = append(b, ip...)
	b = append(b, ", lip="+serverIP+", mpid="...)
	b = strconv.AppendInt(b, int64(mpid), 10)
	b = append(b, ", TLS, "...)
	b = append(b, sess...)
	g.s.emit(t, b)
	if tk != nil {
		tk.noteSuccess(t)
	} else {
		g.success[login] = true
	}
	b = g.s.begin(tagDovecot, -1)
	b = append(b, "imap("...)
	b = append(b, login...)
	b = append(b, ")<"...)
	b = strconv.AppendInt(b, int64(mpid), 10)
	b = append(b, '>', '<')
	b = append(b, sess[len("session=<"):len(sess)-1]...)
	b = append(b, ">: Disconnected: Logged out in="...)
	b = strconv.AppendInt(b, int64(r.between(200, 9000)), 10)
	b = append(b, " out="...)
	b = strconv.AppendInt(b, int64(r.between(1000, 900000)), 10)
	b = append(b, " deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0"...)
	g.s.emit(t+int64(r.between(2, 1800))*usSec, b)
}

func (g *gen) inboundClient() (client, sender string) {
	r := g.r
	switch i := r.intn(6); i {
	case 0, 1:
		n := r.between(10, 99)
		return "mail-wr1-f" + strconv.Itoa(n) + ".google.com[209.85.221." + strconv.Itoa(n) + "]",
			g.localPart() + "@gmail.com"
	case 2:
		n := r.between(10, 99)
		return "mail-db8eur05on20" + strconv.Itoa(n) + ".outbound.protection.outlook.com[40.107.20." + strconv.Itoa(n) + "]",
			g.localPart() + "@" + pick(r, g.w.partners)
	case 3:
		return "mout.gmx.net[212.227.17." + strconv.Itoa(r.between(1, 30)) + "]", g.localPart() + "@gmx.de"
	default:
		p := r.intn(len(g.w.partners))
		mx := g.w.partnerMX[p]
		return mx, g.localPart() + "@" + g.w.partners[p]
	}
}

// inboundSession writes an unauthenticated delivery from the internet.
func (g *gen) inboundSession(t int64) {
	r := g.r
	pid := g.newPID()
	client, sender := g.inboundClient()
	if strings.HasPrefix(client, "mx") && r.chance(0.05) {
		// The reverse name does not resolve back: Postfix warns and calls
		// the client unknown.
		at := strings.IndexByte(client, '[')
		ip := client[at+1 : len(client)-1]
		b := g.s.begin(tagSmtpd, pid)
		b = append(b, "warning: hostname "...)
		b = append(b, client[:at]...)
		b = append(b, " does not resolve to address "...)
		b = append(b, ip...)
		b = append(b, ": Name or service not known"...)
		g.s.emit(t, b)
		client = "unknown[" + ip + "]"
	}
	b := g.s.begin(tagSmtpd, pid)
	b = append(b, "connect from "...)
	b = append(b, client...)
	g.s.emit(t, b)
	t += int64(r.between(200_000, 2_000_000))
	m := &g.msg
	m.sender, m.spam, m.ndr, m.filter, m.client = sender, 0, false, false, client
	m.msgID = g.msgID(domainOf(sender))
	m.size = 2000 + int(r.exp(40000))
	m.rcpts = m.rcpts[:0]
	k := 1
	if r.chance(0.15) {
		k = r.between(2, 4)
	}
	for i := 0; i < k; i++ {
		v := pick(r, g.w.users)
		m.rcpts = append(m.rcpts, rcpt{addr: v.login, kind: v.local})
	}
	qid := g.newQID(t)
	b = g.s.begin(tagSmtpd, pid)
	b = append(b, qid...)
	b = append(b, ": client="...)
	b = append(b, client...)
	g.s.emit(t, b)
	tData := t + int64(r.between(500_000, 3_000_000))
	g.queueMessage(t, tData-int64(r.between(10_000, 400_000)), tData, qid, m, false)
	b = g.s.begin(tagSmtpd, pid)
	b = append(b, "disconnect from "...)
	b = append(b, client...)
	b = append(b, " ehlo=2 starttls=1 mail=1 rcpt="...)
	b = strconv.AppendInt(b, int64(k), 10)
	b = append(b, " data=1 quit=1 commands="...)
	b = strconv.AppendInt(b, int64(6+k), 10)
	g.s.emit(tData+int64(r.between(60_000, 300_000)), b)
}

// anvilStats writes the connection-rate statistics anvil(8) logs when it
// has been idle for a while.
func (g *gen) anvilStats(t int64) {
	r := g.r
	g.anvilPID = g.newPID()
	svc := "smtp"
	ip := ipv4(r, attackerOctets)
	if r.chance(0.3) {
		svc = "submission"
		ip = pick(r, g.w.offices)
	}
	at := appendStamp(nil, FormatBSD, (t-int64(r.between(60, 500))*usSec)/usSec)
	b := g.s.begin(tagAnvil, g.anvilPID)
	b = append(b, "statistics: max connection rate "...)
	b = strconv.AppendInt(b, int64(r.between(1, 12)), 10)
	b = append(b, "/60s for ("+svc+":"...)
	b = append(b, ip...)
	b = append(b, ") at "...)
	b = append(b, at...)
	g.s.emit(t, b)
	b = g.s.begin(tagAnvil, g.anvilPID)
	b = append(b, "statistics: max connection count "...)
	b = strconv.AppendInt(b, int64(r.between(1, 4)), 10)
	b = append(b, " for ("+svc+":"...)
	b = append(b, ip...)
	b = append(b, ") at "...)
	b = append(b, at...)
	g.s.emit(t, b)
	b = g.s.begin(tagAnvil, g.anvilPID)
	b = append(b, "statistics: max cache size "...)
	b = strconv.AppendInt(b, int64(r.between(1, 40)), 10)
	b = append(b, " at "...)
	b = append(b, at...)
	g.s.emit(t, b)
}

// pickup writes a locally submitted message: cron mail to root (uid 0) or
// a web application's mail to a customer (uid 33).
func (g *gen) pickup(t int64, uid int) {
	r := g.r
	qid := g.newQID(t)
	b := g.s.begin(tagPickup, g.pid(pidPickup))
	b = append(b, qid...)
	b = append(b, ": uid="...)
	b = strconv.AppendInt(b, int64(uid), 10)
	m := &g.msg
	m.spam, m.ndr, m.filter, m.client = 0, false, false, "localhost"
	m.rcpts = m.rcpts[:0]
	m.msgID = g.msgID(serverName)
	if uid == 0 {
		b = append(b, " from=<root>"...)
		m.sender = "root@" + serverName
		m.size = 800 + r.intn(20000)
		m.rcpts = append(m.rcpts, rcpt{addr: "root@" + serverName, kind: rcptRoot})
	} else {
		b = append(b, " from=<www-data>"...)
		m.sender = "www-data@" + serverName
		m.size = 2000 + r.intn(8000)
		m.rcpts = append(m.rcpts, g.randomExternal(0.02))
	}
	g.s.emit(t, b)
	tc := t + int64(r.between(5_000, 80_000))
	g.queueMessage(t, tc, tc+int64(r.between(1_000, 20_000)), qid, m, false)
}
