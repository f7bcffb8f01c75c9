package postfixq

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabSelectHoldDelete runs the adapter against a private real Postfix:
// a stolen login's messages are found by their queue files, held, verified
// and deleted from the hold queue, and another login's mail is untouched.
func TestLabSelectHoldDelete(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var alice []string
	for i := range 3 {
		res, err := lab.Send(ctx, testlab.SendOpts{
			LocalIP: "127.0.0.66", Login: "alice@lab.test", Password: "alice-secret-1",
			From: "promo@spam.example", To: []string{"victim@example.org"}, Subject: "spam " + string(rune('a'+i)),
		})
		if err != nil {
			t.Fatalf("send as alice: %v", err)
		}
		alice = append(alice, res.QueueID)
	}
	bob, err := lab.Send(ctx, testlab.SendOpts{
		LocalIP: "127.0.0.67", Login: "bob@lab.test", Password: "bob-secret-2",
		From: "bob@lab.test", To: []string{"friend@example.org"},
	})
	if err != nil {
		t.Fatalf("send as bob: %v", err)
	}
	if _, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool { return testlab.QueueCounts(es)["deferred"] == 4 }); err != nil {
		t.Fatalf("queue never held 4 deferred messages: %v", err)
	}
	q, err := New(ctx, Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	if q.QueueDir() != lab.QueueDir {
		t.Errorf("queue dir = %q, want %q", q.QueueDir(), lab.QueueDir)
	}
	sel, err := queue.SelectLogin(ctx, q, "Alice@Lab.Test", []queue.Link{{QueueID: bob.QueueID, Kind: queue.LinkBounce}})
	if err != nil {
		t.Fatal(err)
	}
	got := sel.IDs()
	slices.Sort(got)
	slices.Sort(alice)
	if !slices.Equal(got, alice) {
		t.Fatalf("selected %v, want %v", got, alice)
	}
	if len(sel.Refused) != 1 || sel.Refused[0].QueueID != bob.QueueID {
		t.Errorf("refused = %+v, want bob's message refused", sel.Refused)
	}
	for _, m := range sel.Messages {
		if m.SASLMethod != "PLAIN" || m.ClientAddress != "127.0.0.66" || m.Sender != "promo@spam.example" || m.LogIdent != m.QueueID {
			t.Errorf("message facts: %+v", m.Message)
		}
	}
	rep, err := queue.HoldLogin(ctx, q, "alice@lab.test", nil)
	slices.Sort(rep.Held)
	if err != nil || !slices.Equal(rep.Held, alice) || len(rep.Released) != 0 || len(rep.Missing) != 0 {
		t.Fatalf("hold login = %+v, %v", rep, err)
	}
	held := 0
	q.List(ctx, func(e queue.Entry) error {
		if e.Queue == "hold" {
			held++
		}
		return nil
	})
	if held != 3 {
		t.Errorf("hold queue has %d messages, want 3", held)
	}
	// Bob's message is not held, so DeleteHeld must not touch it.
	res, err := q.DeleteHeld(ctx, append([]string{bob.QueueID}, alice...))
	if err != nil || res.Changed != 3 || res.Reported != 3 || !slices.Equal(res.Missing, []string{bob.QueueID}) {
		t.Fatalf("delete held = %+v, %v", res, err)
	}
	var left []string
	q.List(ctx, func(e queue.Entry) error { left = append(left, e.QueueID); return nil })
	if !slices.Equal(left, []string{bob.QueueID}) {
		t.Errorf("queue after delete = %v, want only bob's %s", left, bob.QueueID)
	}
	if err := q.Flush(ctx); err != nil {
		t.Errorf("flush: %v", err)
	}
}

// TestLabLongQueueIDs checks the adapter with enable_long_queue_ids: the ids
// validate, queue files are found in the hashed deferred queue and in hold,
// and hold and release work.
func TestLabLongQueueIDs(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true, LongQueueIDs: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.66", Login: "carol@lab.test", Password: testlab.DefaultUsers["carol@lab.test"],
		From: "x@spam.example", To: []string{"victim@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	id := res.QueueID
	if !ValidQueueID(id) || len(id) < 12 {
		t.Fatalf("long queue id %q not valid", id)
	}
	if _, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool { return testlab.QueueCounts(es)["deferred"] == 1 }); err != nil {
		t.Fatal(err)
	}
	q, err := New(ctx, Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := q.FindFile("deferred", id); err != nil || !strings.HasSuffix(p, "/"+id) {
		t.Errorf("find in deferred: %q, %v", p, err)
	}
	sel, err := queue.SelectLogin(ctx, q, "carol@lab.test", nil)
	if err != nil || len(sel.Messages) != 1 || sel.Messages[0].QueueID != id {
		t.Fatalf("select = %+v, %v", sel, err)
	}
	if r, err := q.Hold(ctx, []string{id}); err != nil || r.Changed != 1 {
		t.Fatalf("hold = %+v, %v", r, err)
	}
	if _, err := q.FindFile("hold", id); err != nil {
		t.Errorf("find in hold: %v", err)
	}
	if r, err := q.Release(ctx, []string{id}); err != nil || r.Changed != 1 {
		t.Errorf("release = %+v, %v", r, err)
	}
}

// TestLabFilterCopy: behind an after-queue content filter the queued copy of
// a login's message does not carry sasl_username, so only a link from log
// correlation selects it.
func TestLabFilterCopy(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true, ContentFilter: testlab.FilterAll})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.66", Login: "alice@lab.test", Password: testlab.DefaultUsers["alice@lab.test"],
		From: "x@spam.example", To: []string{"victim@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	line, err := lab.WaitLog(ctx, testlab.PostfixLog, res.QueueID+": to=<victim@example.org>", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(line, "queued as ")
	if !ok {
		t.Fatalf("no re-queue in %q", line)
	}
	copyID := strings.TrimRight(after, ")")
	if _, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool {
		return len(es) == 1 && es[0].QueueID == copyID && es[0].QueueName == "deferred"
	}); err != nil {
		t.Fatalf("filter copy %s never deferred: %v", copyID, err)
	}
	q, err := New(ctx, Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := queue.SelectLogin(ctx, q, "alice@lab.test", nil)
	if err != nil || len(sel.Messages) != 0 {
		t.Fatalf("without a link: %+v, %v (the copy should carry no login)", sel, err)
	}
	sel, err = queue.SelectLogin(ctx, q, "alice@lab.test", []queue.Link{{QueueID: copyID, Kind: queue.LinkFilterCopy}})
	if err != nil || len(sel.Messages) != 1 || sel.Messages[0].Reason != "filter-copy" {
		t.Fatalf("with a link: %+v, %v", sel, err)
	}
}

// TestLabInspectMadeUpIDs: ids that name no queued message (made-up ids
// from forged log lines) cost no postcat wait on a real Postfix, whose
// postcat takes about a second to give up on each; the real ones among
// them are read in one call.
func TestLabInspectMadeUpIDs(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var real []string
	for i := range 3 {
		res, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.66", Login: "alice@lab.test", Password: "alice-secret-1",
			From: "alice@lab.test", To: []string{"friend@example.org"}, Subject: "note " + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		real = append(real, res.QueueID)
	}
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("F%09X", 0xABC000+i))
		if i%20 == 0 {
			ids = append(ids, real[i/20])
		}
	}
	q, err := New(ctx, Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var got []string
	err = q.Inspect(ctx, ids, func(m queue.Message) error {
		if m.SASLUsername == "alice@lab.test" {
			got = append(got, m.QueueID)
		}
		return nil
	})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(real)
	if !slices.Equal(got, real) {
		t.Errorf("read %v, want %v", got, real)
	}
	// One made-up id given to postcat would cost a second.
	if took > 900*time.Millisecond {
		t.Errorf("inspecting 60 made-up and 3 real ids took %s", took)
	}
}
