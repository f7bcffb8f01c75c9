package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

type feed struct {
	cfg Config
	s   *State
}

func newFeed() *feed {
	c := DefaultConfig()
	return &feed{cfg: c, s: NewState()}
}

func (f *feed) msg(t time.Time, ip, domain string, foreign bool) {
	f.s.Message(&f.cfg, Message{Time: t, IP: ip, Domain: domain, Foreign: foreign})
}

// baseline: a user sending 3 messages a working day from its office IP for a week
func (f *feed) baseline(days int) time.Time {
	t := t0
	for d := 0; d < days; d++ {
		for i := 0; i < 3; i++ {
			f.msg(t.Add(time.Duration(d)*24*time.Hour+time.Duration(i)*2*time.Hour), "198.51.100.10", "corp.example", false)
		}
	}
	return t0.Add(time.Duration(days) * 24 * time.Hour)
}

func TestLoudTakeover(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	for i := 0; i < 25; i++ {
		f.s.Failure(&f.cfg, at.Add(time.Duration(i)*time.Second), fmt.Sprintf("203.0.113.%d", i%4))
	}
	start := at.Add(time.Minute)
	for i := 0; i < 120; i++ {
		f.msg(start.Add(time.Duration(i)*750*time.Millisecond), fmt.Sprintf("203.0.113.%d", 10+i%12), fmt.Sprintf("spam%d.example", i%61), true)
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Fatalf("verdict %v, want compromised (score %d)", v, f.s.Score())
	}
	if !f.s.Start().Equal(start) {
		t.Errorf("start %v, want %v", f.s.Start(), start)
	}
	b := f.s.Best()
	if b.ForeignDomains != 61 || b.NewIPs != 12 || b.Failures != 25 {
		t.Errorf("snapshot %+v", b)
	}
	r := Reasons(b, time.UTC)
	if len(r) < 4 {
		t.Errorf("reasons %q", r)
	}
}

func TestBulkSenderIsOK(t *testing.T) {
	f := newFeed()
	// 2,000 messages a day, steady, one IP, own domain, for ten days
	for d := 0; d < 10; d++ {
		for i := 0; i < 2000; i++ {
			f.msg(t0.Add(time.Duration(d)*24*time.Hour+time.Duration(i)*40*time.Second), "192.0.2.5", "corp.example", false)
		}
	}
	if v := f.s.Verdict(); v != OK {
		t.Fatalf("bulk sender: %v (score %d, %+v)", v, f.s.Score(), f.s.Best())
	}
}

func TestBulkSenderFirstSeenInBurstIsOK(t *testing.T) {
	f := newFeed()
	for i := 0; i < 5000; i++ {
		f.msg(t0.Add(time.Duration(i)*time.Second), "192.0.2.5", "corp.example", false)
	}
	if v := f.s.Verdict(); v != OK {
		t.Fatalf("new bulk sender: %v (score %d)", v, f.s.Score())
	}
}

func TestTravellerIsOK(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	// a week on the road: a new hotel or mobile IP every few hours, normal volume, own domain
	for i := 0; i < 40; i++ {
		f.msg(at.Add(time.Duration(i)*4*time.Hour), fmt.Sprintf("100.%d.%d.1", 64+i%50, i), "corp.example", false)
	}
	if v := f.s.Verdict(); v != OK {
		t.Fatalf("traveller: %v (score %d %+v)", v, f.s.Score(), f.s.Best())
	}
}

func TestOneForeignDomainIsOK(t *testing.T) {
	// a user who sends with a private address through the work server
	f := newFeed()
	at := f.baseline(7)
	for i := 0; i < 30; i++ {
		f.msg(at.Add(time.Duration(i)*20*time.Minute), "198.51.100.10", "gmail.com", true)
	}
	if v := f.s.Verdict(); v == Compromised {
		t.Fatalf("one foreign domain from a known IP: %v", v)
	}
}

func TestLowAndSlow(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	ips := []string{"41.182.250.205", "105.134.29.193", "41.182.250.77"}
	n := 0
	for h := 0; h < 8; h++ {
		for i := 0; i < 20; i++ {
			f.msg(at.Add(time.Duration(h)*time.Hour+time.Duration(i)*3*time.Minute), ips[n%3], fmt.Sprintf("d%d.example", n), true)
			n++
		}
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Fatalf("low and slow: %v (score %d %+v)", v, f.s.Score(), f.s.Best())
	}
	if !f.s.Start().Equal(at) {
		t.Errorf("start %v want %v", f.s.Start(), at)
	}
}

// TestLowAndSlowOneForgedDomain: two dozen messages an hour from three new
// IPs, every one with the same forged sender domain, for a day.
func TestLowAndSlowOneForgedDomain(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	ips := []string{"41.182.250.205", "105.134.29.193", "41.182.250.77"}
	for i := 0; i < 24*24; i++ {
		f.msg(at.Add(time.Duration(i)*150*time.Second), ips[i%3], "bank-secure.example", true)
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Errorf("verdict %v, want compromised: %v", v, Reasons(f.s.Best(), time.UTC))
	}
}

func TestOwnSenderTakeoverByVolumeAndIPs(t *testing.T) {
	// spammers that use the login's own address as sender: volume against
	// the baseline and many new IPs make the case
	f := newFeed()
	at := f.baseline(7)
	for i := 0; i < 300; i++ {
		f.msg(at.Add(time.Duration(i)*10*time.Second), fmt.Sprintf("203.0.113.%d", i%15), "corp.example", false)
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Fatalf("own-sender takeover: %v (score %d %+v)", v, f.s.Score(), f.s.Best())
	}
}

func TestFailuresAloneNeverFlag(t *testing.T) {
	f := newFeed()
	for i := 0; i < 10000; i++ {
		f.s.Failure(&f.cfg, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("203.0.%d.%d", i/250, i%250))
	}
	f.s.Rejection(&f.cfg, t0.Add(3*time.Hour))
	if v := f.s.Verdict(); v != OK {
		t.Fatalf("failures only: %v", v)
	}
	// and a normal message from the usual IP afterwards does not flag either
	f.msg(t0.Add(4*time.Hour), "198.51.100.10", "corp.example", false)
	if v := f.s.Verdict(); v == Compromised {
		t.Fatalf("failures and one normal message: %v", v)
	}
}

func TestDeterministic(t *testing.T) {
	run := func() (Verdict, int, time.Time, Snapshot) {
		f := newFeed()
		at := f.baseline(3)
		for i := 0; i < 200; i++ {
			f.msg(at.Add(time.Duration(i)*time.Second), fmt.Sprintf("203.0.113.%d", i%7), fmt.Sprintf("x%d.example", i%9), i%3 != 0)
		}
		return f.s.Verdict(), f.s.Score(), f.s.Start(), f.s.Best()
	}
	v1, s1, st1, b1 := run()
	v2, s2, st2, b2 := run()
	if v1 != v2 || s1 != s2 || !st1.Equal(st2) || fmt.Sprint(b1) != fmt.Sprint(b2) {
		t.Fatalf("two runs differ: %v %d %v / %v %d %v", v1, s1, st1, v2, s2, st2)
	}
}

func TestWindowForgets(t *testing.T) {
	f := newFeed()
	for i := 0; i < 5; i++ {
		f.msg(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("203.0.113.%d", i), fmt.Sprintf("x%d.example", i), true)
	}
	f.msg(t0.Add(48*time.Hour), "198.51.100.10", "corp.example", false)
	if n := len(f.s.win) - f.s.winHead; n != 1 {
		t.Errorf("window holds %d messages after two days, want 1", n)
	}
	if len(f.s.domains) != 0 || f.s.foreign != 0 || len(f.s.newIPs)-f.s.newHead != 1 {
		t.Errorf("window state not expired: domains %d foreign %d newIPs %d", len(f.s.domains), f.s.foreign, len(f.s.newIPs)-f.s.newHead)
	}
}

func TestTrustedNetworkNeverNew(t *testing.T) {
	f := newFeed()
	f.cfg.TrustedNets = mustPrefixes("203.0.113.0/24")
	for i := 0; i < 300; i++ {
		f.msg(t0.Add(time.Duration(i)*10*time.Second), fmt.Sprintf("203.0.113.%d", i%50), "corp.example", false)
	}
	if n := len(f.s.newIPs) - f.s.newHead; n != 0 {
		t.Errorf("%d new IPs from a trusted network", n)
	}
}

// TestBeforeFiguresStayWithTheStart: once a takeover's start is fixed, the
// evidence keeps describing the login's activity before that start, however
// long the spam goes on ("before 14:02 it sent 3 messages/hour from 1 IP").
// Later snapshots used to count the spam itself as the activity "before".
func TestBeforeFiguresStayWithTheStart(t *testing.T) {
	f := newFeed()
	f.cfg.Window = 2 * time.Hour // so that the window soon moves past the start
	at := f.baseline(7)
	start := at.Add(time.Minute)
	// hours of spam, heavier every hour, from new addresses each hour
	for h := 0; h < 8; h++ {
		for i := 0; i < 60*(h+1); i++ {
			f.msg(start.Add(time.Duration(h)*time.Hour+time.Duration(i)*time.Second),
				fmt.Sprintf("203.0.%d.%d", 113+h%100, i%12), fmt.Sprintf("spam%d.example", i%61), true)
		}
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Fatalf("verdict %v, want compromised", v)
	}
	b := f.s.Best()
	if !b.Start.Equal(start) {
		t.Fatalf("start %v, want %v", b.Start, start)
	}
	if !b.At.After(start.Add(f.cfg.Window)) {
		t.Fatalf("best snapshot taken at %v: the test wants one after the window moved on", b.At)
	}
	if b.MessagesBefore != 21 || b.IPsBefore != 1 {
		t.Errorf("before the start: %d messages from %d IPs, want 21 from 1", b.MessagesBefore, b.IPsBefore)
	}
	if want := start.Sub(t0).Hours(); b.HoursBefore != want {
		t.Errorf("hours before %.2f, want %.2f", b.HoursBefore, want)
	}
}

// TestTrimFollowsTheWindow: a login that sent a burst and went quiet gives
// its window's memory back when trimmed, and trimming changes nothing the
// detector decides afterwards.
func TestTrimFollowsTheWindow(t *testing.T) {
	a, b := newFeed(), newFeed()
	for _, f := range []*feed{a, b} {
		at := f.baseline(3)
		for i := 0; i < 3000; i++ {
			f.msg(at.Add(time.Duration(i)*time.Second), fmt.Sprintf("203.0.113.%d", i%20), fmt.Sprintf("spam%d.example", i%50), true)
		}
	}
	quiet := t0.Add(10 * 24 * time.Hour)
	a.s.Trim(&a.cfg, quiet)
	if n := cap(a.s.win) + cap(a.s.newIPs) + cap(a.s.fail); n != 0 {
		t.Errorf("after a quiet week the trimmed state holds %d entries", n)
	}
	if cap(b.s.win) < 3000 {
		t.Fatalf("the untrimmed window holds %d: the test does not show the trim", cap(b.s.win))
	}
	for _, f := range []*feed{a, b} {
		for i := 0; i < 50; i++ {
			f.msg(quiet.Add(time.Duration(i)*time.Minute), "198.51.100.10", "corp.example", false)
		}
	}
	if a.s.Verdict() != b.s.Verdict() || a.s.Score() != b.s.Score() || !a.s.Start().Equal(b.s.Start()) {
		t.Errorf("trimmed %v/%d/%v, untrimmed %v/%d/%v", a.s.Verdict(), a.s.Score(), a.s.Start(), b.s.Verdict(), b.s.Score(), b.s.Start())
	}
	if fmt.Sprint(a.s.Best()) != fmt.Sprint(b.s.Best()) || fmt.Sprint(a.s.counts(&a.cfg, quiet.Add(time.Hour))) != fmt.Sprint(b.s.counts(&b.cfg, quiet.Add(time.Hour))) {
		t.Errorf("trimmed and untrimmed states differ:\n%+v\n%+v", a.s.Best(), b.s.Best())
	}
}

// TestFailuresCountedOnceInReasons: failed logins for this name from the
// address that then logged in are both the name's failures and the
// address's prior failures; the reasons count each attempt once, and add
// the address's attempts at other names.
func TestFailuresCountedOnceInReasons(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	for i := 0; i < 12; i++ {
		f.s.Failure(&f.cfg, at.Add(time.Duration(i)*time.Second), "203.0.113.5")
	}
	// the correlator reports 12 + 5 failures from the address: 5 tried
	// other names
	for i := 0; i < 120; i++ {
		f.s.Message(&f.cfg, Message{Time: at.Add(time.Minute + time.Duration(i)*time.Second), IP: "203.0.113.5",
			Domain: fmt.Sprintf("spam%d.example", i%40), Foreign: true, PriorFailures: 17})
	}
	if f.s.Verdict() != Compromised {
		t.Fatalf("verdict %v", f.s.Verdict())
	}
	r := strings.Join(Reasons(f.s.Best(), time.UTC), "\n")
	if !strings.Contains(r, "17 failed logins from 1 IP, then success from 203.0.113.5") {
		t.Errorf("reasons:\n%s\nwant 17 failed logins (12 for the name, 5 for others)", r)
	}
}

// TestFailuresCountedOnceAfterIMAPLogin: when the address first logged in
// through IMAP, its failures between that login and its first message are
// in the correlator's prior failures and the name's own; they count once.
func TestFailuresCountedOnceAfterIMAPLogin(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	for i := 0; i < 5; i++ { // before the IMAP login
		f.s.Failure(&f.cfg, at.Add(time.Duration(i)*time.Second), "203.0.113.5")
	}
	imap := at.Add(time.Minute)
	for i := 0; i < 3; i++ { // after it, before the first message
		f.s.Failure(&f.cfg, imap.Add(time.Duration(i+1)*time.Minute), "203.0.113.5")
	}
	first := imap.Add(10 * time.Minute)
	for i := 0; i < 120; i++ {
		f.s.Message(&f.cfg, Message{Time: first.Add(time.Duration(i) * time.Second), IP: "203.0.113.5",
			Domain: fmt.Sprintf("spam%d.example", i%40), Foreign: true, PriorFailures: 8, EarlierLogin: imap})
	}
	if f.s.Verdict() != Compromised {
		t.Fatalf("verdict %v", f.s.Verdict())
	}
	if got := f.s.Best().Start; !got.Equal(imap) {
		t.Errorf("start %v, want the IMAP login %v", got, imap)
	}
	r := strings.Join(Reasons(f.s.Best(), time.UTC), "\n")
	if !strings.Contains(r, "8 failed logins from 1 IP") {
		t.Errorf("reasons:\n%s\nwant 8 failed logins", r)
	}
}

// TestFailureInTheLoginsSecond: a failure logged in the same second as the
// login that follows it is counted once too.
func TestFailureInTheLoginsSecond(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	for i := 0; i < 12; i++ {
		f.s.Failure(&f.cfg, at.Add(time.Duration(i)*time.Second), "203.0.113.5")
	}
	first := at.Add(11 * time.Second) // the last failure's second
	for i := 0; i < 120; i++ {
		f.s.Message(&f.cfg, Message{Time: first.Add(time.Duration(i) * time.Second), IP: "203.0.113.5",
			Domain: fmt.Sprintf("spam%d.example", i%40), Foreign: true, PriorFailures: 12})
	}
	r := strings.Join(Reasons(f.s.Best(), time.UTC), "\n")
	if !strings.Contains(r, "12 failed logins from 1 IP") {
		t.Errorf("reasons:\n%s\nwant 12 failed logins", r)
	}
}

// TestFirstAddressIsNotNew: a login whose first message is in the log (the
// log starts there, or it was dormant) has no history to call its address
// new: a contact form relaying visitors' addresses from one server, a few
// an hour, is not a takeover.
func TestFirstAddressIsNotNew(t *testing.T) {
	f := newFeed()
	for i := 0; i < 6*24*6; i++ { // 6 an hour for 6 days, from the log's start
		f.s.Message(&f.cfg, Message{Time: t0.Add(time.Duration(i) * 10 * time.Minute), IP: "198.51.100.20",
			Domain: fmt.Sprintf("visitor%d.example", i%200), Foreign: true, LogStart: t0})
	}
	if v := f.s.Verdict(); v == Compromised {
		t.Errorf("verdict %v for a steady form relay: %v", v, Reasons(f.s.Best(), time.UTC))
	}
	if n := f.s.Best().NewIPs; n != 0 {
		t.Errorf("%d new IPs, want 0", n)
	}
}

// TestDormantLoginBurst: a login first seen in a burst of forged mail from
// one address (a dormant account's password in the attacker's hands) is
// still a takeover, though the address is not new.
func TestDormantLoginBurst(t *testing.T) {
	f := newFeed()
	for i := 0; i < 300; i++ {
		f.msg(t0.Add(time.Duration(i)*6*time.Second), "203.0.113.9", fmt.Sprintf("spam%d.example", i%50), true)
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Errorf("verdict %v, want compromised: %v", v, Reasons(f.s.Best(), time.UTC))
	}
}

// TestMalwareOnTheUsersComputer: spam from the login's usual address, far
// above its own past and mostly with senders of many other domains, is a
// takeover although no address is new.
func TestMalwareOnTheUsersComputer(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	for i := 0; i < 12*30; i++ { // 30 an hour for 12 hours
		f.msg(at.Add(time.Duration(i)*2*time.Minute), "198.51.100.10", fmt.Sprintf("spam%d.example", i), true)
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Errorf("verdict %v, want compromised: %v", v, Reasons(f.s.Best(), time.UTC))
	}
}

// rcptMsg is a message with n recipients.
func (f *feed) rcptMsg(t time.Time, ip, domain string, foreign bool, n int) {
	f.s.Message(&f.cfg, Message{Time: t, IP: ip, Domain: domain, Foreign: foreign, Rcpts: n})
}

// TestOwnAddressSpamToManyRecipients: spam sent as the user's own address,
// in big recipient batches from new IPs, stands out though no sender
// domain is foreign and the message count stays under the volume floor:
// suspicious on volume and new IPs alone (a newsletter moving to a new
// cluster looks the same), compromised once remote servers refuse it.
func TestOwnAddressSpamToManyRecipients(t *testing.T) {
	for _, refused := range []bool{false, true} {
		f := newFeed()
		at := f.baseline(7)
		for i := 0; i < 12*15; i++ { // 15 messages of 50 recipients an hour for 12 hours
			tm := at.Add(time.Duration(i) * 4 * time.Minute)
			f.rcptMsg(tm, fmt.Sprintf("203.0.113.%d", 10+i%3), "corp.example", false, 50)
			for j := 0; refused && j < 5; j++ { // one recipient in ten refuses it
				f.s.Rejection(&f.cfg, tm)
			}
		}
		want := Suspicious
		if refused {
			want = Compromised
		}
		if v := f.s.Verdict(); v != want {
			t.Errorf("refused %v: verdict %v, want %v: %v", refused, v, want, Reasons(f.s.Best(), time.UTC))
		}
	}
}

// TestBulkMailingWithAFewRejections: a campaign from the sender's usual
// address to thousands of recipients, a handful of whom refuse it as spam,
// is no takeover, nor suspicious.
func TestBulkMailingWithAFewRejections(t *testing.T) {
	f := newFeed()
	at := t0
	for d := 0; d < 7; d++ { // 40 an hour, 8 hours a day
		for i := 0; i < 8*40; i++ {
			f.rcptMsg(at.Add(time.Duration(d)*24*time.Hour+time.Duration(i)*90*time.Second), "198.51.100.10", "news.example", false, 1)
		}
	}
	at = at.Add(7 * 24 * time.Hour)
	for i := 0; i < 3*1500; i++ { // 1,500 an hour for 3 hours
		tm := at.Add(time.Duration(i) * 2400 * time.Millisecond)
		f.rcptMsg(tm, "198.51.100.10", "news.example", false, 1)
		if i%900 == 0 {
			f.s.Rejection(&f.cfg, tm)
		}
	}
	if v := f.s.Verdict(); v != OK {
		t.Errorf("verdict %v, want ok: %v", v, Reasons(f.s.Best(), time.UTC))
	}
}

// TestTravellerInvitesAndCatchesUp: a traveller on new IPs who sends one
// invitation to 300 people, or answers two dozen mails in an hour, all as
// itself, is no takeover.
func TestTravellerInvitesAndCatchesUp(t *testing.T) {
	for name, burst := range map[string]func(f *feed, at time.Time, ip func(int) string){
		"invitation": func(f *feed, at time.Time, ip func(int) string) {
			f.rcptMsg(at, ip(0), "corp.example", false, 300)
		},
		"invitation of 1,000 in batches": func(f *feed, at time.Time, ip func(int) string) {
			for i := 0; i < 10; i++ {
				f.rcptMsg(at.Add(time.Duration(i)*3*time.Minute), ip(i), "corp.example", false, 100)
			}
			for i := 0; i < 3; i++ {
				f.s.Failure(&f.cfg, at, ip(0))
			}
		},
		"invitation in batches": func(f *feed, at time.Time, ip func(int) string) {
			for i := 0; i < 10; i++ {
				f.rcptMsg(at.Add(time.Duration(i)*3*time.Minute), ip(i), "corp.example", false, 50)
			}
		},
		"catching up": func(f *feed, at time.Time, ip func(int) string) {
			for i := 0; i < 24; i++ {
				f.rcptMsg(at.Add(time.Duration(i)*2*time.Minute), ip(i), "corp.example", false, 1)
			}
		},
	} {
		f := newFeed()
		at := f.baseline(7)
		ip := func(i int) string { return fmt.Sprintf("203.0.113.%d", 10+i%6) }
		for i := 0; i < 12; i++ { // a day abroad from 6 addresses
			f.rcptMsg(at.Add(time.Duration(i)*time.Hour), ip(i), "corp.example", false, 1)
		}
		burst(f, at.Add(13*time.Hour), ip)
		if v := f.s.Verdict(); v == Compromised {
			t.Errorf("%s: verdict %v: %v", name, v, Reasons(f.s.Best(), time.UTC))
		}
	}
}

// TestRecipientBaselineNeedsADay: a bulk sender on its second day in the
// log has no day of recipient history before the window: its steady
// mailings are not a burst against an empty baseline.
func TestRecipientBaselineNeedsADay(t *testing.T) {
	f := newFeed()
	for d := 0; d < 2; d++ {
		for i := 0; i < 8*8; i++ { // 8 an hour of 40 recipients, 8 hours a day
			f.rcptMsg(t0.Add(time.Duration(d)*24*time.Hour+8*time.Hour+time.Duration(i)*450*time.Second), "198.51.100.10", "corp.example", false, 40)
		}
	}
	if v := f.s.Verdict(); v != OK {
		t.Errorf("verdict %v, want ok: %v", v, Reasons(f.s.Best(), time.UTC))
	}
}

// TestOldStateHasNoRecipientBaseline: a state saved before recipients were
// counted has none in its hourly slots: they do not score against it.
func TestOldStateHasNoRecipientBaseline(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	d := f.s.Data()
	d.RcptsKept, d.RcptsFrom, d.WinRcpts = false, time.Time{}, nil
	for i := range d.Hours {
		d.Hours[i].Rcpts = 0
	}
	s, err := d.State()
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	for i := 0; i < 15; i++ { // a mailing of 15 x 40 from the usual address
		f.rcptMsg(at.Add(time.Duration(i)*3*time.Minute), "198.51.100.10", "corp.example", false, 40)
	}
	if c := f.s.counts(&f.cfg, at.Add(time.Hour)); c.rcptHist {
		t.Errorf("recipient baseline taken as known after restoring an old state: %+v", c)
	}
}

// TestSteadyRelayOnItsSecondDay: a system sending steadily as its
// customers' addresses, first seen at the log's start, has no day of
// history on its second day: its usual hour is no burst against an empty
// baseline.
func TestSteadyRelayOnItsSecondDay(t *testing.T) {
	f := newFeed()
	for i := 0; i < 2*24*20; i++ { // 20 an hour for two days
		f.s.Message(&f.cfg, Message{Time: t0.Add(time.Duration(i) * 3 * time.Minute), IP: "198.51.100.30",
			Domain: fmt.Sprintf("customer%d.example", i%150), Foreign: true, LogStart: t0})
	}
	if v := f.s.Verdict(); v == Compromised {
		t.Errorf("verdict %v: %v", v, Reasons(f.s.Best(), time.UTC))
	}
}

// TestSingleAddressForgedBurst: forged mail at 30 an hour to many domains
// from one address. A login that sent nothing for days of the log was
// dormant: that address is new, and it is a takeover. Where the log starts
// the address cannot be called new, and a relay sending as its clients'
// addresses looks the same until the log holds days of its habit: it is
// suspicious.
func TestSingleAddressForgedBurst(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration // from the log's start
		want  Verdict
	}{{5 * 24 * time.Hour, Compromised}, {0, Suspicious}} {
		f := newFeed()
		start := t0.Add(tc.after)
		for i := 0; i < 8*30; i++ { // 30 an hour for 8 hours
			f.s.Message(&f.cfg, Message{Time: start.Add(time.Duration(i) * 2 * time.Minute), IP: "203.0.113.9",
				Domain: fmt.Sprintf("spam%d.example", i), Foreign: true, LogStart: t0})
		}
		if v := f.s.Verdict(); v != tc.want {
			t.Errorf("%v after the log's start: verdict %v, want %v: %v", tc.after, v, tc.want, Reasons(f.s.Best(), time.UTC))
		}
	}
}

// TestSharedMailboxAtATradeFair: a shared mailbox answering three dozen
// mails an hour as itself from ten new addresses, after a few mistyped
// passwords, is not blocked: volume and new IPs without anything that
// says spam.
func TestSharedMailboxAtATradeFair(t *testing.T) {
	f := newFeed()
	at := f.baseline(7)
	for i := 0; i < 3; i++ {
		f.s.Failure(&f.cfg, at.Add(time.Duration(i)*time.Second), "198.18.200.1")
	}
	for i := 0; i < 48; i++ {
		f.msg(at.Add(time.Minute+time.Duration(i)*100*time.Second), fmt.Sprintf("198.18.200.%d", 1+i%10), "corp.example", false)
	}
	if v := f.s.Verdict(); v == Compromised {
		t.Errorf("verdict %v: %v", v, Reasons(f.s.Best(), time.UTC))
	}
}

// TestTicketingSystemMoves: a ticketing system that has sent as its
// customers' addresses for days moves to a new server: its habit is no
// forged-sender evidence, and the move alone is no takeover.
func TestTicketingSystemMoves(t *testing.T) {
	f := newFeed()
	msg := func(t time.Time, ip string, i int) {
		f.s.Message(&f.cfg, Message{Time: t, IP: ip, Domain: fmt.Sprintf("customer%d.example", i%150), Foreign: true, LogStart: t0})
	}
	for i := 0; i < 5*24*10; i++ { // 10 an hour for five days, from the log's start
		msg(t0.Add(time.Duration(i)*6*time.Minute), "198.51.100.30", i)
	}
	at := t0.Add(5 * 24 * time.Hour)
	for i := 0; i < 200; i++ { // a busy morning from the new server
		msg(at.Add(time.Duration(i)*30*time.Second), "198.51.100.31", i)
	}
	if v := f.s.Verdict(); v == Compromised {
		t.Errorf("verdict %v: %v", v, Reasons(f.s.Best(), time.UTC))
	}
}

// TestWhatIsNotANewAddress: IPv6 privacy addresses that change within the
// login's /64 are not new addresses.
func TestWhatIsNotANewAddress(t *testing.T) {
	f := newFeed()
	for i := 0; i < 20; i++ {
		f.msg(t0.Add(time.Duration(i)*2*time.Hour), fmt.Sprintf("2001:db8:4711:a0:%x::%x", i, i+1), "corp.example", false)
	}
	if n := f.s.counts(&f.cfg, t0.Add(40*time.Hour)).newIPs; n != 0 {
		t.Errorf("%d new IPs, want 0 (one /64)", n)
	}
	f.msg(t0.Add(40*time.Hour), "2001:db8:4712::1", "corp.example", false)
	if n := f.s.counts(&f.cfg, t0.Add(40*time.Hour)).newIPs; n != 1 {
		t.Errorf("%d new IPs after another /64, want 1", n)
	}
}

// relayFeed: 4 servers relaying at 20 messages an hour from the log's
// start for a day, as hosted customers' addresses; sender gives the
// envelope sender of message i.
func relayFeed(f *feed, sender func(i int) string) {
	for i := 0; i < 24*20; i++ {
		from := sender(i)
		f.s.Message(&f.cfg, Message{Time: t0.Add(time.Duration(i) * 3 * time.Minute), IP: fmt.Sprintf("198.51.100.%d", 30+i%4),
			Domain: from[strings.IndexByte(from, '@')+1:], Foreign: true, Sender: from, LogStart: t0})
	}
}

// TestRelayReusingItsSendersFromTheLogsStart: a relay with no history
// in the log sends as a few addresses of each customer, again and again;
// the same mail from other addresses at every message is forged spam.
func TestRelayReusingItsSendersFromTheLogsStart(t *testing.T) {
	f := newFeed()
	// five addresses in turn (a relay whose senders vary more looks like
	// forged spam until its history is two days long)
	reused := func(i int) string {
		return []string{"noreply@customer0.example", "billing@customer0.example", "cron@customer1.example", "backup@customer2.example", "orders@customer3.example"}[i%5]
	}
	relayFeed(f, reused)
	if v := f.s.Verdict(); v == Compromised {
		t.Errorf("relay reusing its senders: %v: %v", v, Reasons(f.s.Best(), time.UTC))
	}
	f = newFeed()
	relayFeed(f, func(i int) string { return fmt.Sprintf("u%d@customer%d.example", i, i%4) })
	if v := f.s.Verdict(); v != Compromised {
		t.Errorf("a new sender at every message: %v, want compromised", v)
	}
	// refusals for spam: the reused senders are no habit
	f = newFeed()
	for i := 0; i < 5; i++ {
		f.s.Rejection(&f.cfg, t0.Add(time.Duration(i)*time.Minute))
	}
	relayFeed(f, reused)
	if v := f.s.Verdict(); v != Compromised {
		t.Errorf("reused senders refused for spam: %v, want compromised", v)
	}
}

// sendAs feeds one message of a login alice@corp.example as sender from ip.
func (f *feed) sendAs(t time.Time, ip, sender string) {
	f.s.Message(&f.cfg, Message{Time: t, IP: ip, Domain: sender[strings.IndexByte(sender, '@')+1:],
		Sender: sender, OwnAddress: sender == "alice@corp.example"})
}

// a week of alice's mail from her office, as herself and, habitually, as
// the team's shared address
func (f *feed) aliceWeek() time.Time {
	for d := range 7 {
		for i := range 4 {
			from := "alice@corp.example"
			if i == 3 {
				from = "team@corp.example"
			}
			f.sendAs(t0.Add(time.Duration(d)*24*time.Hour+time.Duration(i)*2*time.Hour), "198.51.100.10", from)
		}
	}
	return t0.Add(7 * 24 * time.Hour)
}

// TestColleaguesAddressesAreForged: senders of the login's own domain that
// it has no history of (colleagues', invented ones) are forged senders;
// its own address and the addresses it habitually sends as are not.
func TestColleaguesAddressesAreForged(t *testing.T) {
	colleagues := []string{"bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"}
	f := newFeed()
	at := f.aliceWeek()
	for i := range 40 {
		f.sendAs(at.Add(time.Duration(i)*90*time.Second), fmt.Sprintf("203.0.113.%d", 10+i%3), colleagues[i%len(colleagues)]+"@corp.example")
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Errorf("colleagues' addresses from 3 new IPs: %v (score %d), want compromised", v, f.s.Score())
	}
	for _, from := range []string{"alice@corp.example", "team@corp.example"} {
		f = newFeed()
		at = f.aliceWeek()
		for i := range 40 {
			f.sendAs(at.Add(time.Duration(i)*90*time.Second), fmt.Sprintf("203.0.113.%d", 10+i%3), from)
		}
		if c := f.s.counts(&f.cfg, at.Add(time.Hour)); c.unf != 0 {
			t.Errorf("%s: %d messages counted as unfamiliar senders", from, c.unf)
		}
	}
}

// TestSendersOfAStateSavedWithoutThem: a state saved before sender
// addresses were kept knows none of them; no address is unfamiliar until
// a window has passed since it was loaded.
func TestSendersOfAStateSavedWithoutThem(t *testing.T) {
	f := newFeed()
	at := f.aliceWeek()
	d := f.s.Data()
	d.SendFirstK, d.SendFirstT, d.SendersKept = nil, Times{}, false
	s, err := d.State()
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	f.sendAs(at, "198.51.100.10", "team@corp.example")
	f.sendAs(at.Add(time.Minute), "198.51.100.10", "bob@corp.example")
	if c := f.s.counts(&f.cfg, at.Add(time.Minute)); c.unf != 0 {
		t.Errorf("just after loading: %d unfamiliar", c.unf)
	}
	later := at.Add(f.cfg.Window + time.Hour)
	f.sendAs(later, "198.51.100.10", "carol@corp.example")
	f.sendAs(later.Add(time.Minute), "198.51.100.10", "team@corp.example")
	if c := f.s.counts(&f.cfg, later.Add(time.Minute)); c.unf != 1 {
		t.Errorf("a window after loading: %d unfamiliar, want 1 (carol)", c.unf)
	}
}

// TestRefusedFromNewIPsAtTheLogsStart: a login with no history in the log
// sends as its own address from 10 new IPs and is refused for spam 50
// times: without a baseline no volume rule can make that a takeover's
// sending; the refusals from new IPs do.
func TestRefusedFromNewIPsAtTheLogsStart(t *testing.T) {
	f := newFeed()
	// its first address at the log's start: never new
	f.s.Message(&f.cfg, Message{Time: t0, IP: "198.51.100.10", Domain: "corp.example", Sender: "alice@corp.example", OwnAddress: true, LogStart: t0})
	at := t0.Add(2 * time.Hour)
	for i := range 120 {
		f.s.Message(&f.cfg, Message{Time: at.Add(time.Duration(i) * 25 * time.Second), IP: fmt.Sprintf("203.0.113.%d", 10+i%10),
			Domain: "corp.example", Sender: "alice@corp.example", OwnAddress: true, LogStart: t0})
		if i%2 == 1 && i < 100 {
			f.s.Rejection(&f.cfg, at.Add(time.Duration(i)*25*time.Second))
		}
	}
	if v := f.s.Verdict(); v != Compromised {
		t.Errorf("verdict %v (score %d), want compromised: %v", v, f.s.Score(), Reasons(f.s.Best(), time.UTC))
	}
}
