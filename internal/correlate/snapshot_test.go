package correlate

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/loggen"
	"github.com/saslguard/saslguard/internal/logline"
)

// generatedEvents parses a generated log into events (their strings point
// into the log, which they keep alive).
func generatedEvents(t testing.TB, cfg loggen.Config) []event.Event {
	t.Helper()
	var buf bytes.Buffer
	if _, err := loggen.Generate(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	p := logline.New(2026, time.UTC)
	var fix logline.YearFixer
	fix.File(0, time.Time{}, time.UTC)
	var evs []event.Event
	for line := range strings.Lines(text) {
		var ev event.Event
		r := p.Parse(strings.TrimSuffix(line, "\n"), &ev)
		if r.Status != logline.Parsed || ev.Kind == event.Ignored {
			continue
		}
		if ev.YearGuessed {
			fix.Fix(&ev)
		}
		evs = append(evs, ev)
	}
	if len(evs) < 1000 {
		t.Fatalf("only %d events", len(evs))
	}
	return evs
}

var (
	genOnce sync.Once
	genEvs  []event.Event
)

func eightMiB(t testing.TB) []event.Event {
	genOnce.Do(func() { genEvs = generatedEvents(t, loggen.Config{Seed: 1, Size: 8 << 20, LongIDRatio: 0.2}) })
	return genEvs
}

type verdictChange struct {
	login    string
	from, to detect.Verdict
	at       time.Time
	score    int
	start    time.Time
}

func recordingConfig(out *[]verdictChange) Config {
	return Config{OnVerdict: func(a *Account, from, to detect.Verdict, at time.Time) {
		*out = append(*out, verdictChange{a.Login, from, to, at, a.Detector().Score(), a.Detector().Start()})
	}}
}

func snapshotBytes(t testing.TB, c *Correlator) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := c.Snapshot(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func feed(c *Correlator, evs []event.Event) {
	for i := range evs {
		c.Add(&evs[i])
	}
}

// TestSnapshotResumes: feeding events A then B to one correlator gives the
// same state as feeding A, snapshotting, restoring and feeding B, at many
// split points of a generated log: the snapshot after B is the same, byte
// for byte (the encoding is canonical), and so are the verdict changes
// reported after the split.
func TestSnapshotResumes(t *testing.T) {
	evs := eightMiB(t)
	var changes []verdictChange
	ref := New(recordingConfig(&changes))
	splits := []int{0, 1, 2, 17, 500}
	for i := 1; i < 40; i++ {
		splits = append(splits, len(evs)*i/40+i*7)
	}
	splits = append(splits, len(evs)-1, len(evs))
	snaps := make([][]byte, len(splits))
	changesAt := make([]int, len(splits))
	done := 0
	for i, at := range splits {
		feed(ref, evs[done:at])
		done = at
		snaps[i] = snapshotBytes(t, ref)
		changesAt[i] = len(changes)
	}
	// each snapshot, restored and fed the events up to the next split,
	// gives the next snapshot
	for i := 0; i+1 < len(splits); i++ {
		var got []verdictChange
		c, err := Restore(bytes.NewReader(snaps[i]), recordingConfig(&got))
		if err != nil {
			t.Fatalf("restore at %d: %v", splits[i], err)
		}
		feed(c, evs[splits[i]:splits[i+1]])
		if s := snapshotBytes(t, c); !bytes.Equal(s, snaps[i+1]) {
			t.Fatalf("restored at event %d, fed to %d: state differs from the uninterrupted run", splits[i], splits[i+1])
		}
		if want := changes[changesAt[i]:changesAt[i+1]]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("restored at event %d: verdict changes %v, want %v", splits[i], got, want)
		}
	}
	// a few restores run to the end, compared field by field
	ref.Finish()
	for _, i := range []int{3, 15, 30} {
		var got []verdictChange
		c, err := Restore(bytes.NewReader(snaps[i]), recordingConfig(&got))
		if err != nil {
			t.Fatal(err)
		}
		feed(c, evs[splits[i]:])
		c.Finish()
		compareCorrelators(t, fmt.Sprintf("split at %d", splits[i]), ref, c)
		if want := changes[changesAt[i]:]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("split at %d: verdict changes %v, want %v", splits[i], got, want)
		}
	}
	compromised := 0
	for _, a := range ref.Accounts() {
		if a.Detector().Verdict() == detect.Compromised {
			compromised++
		}
	}
	if compromised < 4 {
		t.Errorf("only %d compromised logins: the test log does not exercise the detector", compromised)
	}
}

func compareCorrelators(t *testing.T, name string, want, got *Correlator) {
	t.Helper()
	if len(want.accounts) != len(got.accounts) {
		t.Errorf("%s: %d accounts, want %d", name, len(got.accounts), len(want.accounts))
	}
	for _, a := range want.accounts {
		login := a.Login
		b := got.find(login, loginHash(login))
		if b == nil {
			t.Errorf("%s: %s missing", name, login)
			continue
		}
		da, db := a.Detector(), b.Detector()
		if da.Verdict() != db.Verdict() || da.Score() != db.Score() || !da.Start().Equal(db.Start()) {
			t.Errorf("%s: %s: %v score %d start %v, want %v score %d start %v", name, login,
				db.Verdict(), db.Score(), db.Start(), da.Verdict(), da.Score(), da.Start())
		}
		ca, cb := *a, *b
		for _, x := range []*Account{&ca, &cb} {
			x.state, x.sameHash = detect.State{}, nil
			x.IPs, x.Nets, x.SenderDomains, x.ForeignDomains, x.FailureIPs, x.OtherIPs = Counter{}, Counter{}, Counter{}, Counter{}, Counter{}, Counter{}
		}
		if fmt.Sprint(ca) != fmt.Sprint(cb) {
			t.Errorf("%s: %s: account %+v, want %+v", name, login, cb, ca)
		}
		for _, pair := range [][2]*Counter{{&a.IPs, &b.IPs}, {&a.Nets, &b.Nets}, {&a.SenderDomains, &b.SenderDomains},
			{&a.ForeignDomains, &b.ForeignDomains}, {&a.FailureIPs, &b.FailureIPs}, {&a.OtherIPs, &b.OtherIPs}} {
			if fmt.Sprint(pair[0].Top(1<<20), pair[0].Overflow) != fmt.Sprint(pair[1].Top(1<<20), pair[1].Overflow) {
				t.Errorf("%s: %s: counter differs", name, login)
			}
		}
		if fmt.Sprint(detect.Reasons(da.Best(), time.UTC)) != fmt.Sprint(detect.Reasons(db.Best(), time.UTC)) {
			t.Errorf("%s: %s: reasons differ", name, login)
		}
		if strings.Join(a.QueueIDs, " ") != strings.Join(b.QueueIDs, " ") {
			t.Errorf("%s: %s: queue ids %v, want %v", name, login, b.QueueIDs, a.QueueIDs)
		}
	}
	if want.Stats != got.Stats {
		t.Errorf("%s: stats %+v, want %+v", name, got.Stats, want.Stats)
	}
	if want.Unauth.Messages != got.Unauth.Messages || want.Unauth.Outbound != got.Unauth.Outbound || want.Unauth.Local != got.Unauth.Local {
		t.Errorf("%s: unauthenticated %+v, want %+v", name, got.Unauth, want.Unauth)
	}
}

// TestSnapshotDamaged: a truncated or altered snapshot, or something else,
// gives an error.
func TestSnapshotDamaged(t *testing.T) {
	evs := eightMiB(t)
	c := New(Config{})
	feed(c, evs[:len(evs)/3])
	good := snapshotBytes(t, c)
	if _, err := Restore(bytes.NewReader(good), Config{}); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     []byte("not a state at all, but long enough for a header"),
		"header":    good[:20],
		"truncated": good[:len(good)-1],
		"half":      good[:len(good)/2],
	}
	for _, at := range []int{len(snapshotMagic), len(snapshotMagic) + 5, len(good) / 2, len(good) - 1} {
		b := bytes.Clone(good)
		b[at] ^= 0x40
		cases[fmt.Sprint("flipped byte ", at)] = b
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Restore(bytes.NewReader(b), Config{}); err == nil {
				t.Error("no error")
			}
		})
	}
}

// FuzzRestore: no input makes Restore panic, with or without a valid
// checksum (the payload is also fed to the decoder directly).
func FuzzRestore(f *testing.F) {
	c := New(Config{})
	feed(c, []event.Event{
		{Time: t0, Kind: event.Client, Host: "mx", PID: 1, QID: "ABC", Login: "a@x.test", ClientIP: "192.0.2.1"},
		{Time: t0, Kind: event.From, Host: "mx", PID: 2, QID: "ABC", Sender: "a@y.test", Nrcpt: 1},
		{Time: t0, Kind: event.AuthFailure, Host: "mx", PID: 1, Login: "b@x.test", ClientIP: "192.0.2.2"},
	})
	var b bytes.Buffer
	if err := c.Snapshot(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:len(b.Bytes())/2])
	hdr := len(snapshotMagic) + 14
	f.Add(b.Bytes()[hdr:])
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := Restore(bytes.NewReader(data), Config{}); err == nil {
			c.Add(&event.Event{Time: t0, Kind: event.Client, Host: "mx", PID: 1, QID: "ABC", Login: "a@x.test", ClientIP: "192.0.2.9"})
		}
		var st snapState
		if decodeGob(bytes.NewReader(data), &st) == nil {
			if c, err := restoreState(&st, Config{}); err == nil {
				c.Add(&event.Event{Time: t0.Add(time.Hour), Kind: event.From, Host: "mx", PID: 2, QID: "ABC", Sender: "a@y.test", Nrcpt: 1})
			}
		}
	})
}

// BenchmarkSnapshot reports the time and size of a snapshot, and of a
// restore, of the correlator after a generated log of 8 and 64 MiB.
func BenchmarkSnapshot(b *testing.B) {
	for _, size := range []int64{8, 64} {
		var evs []event.Event
		if size == 8 {
			evs = eightMiB(b)
		} else {
			evs = generatedEvents(b, loggen.Config{Seed: 1, Size: size << 20, LongIDRatio: 0.2})
		}
		c := New(Config{})
		feed(c, evs)
		evs = nil
		var buf bytes.Buffer
		if err := c.Snapshot(&buf); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dMiB/save", size), func(b *testing.B) {
			for range b.N {
				buf.Reset()
				if err := c.Snapshot(&buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len()), "bytes")
			b.ReportMetric(float64(len(c.accounts)), "logins")
			b.ReportMetric(float64(len(c.msgs)+len(c.light)), "open")
		})
		b.Run(fmt.Sprintf("%dMiB/restore", size), func(b *testing.B) {
			for range b.N {
				if _, err := Restore(bytes.NewReader(buf.Bytes()), Config{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSnapshotBusy: 2,000 logins that each sent 300 messages in the
// last day from 5 addresses, with failed logins, and 2,000 open messages.
func BenchmarkSnapshotBusy(b *testing.B) {
	c := New(Config{})
	for i := range 300 {
		tm := t0.Add(time.Duration(i) * 4 * time.Minute)
		for l := range 2000 {
			login := fmt.Sprintf("user%d@corp.example", l)
			ip := fmt.Sprintf("198.51.%d.%d", l%200, i%5)
			qid := fmt.Sprintf("%05X%05X", i, l)
			c.Add(&event.Event{Time: tm, Kind: event.Client, Host: "mx1", PID: l, QID: qid, Login: login, ClientIP: ip})
			c.Add(&event.Event{Time: tm, Kind: event.From, Host: "mx1", PID: l, QID: qid, Sender: fmt.Sprintf("x@d%d.example", i%20), Nrcpt: 2})
			if i%10 == 0 {
				c.Add(&event.Event{Time: tm, Kind: event.AuthFailure, Host: "mx1", PID: l, Login: login, ClientIP: "203.0.113.7"})
			}
			if i < 299 {
				c.Add(&event.Event{Time: tm, Kind: event.Removed, Host: "mx1", QID: qid})
			}
		}
	}
	var buf bytes.Buffer
	b.ResetTimer()
	for range b.N {
		buf.Reset()
		if err := c.Snapshot(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes")
	b.ReportMetric(float64(len(c.accounts)), "logins")
	b.StopTimer()
	start := time.Now()
	if _, err := Restore(bytes.NewReader(buf.Bytes()), Config{}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds()), "restore-ms")
}

// TestSnapshotHostNames: queue keys go by a per-process hash of the host,
// so a snapshot names hosts; restored, the messages are found again by the
// lines that follow. An unauthenticated message on a host of which nothing
// else is known cannot be named: it is counted as expired.
func TestSnapshotHostNames(t *testing.T) {
	c := New(Config{})
	feed(c, []event.Event{
		{Time: t0, Kind: event.Client, Host: "mx1", PID: 1, QID: "AAA", Login: "a@x.test", ClientIP: "192.0.2.1"},
		{Time: t0, Kind: event.Client, Host: "mx1", PID: 2, QID: "BBB", ClientIP: "192.0.2.2"},
		{Time: t0, Kind: event.Client, Host: "mx2", PID: 3, QID: "CCC", ClientIP: "192.0.2.3"},
	})
	r, err := Restore(bytes.NewReader(snapshotBytes(t, c)), Config{})
	if err != nil {
		t.Fatal(err)
	}
	// every host is named, even mx2 whose only message is unauthenticated
	if r.Stats.Expired != 0 || len(r.light) != 2 || len(r.msgs) != 1 {
		t.Fatalf("expired %d, light %d, open %d", r.Stats.Expired, len(r.light), len(r.msgs))
	}
	feed(r, []event.Event{
		{Time: t0, Kind: event.From, Host: "mx1", PID: 4, QID: "AAA", Sender: "a@y.test", Nrcpt: 1},
		{Time: t0, Kind: event.Removed, Host: "mx1", PID: 5, QID: "BBB"},
	})
	if a := r.Account("a@x.test"); a == nil || a.Messages != 1 || r.Stats.Orphans != 0 || len(r.light) != 1 {
		t.Fatalf("after the restore: account %+v, orphans %d, light %d", a, r.Stats.Orphans, len(r.light))
	}
}
