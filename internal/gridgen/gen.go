package gridgen

import (
	"fmt"
	"sort"
	"time"
)

// gen holds one case being generated.
type gen struct {
	c                Case
	r                *rng
	w                *logw
	o                *org
	rfc3339          bool
	logStart, logEnd time.Time
	truth            Truth

	subject string // the subject's login
	// the subject's messages: its owner's (or its legitimate users') and
	// the attacker's
	ownerMsgs  []time.Time
	ownerIPs   map[string]bool
	attackMsgs []time.Time
	attackIPs  map[string]bool
	start      time.Time // the takeover's true start
	rejected   int
}

func newGen(c Case) *gen {
	r := newRNG(c.Seed)
	o := newOrg(r.child(1), r.between(6, 12))
	host := pick(r, []string{"mail", "mx1", "mail01", "smtp"})
	fqdn := host + "." + o.domain
	g := &gen{c: c, r: r, o: o, ownerIPs: map[string]bool{}, attackIPs: map[string]bool{}}
	g.w = newLogw(r.child(2), host, fqdn, ipIn(r, accessOctets), fmt.Sprintf("10.%d.%d.%d", r.intn(256), r.intn(256), r.between(2, 254)))
	g.rfc3339 = r.chance(0.2)
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.intn(200))
	g.logStart = day.Add(time.Duration(r.intn(24*60)) * time.Minute)
	return g
}

// at returns the log's day i (0: the first) at hour h.
func (g *gen) at(day int, h float64) time.Time {
	d := time.Date(g.logStart.Year(), g.logStart.Month(), g.logStart.Day(), 0, 0, 0, 0, time.UTC)
	return d.AddDate(0, 0, day).Add(time.Duration(h * float64(time.Hour)))
}

// profile is how one login usually sends.
type profile struct {
	login   string
	clients []client // the first is the usual one
	usual   float64  // share of sessions from the first client
	perDay  float64  // messages on a working day
	weekend float64  // share of that on Saturday and Sunday
	from    func() string
	rcpts   func() []rcpt
	service string
	mech    string
	imap    bool
	hours   [2]float64 // working hours
	evening bool       // a person: other clients are mostly home in the evening
	owner   bool       // the subject's own traffic: counted for its truth
}

func (g *gen) userProfile(addr string) profile {
	r := g.r
	p := profile{
		login: addr, clients: []client{g.o.office, g.o.homes[addr]}, usual: 0.75,
		perDay: float64(r.between(2, 14)), weekend: 0.15,
		from: func() string { return addr }, service: pick(r, []string{"submission", "submission", "smtps"}),
		mech: pick(r, []string{"PLAIN", "PLAIN", "LOGIN"}), imap: true, hours: [2]float64{7.5, 18.5}, evening: true,
	}
	p.rcpts = func() []rcpt { return g.ordinaryRcpts(addr) }
	return p
}

// ordinaryRcpts is a person's message: one to three recipients, partners,
// freemail users or colleagues.
func (g *gen) ordinaryRcpts(self string) []rcpt {
	r := g.r
	n := 1
	if r.chance(0.3) {
		n = r.between(2, 3)
	}
	out := make([]rcpt, 0, n)
	for i := 0; i < n; i++ {
		switch {
		case r.chance(0.4):
			c := pick(r, g.o.users)
			if c == self {
				c = g.o.users[0]
			}
			out = append(out, rcpt{c, delivered})
		case r.chance(0.5):
			out = append(out, rcpt{pick(r, firstNames) + "." + pick(r, lastNames) + "@" + pick(r, partnerDomains), delivered})
		default:
			out = append(out, rcpt{g.randomLocal() + "@" + pick(r, freemail), delivered})
		}
	}
	if r.chance(0.02) {
		out[0].out = noSuchUser
		if g.o.local(domainOf(out[0].addr)) {
			out[0].out = delivered
		}
	}
	return out
}

func (g *gen) randomLocal() string {
	r := g.r
	switch r.intn(4) {
	case 0:
		return pick(r, firstNames) + "." + pick(r, lastNames)
	case 1:
		return fmt.Sprintf("%s%d", pick(r, firstNames), r.between(1, 99))
	case 2:
		return pick(r, firstNames)[:1] + pick(r, lastNames)
	}
	return pick(r, lastNames) + "." + pick(r, firstNames)
}

// activity writes a login's usual traffic between from and to: messages on
// working days in working hours, fewer at weekends, and IMAP logins.
func (g *gen) activity(p profile, from, to time.Time) {
	r := g.r
	for day := 0; ; day++ {
		d0 := g.at(day, 0)
		if !d0.Before(to) {
			break
		}
		rate := p.perDay
		if wd := d0.Weekday(); wd == time.Saturday || wd == time.Sunday {
			rate *= p.weekend
		}
		n := int(rate*(0.6+0.8*r.float()) + r.float())
		for i := 0; i < n; i++ {
			h := p.hours[0] + r.float()*(p.hours[1]-p.hours[0])
			c := p.clients[0]
			if len(p.clients) > 1 && !r.chance(p.usual) {
				c = pick(r, p.clients[1:])
				if p.evening && r.chance(0.5) {
					h = 19 + r.float()*3 // from home in the evening
				}
			}
			t := g.at(day, h)
			if t.Before(from) || !t.Before(to) {
				continue
			}
			g.send(p, t, c, []message{{t: t, from: p.from(), rcpts: p.rcpts(), size: r.between(2000, 900000)}})
		}
		if p.imap {
			for i, k := 0, r.between(2, 6); i < k; i++ {
				t := g.at(day, 7+r.float()*14)
				if t.Before(from) || !t.Before(to) {
					continue
				}
				c := p.clients[r.intn(len(p.clients))]
				g.w.imapLogin(t, p.login, c.ip, time.Duration(r.between(30, 7200))*time.Second)
				if p.owner && (g.start.IsZero() || t.Before(g.start)) {
					g.ownerIPs[c.ip] = true
				}
			}
		}
	}
}

// send writes a session of p's login and records the subject's messages.
func (g *gen) send(p profile, t time.Time, c client, msgs []message) {
	g.w.session(t.Add(-time.Duration(300+g.r.intn(900))*time.Millisecond), p.service, c, p.login, p.mech, 0, msgs, g.o)
	if p.owner {
		for _, m := range msgs {
			g.ownerMsgs = append(g.ownerMsgs, m.t)
			if g.start.IsZero() || m.t.Before(g.start) {
				g.ownerIPs[c.ip] = true
			}
		}
	}
}

// background writes the rest of the organisation's traffic: its users'
// mail and IMAP, mail from outside, and the Internet's password guessing.
func (g *gen) background() {
	r := g.r
	for _, u := range g.o.users {
		if u == g.subject {
			continue
		}
		g.activity(g.userProfile(u), g.logStart, g.logEnd)
	}
	days := int(g.logEnd.Sub(g.logStart).Hours()/24) + 2
	senders := []client{
		{"mail-wr1-f54.google.com", "209.85.221.54"}, {"mail-ej1-f41.google.com", "209.85.218.41"},
		{"mail-db8eur05on2061.outbound.protection.outlook.com", "40.107.20.61"},
		{"mout.gmx.net", "212.227.17.21"}, {"mailout11.t-online.de", "194.25.134.85"},
		{"mx.partner-mail.eu", ipIn(r, accessOctets)},
	}
	for day := 0; day < days; day++ {
		for i, n := 0, r.between(15, 60); i < n; i++ {
			t := g.at(day, r.float()*24)
			if t.Before(g.logStart) || !t.Before(g.logEnd) {
				continue
			}
			c := pick(r, senders)
			from := g.randomLocal() + "@" + pick(r, append(freemail[:6:6], partnerDomains...))
			to := pick(r, g.o.users)
			g.w.session(t, "", c, "", "", 0, []message{{t: t.Add(time.Second), from: from, rcpts: []rcpt{{to, delivered}}, size: r.between(3000, 2000000)}}, g.o)
		}
		// password guessing from the Internet
		for i, n := 0, r.between(5, 40); i < n; i++ {
			t := g.at(day, r.float()*24)
			if t.Before(g.logStart) || !t.Before(g.logEnd) {
				continue
			}
			name := pick(r, []string{"admin", "info", "test", "sales", "postmaster", "user", "office", "support"})
			switch {
			case r.chance(0.3):
				name = pick(r, g.o.users)
			case r.chance(0.3):
				name += "@" + g.o.domain
			}
			c := hostileClient(r, ipIn(r, hostileOctets))
			g.w.session(t, pick(r, []string{"", "submission", "smtps"}), c, name, "LOGIN", r.between(1, 3), nil, g.o)
		}
		if r.chance(0.7) {
			t := g.at(day, r.float()*24)
			if t.After(g.logStart) && t.Before(g.logEnd) {
				g.w.relayDenied(t, hostileClient(r, ipIn(r, hostileOctets)), g.randomLocal()+"@"+pick(r, freemail), g.randomLocal()+"@"+pick(r, freemail))
			}
		}
	}
	g.w.add(g.logStart, "postfix/anvil[%d]: statistics: max connection rate 4/60s for (smtp:%s) at %s", g.w.newPID(), g.o.office.ip, g.logStart.Format(time.Stamp))
}

// hourPeak is the most messages in any 60 minutes among sorted times.
func hourPeak(ts []time.Time) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Hour {
			j++
		}
		if i-j+1 > best {
			best = i - j + 1
		}
	}
	return best
}

// finish works out the truth.
func (g *gen) finish() {
	t := &g.truth
	t.Case = g.c
	t.Login = g.subject
	t.Label = g.c.Kind
	t.LogStart, t.LogEnd = g.logStart, g.logEnd
	if g.c.Kind != "takeover" {
		return
	}
	sort.Slice(g.attackMsgs, func(i, j int) bool { return g.attackMsgs[i].Before(g.attackMsgs[j]) })
	sort.Slice(g.ownerMsgs, func(i, j int) bool { return g.ownerMsgs[i].Before(g.ownerMsgs[j]) })
	t.Accepted = len(g.attackMsgs)
	if t.Accepted == 0 {
		panic("gridgen: a takeover without messages")
	}
	t.Start = g.start
	if g.c.Grep || t.Start.IsZero() || g.attackMsgs[0].Before(t.Start) {
		t.Start = g.attackMsgs[0]
	}
	t.End = g.attackMsgs[len(g.attackMsgs)-1]
	t.IPsUsed = len(g.attackIPs)
	for ip := range g.attackIPs {
		if !g.ownerIPs[ip] {
			t.NewIPs++
		}
	}
	var before, after []time.Time
	for _, m := range g.ownerMsgs {
		if m.Before(t.Start) {
			before = append(before, m)
		} else {
			after = append(after, m)
		}
	}
	all := append(after, g.attackMsgs...)
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	t.BaselinePerHour = hourPeak(before)
	t.PeakPerHour = hourPeak(all)
	t.Rejected = g.rejected
	if t.NewIPs >= 3 {
		t.Traces = append(t.Traces, fmt.Sprintf("%d new IPs", t.NewIPs))
	}
	if g.c.Style != "own" && !g.c.Grep {
		t.Traces = append(t.Traces, "senders "+g.c.Style)
	}
	if t.Rejected > 0 && !g.c.Grep {
		t.Traces = append(t.Traces, fmt.Sprintf("%d spam refusals", t.Rejected))
	}
	if t.BaselinePerHour > 0 && t.PeakPerHour >= 5*t.BaselinePerHour {
		t.Traces = append(t.Traces, fmt.Sprintf("%d/h against %d/h", t.PeakPerHour, t.BaselinePerHour))
	}
	switch {
	case t.Accepted >= 20 && len(t.Traces) > 0:
		t.Class = "loud"
	case len(t.Traces) == 0 && t.NewIPs <= 1:
		t.Class = "undetectable"
	default:
		t.Class = "quiet"
	}
}

// pickSubject returns an ordinary user to be the subject.
func (g *gen) pickSubject() string {
	return g.o.users[1+g.r.intn(len(g.o.users)-1)]
}

func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }
