package loggen

type takeoverKind int

const (
	tkPhished takeoverKind = iota // no failed logins first, one address, medium volume
	tkLoud                        // guessed password, burst from many addresses
	tkSlow                        // a few dozen messages an hour for many hours
	tkHeavy                       // victim normally sends a lot; partly via the content filter
)

func (k takeoverKind) String() string {
	switch k {
	case tkPhished:
		return "phished"
	case tkLoud:
		return "loud-burst"
	case tkSlow:
		return "low-and-slow"
	}
	return "heavy-sender"
}

type takeover struct {
	kind       takeoverKind
	t0         int64 // planned first attacker login
	phaseStart int64 // when the scenario's first line (maybe a failure) happens
	end        int64
	victim     *user
	ips        []string
	first      int64 // actual first successful attacker login; -1 before
	firstMsg   int64 // first attacker message; -1 before
	msgs       int
	done       bool
}

func (tk *takeover) noteSuccess(t int64) {
	if tk.first < 0 || t < tk.first {
		tk.first = t
	}
}

// ip is the address of the attacker's s-th session: every address in turn
// first, so that each one logs in, then any.
func (tk *takeover) ip(r *rng, s int) string {
	if s < len(tk.ips) {
		return tk.ips[s]
	}
	return pick(r, tk.ips)
}

func (tk *takeover) noteMessage(t int64) {
	tk.noteSuccess(t)
	if tk.firstMsg < 0 || t < tk.firstMsg {
		tk.firstMsg = t
	}
	tk.msgs++
}

// planTakeovers spreads the takeovers over the planned timeline, so that
// every victim has days of normal activity first.
func (g *gen) planTakeovers() {
	r := g.r
	days := float64(g.plannedEnd-g.start) / float64(usDay)
	n := 4 + max(0, int((days-16)/8))
	order := []takeoverKind{tkPhished, tkLoud, tkSlow, tkHeavy}
	for i := 0; i < n; i++ {
		tk := &takeover{kind: order[i%len(order)], first: -1, firstMsg: -1}
		f := 0.35 + 0.55*float64(i)/float64(n-1)
		day := g.start + int64(f*days)*usDay
		var hour, pre, dur int
		switch tk.kind {
		case tkLoud:
			hour, pre, dur = r.between(1, 4), 2, 3
		case tkSlow:
			hour, pre, dur = r.between(7, 10), 0, 18
		case tkPhished:
			hour, pre, dur = r.between(10, 15), 0, 5
		case tkHeavy:
			hour, pre, dur = r.between(11, 14), 1, 7
		}
		tk.t0 = day + int64(hour)*usHour + r.dur(usHour)
		tk.phaseStart = tk.t0 - int64(pre)*usHour
		tk.end = tk.t0 + int64(dur)*usHour
		g.takeovers = append(g.takeovers, tk)
		g.lastTakeoverEnd = max(g.lastTakeoverEnd, tk.end)
	}
}

// chooseVictim picks a user of the right habit with a baseline of sent mail.
func (g *gen) chooseVictim(heavy bool) *user {
	r := g.r
	for _, need := range []int{3, 1, 0} {
		var cands []*user
		for _, u := range g.w.users {
			if u.victim || (u.kind == kindHeavy) != heavy || u.kind == kindTraveller || u.sent < need {
				continue
			}
			cands = append(cands, u)
		}
		if len(cands) > 0 {
			u := pick(r, cands)
			u.victim = true
			return u
		}
	}
	// Not reachable with the populations buildWorld makes; fall back to anyone.
	u := pick(r, g.w.users)
	u.victim = true
	return u
}

func (g *gen) attackerIP() string {
	if g.r.chance(0.15) {
		return ipv6(g.r, pick(g.r, attackerV6))
	}
	return ipv4(g.r, attackerOctets)
}

// spam returns a builder for messages with forged senders.
func (g *gen) spam(level uint8, minR, maxR int, filter float64) func(m *message) {
	r := g.r
	return func(m *message) {
		m.sender = g.forgedSender(true)
		m.msgID = g.localPart() + "." + g.shortID(r.dur(usSec)) + "@" + domainOf(m.sender)
		m.size = 1500 + r.intn(12000)
		m.spam = level
		m.filter = r.chance(filter)
		m.rcpts = m.rcpts[:0]
		for k := r.between(minR, maxR); k > 0; k-- {
			rc := g.randomExternal(0.08)
			m.rcpts = append(m.rcpts, rc)
		}
	}
}

func (g *gen) spamTag() string {
	if g.r.chance(0.5) {
		return tagSmtps
	}
	return tagSubmission
}

func (g *gen) runTakeover(tk *takeover) {
	r := g.r
	switch tk.kind {
	case tkLoud:
		v := g.chooseVictim(false)
		tk.victim = v
		// Guessing from 3-4 addresses in the two hours before.
		for i := r.between(3, 4); i > 0; i-- {
			ip := ipv4(r, attackerOctets)
			t := tk.phaseStart + r.dur(90*usMin)
			for s := r.between(2, 5); s > 0 && t < tk.t0-usMin; s-- {
				names := []string{v.login}
				if r.chance(0.3) {
					names = append(names, pick(r, bogusLocal)+"@"+orgDomain)
				}
				t = g.failSession(t, g.spamTag(), ip, names) + int64(r.between(20, 300))*usSec
			}
		}
		first := g.attackerIP()
		tk.ips = append(tk.ips, first)
		// The first login sends one test message.
		g.authSession(tk.t0, tagSubmission, first, v.login, "LOGIN", 1, tk, func(m *message) {
			g.spam(2, 1, 1, 0)(m)
			m.sender = v.login
		})
		for i := r.between(9, 14); i > 0; i-- {
			tk.ips = append(tk.ips, g.attackerIP())
		}
		total := min(3000, max(200, int(g.scale*float64(r.between(1000, 3000)))))
		bs := tk.t0 + int64(r.between(5, 20))*usMin
		w := int64(r.between(20, 60)) * usMin
		most := max(5, total/(len(tk.ips)+2)) // enough sessions for every address
		for s := 0; tk.msgs < total; s++ {
			n := min(r.between(3, most), total-tk.msgs)
			g.authSession(bs+r.dur(w), g.spamTag(), tk.ip(r, s), v.login, "LOGIN", n, tk, g.spam(2, 1, 8, 0))
		}
	case tkSlow:
		v := g.chooseVictim(false)
		tk.victim = v
		for i := r.between(2, 4); i > 0; i-- {
			tk.ips = append(tk.ips, g.attackerIP())
		}
		hours, rate := 8, 20
		if g.scale >= 0.5 {
			hours, rate = r.between(8, 16), r.between(20, 50)
		}
		total := hours * rate
		t := tk.t0
		for s := 0; tk.msgs < total; s++ {
			n := min(r.between(1, 3), total-tk.msgs)
			g.authSession(t, g.spamTag(), tk.ip(r, s), v.login, "LOGIN", n, tk, g.spam(1, 1, 3, 0))
			t = tk.t0 + r.dur(int64(hours)*usHour)
		}
	case tkPhished:
		v := g.chooseVictim(false)
		tk.victim = v
		ip := g.attackerIP()
		tk.ips = []string{ip}
		g.imapLogin(tk.t0, v.login, ip, tk)
		total := min(400, max(60, int(g.scale*float64(r.between(100, 400)))))
		span := int64(r.between(60, 180)) * usMin
		for t := tk.t0 + 20*usMin; t < tk.t0+span; t += int64(r.between(20, 40)) * usMin {
			g.imapLogin(t, v.login, ip, tk)
		}
		t := tk.t0 + int64(r.between(2, 6))*usMin
		for tk.msgs < total {
			n := min(r.between(3, 10), total-tk.msgs)
			g.authSession(t, tagSubmission, ip, v.login, "PLAIN", n, tk, g.spam(1, 1, 5, 0))
			t = tk.t0 + 2*usMin + r.dur(span)
		}
	case tkHeavy:
		v := g.chooseVictim(true)
		tk.victim = v
		bf := ipv4(r, attackerOctets)
		g.failSession(tk.phaseStart+r.dur(20*usMin), tagSmtps, bf, []string{v.login, v.login})
		for i := 0; i < 2; i++ {
			tk.ips = append(tk.ips, g.attackerIP())
		}
		total := min(300, max(80, int(g.scale*v.weight*3)))
		span := int64(r.between(180, 300)) * usMin
		t := tk.t0
		for s := 0; tk.msgs < total; s++ {
			n := min(r.between(1, 5), total-tk.msgs)
			g.authSession(t, tagSubmission, tk.ip(r, s), v.login, "PLAIN", n, tk, g.spam(1, 1, 6, 0.5))
			t = tk.t0 + r.dur(span)
		}
	}
}
