package detect

import (
	"fmt"
	"testing"
	"time"
)

// FuzzState drives one State with a random sequence of messages, failed
// logins, rejections and bounces at random times (backwards too, and
// years apart) with hostile figures, and checks what must hold at every
// step: no panic; the verdict and the score never fall; a compromised
// login has a start; the snapshot's rules add up to its score and make
// its verdict; the shortcut for a quiet window agrees with the whole
// table; the state survives its serialisable form.
func FuzzState(f *testing.F) {
	f.Add([]byte("\x00\x10\x01\x02\x03\x00\x20\x05\x06\x07\x02\x00\x00\x00\x00\x03\x00\x00\x00\x00"))
	f.Add([]byte("\x00\x01\x11\x22\x33\x00\x01\x12\x23\x34\x00\x01\x13\x24\x35\x00\x01\x14\x25\x36\x01\x80\x01\x00\x00\x02\x01\x00\x00\x00"))
	f.Add([]byte("\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x80\x80\x80\x80"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig()
		cfg.Window = time.Hour // the window turns over within a short input
		cfg.MaxTracked = 64
		var traced []TraceEvent
		cfg.Trace = func(_ *State, e TraceEvent) { traced = append(traced, e) }
		s := NewState()
		base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		now := base
		was, score := OK, 0
		for step := 0; len(data) >= 5 && step < 200; step++ {
			op, a, b, c, d := data[0]%4, data[1], data[2], data[3], data[4]
			data = data[5:]
			// a step of -8 to +119 minutes, or a jump of years either way
			dt := time.Duration(int(a)-8) * time.Minute
			if a == 0xff {
				dt = time.Duration(int(b)-128) * 24 * 365 * time.Hour
			}
			now = now.Add(dt)
			switch op {
			case 0:
				m := Message{
					Time: now, IP: fmt.Sprintf("203.0.113.%d", b%16), Domain: fmt.Sprintf("d%d.example", c%12),
					Foreign: c%3 != 0, Rcpts: int(d) * int(d) * int(d) * 1000, PriorFailures: int(d%4) << (8 * (d % 5)),
					SharedIP: d&1 != 0, LogStart: base,
				}
				if b&0x80 != 0 {
					m.IP = fmt.Sprintf("2001:db8:%x::%x", c, d)
				}
				if b&0x40 != 0 {
					m.EarlierLogin = now.Add(-time.Duration(c) * time.Minute)
				}
				s.Message(&cfg, m)
			case 1:
				s.Failure(&cfg, now, fmt.Sprintf("198.51.100.%d", b%8))
			case 2:
				s.Rejection(&cfg, now)
			case 3:
				s.Bounce(&cfg, now)
			}
			v := s.Verdict()
			if v < was {
				t.Fatalf("step %d: verdict fell from %v to %v", step, was, v)
			}
			if s.Score() < score {
				t.Fatalf("step %d: score fell from %d to %d", step, score, s.Score())
			}
			was, score = v, s.Score()
			if v == Compromised && s.Start().IsZero() {
				t.Fatalf("step %d: compromised without a start", step)
			}
			best := s.Best()
			sum, mask := 0, uint64(0)
			for _, fr := range best.Rules {
				sum += fr.Points
				mask |= 1 << ruleIndex[fr.Name]
			}
			if best.Rules != nil && sum != best.Score {
				t.Fatalf("step %d: the snapshot's rules %v add up to %d, its score is %d", step, best.Rules, sum, best.Score)
			}
			if v == Compromised && verdictOf(&cfg, best.Score, mask) != Compromised {
				t.Fatalf("step %d: compromised on rules %v (score %d)", step, best.Rules, best.Score)
			}
			if s.ev != nil {
				s1, m1 := apply(&cfg.Thresholds, s.ev)
				s2, m2 := applyAll(&cfg.Thresholds, s.ev)
				if s1 != s2 || m1 != m2 {
					t.Fatalf("step %d: the quiet shortcut gives %d %v, the table %d %v", step, s1, ruleNames(m1), s2, ruleNames(m2))
				}
			}
		}
		for i := 1; i < len(traced); i++ {
			if traced[i].Verdict < traced[i-1].Verdict {
				t.Fatalf("traced verdict fell: %+v then %+v", traced[i-1], traced[i])
			}
		}
		d := s.Data()
		s2, err := d.State()
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if s2.Verdict() != s.Verdict() || s2.Score() != s.Score() {
			t.Fatalf("round trip: %v %d, want %v %d", s2.Verdict(), s2.Score(), s.Verdict(), s.Score())
		}
	})
}
