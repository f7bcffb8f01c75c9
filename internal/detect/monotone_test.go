package detect

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// window describes a login's window over a fixed history: n messages
// spread evenly over span, from k new IPs in turn, a forged share of them
// (forgedPct %) with senders of d foreign domains, r remote spam
// rejections and b bounces during the run, and f failed logins from the
// first new IP just before it.
type window struct {
	n, k, d, forgedPct, r, b, f int
	span                        time.Duration
}

// run feeds a week of ordinary history (a few messages a day from the
// office IP, as its own domain) and then the window, and returns the
// strongest verdict and the highest score.
func (w window) run() (Verdict, int) {
	cfg := DefaultConfig()
	s := NewState()
	t := t0
	for day := range 7 {
		for i := range 4 {
			s.Message(&cfg, Message{Time: t.Add(time.Duration(day)*24*time.Hour + time.Duration(i)*2*time.Hour), IP: "198.51.100.10", Domain: "corp.example"})
		}
	}
	start := t.Add(7*24*time.Hour + 10*time.Hour)
	ip := func(i int) string {
		if w.k == 0 {
			return "198.51.100.10"
		}
		return fmt.Sprintf("203.0.113.%d", i%w.k)
	}
	for i := range w.f {
		s.Failure(&cfg, start.Add(-time.Duration(w.f-i)*time.Second), ip(0))
	}
	// the run's events in time order: messages, then the rejections and
	// bounces each after the message they follow
	type ev struct {
		at   time.Time
		kind int
	}
	var evs []ev
	for i := range w.n {
		evs = append(evs, ev{start.Add(w.span * time.Duration(i) / time.Duration(max(w.n, 1))), 0})
	}
	for j := range w.r {
		evs = append(evs, ev{start.Add(w.span*time.Duration(j)/time.Duration(w.r) + time.Second), 1})
	}
	for j := range w.b {
		evs = append(evs, ev{start.Add(w.span*time.Duration(j)/time.Duration(w.b) + 2*time.Second), 2})
	}
	sortEvents := func() {
		for i := 1; i < len(evs); i++ {
			for j := i; j > 0 && evs[j].at.Before(evs[j-1].at); j-- {
				evs[j], evs[j-1] = evs[j-1], evs[j]
			}
		}
	}
	sortEvents()
	m := 0
	for _, e := range evs {
		switch e.kind {
		case 0:
			msg := Message{Time: e.at, IP: ip(m), Domain: "corp.example", Rcpts: 1}
			if m%100 < w.forgedPct && w.d > 0 {
				msg.Domain, msg.Foreign = fmt.Sprintf("forged%d.example", m%w.d), true
			}
			if m == 0 && w.k > 0 {
				msg.PriorFailures = w.f
			}
			s.Message(&cfg, msg)
			m++
		case 1:
			s.Rejection(&cfg, e.at)
		case 2:
			s.Bounce(&cfg, e.at)
		}
	}
	return s.Verdict(), s.Score()
}

// TestMoreEvidenceNeverLowersTheVerdict: with the history held fixed, more
// spam evidence in the window (more messages in the same span, more new
// IPs, more forged domains, more rejections, bounces or failed logins
// first) never gives a lower verdict, on random windows.
func TestMoreEvidenceNeverLowersTheVerdict(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	more := []struct {
		name string
		up   func(w *window, k int)
	}{
		{"messages", func(w *window, k int) { w.n += k }},
		{"new IPs", func(w *window, k int) { w.k += k }},
		{"forged domains", func(w *window, k int) { w.d += k }},
		{"rejections", func(w *window, k int) { w.r += k }},
		{"bounces", func(w *window, k int) { w.b += k }},
		{"failed logins first", func(w *window, k int) { w.f += k }},
	}
	// more messages once hid a few rejections as "a sliver of a big
	// mailing" even when the mail was forged from new IPs
	sliver := window{n: 220, k: 3, d: 2, forgedPct: 100, r: 3, span: 20 * time.Hour}
	denser := sliver
	denser.n = 230
	if v0, _ := sliver.run(); v0 != Compromised {
		t.Errorf("%+v: %v, want compromised", sliver, v0)
	} else if v, s := denser.run(); v < v0 {
		t.Errorf("%+v: %v (score %d), lower than with fewer messages", denser, v, s)
	}
	violations := 0
	for range 200 {
		w := window{
			n: 1 + rng.IntN(300), k: rng.IntN(15), d: rng.IntN(15), forgedPct: []int{0, 50, 80, 100}[rng.IntN(4)],
			r: rng.IntN(20), b: rng.IntN(20), f: rng.IntN(15),
			span: time.Duration(10+rng.IntN(24*60)) * time.Minute,
		}
		if w.d == 0 {
			w.forgedPct = 0
		}
		v0, s0 := w.run()
		for _, m := range more {
			w2 := w
			m.up(&w2, 1+rng.IntN(10))
			if m.name == "forged domains" && w2.forgedPct == 0 {
				w2.forgedPct = 100 // a first forged domain: the run sends as it
			}
			if v, s := w2.run(); v < v0 {
				violations++
				if violations <= 10 {
					t.Errorf("more %s lowered the verdict: %+v: %v (score %d); %+v: %v (score %d)", m.name, w, v0, s0, w2, v, s)
				}
			}
		}
	}
	if violations > 10 {
		t.Errorf("%d violations in all", violations)
	}
}
