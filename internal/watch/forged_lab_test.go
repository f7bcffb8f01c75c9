package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/testlab"
)

// forgeIDs appends forged lines to the log (testlab.AppendForgedLines):
// login "sends" one message per queue id (real ids copied from mailq, or
// made up) from addrs client addresses, with forged senders.
func forgeIDs(t *testing.T, path, login string, ids []string, addrs int) {
	t.Helper()
	ips := make([]string, addrs)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.1.%d", 10+i)
	}
	if err := testlab.AppendForgedLines(path, login, ids, ips); err != nil {
		t.Fatal(err)
	}
}

// madeUpIDs returns n well-formed queue ids that name no queued message.
func madeUpIDs(n int) []string {
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("E%09X", 0xDEF000+i))
	}
	return ids
}

// alerted waits until the engine has alerted on login.
func (d *daemon) alerted(t *testing.T, ctx context.Context, login string) {
	t.Helper()
	for {
		d.mu.Lock()
		for _, a := range d.alerts {
			if a.Login == login && a.Verdict == "compromised" {
				d.mu.Unlock()
				return
			}
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			t.Fatalf("the forged lines raised no compromised alert on %s: the attack did not reach contain mode", login)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestLabForgedLinesNameColleague: a local user forges log lines naming a
// colleague, with the colleague's real queue ids from mailq. The
// colleague's queued mail came from two of their own addresses (laptop
// and phone) with their own sender: the detector alerts on the forged
// lines, but contain mode refuses, and the colleague is neither blocked
// nor has mail held.
func TestLabForgedLinesNameColleague(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := effectiveMap(t, ctx, lab)
	const bob = "bob@lab.test"
	var real []string
	for i := range 6 {
		ip := []string{"127.0.0.71", "127.0.0.72"}[i%2] // laptop, phone
		r, err := lab.Send(ctx, testlab.SendOpts{LocalIP: ip, Login: bob, Password: testlab.DefaultUsers[bob],
			From: bob, To: []string{fmt.Sprintf("client%d@example.org", i)}, Subject: "quote"})
		if err != nil || r.QueueID == "" {
			t.Fatalf("bob's message %d: %v", i, err)
		}
		real = append(real, r.QueueID)
	}
	d := startDaemon(t, ctx, lab, m, 3)
	// The attacker reads bob's ids from mailq and names them in lines
	// that show bob sending spam from four addresses. The queue is read
	// once it has settled: a message moving from incoming to active while
	// postqueue walks the directories is listed twice.
	es, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool {
		c := testlab.QueueCounts(es)
		return c["incoming"] == 0 && c["active"] == 0
	})
	if err != nil {
		t.Fatal(err)
	}
	var fromMailq []string
	for _, e := range es {
		if e.Sender == bob {
			fromMailq = append(fromMailq, e.QueueID)
		}
	}
	if len(fromMailq) != len(real) {
		t.Fatalf("mailq shows %d of bob's messages, want %d", len(fromMailq), len(real))
	}
	forgeIDs(t, lab.LogPath(), bob, append(fromMailq, fromMailq...), 4)
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	d.alerted(t, wctx, bob)
	o := d.wait(t, wctx, bob)
	t.Logf("outcome: %s: %s; %s", o.Status, o.Why, o.Evidence)
	if o.Status != Refused || !strings.HasPrefix(o.Why, "not contained: evidence not confirmed") || o.Blocked {
		t.Fatalf("bob: %+v, want refused for lack of queue-file evidence", o)
	}
	if !strings.Contains(o.Evidence, "6 of the log's messages name the login") || !strings.Contains(o.Evidence, "2 client address(es)") {
		t.Errorf("evidence %q: want bob's 6 real messages from 2 addresses read", o.Evidence)
	}
	if es, _ := m.List(ctx); len(es) != 0 {
		t.Errorf("map: %+v", es)
	}
	if _, ok, _ := d.st.IsBlocked(ctx, bob); ok {
		t.Error("bob blocked in the registry")
	}
	es, err = lab.Queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.QueueName == "hold" {
			t.Errorf("%s (%s) held", e.QueueID, e.Sender)
		}
	}
	if r, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.71", Login: bob, Password: testlab.DefaultUsers[bob],
		From: bob, To: []string{"after@example.org"}}); err != nil || r.QueueID == "" {
		t.Errorf("bob after the forged lines: %v", err)
	}
}

// TestLabMadeUpIDsDoNotStall: forged lines naming another login with 60
// made-up queue ids (each of which costs postcat about a second) are
// written just before a real takeover; the takeover, spamming from four
// addresses one session after another, started at most 10 a second, is
// still contained after at most 10 spam messages, within 5 s. (A true 10
// a second, sessions overlapping, is bench/watch's: its count depends on
// the machine's load.)
func TestLabMadeUpIDsDoNotStall(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m := effectiveMap(t, ctx, lab)
	d := startDaemon(t, ctx, lab, m, 3)
	const alice, carol = "alice@lab.test", "carol@lab.test"

	forgeIDs(t, lab.LogPath(), carol, madeUpIDs(60), 4)
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	d.alerted(t, wctx, carol) // carol's evidence is in contain mode's hands
	wcancel()

	start := time.Now()
	ips := []string{"127.0.0.66", "127.0.0.67", "127.0.0.68", "127.0.0.69"}
	queued := 0
	var refusal error
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < 100 && refusal == nil; i++ {
		if i > 0 {
			<-tick.C
		}
		r, err := lab.Send(ctx, testlab.SendOpts{LocalIP: ips[i%len(ips)], Login: alice, Password: testlab.DefaultUsers[alice],
			From: fmt.Sprintf("promo%d@deals%d.example", i, i), To: []string{fmt.Sprintf("victim%d@example.net", i)}, Subject: "cheap pills"})
		var rerr *testlab.ReplyError
		switch {
		case errors.As(err, &rerr):
			refusal = err
		case err != nil:
			t.Fatalf("spam %d: %v", i, err)
		case r.QueueID != "":
			queued++
		}
	}
	refusedAfter := time.Since(start)
	if refusal == nil {
		t.Fatalf("alice's spam was never refused: %d messages queued in %s", queued, refusedAfter)
	}
	o := d.wait(t, ctx, alice)
	if o.Status != Contained || !o.Blocked {
		t.Fatalf("alice: %+v", o)
	}
	took := o.BlockedAt.Sub(start)
	t.Logf("alice: %d spam messages queued; alert %.2f s, handed to contain mode %.2f s, blocked %.2f s after the first spam; refused after %.2f s",
		queued, o.AlertAt.Sub(start).Seconds(), o.Queued.Sub(start).Seconds(), took.Seconds(), refusedAfter.Seconds())
	d.mu.Lock()
	for _, a := range d.alerts {
		if a.Login == alice {
			t.Logf("alice's alert: %d queue ids, reasons %q", len(a.QueueIDs), a.Reasons)
		}
	}
	d.mu.Unlock()
	if queued > 10 {
		t.Errorf("%d spam messages queued before the block, want at most 10", queued)
	}
	if took > 5*time.Second {
		t.Errorf("blocked %s after the first spam, want within 5 s", took)
	}
	// carol's made-up evidence was refused, without blocking anything.
	if _, ok, _ := d.st.IsBlocked(ctx, carol); ok {
		t.Error("carol blocked")
	}
}
