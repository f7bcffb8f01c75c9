package loggen

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// sharedCfg is the log that several tests read; it is generated and parsed
// once.
var sharedCfg = Config{Size: 5e6, Seed: 3, LongIDRatio: 0.3}

var shared struct {
	sync.Mutex
	done  bool
	data  []byte
	truth *Truth
	lines []logLine
}

func sharedLog(t *testing.T) ([]byte, *Truth, []logLine) {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.done {
		shared.data, shared.truth = generate(t, sharedCfg)
		shared.lines = parseLog(t, shared.data, FormatBSD, 2026)
		shared.done = true
	}
	return shared.data, shared.truth, shared.lines
}

func generate(t *testing.T, cfg Config) ([]byte, *Truth) {
	t.Helper()
	var buf bytes.Buffer
	tr, err := Generate(&buf, cfg)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	return buf.Bytes(), tr
}

func TestDeterministic(t *testing.T) {
	tests := []struct {
		name string
		a, b Config
		same bool
	}{
		{"same seed", Config{Size: 3e6, Seed: 7}, Config{Size: 3e6, Seed: 7}, true},
		{"same seed rfc3339 long ids", Config{Size: 3e6, Seed: 7, Format: FormatRFC3339, LongIDRatio: 0.3},
			Config{Size: 3e6, Seed: 7, Format: FormatRFC3339, LongIDRatio: 0.3}, true},
		{"other seed", Config{Size: 3e6, Seed: 7}, Config{Size: 3e6, Seed: 8}, false},
		{"other start", Config{Size: 3e6, Seed: 7}, Config{Size: 3e6, Seed: 7, Start: time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, ta := generate(t, tc.a)
			b, tb := generate(t, tc.b)
			if got := sha256.Sum256(a) == sha256.Sum256(b); got != tc.same {
				t.Fatalf("outputs equal = %v, want %v (sizes %d, %d)", got, tc.same, len(a), len(b))
			}
			if tc.same && (ta.Lines != tb.Lines || len(ta.Compromised) != len(tb.Compromised)) {
				t.Fatalf("truths differ: %+v vs %+v", ta, tb)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Size: 0}, {Size: -1}, {Size: 1e6, LongIDRatio: 1.5}, {Size: 1e6, LongIDRatio: -0.1}} {
		if _, err := Generate(&bytes.Buffer{}, cfg); err == nil {
			t.Errorf("Generate(%+v) = nil error, want one", cfg)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	_, err := Generate(&failWriter{n: 5 << 20}, Config{Size: 20e6, Seed: 1})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want disk full", err)
	}
}

// Line shapes, one regexp per kind of line the generator may write.
const (
	reQID  = `(?:[0-9A-F]{10,11}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]{2,5})`
	reIP   = `(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]+:[0-9a-f:]+)`
	reHost = `[A-Za-z0-9.-]+\[` + reIP + `\]`
	reAddr = `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+`
	reB64  = `[A-Za-z0-9+/]`
)

var (
	reBSD     = regexp.MustCompile(`^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d mx1 ([a-z0-9/]+)(\[\d+\])?: (.*)$`)
	reRFC3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 mx1 ([a-z0-9/]+)(\[\d+\])?: (.*)$`)
	reDelay   = `[0-9]+(?:\.[0-9]{1,2})?`

	shapes = map[string][]*regexp.Regexp{
		"smtpd": {
			regexp.MustCompile(`^connect from ` + reHost + `$`),
			regexp.MustCompile(`^Anonymous TLS connection established from ` + reHost + `: TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 \(256/256 bits\) key-exchange X25519 server-signature RSA-PSS \(2048 bits\) server-digest SHA256$`),
			regexp.MustCompile(`^` + reQID + `: client=` + reHost + `(, sasl_method=(PLAIN|LOGIN), sasl_username=` + reAddr + `)?$`),
			regexp.MustCompile(`^` + reQID + `: client=localhost\[127\.0\.0\.1\], orig_queue_id=` + reQID + `, orig_client=unknown\[` + reIP + `\]$`),
			regexp.MustCompile(`^disconnect from ` + reHost + `( [a-z]+=\d+(/\d+)?)+$`),
			regexp.MustCompile(`^lost connection after (AUTH|EHLO|CONNECT) from unknown\[` + reIP + `\]$`),
			regexp.MustCompile(`^warning: hostname [a-z0-9.-]+ does not resolve to address ` + reIP + `: Name or service not known$`),
			regexp.MustCompile(`^warning: unknown\[` + reIP + `\]: SASL (LOGIN|PLAIN) authentication failed: (UGFzc3dvcmQ6|\(reason unavailable\))(, sasl_username=[A-Za-z0-9._@-]+)?$`),
			regexp.MustCompile(`^NOQUEUE: reject: RCPT from unknown\[` + reIP + `\]: (554 5\.7\.1 Service unavailable; Client host \[` + reIP + `\] blocked using zen\.spamhaus\.org; https://www\.spamhaus\.org/query/ip/` + reIP + `|550 5\.1\.1 <` + reAddr + `>: Recipient address rejected: User unknown in virtual mailbox table|454 4\.7\.1 <` + reAddr + `>: Relay access denied); from=<` + reAddr + `> to=<` + reAddr + `> proto=ESMTP helo=<[a-z0-9.-]+>$`),
		},
		"cleanup": {regexp.MustCompile(`^` + reQID + `: message-id=<[^<>\s]+@[A-Za-z0-9.-]+>$`)},
		"qmgr": {
			regexp.MustCompile(`^` + reQID + `: from=<(` + reAddr + `)?>, size=\d+, nrcpt=\d+ \(queue active\)$`),
			regexp.MustCompile(`^` + reQID + `: removed$`),
		},
		"delivery": {regexp.MustCompile(`^` + reQID + `: to=<` + reAddr + `>(, orig_to=<root>)?, relay=(none|local|virtual|` + reHost + `(:\d+)?|mail\.corp\.example\[private/dovecot-lmtp\]), delay=` + reDelay + `, delays=` + reDelay + `/` + reDelay + `/` + reDelay + `/` + reDelay + `, dsn=[245]\.\d\.\d, status=(sent|deferred|bounced) \(.+\)$`)},
		"anvil": {
			regexp.MustCompile(`^statistics: max connection (rate \d+/60s|count \d+) for \((smtp|submission):` + reIP + `\) at [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d$`),
			regexp.MustCompile(`^statistics: max cache size \d+ at [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d$`),
		},
		"bounce": {regexp.MustCompile(`^` + reQID + `: sender non-delivery notification: ` + reQID + `$`)},
		"pickup": {regexp.MustCompile(`^` + reQID + `: uid=\d+ from=<[a-z-]+>$`)},
		"amavis": {regexp.MustCompile(`^\(\d+-\d+\) Passed (CLEAN \{RelayedOutbound\}|SPAMMY \{RelayedTaggedOutbound\}), ORIGINATING LOCAL \[127\.0\.0\.1\]:\d+ <` + reAddr + `> -> <` + reAddr + `>, Queue-ID: ` + reQID +
			`, Message-ID: <[^<>\s]+>, mail_id: ` + reB64 + `{12}, Hits: -\d\.1, size: \d+, queued_as: ` + reQID + `, \d+ ms$`)},
		"dovecot": {
			regexp.MustCompile(`^auth: Info: passwd-file\([A-Za-z0-9._@-]+,` + reIP + `\): (Password mismatch|unknown user)$`),
			regexp.MustCompile(`^imap-login: Login: user=<` + reAddr + `>, method=PLAIN, rip=` + reIP + `, lip=203\.0\.113\.25, mpid=\d+, TLS, session=<` + reB64 + `{16}>$`),
			regexp.MustCompile(`^imap-login: Disconnected: Connection closed \(auth failed, \d+ attempts in \d+ secs\): user=<[A-Za-z0-9._@-]+>, method=PLAIN, rip=` + reIP + `, lip=203\.0\.113\.25, TLS, session=<` + reB64 + `{16}>$`),
			regexp.MustCompile(`^imap\(` + reAddr + `\)<\d+><` + reB64 + `{16}>: Disconnected: Logged out in=\d+ out=\d+ deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0$`),
		},
	}
	tagShape = map[string]string{
		"postfix/submission/smtpd": "smtpd", "postfix/smtps/smtpd": "smtpd", "postfix/smtpd": "smtpd",
		"postfix/10025/smtpd": "smtpd", "postfix/cleanup": "cleanup", "postfix/qmgr": "qmgr",
		"postfix/smtp": "delivery", "postfix/lmtp": "delivery", "postfix/local": "delivery",
		"postfix/virtual": "delivery", "postfix/bounce": "bounce", "postfix/pickup": "pickup",
		"amavis": "amavis", "dovecot": "dovecot", "postfix/anvil": "anvil",
	}
)

// logLine is one parsed line of generated output.
type logLine struct {
	t   time.Time
	tag string
	msg string
}

// parseLog checks every line's envelope and shape and returns the lines.
func parseLog(t *testing.T, data []byte, f Format, year int) []logLine {
	t.Helper()
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bad := 0
	var prev time.Time
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		var tm time.Time
		var tag, msg string
		var err error
		if f == FormatRFC3339 {
			m := reRFC3339.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d: bad envelope: %q", n, line)
			}
			tm, err = time.Parse(time.RFC3339Nano, line[:strings.IndexByte(line, ' ')])
			tag, msg = m[1], m[3]
		} else {
			m := reBSD.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d: bad envelope: %q", n, line)
			}
			tm, err = time.Parse("2006 Jan _2 15:04:05", itoa(year)+" "+line[:15])
			tag, msg = m[2], m[4]
		}
		if err != nil {
			t.Fatalf("line %d: time: %v", n, err)
		}
		if tm.Before(prev) {
			t.Fatalf("line %d goes back in time (%v after %v): %q", n, tm, prev, line)
		}
		prev = tm
		kind, ok := tagShape[tag]
		if !ok {
			t.Fatalf("line %d: unknown tag %q", n, tag)
		}
		matched := false
		for _, re := range shapes[kind] {
			if re.MatchString(msg) {
				matched = true
				break
			}
		}
		if !matched {
			bad++
			if bad <= 10 {
				t.Errorf("line %d: no %s shape matches: %q", n, kind, line)
			}
		}
		out = append(out, logLine{t: tm, tag: tag, msg: msg})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if bad > 0 {
		t.Fatalf("%d lines of %d do not match any shape", bad, len(out))
	}
	return out
}

func itoa(v int) string { return string(appendPad(nil, int64(v), 1)) }

func TestLineShapes(t *testing.T) {
	for _, f := range []Format{FormatBSD, FormatRFC3339} {
		t.Run(f.String(), func(t *testing.T) {
			var data []byte
			var tr *Truth
			var lines []logLine
			if f == sharedCfg.Format {
				data, tr, lines = sharedLog(t)
			} else {
				cfg := sharedCfg
				cfg.Format = f
				data, tr = generate(t, cfg)
				lines = parseLog(t, data, f, 2026)
			}
			if int64(len(lines)) != tr.Lines || int64(len(data)) != tr.Bytes {
				t.Fatalf("truth says %d lines %d bytes, got %d lines %d bytes", tr.Lines, tr.Bytes, len(lines), len(data))
			}
			if last := lines[len(lines)-1].t; !last.Equal(tr.End) || !lines[0].t.After(tr.Start) {
				t.Errorf("log runs %v to %v, truth says %v to %v", lines[0].t, last, tr.Start, tr.End)
			}
			// Every kind of line shows up.
			seen := map[string]int{}
			for _, l := range lines {
				for _, key := range []string{"sasl_username=", "authentication failed: UGFzc3dvcmQ6, sasl_username=",
					"authentication failed: UGFzc3dvcmQ6", "(reason unavailable), sasl_username=", "Password mismatch",
					"unknown user", "imap-login: Login:", "sender non-delivery notification", "from=<>",
					"status=deferred", "status=bounced", "[TSS04]", "zen.spamhaus.org", "550 5.7.1", "5.1.1",
					"uid=0 from=<root>", "uid=33", ":10024", "orig_queue_id=", "NOQUEUE: reject", "unknown[2",
					"lost connection after EHLO", "does not resolve", "statistics: max connection rate"} {
					if strings.Contains(l.msg, key) {
						seen[key]++
					}
				}
			}
			for _, key := range []string{"sasl_username=", "authentication failed: UGFzc3dvcmQ6, sasl_username=",
				"(reason unavailable), sasl_username=", "Password mismatch", "unknown user", "imap-login: Login:",
				"sender non-delivery notification", "from=<>", "status=deferred", "status=bounced", "[TSS04]",
				"zen.spamhaus.org", "550 5.7.1", "5.1.1", "uid=0 from=<root>", "uid=33", ":10024", "orig_queue_id=",
				"NOQUEUE: reject", "unknown[2", "lost connection after EHLO", "does not resolve",
				"statistics: max connection rate"} {
				if seen[key] == 0 {
					t.Errorf("no line contains %q", key)
				}
			}
			if old := seen["authentication failed: UGFzc3dvcmQ6"] - seen["authentication failed: UGFzc3dvcmQ6, sasl_username="]; old == 0 {
				t.Errorf("no failure line in the older form without sasl_username")
			}
		})
	}
}

var (
	reSuccess  = regexp.MustCompile(`: client=unknown\[([^\]]+)\], sasl_method=\w+, sasl_username=(\S+)$`)
	reIMAP     = regexp.MustCompile(`^imap-login: Login: user=<([^>]+)>, method=PLAIN, rip=([^,]+),`)
	reFailSMTP = regexp.MustCompile(`authentication failed: .*, sasl_username=(\S+)$`)
	reFailDove = regexp.MustCompile(`^auth: Info: passwd-file\(([^,]+),`)
)

func TestTruth(t *testing.T) {
	data, tr, lines := sharedLog(t)
	// The smallest world (30 users, one week, every takeover) is about 7 MB.
	if size := sharedCfg.Size; int64(len(data)) < size || int64(len(data)) > max(size*11/10, 8e6) {
		t.Errorf("size %d, target %d", len(data), size)
	}
	checkTruth(t, lines, tr)
}

func checkTruth(t *testing.T, lines []logLine, tr *Truth) {
	t.Helper()
	kinds := map[string]bool{}
	attacker := map[string]string{} // ip -> victim
	victims := map[string]*Compromise{}
	for i := range tr.Compromised {
		c := &tr.Compromised[i]
		kinds[c.Kind] = true
		victims[c.Login] = c
		for _, ip := range c.AttackerIPs {
			attacker[ip] = c.Login
		}
	}
	if len(tr.Compromised) < 4 || len(kinds) != 4 {
		t.Fatalf("want at least 4 takeovers of 4 kinds, got %+v", tr.Compromised)
	}
	firstAttack := map[string]time.Time{}
	usedIP := map[string]bool{}
	baseline := map[string]int{}
	success := map[string]bool{}
	failedNames := map[string]bool{}
	for _, l := range lines {
		var login, ip string
		if m := reSuccess.FindStringSubmatch(l.msg); m != nil {
			ip, login = m[1], m[2]
		} else if m := reIMAP.FindStringSubmatch(l.msg); m != nil {
			login, ip = m[1], m[2]
		} else if m := reFailSMTP.FindStringSubmatch(l.msg); m != nil {
			failedNames[m[1]] = true
			continue
		} else if m := reFailDove.FindStringSubmatch(l.msg); m != nil {
			failedNames[m[1]] = true
			continue
		} else {
			continue
		}
		success[login] = true
		if v, ok := attacker[ip]; ok {
			usedIP[ip] = true
			if v != login {
				t.Fatalf("attacker address %s of %s used by %s: %q", ip, v, login, l.msg)
			}
			if _, ok := firstAttack[login]; !ok {
				firstAttack[login] = l.t
			}
			continue
		}
		if c, ok := victims[login]; ok && l.t.Before(c.Start) {
			baseline[login]++
		}
	}
	for _, c := range tr.Compromised {
		for _, ip := range c.AttackerIPs {
			if !usedIP[ip] {
				t.Errorf("%s (%s): attacker address %s never logged in", c.Login, c.Kind, ip)
			}
		}
		if c.Kind == "loud-burst" && len(c.AttackerIPs) < 10 {
			t.Errorf("%s: loud burst from only %d addresses", c.Login, len(c.AttackerIPs))
		}
		got, ok := firstAttack[c.Login]
		if !ok {
			t.Errorf("%s (%s): no successful login from an attacker address", c.Login, c.Kind)
			continue
		}
		if !got.Equal(c.Start) {
			t.Errorf("%s (%s): first attacker login at %v, truth says %v", c.Login, c.Kind, got, c.Start)
		}
		if baseline[c.Login] == 0 {
			t.Errorf("%s (%s): no legitimate activity before the takeover", c.Login, c.Kind)
		}
		if c.Messages < 50 {
			t.Errorf("%s (%s): only %d attacker messages", c.Login, c.Kind, c.Messages)
		}
	}
	for _, l := range tr.Legitimate {
		if !success[l] {
			t.Errorf("legitimate %s never logged in", l)
		}
		if victims[l] != nil {
			t.Errorf("%s is both legitimate and compromised", l)
		}
	}
	for _, n := range tr.BruteForcedOnly {
		if success[n] {
			t.Errorf("brute-forced-only %s logged in", n)
		}
		if !failedNames[n] {
			t.Errorf("brute-forced-only %s never failed", n)
		}
	}
	if len(success) != len(tr.Legitimate)+len(tr.Compromised) {
		t.Errorf("%d logins succeeded, truth lists %d legitimate + %d compromised", len(success), len(tr.Legitimate), len(tr.Compromised))
	}
	// Some brute-forced names belong to users who log in legitimately too.
	both := 0
	for n := range failedNames {
		if success[n] && victims[n] == nil {
			both++
		}
	}
	if both == 0 {
		t.Errorf("no legitimate login was also a brute-force target")
	}
	if len(tr.BruteForcedOnly) == 0 {
		t.Errorf("no brute-forced-only names")
	}
	// Travellers really log in from many addresses, all outside the
	// attackers' ranges.
	ips := map[string]map[string]bool{}
	for _, l := range lines {
		var login, ip string
		if m := reSuccess.FindStringSubmatch(l.msg); m != nil {
			ip, login = m[1], m[2]
		} else if m := reIMAP.FindStringSubmatch(l.msg); m != nil {
			login, ip = m[1], m[2]
		} else {
			continue
		}
		if ips[login] == nil {
			ips[login] = map[string]bool{}
		}
		ips[login][ip] = true
	}
	if len(tr.Roles.Bulk) != 2 || len(tr.Roles.HeavySenders) == 0 || len(tr.Roles.Travellers) == 0 {
		t.Errorf("roles: %+v", tr.Roles)
	}
	for _, l := range tr.Roles.Travellers {
		if len(ips[l]) < 5 {
			t.Errorf("traveller %s used only %d addresses", l, len(ips[l]))
		}
	}
	for _, l := range tr.Roles.Bulk {
		if len(ips[l]) == 0 || len(ips[l]) > 2 {
			t.Errorf("bulk sender %s used %d addresses, want 1-2", l, len(ips[l]))
		}
	}
}

var reQueueEvent = regexp.MustCompile(`^(` + reQID + `): (client=|uid=|removed$|message-id=)`)

func TestQueueIDReuse(t *testing.T) {
	_, tr, lines := sharedLog(t)
	state := map[string]int{} // 0 unseen, 1 in flight, 2 removed
	reused := 0
	for _, l := range lines {
		m := reQueueEvent.FindStringSubmatch(l.msg)
		if m == nil {
			continue
		}
		qid, ev := m[1], m[2]
		switch ev {
		case "client=", "uid=":
			switch state[qid] {
			case 1:
				t.Fatalf("queue id %s starts a new message while one is in flight: %q", qid, l.msg)
			case 2:
				reused++
			}
			state[qid] = 1
		case "message-id=":
			if state[qid] == 2 && strings.Contains(l.msg, serverName) {
				// A bounce notification is created by cleanup, not smtpd.
				reused++
				state[qid] = 1
			} else if state[qid] == 0 {
				state[qid] = 1
			}
		case "removed":
			if state[qid] != 1 {
				t.Fatalf("%s removed but not in flight", qid)
			}
			state[qid] = 2
		}
	}
	if reused == 0 || tr.QueueIDReuses == 0 {
		t.Fatalf("no queue id reused (log %d, truth %d)", reused, tr.QueueIDReuses)
	}
	if reused < tr.QueueIDReuses {
		t.Errorf("saw %d reuses, truth counts %d", reused, tr.QueueIDReuses)
	}
}

func TestLongIDRatio(t *testing.T) {
	reLong := regexp.MustCompile(`: ([0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+): client=`)
	reShort := regexp.MustCompile(`: ([0-9A-F]{10,11}): client=`)
	for _, ratio := range []float64{0, 0.3, 1} {
		data, _ := generate(t, Config{Size: 2e6, Seed: 2, LongIDRatio: ratio})
		long := len(reLong.FindAll(data, -1))
		short := len(reShort.FindAll(data, -1))
		got := float64(long) / float64(long+short)
		if got < ratio-0.05 || got > ratio+0.05 {
			t.Errorf("ratio %v: %d long, %d short ids", ratio, long, short)
		}
	}
}

func TestYearTurn(t *testing.T) {
	start := time.Date(2026, 12, 27, 0, 0, 0, 0, time.UTC)
	data, tr := generate(t, Config{Size: 1e6, Seed: 4, Format: FormatRFC3339, Start: start})
	lines := parseLog(t, data, FormatRFC3339, 0)
	if first, last := lines[0].t, lines[len(lines)-1].t; first.Year() != 2026 || last.Year() != 2027 {
		t.Fatalf("log runs from %v to %v, want across the turn of the year", first, last)
	}
	checkTruth(t, lines, tr)
	bsd, _ := generate(t, Config{Size: 1e6, Seed: 4, Start: start})
	for _, want := range []string{"\nDec 31 23:", "\nJan  1 00:", "\nJan  2 "} {
		if !bytes.Contains(bsd, []byte(want)) {
			t.Errorf("BSD log lacks %q", want[1:])
		}
	}
}

func TestAppendDelay(t *testing.T) {
	tests := []struct {
		us   int64
		want string
	}{
		{0, "0"}, {4_000, "0"}, {50_000, "0.05"}, {300_000, "0.3"}, {780_000, "0.78"}, {999_000, "1"},
		{1_600_000, "1.6"}, {5_000_000, "5"}, {12_300_000, "12"}, {63_495_000_000, "63495"}, {-5, "0"},
	}
	for _, tc := range tests {
		if got := string(appendDelay(nil, tc.us)); got != tc.want {
			t.Errorf("appendDelay(%d) = %q, want %q", tc.us, got, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"bsd": FormatBSD, "": FormatBSD, "rfc3339": FormatRFC3339} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("json"); err == nil {
		t.Error("ParseFormat(json) succeeded")
	}
}

func BenchmarkGenerate(b *testing.B) {
	const size = 32 << 20
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		if _, err := Generate(discard{}, Config{Size: size, Seed: uint64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
