package gridgen

import (
	"fmt"
	"time"
)

var bizWords = []string{"secure", "docs", "invoice", "pay", "portal", "cloud", "verify", "shop", "deal", "crypto", "pharma", "loan", "promo", "mail", "notify", "share", "bonus", "prime", "global", "trade"}
var tlds = []string{"com", "net", "xyz", "top", "site", "online", "info", "ru", "cn", "shop", "click", "biz"}

func (g *gen) foreignDomain() string {
	r := g.r
	return fmt.Sprintf("%s-%s%d.%s", pick(r, bizWords), pick(r, bizWords), r.intn(100), pick(r, tlds))
}

// takeover writes the subject's owner's traffic and the attack on it.
func (g *gen) takeover() {
	c, r := g.c, g.r
	g.subject = g.pickSubject()
	owner := g.userProfile(g.subject)
	owner.owner = true

	// what comes before the first message: failed logins, then an IMAP
	// login that checks the password
	var probeGap, failSpan time.Duration
	if c.IMAPProbe {
		probeGap = minutes(r.between(2, 90))
	}
	if c.FailedFirst {
		failSpan = minutes(r.between(10, 120))
	}
	var attack, ownerEnd time.Time
	switch c.StartAt {
	case "log-start":
		attack = g.logStart.Add(probeGap + failSpan + minutes(r.between(1, 20)))
	case "mid-log":
		attack = g.at(r.between(2, 5), r.float()*24)
	case "dormant":
		active := r.between(2, 3)
		ownerEnd = g.at(active, 0)
		attack = g.at(active+r.between(2, 4), r.float()*24)
	default:
		panic("gridgen: start position " + c.StartAt)
	}
	if !attack.After(g.logStart.Add(time.Minute)) {
		attack = g.logStart.Add(time.Minute)
	}
	limit := c.MaxMessages
	if limit <= 0 {
		limit = DefaultMaxMessages
	}
	n := int(float64(c.Rate)*c.Duration.Hours() + 0.5)
	if n < 1 {
		n = 1
	}
	dur := c.Duration
	if n > limit {
		n = limit
		dur = time.Duration(float64(n) / float64(c.Rate) * float64(time.Hour))
	}
	end := attack.Add(dur)
	g.logEnd = end.Add(minutes(r.between(120, 600)))
	if ownerEnd.IsZero() {
		ownerEnd = g.logEnd
	}
	g.start = attack
	if c.IMAPProbe {
		g.start = attack.Add(-probeGap)
	}
	g.activity(owner, g.logStart, ownerEnd)

	// the attacker's addresses, in a few hosting or botnet blocks
	ips := make([]client, c.NewIPs)
	var block string
	for i := range ips {
		if block == "" || r.chance(0.3) {
			block = ipIn(r, hostileOctets)
		}
		ips[i] = hostileClient(r, ipNear(r, block))
	}
	service := pick(r, []string{"submission", "submission", "smtps", ""})
	mech := pick(r, []string{"LOGIN", "PLAIN"})

	if c.FailedFirst {
		// guesses from the attacker's first addresses and others, ending
		// before the probe or the first message
		stop := g.start.Add(-30 * time.Second)
		for i, k := 0, r.between(3, 40); i < k; {
			t := stop.Add(-time.Duration(r.float() * float64(failSpan)))
			cl := ips[r.intn(len(ips))]
			if r.chance(0.4) {
				cl = hostileClient(r, ipIn(r, hostileOctets))
			}
			f := r.between(1, 3)
			g.w.session(t, service, cl, g.subject, mech, f, nil, g.o)
			i += f
		}
	}
	if c.IMAPProbe {
		g.w.imapLogin(g.start, g.subject, ips[0].ip, time.Duration(r.between(5, 60))*time.Second)
	}

	// the messages: evenly paced with jitter, grouped into sessions
	perSession := pick(r, []int{1, 1, 3, 10})
	maxRcpt := pick(r, []int{1, 3, 10, 40})
	senderDomain := g.foreignDomain()
	invented := []string{"info", "billing", "noreply", "service", "accounts", "admin", "payroll", "secure-mail", "support", "hr", "invoice", "docs"}
	// refusals begin once the server's address is listed: after a share
	// of the attack or some minutes
	listed := attack.Add(time.Duration(float64(dur) * 0.05)).Add(minutes(r.between(0, 10)))
	rejectShare := 0.2 + 0.6*r.float()
	ipNext := 0
	for i := 0; i < n; {
		k := r.between(1, perSession)
		if i+k > n {
			k = n - i
		}
		cl := ips[ipNext%len(ips)]
		ipNext++
		if ipNext > len(ips) && r.chance(0.5) {
			cl = ips[r.intn(len(ips))]
		}
		msgs := make([]message, 0, k)
		for j := 0; j < k; j++ {
			var t time.Time
			switch {
			case i+j == 0:
				t = attack
			case j == 0:
				t = attack.Add(time.Duration((float64(i) + r.float() - 0.5) / float64(n) * float64(dur)))
			default: // a session's messages follow each other
				t = msgs[j-1].t.Add(time.Duration(800+r.intn(3000)) * time.Millisecond)
			}
			var from string
			switch c.Style {
			case "own":
				from = g.subject
			case "colleagues":
				from = g.subject
				for from == g.subject {
					from = pick(r, g.o.users)
				}
			case "invented":
				lp := pick(r, invented)
				if r.chance(0.5) {
					lp = g.randomLocal() + fmt.Sprint(r.intn(10))
				}
				from = lp + "@" + g.o.domain
			case "one-foreign":
				from = g.randomLocal() + "@" + senderDomain
			case "many-foreign":
				from = g.randomLocal() + "@" + g.foreignDomain()
			}
			rc := make([]rcpt, r.between(1, maxRcpt))
			for x := range rc {
				dom := pick(r, freemail)
				if r.chance(0.3) {
					dom = g.foreignDomain()
				}
				rc[x] = rcpt{g.randomLocal() + "@" + dom, delivered}
				if c.Rejections {
					switch {
					case r.chance(0.08):
						rc[x].out = noSuchUser
					case !t.Before(listed) && r.chance(rejectShare):
						rc[x].out = spamReject
						if r.chance(0.25) {
							rc[x].out = spamDefer
						}
						g.rejected++
					}
				}
			}
			msgs = append(msgs, message{t: t, from: from, rcpts: rc, size: r.between(1500, 30000)})
			g.attackMsgs = append(g.attackMsgs, t)
		}
		g.attackIPs[cl.ip] = true
		g.w.session(msgs[0].t.Add(-time.Duration(200+r.intn(800))*time.Millisecond), service, cl, g.subject, mech, 0, msgs, g.o)
		i += k
	}
}
