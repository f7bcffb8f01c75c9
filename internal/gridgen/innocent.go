package gridgen

import (
	"fmt"
	"time"
)

// innocent writes a legitimate login that sends in an unusual way, with
// days of its habit before the day that looks odd.
func (g *gen) innocent() error {
	r := g.r
	hist := r.between(2, 5)
	event := g.at(hist, 8+r.float()*8)
	if !event.After(g.logStart) {
		event = g.logStart.Add(time.Hour)
	}
	g.logEnd = event.Add(time.Duration(r.between(18, 40)) * time.Hour)
	d := g.o.domain
	switch g.c.Style {
	case "newsletter":
		g.subject = pick(r, []string{"newsletter", "news", "marketing", "info"}) + "@" + d
		g.o.addUser(g.subject)
		server := client{"web01." + d, ipIn(r, accessOctets)}
		size := r.between(300, 2500)
		p := g.serviceProfile(g.subject, server)
		// a mailing every day or two, then a bigger one
		for day := 0; day < hist; day += r.between(1, 2) {
			if t := g.at(day, 9+r.float()*6); t.After(g.logStart) {
				g.mailing(p, server, t, size, float64(r.between(400, 2000)), func() string { return g.subject })
			}
		}
		g.mailing(p, server, event, size*r.between(1, 3), float64(r.between(400, 2000)), func() string { return g.subject })
	case "traveller", "roaming-phone":
		g.subject = g.pickSubject()
		p := g.userProfile(g.subject)
		p.owner = true
		carrier := client{"unknown", ipIn(r, accessOctets)}
		if g.c.Style == "roaming-phone" {
			p.clients = append(p.clients, carrier)
		}
		g.activity(p, g.logStart, event)
		away := p
		switch g.c.Style {
		case "traveller": // hotels and airports, a few days, as usual
			away.clients = nil
			for i, k := 0, r.between(2, 6); i < k; i++ {
				away.clients = append(away.clients, accessClient(r, ipIn(r, accessOctets)))
			}
			away.usual = 0.4
			g.activity(away, event, g.logEnd)
		case "roaming-phone": // a new address for nearly every session
			pool := ipIn(r, accessOctets)
			for t := event; t.Before(g.logEnd); t = t.Add(time.Duration(r.exp(90)) * time.Minute) {
				if h := t.Hour(); h < 7 || h > 22 {
					continue
				}
				c := client{"unknown", ipNear(r, pool)}
				if r.chance(0.2) {
					pool = ipIn(r, accessOctets)
				}
				g.send(p, t, c, []message{{t: t, from: g.subject, rcpts: g.ordinaryRcpts(g.subject), size: r.between(2000, 300000)}})
				if r.chance(0.5) {
					g.w.imapLogin(t.Add(time.Minute), g.subject, c.ip, time.Duration(r.between(60, 1800))*time.Second)
				}
			}
		}
	case "scanner":
		g.subject = pick(r, []string{"scanner", "mfp-2og", "printer", "scan2mail"}) + "@" + d
		lan := client{"unknown", fmt.Sprintf("192.168.%d.%d", r.intn(10), r.between(20, 250))}
		asUsers := r.chance(0.5) // the device sends as the person who scanned
		p := g.serviceProfile(g.subject, lan)
		p.perDay = float64(r.between(3, 12))
		p.from = func() string {
			if asUsers {
				return pick(r, g.o.users)
			}
			return g.subject
		}
		p.rcpts = func() []rcpt { return []rcpt{{pick(r, g.o.users), delivered}} }
		g.activity(p, g.logStart, g.logEnd)
		// a batch of invoices scanned in one go
		n := r.between(30, 90)
		for i := 0; i < n; i++ {
			t := event.Add(time.Duration(i) * time.Duration(r.between(40, 120)) * time.Second)
			g.send(p, t, lan, []message{{t: t, from: p.from(), rcpts: p.rcpts(), size: r.between(200000, 4000000)}})
		}
	case "ticketing", "web-form":
		// sends as the people who wrote in: customers' and visitors'
		// addresses in many domains, from one server, for days
		name := []string{"helpdesk", "otrs", "crm", "support"}
		if g.c.Style == "web-form" {
			name = []string{"www", "wordpress", "webform", "contact"}
		}
		g.subject = pick(r, name) + "@" + d
		server := client{"app01." + d, ipIn(r, accessOctets)}
		p := g.serviceProfile(g.subject, server)
		p.perDay = float64(r.between(20, 200))
		if g.c.Style == "web-form" {
			p.perDay = float64(r.between(5, 40))
		}
		p.weekend = 0.3
		p.hours = [2]float64{0, 24}
		p.from = func() string { return g.randomLocal() + "@" + pick(r, append(freemail, partnerDomains...)) }
		p.rcpts = func() []rcpt {
			if g.c.Style == "web-form" || r.chance(0.5) {
				return []rcpt{{pick(r, g.o.users), delivered}}
			}
			return g.ordinaryRcpts("")
		}
		g.activity(p, g.logStart, event)
		busy := p
		busy.perDay *= 2.5
		g.activity(busy, event, g.logEnd)
	case "list-server":
		g.subject = pick(r, []string{"mailman", "lists", "sympa"}) + "@" + d
		listDom := "lists." + d
		g.o.extra = append(g.o.extra, listDom)
		server := client{"lists." + d, ipIn(r, accessOctets)}
		p := g.serviceProfile(g.subject, server)
		members := r.between(40, 400)
		list := pick(r, []string{"members", "announce", "vorstand", "eltern", "users"})
		posts := func(from, to time.Time, perDay float64) {
			for t := from; t.Before(to); t = t.Add(time.Duration(r.exp(24/perDay*60)) * time.Minute) {
				g.mailing(p, server, t, members, 3000, func() string { return list + "-bounces@" + listDom })
			}
		}
		posts(g.logStart, event, float64(r.between(1, 6)))
		posts(event, event.Add(2*time.Hour), 120) // a heated thread
		posts(event.Add(2*time.Hour), g.logEnd, 3)
	case "trade-fair":
		g.subject = pick(r, []string{"sales", "vertrieb", "messe", "info"}) + "@" + d
		g.o.addUser(g.subject)
		p := g.userProfile(g.subject)
		p.owner = true
		p.clients = []client{g.o.office}
		p.perDay = float64(r.between(5, 15))
		g.activity(p, g.logStart, event)
		fair := p
		fair.clients = []client{{"unknown", ipIn(r, accessOctets)}}
		for i, k := 0, r.between(2, 5); i < k; i++ {
			fair.clients = append(fair.clients, client{"unknown", ipIn(r, accessOctets)})
		}
		fair.usual = 0.5
		fair.perDay *= float64(r.between(2, 4))
		fair.hours = [2]float64{9, 21}
		g.activity(fair, event, g.logEnd)
	case "relay":
		g.subject = pick(r, []string{"relay", "smarthost", "app-relay"}) + "@" + d
		var servers []client
		base := ipIn(r, accessOctets)
		for i, k := 0, r.between(2, 5); i < k; i++ {
			servers = append(servers, client{fmt.Sprintf("srv%02d.%s", i+1, d), ipNear(r, base)})
		}
		// the servers' own senders and the hosted customers' domains
		var senders []string
		for i, k := 0, r.between(2, 6); i < k; i++ {
			senders = append(senders, pick(r, []string{"noreply", "alerts", "cron", "backup", "billing", "orders"})+"@"+pick(r, append([]string{d, "app." + d}, partnerDomains...)))
		}
		p := g.serviceProfile(g.subject, servers[0])
		p.clients = servers
		p.usual = 1 / float64(len(servers))
		p.hours = [2]float64{0, 24}
		p.weekend = 0.8
		p.perDay = float64(r.between(100, 1500))
		p.from = func() string { return pick(r, senders) }
		p.rcpts = func() []rcpt { return g.ordinaryRcpts("") }
		g.activity(p, g.logStart, event)
		// a nightly batch job three times the usual volume
		busy := p
		busy.perDay *= 3
		g.activity(busy, event, event.Add(6*time.Hour))
		g.activity(p, event.Add(6*time.Hour), g.logEnd)
	case "bare-heavy":
		// a bare login (no domain), first seen hours before a big send of
		// the own domain from its one address
		g.subject = pick(r, []string{"jordy", "kassa", "buchhaltung", "shop"})
		addr := g.subject + "@" + d
		g.o.addUser(addr)
		ip := client{"unknown", ipIn(r, accessOctets)}
		p := g.serviceProfile(g.subject, ip)
		p.from = func() string { return addr }
		first := event.Add(-time.Duration(r.between(1, 14)) * time.Hour)
		for t := first; t.Before(event); t = t.Add(time.Duration(r.exp(20)) * time.Minute) {
			g.send(p, t, ip, []message{{t: t, from: addr, rcpts: g.ordinaryRcpts(addr), size: r.between(3000, 90000)}})
		}
		g.mailing(p, ip, event, r.between(600, 1400), float64(r.between(800, 1400)), func() string { return addr })
		for t := event.Add(time.Hour); t.Before(g.logEnd); t = t.Add(time.Duration(r.exp(40)) * time.Minute) {
			g.send(p, t, ip, []message{{t: t, from: addr, rcpts: g.ordinaryRcpts(addr), size: r.between(3000, 90000)}})
		}
	case "new-cluster":
		g.subject = pick(r, []string{"noreply", "billing", "notifications"}) + "@" + d
		old := ipIn(r, accessOctets)
		p := g.serviceProfile(g.subject, client{"out1." + d, old})
		p.clients = append(p.clients, client{"out2." + d, ipNear(r, old)})
		p.usual = 0.5
		p.hours = [2]float64{0, 24}
		p.weekend = 0.7
		p.perDay = float64(r.between(200, 2000))
		p.rcpts = func() []rcpt { return []rcpt{{g.randomLocal() + "@" + pick(r, freemail), delivered}} }
		g.activity(p, g.logStart, event)
		moved := p
		nw := ipIn(r, accessOctets)
		moved.clients = nil
		for i, k := 0, r.between(3, 6); i < k; i++ {
			moved.clients = append(moved.clients, client{fmt.Sprintf("mta%d.cluster.%s", i+1, d), ipNear(r, nw)})
		}
		moved.usual = 1 / float64(len(moved.clients))
		g.activity(moved, event, g.logEnd)
	default:
		return fmt.Errorf("case %s: unknown innocent style %q", g.c.ID, g.c.Style)
	}
	return nil
}

// serviceProfile is a program that sends from one machine, all day, as
// itself, without IMAP.
func (g *gen) serviceProfile(login string, c client) profile {
	p := g.userProfile(login)
	p.clients = []client{c}
	p.usual = 1
	p.imap = false
	p.evening = false
	p.weekend = 0.5
	p.hours = [2]float64{6, 22}
	p.rcpts = func() []rcpt { return g.ordinaryRcpts("") }
	p.owner = true
	return p
}

// mailing writes n messages of one recipient each at perHour from c, in
// sessions of many messages, with the sliver of unknown recipients and
// refusals any big list has.
func (g *gen) mailing(p profile, c client, at time.Time, n int, perHour float64, from func() string) {
	r := g.r
	gap := time.Duration(float64(time.Hour) / perHour)
	t := at
	for i := 0; i < n; {
		k := r.between(20, 100)
		if i+k > n {
			k = n - i
		}
		msgs := make([]message, k)
		for j := range msgs {
			out := delivered
			switch x := r.float(); {
			case x < 0.015:
				out = noSuchUser
			case x < 0.02:
				out = spamReject
			case x < 0.025:
				out = spamDefer
			}
			msgs[j] = message{t: t, from: from(), rcpts: []rcpt{{g.randomLocal() + "@" + pick(r, freemail), out}}, size: r.between(20000, 90000)}
			t = t.Add(gap)
		}
		g.send(p, msgs[0].t, c, msgs)
		i += k
	}
}
