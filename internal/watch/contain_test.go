package watch

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/store"
)

// fakeQueue is a queue.Manager over a map of messages.
type fakeQueue struct {
	mu   sync.Mutex
	msgs map[string]queue.Message
}

func (q *fakeQueue) List(ctx context.Context, fn func(queue.Entry) error) error {
	q.mu.Lock()
	var es []queue.Entry
	for _, m := range q.msgs {
		es = append(es, queue.Entry{QueueID: m.QueueID, Queue: m.Queue, Sender: m.Sender})
	}
	q.mu.Unlock()
	for _, e := range es {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (q *fakeQueue) Inspect(ctx context.Context, ids []string, fn func(queue.Message) error) error {
	for _, id := range ids {
		q.mu.Lock()
		m, ok := q.msgs[id]
		q.mu.Unlock()
		if ok {
			if err := fn(m); err != nil {
				return err
			}
		}
	}
	return nil
}

func (q *fakeQueue) move(ids []string, to string) queue.OpResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	res := queue.OpResult{Requested: len(ids), Reported: -1}
	for _, id := range ids {
		m, ok := q.msgs[id]
		if !ok {
			res.Missing = append(res.Missing, id)
			continue
		}
		m.Queue = to
		q.msgs[id] = m
		res.Changed++
	}
	return res
}

func (q *fakeQueue) Hold(ctx context.Context, ids []string) (queue.OpResult, error) {
	return q.move(ids, "hold"), nil
}

func (q *fakeQueue) Release(ctx context.Context, ids []string) (queue.OpResult, error) {
	return q.move(ids, "deferred"), nil
}

func (q *fakeQueue) DeleteHeld(ctx context.Context, ids []string) (queue.OpResult, error) {
	panic("contain mode never deletes")
}

func (q *fakeQueue) Flush(ctx context.Context) error { return nil }

// add queues n messages of login; spam ones have forged senders and
// several client addresses, others the login's own address and one client.
func (q *fakeQueue) add(login string, n int, spam bool) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%X%05X", len(q.msgs)+0xA0000, i)
		m := queue.Message{QueueID: id, Queue: "deferred", SASLUsername: login, SASLMethod: "PLAIN",
			Sender: login, ClientAddress: "192.0.2.1", ArrivalTime: time.Unix(1700000000, 0)}
		if spam {
			m.Sender = fmt.Sprintf("promo%d@deals%d.example", i, i)
			m.ClientAddress = fmt.Sprintf("198.51.100.%d", i%3+1)
		}
		q.msgs[id] = m
		ids = append(ids, id)
	}
	return ids
}

type fakeMTA struct {
	mu        sync.Mutex
	blocked   []string
	effective bool
	gate      chan struct{} // when set, Block signals entered and waits for it
	entered   chan struct{}
}

func (f *fakeMTA) Block(ctx context.Context, login string, opts mtablock.Options) (mtablock.Result, error) {
	if f.gate != nil {
		f.entered <- struct{}{}
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocked = append(f.blocked, login)
	return mtablock.Result{Login: login, Written: true, Effective: f.effective}, nil
}

func (f *fakeMTA) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.blocked)
}

type fakeSessions struct{ queries []postfixblock.SessionQuery }

func (f *fakeSessions) End(ctx context.Context, q postfixblock.SessionQuery, grace time.Duration) (mtablock.KillResult, error) {
	f.queries = append(f.queries, q)
	return mtablock.KillResult{}, nil
}

type fixture struct {
	q    *fakeQueue
	mta  *fakeMTA
	st   *store.Store
	c    *Containment
	out  chan Outcome
	now  time.Time
	nmu  sync.Mutex
	done func()
}

func (f *fixture) clock() time.Time {
	f.nmu.Lock()
	defer f.nmu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.nmu.Lock()
	f.now = f.now.Add(d)
	f.nmu.Unlock()
}

func newFixture(t *testing.T, cfg ContainConfig) *fixture {
	t.Helper()
	f := &fixture{q: &fakeQueue{msgs: map[string]queue.Message{}}, out: make(chan Outcome, 100),
		now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	if cfg.MTA == nil {
		f.mta = &fakeMTA{effective: true}
		cfg.MTA = f.mta
	}
	st, err := store.OpenDir(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	st.Now = f.clock
	f.st = st
	if cfg.Queue == nil {
		cfg.Queue = f.q
	}
	cfg.Store, cfg.Now = st, f.clock
	cfg.Report = func(o Outcome) { f.out <- o }
	ctx, cancel := context.WithCancel(context.Background())
	f.c, err = NewContainment(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		f.c.Close()
		st.Close()
	})
	return f
}

func (f *fixture) next(t *testing.T) Outcome {
	t.Helper()
	select {
	case o := <-f.out:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome")
	}
	return Outcome{}
}

func compromised(login string, ids []string) Alert {
	return Alert{Login: login, Verdict: "compromised", Score: 9, QueueIDs: ids, Reasons: []string{"test"},
		Command: "saslguard respond -- " + login}
}

func TestContainConfirmedLoginIsContained(t *testing.T) {
	sess := &fakeSessions{}
	f := newFixture(t, ContainConfig{Sessions: sess})
	ids := f.q.add("alice@lab.test", 6, true)
	bob := f.q.add("bob@lab.test", 4, false)
	f.c.Sink(compromised("alice@lab.test", ids[:4])) // the log's evidence so far
	o := f.next(t)
	if o.Status != Contained || !o.Blocked || o.Held != 6 || o.Incident == 0 || o.Kind != "containment" {
		t.Fatalf("outcome %+v", o)
	}
	if got := f.mta.calls(); !slices.Equal(got, []string{"alice@lab.test"}) {
		t.Errorf("blocked %v", got)
	}
	if len(sess.queries) != 1 || sess.queries[0].Login != "alice@lab.test" || sess.queries[0].ByIP {
		t.Errorf("session queries %+v", sess.queries)
	}
	for _, id := range bob {
		if f.q.msgs[id].Queue == "hold" {
			t.Errorf("bob's %s held", id)
		}
	}
	b, ok, _ := f.st.IsBlocked(context.Background(), "ALICE@lab.test")
	if !ok || b.Source != Source || b.IncidentID != o.Incident {
		t.Errorf("registry %+v %v", b, ok)
	}
	inc, acts, err := f.st.GetIncident(context.Background(), o.Incident)
	if err != nil || inc.Source != Source || inc.Status != store.StatusOpen {
		t.Fatalf("incident %+v %v", inc, err)
	}
	var held int
	for _, a := range acts {
		if strings.HasPrefix(a.Command, "hold: ") {
			held += a.OK
		}
	}
	if held != 6 {
		t.Errorf("recorded %d held, want 6: %+v", held, acts)
	}
	// A second alert for the same login (its verdict fell and rose again)
	// does nothing twice.
	f.c.Sink(compromised("alice@lab.test", ids))
	if o := f.next(t); o.Status != Skipped || !strings.Contains(o.Why, "already blocked") {
		t.Errorf("second alert: %+v", o)
	}
}

// TestContainRefusesUnconfirmedEvidence: what the log says is not enough.
func TestContainRefusesUnconfirmedEvidence(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  func(q *fakeQueue) []string
		why  string
	}{
		{"ids not in the queue", func(q *fakeQueue) []string { return []string{"ABCDEF0123", "ABCDEF0124", "ABCDEF0125"} }, "evidence not confirmed"},
		{"no ids", func(q *fakeQueue) []string { return nil }, "names no queued message"},
		{"hostile ids", func(q *fakeQueue) []string { return []string{"-d ALL", "x\ny", "../../etc"} }, "names no queued message"},
		// Forged lines naming bob's real queue ids (mailq shows them to
		// anyone): the queue files say bob, but show his own sender and
		// one client address, not a takeover.
		{"real ids of a legitimate sender", func(q *fakeQueue) []string { return q.add("bob@lab.test", 8, false) }, "1 client address(es) and 0 sender domain(s)"},
		{"another login's spam", func(q *fakeQueue) []string { return q.add("alice@lab.test", 8, true) }, "evidence not confirmed"},
		{"too few confirmed", func(q *fakeQueue) []string { return q.add("bob@lab.test", 2, true) }, "2 queued message(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, ContainConfig{})
			f.c.Sink(compromised("bob@lab.test", tc.ids(f.q)))
			o := f.next(t)
			if o.Status != Refused || !strings.Contains(o.Why, tc.why) {
				t.Fatalf("outcome %+v, want refused with %q", o, tc.why)
			}
			if c := f.mta.calls(); len(c) != 0 {
				t.Errorf("blocked %v", c)
			}
			if incs, _ := f.st.ListIncidents(context.Background(), store.IncidentFilter{}); len(incs) != 0 {
				t.Errorf("incidents %+v", incs)
			}
			for _, m := range f.q.msgs {
				if m.Queue == "hold" {
					t.Errorf("%s held", m.QueueID)
				}
			}
		})
	}
}

// TestContainRateLimit: a flood of takeovers (or of forged evidence that
// passes) blocks at most MaxPerWindow logins per window; the rest are
// reported, and the budget comes back when the window has passed.
func TestContainRateLimit(t *testing.T) {
	f := newFixture(t, ContainConfig{MaxPerWindow: 2, Window: time.Hour})
	var logins []string
	for i := range 4 {
		login := fmt.Sprintf("user%d@lab.test", i)
		logins = append(logins, login)
		f.c.Sink(compromised(login, f.q.add(login, 5, true)))
	}
	got := map[string]Outcome{}
	for range 4 {
		o := f.next(t)
		got[o.Login] = o
	}
	contained, limited := 0, 0
	for _, o := range got {
		switch {
		case o.Status == Contained:
			contained++
		case o.Status == Refused && strings.Contains(o.Why, "rate limit"):
			limited++
		default:
			t.Errorf("outcome %+v", o)
		}
	}
	if contained != 2 || limited != 2 || len(f.mta.calls()) != 2 {
		t.Fatalf("contained %d, rate-limited %d, blocked %v", contained, limited, f.mta.calls())
	}
	// Still limited half an hour on; free again after the window.
	f.advance(30 * time.Minute)
	var late string
	for _, l := range logins {
		if got[l].Status == Refused {
			late = l
			break
		}
	}
	f.c.Sink(compromised(late, f.q.add(late, 5, true)))
	if o := f.next(t); o.Status != Refused || !strings.Contains(o.Why, "rate limit") {
		t.Fatalf("within the window: %+v", o)
	}
	f.advance(31 * time.Minute)
	f.c.Sink(compromised(late, f.q.add(late, 5, true)))
	if o := f.next(t); o.Status != Contained {
		t.Fatalf("after the window: %+v", o)
	}
}

func TestContainAllowlistedAndSuspiciousOnlyReported(t *testing.T) {
	f := newFixture(t, ContainConfig{})
	ids := f.q.add("postmaster@lab.test", 6, true)
	a := compromised("postmaster@lab.test", ids)
	a.Allowlisted = true
	f.c.Sink(a)
	if o := f.next(t); o.Status != Skipped || !strings.Contains(o.Why, "allowlisted") {
		t.Fatalf("allowlisted: %+v", o)
	}
	s := compromised("carol@lab.test", f.q.add("carol@lab.test", 6, true))
	s.Verdict = "suspicious"
	f.c.Sink(s)
	select {
	case o := <-f.out:
		t.Fatalf("suspicious alert acted on: %+v", o)
	case <-time.After(100 * time.Millisecond):
	}
	if c := f.mta.calls(); len(c) != 0 {
		t.Errorf("blocked %v", c)
	}
}

// TestContainNotEffective: a map Postfix does not consult is never called
// a containment.
func TestContainNotEffective(t *testing.T) {
	mta := &fakeMTA{effective: false}
	f := newFixture(t, ContainConfig{MTA: mta})
	f.c.Sink(compromised("alice@lab.test", f.q.add("alice@lab.test", 5, true)))
	o := f.next(t)
	if o.Status != NotContained || o.Blocked || !strings.Contains(o.Why, "not blocked at the MTA") || o.Held != 5 {
		t.Fatalf("outcome %+v", o)
	}
}

// TestContainSinkNeverBlocks: a slow worker never stops the log reader;
// alerts past the queue are reported as refused.
func TestContainSinkNeverBlocks(t *testing.T) {
	mta := &fakeMTA{effective: true, gate: make(chan struct{}), entered: make(chan struct{}, 10)}
	f := newFixture(t, ContainConfig{MTA: mta, QueueLen: 1, MaxPerWindow: 10, Workers: 1})
	var elapsed time.Duration
	for i := range 4 {
		login := fmt.Sprintf("user%d@lab.test", i)
		ids := f.q.add(login, 5, true)
		start := time.Now()
		f.c.Sink(compromised(login, ids))
		elapsed += time.Since(start)
		if i == 0 {
			<-mta.entered // the worker is busy with the first
		}
	}
	if d := elapsed; d > time.Second {
		t.Fatalf("Sink took %s", d)
	}
	// One in the worker (waiting in Block), one queued, two refused.
	full := 0
	for range 2 {
		if o := f.next(t); o.Status == Refused && strings.Contains(o.Why, "queue full") {
			full++
		}
	}
	close(mta.gate)
	for range 2 {
		if o := f.next(t); o.Status != Contained {
			t.Errorf("outcome %+v", o)
		}
	}
	if full != 2 {
		t.Errorf("%d refused as queue full, want 2", full)
	}
}

func TestContainRefusesUnsafeLogins(t *testing.T) {
	f := newFixture(t, ContainConfig{})
	for _, login := range []string{"mallory smith@lab.test", "-d@lab.test", "a\nb@lab.test", "#x@lab.test"} {
		f.c.Sink(compromised(login, f.q.add(login, 5, true)))
		if o := f.next(t); o.Status != Refused || !strings.Contains(o.Why, "not acted on automatically") {
			t.Errorf("%q: %+v", login, o)
		}
	}
	if c := f.mta.calls(); len(c) != 0 {
		t.Errorf("blocked %v", c)
	}
}

func TestWriteOutcomeQuotesHostileText(t *testing.T) {
	var b strings.Builder
	o := Outcome{Login: "evil\x1b[2J@lab.test", Status: Refused, Why: "evidence not confirmed", Next: "saslguard respond -- 'x'",
		Done: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	WriteOutcome(&b, o)
	if strings.Contains(b.String(), "\x1b") || !strings.Contains(b.String(), "REFUSED") || !strings.Contains(b.String(), "evidence not confirmed") {
		t.Errorf("rendered %q", b.String())
	}
	a := Outcome{Login: "alice@lab.test", Status: Contained, Incident: 4, Blocked: true, Held: 6, Evidence: "queue files: ..."}.Alert()
	if a.Verdict != Contained || a.Login != "alice@lab.test" || len(a.Reasons) != 2 || !strings.Contains(a.Reasons[1], "incident 4") {
		t.Errorf("alert %+v", a)
	}
}

// TestContainIgnoresHistory: an alert raised by old events (the history a
// first start reads) is reported, never acted on.
func TestContainIgnoresHistory(t *testing.T) {
	f := newFixture(t, ContainConfig{})
	a := compromised("old@lab.test", []string{"AAAAAA0001", "AAAAAA0002", "AAAAAA0003"})
	a.At = f.clock().Add(-3 * time.Hour)
	f.c.Sink(a)
	o := f.next(t)
	if o.Status != Skipped || !strings.Contains(o.Why, "history") {
		t.Fatalf("outcome %+v", o)
	}
	if len(f.mta.blocked) != 0 {
		t.Errorf("blocked %v", f.mta.blocked)
	}
}

// put queues messages of login, one per (client address, sender, minutes
// after the first) triple, and returns their ids.
func (q *fakeQueue) put(login string, msgs ...[3]string) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var ids []string
	for _, m := range msgs {
		id := fmt.Sprintf("%X%05X", len(q.msgs)+0xB0000, len(ids))
		min, _ := time.ParseDuration(m[2] + "m")
		q.msgs[id] = queue.Message{QueueID: id, Queue: "deferred", SASLUsername: login, SASLMethod: "PLAIN",
			ClientAddress: m[0], Sender: m[1], ArrivalTime: time.Unix(1700000000, 0).Add(min)}
		ids = append(ids, id)
	}
	return ids
}

// TestContainEvidenceRules: the queue files must show a takeover, at the
// rules' boundaries: several client networks, or sender domains that are
// not the login's, among messages that arrived within an hour.
func TestContainEvidenceRules(t *testing.T) {
	type m = [3]string
	for _, tc := range []struct {
		name    string
		login   string
		own     []string
		msgs    []m
		contain bool
	}{
		{"laptop and phone, own sender", "bob@lab.test", nil,
			[]m{{"192.0.2.1", "bob@lab.test", "0"}, {"198.51.100.7", "bob@lab.test", "1"}, {"192.0.2.1", "bob@lab.test", "2"}, {"198.51.100.7", "Bob@Lab.Test", "3"}, {"192.0.2.1", "bob@lab.test", "4"}, {"198.51.100.7", "bob@lab.test", "5"}}, false},
		{"three client addresses", "bob@lab.test", nil,
			[]m{{"192.0.2.1", "bob@lab.test", "0"}, {"198.51.100.7", "bob@lab.test", "1"}, {"203.0.113.9", "bob@lab.test", "2"}}, true},
		{"three addresses over more than an hour", "bob@lab.test", nil,
			[]m{{"192.0.2.1", "bob@lab.test", "0"}, {"198.51.100.7", "bob@lab.test", "40"}, {"203.0.113.9", "bob@lab.test", "90"}}, false},
		{"IPv6 privacy addresses of one /64", "bob@lab.test", nil,
			[]m{{"2001:db8:1:2::a", "bob@lab.test", "0"}, {"2001:db8:1:2::b", "bob@lab.test", "1"}, {"2001:db8:1:2:ffff::c", "bob@lab.test", "2"}}, false},
		{"three IPv6 networks", "bob@lab.test", nil,
			[]m{{"2001:db8:1:2::a", "bob@lab.test", "0"}, {"2001:db8:1:3::a", "bob@lab.test", "1"}, {"2001:db8:1:4::a", "bob@lab.test", "2"}}, true},
		{"one foreign sender domain", "bob@lab.test", nil,
			[]m{{"192.0.2.1", "promo@deals.example", "0"}, {"192.0.2.1", "promo2@deals.example", "0"}, {"192.0.2.1", "bob@lab.test", "0"}}, false},
		{"two foreign sender domains from one address", "bob@lab.test", nil,
			[]m{{"192.0.2.1", "promo@deals.example", "0"}, {"192.0.2.1", "x@pills.example", "0"}, {"192.0.2.1", "bob@lab.test", "0"}}, true},
		{"the organisation's other domain is the login's", "bob@lab.test", []string{"Lab.Test", "lab-mail.test"},
			[]m{{"192.0.2.1", "bob@lab-mail.test", "0"}, {"192.0.2.1", "bob@lab.test", "0"}, {"192.0.2.1", "info@deals.example", "0"}}, false},
		{"login without a domain: two sender domains may be its own", "bob", nil,
			[]m{{"192.0.2.1", "bob@home.example", "0"}, {"192.0.2.1", "bob@work.example", "0"}, {"192.0.2.1", "bob@work.example", "0"}}, false},
		{"login without a domain: three sender domains", "bob", nil,
			[]m{{"192.0.2.1", "a@one.example", "0"}, {"192.0.2.1", "b@two.example", "0"}, {"192.0.2.1", "c@three.example", "0"}}, true},
		{"login without a domain, the organisation's domains known", "bob", []string{"home.example"},
			[]m{{"192.0.2.1", "bob@home.example", "0"}, {"192.0.2.1", "x@one.example", "0"}, {"192.0.2.1", "y@two.example", "0"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, ContainConfig{OwnDomains: tc.own})
			ids := f.q.put(tc.login, tc.msgs...)
			f.q.add("carol@lab.test", 4, true) // another login's spam, not named
			f.c.Sink(compromised(tc.login, ids))
			o := f.next(t)
			if tc.contain {
				if o.Status != Contained || o.Held != len(tc.msgs) {
					t.Fatalf("outcome %+v, want contained", o)
				}
				return
			}
			if o.Status != Refused || !strings.HasPrefix(o.Why, "not contained: evidence not confirmed") || !strings.Contains(o.Why, "own devices are not enough") {
				t.Fatalf("outcome %+v, want refused for the queue files' evidence", o)
			}
			if len(f.mta.calls()) != 0 || o.Held != 0 {
				t.Errorf("blocked %v, held %d", f.mta.calls(), o.Held)
			}
		})
	}
}

// slowQueue answers Inspect for the ids in slow only when the context ends,
// as postcat would for ids it cannot find.
type slowQueue struct {
	*fakeQueue
	slow map[string]bool
}

func (q *slowQueue) Inspect(ctx context.Context, ids []string, fn func(queue.Message) error) error {
	for _, id := range ids {
		if q.slow[id] {
			<-ctx.Done()
			return ctx.Err()
		}
	}
	return q.fakeQueue.Inspect(ctx, ids, fn)
}

// TestContainSlowEvidenceDoesNotDelayOthers: the queue files of one alert
// taking long to read (ids that cost a wait each) stop at the time limit,
// and another login's alert is contained meanwhile.
func TestContainSlowEvidenceDoesNotDelayOthers(t *testing.T) {
	fq := &fakeQueue{msgs: map[string]queue.Message{}}
	sq := &slowQueue{fakeQueue: fq, slow: map[string]bool{}}
	var made []string
	for i := range 60 {
		id := fmt.Sprintf("F%09X", 0xABC000+i)
		sq.slow[id] = true
		made = append(made, id)
	}
	f := newFixture(t, ContainConfig{Queue: sq, VerifyTimeout: 3 * time.Second})
	f.q = fq
	f.c.Sink(compromised("carol@lab.test", made))
	start := time.Now()
	f.c.Sink(compromised("alice@lab.test", fq.add("alice@lab.test", 5, true)))
	o := f.next(t)
	if o.Login != "alice@lab.test" || o.Status != Contained {
		t.Fatalf("first outcome %+v, want alice contained", o)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("alice contained after %s, behind carol's slow evidence", d)
	}
	o = f.next(t)
	if o.Login != "carol@lab.test" || o.Status != Refused || !strings.Contains(o.Why, "reading stopped after 3s") {
		t.Fatalf("carol: %+v", o)
	}
}

// TestContainCapsIDs: at most MaxIDs queue ids of one alert are read, the
// newest.
func TestContainCapsIDs(t *testing.T) {
	f := newFixture(t, ContainConfig{MaxIDs: 5})
	old := f.q.add("alice@lab.test", 5, true)
	f.c.Sink(compromised("alice@lab.test", append(old, "ABCDEF0001", "ABCDEF0002", "ABCDEF0003", "ABCDEF0004", "ABCDEF0005")))
	o := f.next(t)
	if o.Status != Refused || !strings.Contains(o.Evidence, "5 of 10 queue ids read") || !strings.Contains(o.Why, "0 queued message(s)") {
		t.Fatalf("outcome %+v", o)
	}
}

// cancelMTA writes the entry but its configuration check is cut short by
// the context, as postfixblock's is when watch stops.
type cancelMTA struct{ cancel context.CancelFunc }

func (m cancelMTA) Block(ctx context.Context, login string, opts mtablock.Options) (mtablock.Result, error) {
	m.cancel()
	return mtablock.Result{Login: login, Written: true, Notes: []string{"postconf: context canceled"}}, nil
}

// TestContainCancelledCheckSaysCancelled: a block whose configuration check
// was cancelled is not reported as a map Postfix does not consult.
func TestContainCancelledCheckSaysCancelled(t *testing.T) {
	st, err := store.OpenDir(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q := &fakeQueue{msgs: map[string]queue.Message{}}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Outcome, 4)
	c, err := NewContainment(ctx, ContainConfig{Store: st, Queue: q, MTA: cancelMTA{cancel}, Report: func(o Outcome) { out <- o }})
	if err != nil {
		t.Fatal(err)
	}
	c.Sink(compromised("alice@lab.test", q.add("alice@lab.test", 5, true)))
	var o Outcome
	select {
	case o = <-out:
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome")
	}
	c.Close()
	if o.Status != NotContained || !strings.Contains(o.Why, "configuration check was cancelled") || strings.Contains(o.Why, "not consulted") {
		t.Fatalf("outcome %+v", o)
	}
}

// TestContainRechecksRefusedLogin: a login refused for want of evidence
// (forged lines raised its alert before its spam was queued) is checked
// again as it keeps sending, at doubling intervals, and contained once its
// queue files show the takeover; other refusals are not retried.
func TestContainRechecksRefusedLogin(t *testing.T) {
	f := newFixture(t, ContainConfig{})
	const alice = "alice@lab.test"
	f.c.Sink(compromised(alice, []string{"ABCDEF0123", "ABCDEF0124", "ABCDEF0125"}))
	if o := f.next(t); o.Status != Refused || !strings.Contains(o.Why, "checked again while it sends") {
		t.Fatalf("first outcome %+v", o)
	}
	if f.c.RecheckDue(alice) {
		t.Fatal("due at once")
	}
	f.advance(29 * time.Second)
	if f.c.RecheckDue(alice) {
		t.Fatal("due before 30 s")
	}
	f.advance(time.Second)
	if !f.c.RecheckDue("ALICE@lab.test") {
		t.Fatal("not due after 30 s")
	}
	// Still nothing queued: refused again, next check 60 s on.
	f.c.Sink(compromised(alice, nil))
	if o := f.next(t); o.Status != Refused {
		t.Fatalf("second outcome %+v", o)
	}
	f.advance(59 * time.Second)
	if f.c.RecheckDue(alice) {
		t.Fatal("due before the doubled wait")
	}
	f.advance(time.Second)
	if !f.c.RecheckDue(alice) {
		t.Fatal("not due after the doubled wait")
	}
	// Its spam is in the queue now: contained, and no longer due.
	f.c.Sink(compromised(alice, f.q.add(alice, 6, true)))
	if o := f.next(t); o.Status != Contained {
		t.Fatalf("third outcome %+v", o)
	}
	f.advance(time.Hour)
	if f.c.RecheckDue(alice) {
		t.Error("due after it was contained")
	}
	// An unsafe login is refused for good: never due.
	f.c.Sink(compromised("-bad login", nil))
	if o := f.next(t); o.Status != Refused {
		t.Fatalf("unsafe login %+v", o)
	}
	f.advance(time.Hour)
	if f.c.RecheckDue("-bad login") {
		t.Error("an unsafe login is due")
	}
}

// TestContainRetriesEnd: the checks stop after retryTries refusals.
func TestContainRetriesEnd(t *testing.T) {
	f := newFixture(t, ContainConfig{})
	for i := range retryTries + 1 {
		f.c.Sink(compromised("bob@lab.test", nil))
		if o := f.next(t); o.Status != Refused {
			t.Fatalf("outcome %d %+v", i, o)
		}
		f.advance(retryMax)
		if due := f.c.RecheckDue("bob@lab.test"); due != (i < retryTries) {
			t.Fatalf("after refusal %d: due %v", i+1, due)
		}
	}
}
