package respond

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/quarantine"
	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/store"
	"github.com/saslguard/saslguard/internal/testlab"
	"github.com/saslguard/saslguard/internal/testlab/labmap"
)

// labEnv starts a lab with an smtps listener whose mail takes the content
// filter hop, makes the saslguard map effective (as an admin would, from the
// check's own fixes), and returns a respond Env on it.
func labEnv(t testing.TB, ctx context.Context, users map[string]string, s Settings, out *bytes.Buffer) (*testlab.Lab, *Env) {
	t.Helper()
	lab := testlab.Start(t, testlab.Options{SMTPS: true, ContentFilter: testlab.FilterSMTPS, NoIMAP: true, Users: users})
	dir := t.TempDir()
	s.PostfixConfig = lab.ConfigDir
	s.PasswdFile = lab.PasswdFile
	s.DoveadmConfig = lab.DovecotConf
	s.StateDir = filepath.Join(dir, "state")
	env, err := Setup(ctx, s, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	labmap.MakeEffective(t, ctx, lab, env.Map)
	return lab, env
}

// spamRun sends n messages as login with forged senders from several
// loopback addresses: every 5th through smtps (content filter hop), every
// 7th also to an unknown local user (a bounce to the forged sender).
// It returns how many bounces to expect.
func spamRun(t *testing.T, ctx context.Context, lab *testlab.Lab, login string, n int, tag string) (bounces int) {
	t.Helper()
	pw, _ := lab.Password(login)
	ips := []string{"127.0.0.66", "127.0.0.67", "127.0.0.68"}
	for i := range n {
		o := testlab.SendOpts{LocalIP: ips[i%len(ips)], Login: login, Password: pw,
			From:    fmt.Sprintf("promo%d@deals%d-%s.example", i, i%9, tag),
			To:      []string{fmt.Sprintf("victim%d@example.org", i), fmt.Sprintf("victim%d@example.net", i)},
			Subject: "cheap pills " + tag}
		if i%5 == 0 {
			o.Service = testlab.SMTPS
		}
		if i%7 == 0 {
			o.To = append(o.To, fmt.Sprintf("nosuch%d@lab.test", i))
			bounces++
		}
		if _, err := lab.Send(ctx, o); err != nil {
			t.Fatalf("spam %d: %v", i, err)
		}
	}
	return bounces
}

// settle waits until the queue holds want messages, none in flight.
func settle(t *testing.T, ctx context.Context, lab *testlab.Lab, want int) []testlab.QueueEntry {
	t.Helper()
	es, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool {
		c := testlab.QueueCounts(es)
		return len(es) == want && c["active"] == 0 && c["incoming"] == 0
	})
	if err != nil {
		t.Fatalf("queue did not settle at %d messages: %v (%v)", want, err, testlab.QueueCounts(es))
	}
	return es
}

// owners reads the queue files: queue id -> message.
func owners(t *testing.T, ctx context.Context, env *Env) map[string]queue.Message {
	t.Helper()
	var ids []string
	if err := env.Queue.List(ctx, func(e queue.Entry) error { ids = append(ids, e.QueueID); return nil }); err != nil {
		t.Fatal(err)
	}
	out := map[string]queue.Message{}
	if err := env.Queue.Inspect(ctx, ids, func(m queue.Message) error { out[m.QueueID] = m; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func sendAs(ctx context.Context, lab *testlab.Lab, login, ip string) (testlab.SendResult, error) {
	pw, _ := lab.Password(login)
	return lab.Send(ctx, testlab.SendOpts{LocalIP: ip, Login: login, Password: pw,
		From: "probe@probe.example", To: []string{"probe@example.org"}, Subject: "probe"})
}

// TestLabRespond is issue 3's end-to-end case on a real Postfix and Dovecot.
func TestLabRespond(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	lab, env := labEnv(t, ctx, nil, Settings{}, &out)
	const alice, bob = "alice@lab.test", "bob@lab.test"

	// Bob's legitimate mail, some of it through the filter hop.
	var bobIDs []string
	for i := range 5 {
		o := testlab.SendOpts{LocalIP: "127.0.0.10", Login: bob, Password: testlab.DefaultUsers[bob],
			From: bob, To: []string{fmt.Sprintf("friend%d@example.com", i)}, Subject: "minutes"}
		if i%2 == 0 {
			o.Service = testlab.SMTPS
		}
		r, err := lab.Send(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		bobIDs = append(bobIDs, r.QueueID)
	}
	bounces := spamRun(t, ctx, lab, alice, 50, "a")
	// A live session that authenticated (and sent) before the block.
	live, err := lab.Dial(ctx, testlab.DialOpts{LocalIP: "127.0.0.69"})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Auth(ctx, alice, testlab.DefaultUsers[alice]); err != nil {
		t.Fatal(err)
	}
	live.Mail(ctx, "live@forged.example")
	live.Rcpt(ctx, "live@example.org")
	if _, err := live.Data(ctx, []byte("Subject: live\r\n\r\nspam\r\n")); err != nil {
		t.Fatal(err)
	}
	total := 5 + 50 + 1 + bounces
	settle(t, ctx, lab, total)
	before := owners(t, ctx, env)
	aliceDirect := 0
	for _, m := range before {
		if m.SASLUsername == alice {
			aliceDirect++
		}
	}
	if aliceDirect != 41 { // 40 via submission + the live one; smtps ones are filter copies
		t.Fatalf("%d queued messages carry alice's login, want 41", aliceDirect)
	}

	targets, err := ScanTargets(ctx, nil, ScanOptions{Logs: []string{lab.LogPath()}, Year: time.Now().Year(), Loc: time.Local})
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 1 || targets[0].Login != alice {
		t.Fatalf("scan targets = %+v, want alice only", targets)
	}
	tg := targets[0]
	t.Logf("target: %d links, %d pid hints, IPs %v; %s", len(tg.Links), len(tg.Hints), tg.IPs, tg.Evidence)

	// Dry run: the plan, nothing changed.
	sum, err := env.Run(ctx, targets, false)
	if err != nil || !sum.DryRun {
		t.Fatalf("dry run: %+v, %v", sum, err)
	}
	plan := out.String()
	for _, want := range []string{"alice@lab.test: would open a new incident", "block at Postfix", "postsuper -c " + lab.ConfigDir + " -h -", "dry run: nothing was changed"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if c := testlab.QueueCounts(settle(t, ctx, lab, total)); c["hold"] != 0 {
		t.Fatalf("dry run held mail: %v", c)
	}
	if incs, _ := env.Store.ListIncidents(ctx, store.IncidentFilter{}); len(incs) != 0 {
		t.Fatalf("dry run opened incidents: %+v", incs)
	}

	// The real run; at the end of step 1 the MTA block is checked alone:
	// alice's password still works, RCPT is refused.
	out.Reset()
	mtaChecked := false
	env.cfg.Hook = func(point string) error {
		t.Logf("%s: after %s", time.Now().Format("15:04:05.000"), point)
		if point != StepHold {
			return nil
		}
		mtaChecked = true
		_, err := sendAs(ctx, lab, alice, "127.0.0.70")
		var re *testlab.ReplyError
		if !errors.As(err, &re) || re.Command != "RCPT" || re.Reply.Code != 554 {
			t.Errorf("alice after the MTA block, password still valid: %v, want RCPT 554", err)
		}
		return nil
	}
	sum, err = env.Run(ctx, targets, true)
	t.Logf("respond output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	env.cfg.Hook = nil
	if !mtaChecked {
		t.Error("hook after the hold step never ran")
	}
	o := sum.Outcomes[0]
	if !o.MTABlocked || !o.Disabled || o.Sessions < 1 {
		t.Errorf("outcome = %+v", o)
	}
	t.Logf("%s: run returned", time.Now().Format("15:04:05.000"))
	if _, err := live.Cmd(ctx, "NOOP"); err == nil {
		t.Error("alice's live session still answers")
	}
	t.Logf("%s: noop done", time.Now().Format("15:04:05.000"))
	// The Dovecot disable: AUTH refused.
	c, err := lab.Dial(ctx, testlab.DialOpts{LocalIP: "127.0.0.71"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Auth(ctx, alice, testlab.DefaultUsers[alice])
	c.Close()
	var re *testlab.ReplyError
	if !errors.As(err, &re) || re.Reply.Code != 535 {
		t.Errorf("alice AUTH after disable: %v, want 535", err)
	}
	// The queue: only bob's mail, released (deferred), nothing of alice's.
	after := owners(t, ctx, env)
	if len(after) != 5 {
		t.Errorf("queue has %d messages after respond, want bob's 5", len(after))
	}
	for id, m := range after {
		if m.SASLUsername == alice || m.Sender == "" || strings.HasPrefix(m.Sender, "promo") {
			t.Errorf("alice's message %s still queued: %+v", id, m)
		}
		if m.Queue != "deferred" {
			t.Errorf("bob's message %s is in %s, want deferred", id, m.Queue)
		}
	}
	// Every alice message (direct, filter copies, bounces) is in quarantine.
	ents, err := env.Quar.List()
	if err != nil {
		t.Fatal(err)
	}
	wantQ := 0
	for id, m := range before {
		if _, still := after[id]; !still {
			wantQ++
		}
		_ = m
	}
	if len(ents) != total-5 || wantQ != total-5 {
		t.Errorf("quarantine has %d entries, %d messages left the queue, want %d", len(ents), wantQ, total-5)
	}
	nb, nf := 0, 0
	for _, e := range ents {
		if _, ok := before[e.QueueID]; !ok {
			t.Errorf("quarantined %s was not in the queue", e.QueueID)
		}
		if e.Sender == "" {
			nb++
		}
		if before[e.QueueID].SASLUsername == "" && e.Sender != "" {
			nf++
		}
	}
	if nb != bounces || nf != 10 {
		t.Errorf("quarantined %d bounces and %d filter copies, want %d and 10", nb, nf, bounces)
	}
	// Every step is recorded.
	inc, acts, err := env.Store.GetIncident(ctx, o.Incident)
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]int{}
	for _, a := range acts {
		steps[stepOf(a)] += a.OK
	}
	for _, s := range []string{StepStart, StepBlock, StepSessions, StepHold, StepDisable, StepQuarantine, StepDelete, StepFlush, StepDone} {
		if steps[s] == 0 {
			t.Errorf("no %s action recorded: %+v", s, acts)
		}
	}
	if steps[StepDelete] != total-5 {
		t.Errorf("recorded %d deletions, want %d", steps[StepDelete], total-5)
	}
	if b, ok, _ := env.Store.IsBlocked(ctx, alice); !ok || b.IncidentID != inc.ID {
		t.Errorf("registry: %+v %v", b, ok)
	}
	if inc.Status != store.StatusClosed {
		t.Errorf("incident %d is %s after every step completed, want closed", inc.ID, inc.Status)
	}
	if _, err := sendAs(ctx, lab, bob, "127.0.0.10"); err != nil {
		t.Errorf("bob cannot send after respond: %v", err)
	}

	// A second run changes nothing.
	mapBefore, _ := os.ReadFile(env.Map.Path())
	st1, _ := os.Stat(env.Map.Path())
	out.Reset()
	sum2, err := env.Run(ctx, targets, true)
	if err != nil {
		t.Fatal(err)
	}
	o2 := sum2.Outcomes[0]
	if o2.Incident != o.Incident || o2.Held+o2.Exported+o2.Deleted+o2.Released+o2.Sessions != 0 || o2.Disabled {
		t.Errorf("second run did something: %+v\n%s", o2, out.String())
	}
	if incs, _ := env.Store.ListIncidents(ctx, store.IncidentFilter{}); len(incs) != 1 || incs[0].Status != store.StatusClosed {
		t.Errorf("after the second run: incidents %+v, want the one, closed", incs)
	}
	_, acts2, _ := env.Store.GetIncident(ctx, o.Incident)
	if len(acts2) != len(acts) {
		t.Errorf("second run recorded %d more actions: %+v", len(acts2)-len(acts), acts2[len(acts):])
	}
	mapAfter, _ := os.ReadFile(env.Map.Path())
	st2, _ := os.Stat(env.Map.Path())
	if !bytes.Equal(mapBefore, mapAfter) || !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("second run rewrote the map")
	}
	if q, _ := env.Quar.List(); len(q) != len(ents) {
		t.Errorf("second run changed the quarantine: %d -> %d", len(ents), len(q))
	}

	// quarantine restore brings one message back with its envelope.
	var pick quarantine.Entry
	for _, e := range ents {
		if before[e.QueueID].SASLUsername == alice {
			pick = e
			break
		}
	}
	re2, err := env.Quar.Restore(ctx, pick.ID, quarantine.RestoreOptions{KeepHeld: true})
	if err != nil {
		t.Fatal(err)
	}
	got := owners(t, ctx, env)[re2.RestoredAs]
	orig := before[pick.QueueID]
	if got.SASLUsername != alice || got.Sender != orig.Sender || !slices.Equal(got.Recipients, orig.Recipients) || got.Queue != "hold" {
		t.Errorf("restored %s = %+v, want the envelope of %+v", re2.RestoredAs, got, orig)
	}
	// Put it back out of the way for the undo check.
	if _, err := env.Queue.DeleteHeld(ctx, []string{re2.RestoredAs}); err != nil {
		t.Fatal(err)
	}

	// Undo refuses to bring back the old password.
	out.Reset()
	if _, err := env.Undo(ctx, o.Incident, UndoOptions{}); !errors.Is(err, ErrOldPassword) {
		t.Fatalf("undo without --enable-old-password: %v", err)
	}
	if b, _ := os.ReadFile(env.Map.Path()); !bytes.Equal(b, mapAfter) {
		t.Error("refused undo changed the map")
	}
	ur, err := env.Undo(ctx, o.Incident, UndoOptions{EnableOldPassword: true, Restore: true})
	t.Logf("undo output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !ur.Unblocked || !ur.Enabled || len(ur.Restored) != len(ents)-1 {
		t.Errorf("undo = unblocked %v enabled %v restored %d (want %d)", ur.Unblocked, ur.Enabled, len(ur.Restored), len(ents)-1)
	}
	time.Sleep(1100 * time.Millisecond) // Dovecot re-reads the passwd-file at most once a second
	if r, err := sendAs(ctx, lab, alice, "127.0.0.72"); err != nil || r.QueueID == "" {
		t.Errorf("alice after undo: %+v, %v", r, err)
	}
	if _, ok, _ := env.Store.IsBlocked(ctx, alice); ok {
		t.Error("registry still blocks alice after undo")
	}
	if in, _, _ := env.Store.GetIncident(ctx, o.Incident); in.Status != store.StatusClosed {
		t.Errorf("incident status %s after undo", in.Status)
	}
	_ = bobIDs
}

var errCrash = errors.New("simulated crash")

// TestLabResume stops a run at the end of each step (and between the
// quarantine export and the delete), checks that no message was lost, then
// runs respond again: it finishes the job without doing anything twice.
// --hold-all is on, so the release step has work too (bob's mail).
func TestLabResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	points := []string{StepBlock, StepSessions, StepHold, StepDisable, "export", StepDelete, StepRelease}
	users := map[string]string{}
	for i := range points {
		users[fmt.Sprintf("weak%d@lab.test", i)] = "123456"
	}
	var out bytes.Buffer
	lab, env := labEnv(t, ctx, users, Settings{HoldAll: true}, &out)
	const bob = "bob@lab.test"
	queued := 0
	for i, point := range points {
		login := fmt.Sprintf("weak%d@lab.test", i)
		t.Run(point, func(t *testing.T) {
			for j := range 2 {
				if _, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.10", Login: bob, Password: testlab.DefaultUsers[bob],
					From: bob, To: []string{fmt.Sprintf("colleague%d-%d@example.com", i, j)}}); err != nil {
					t.Fatal(err)
				}
			}
			b := spamRun(t, ctx, lab, login, 6, fmt.Sprint(i))
			queued += 2
			settle(t, ctx, lab, queued+6+b)
			before := owners(t, ctx, env)
			spam := map[string]bool{}
			for id, m := range before {
				if !strings.HasPrefix(m.Sender, "bob") {
					spam[id] = true
				}
			}
			if len(spam) != 6+b {
				t.Fatalf("%d spam messages queued, want %d", len(spam), 6+b)
			}
			targets, err := ScanTargets(ctx, []string{login}, ScanOptions{Logs: []string{lab.LogPath()}, Year: time.Now().Year(), Loc: time.Local})
			if err != nil {
				t.Fatal(err)
			}
			env.cfg.Hook = func(p string) error {
				if p == point {
					return errCrash
				}
				return nil
			}
			out.Reset()
			_, err = env.Run(ctx, targets, true)
			env.cfg.Hook = nil
			if !errors.Is(err, errCrash) {
				t.Fatalf("run with a crash at %s: %v\n%s", point, err, out.String())
			}
			// Nothing lost: each spam message is queued or quarantined.
			mid := owners(t, ctx, env)
			ents, _ := env.Quar.List()
			inQ := map[string]int{}
			for _, e := range ents {
				inQ[e.QueueID]++
			}
			for id := range spam {
				if _, ok := mid[id]; !ok && inQ[id] == 0 {
					t.Errorf("after the crash at %s, %s is neither queued nor quarantined", point, id)
				}
			}
			out.Reset()
			sum, err := env.Run(ctx, targets, true)
			if err != nil {
				t.Fatalf("resume after %s: %v\n%s", point, err, out.String())
			}
			if !strings.Contains(out.String(), "resuming") {
				t.Errorf("second run did not resume the incident:\n%s", out.String())
			}
			settle(t, ctx, lab, queued) // released mail passes through active
			final := owners(t, ctx, env)
			for id, m := range final {
				if spam[id] {
					t.Errorf("spam %s still queued after resume", id)
				}
				if m.Queue == "hold" {
					t.Errorf("%s left on hold (bob's mail must be released)", id)
				}
			}
			if len(final) != queued {
				t.Errorf("%d messages queued, want bob's %d\n%s", len(final), queued, out.String())
				all, _ := env.Quar.List()
				for _, e := range all {
					if strings.HasPrefix(e.Sender, "bob") {
						t.Errorf("bob's mail quarantined: %+v", e)
					}
				}
			}
			ents, _ = env.Quar.List()
			inQ = map[string]int{}
			for _, e := range ents {
				inQ[e.QueueID]++
			}
			for id := range spam {
				if inQ[id] != 1 {
					t.Errorf("%s quarantined %d times", id, inQ[id])
				}
			}
			_, acts, err := env.Store.GetIncident(ctx, sum.Outcomes[0].Incident)
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{}
			for _, a := range acts {
				n[stepOf(a)] += a.OK
			}
			if n[StepDelete] != len(spam) {
				t.Errorf("%d deletions recorded, want %d: %+v", n[StepDelete], len(spam), acts)
			}
			if n[StepDisable] != 1 {
				t.Errorf("account disabled %d times", n[StepDisable])
			}
			// A third run changes nothing.
			out.Reset()
			sum, err = env.Run(ctx, targets, true)
			o := sum.Outcomes[0]
			if err != nil || o.Held+o.Exported+o.Deleted+o.Released != 0 {
				t.Errorf("third run: %+v, %v\n%s", o, err, out.String())
			}
		})
	}
}

// TestLabMapNotEffective: while Postfix does not consult the map in every
// AUTH service, respond writes the entry but does not call the login
// blocked, prints the lines to add, and asks for attention; once the admin
// added them, running respond again completes the block.
func TestLabMapNotEffective(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lab := testlab.Start(t, testlab.Options{SMTPS: true, NoIMAP: true})
	var out bytes.Buffer
	env, err := Setup(ctx, Settings{PostfixConfig: lab.ConfigDir, PasswdFile: lab.PasswdFile, DoveadmConfig: lab.DovecotConf,
		StateDir: filepath.Join(t.TempDir(), "state")}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	const alice = "alice@lab.test"
	if _, err := sendAs(ctx, lab, alice, "127.0.0.66"); err != nil {
		t.Fatal(err)
	}
	settle(t, ctx, lab, 1)
	if _, err := env.Run(ctx, []Target{{Login: alice}}, false); err != nil {
		t.Fatal(err)
	}
	if plan := out.String(); !strings.Contains(plan, "WARNING") || !strings.Contains(plan, "does not exist yet") {
		t.Errorf("plan does not warn:\n%s", plan)
	}
	if _, err := os.Stat(env.Map.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run wrote the map: %v", err)
	}
	out.Reset()
	sum, err := env.Run(ctx, []Target{{Login: alice}}, true)
	if err != nil {
		t.Fatal(err)
	}
	o := sum.Outcomes[0]
	if o.MTABlocked || !sum.Attention() || o.Exported != 1 || !o.Disabled {
		t.Errorf("outcome %+v", o)
	}
	text := out.String()
	if strings.Contains(text, "1. blocked at Postfix") || !strings.Contains(text, "NOT blocked at Postfix") || !strings.Contains(text, "check_sasl_access") {
		t.Errorf("output does not refuse the claim or lacks the fix:\n%s", text)
	}
	// Not blocked: the registry does not say so, the incident stays open
	// and says why.
	if b, ok, _ := env.Store.IsBlocked(ctx, alice); ok {
		t.Errorf("registry says blocked while Postfix does not consult the map: %+v", b)
	}
	inc, acts, _ := env.Store.GetIncident(ctx, o.Incident)
	if inc.Status != store.StatusOpen || !strings.Contains(acts[len(acts)-1].Result, "open: not blocked at the MTA") {
		t.Errorf("incident %s, last action %+v: want open, saying why", inc.Status, acts[len(acts)-1])
	}
	if err := labmap.ApplyFixes(ctx, lab, env.Map); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	sum, err = env.Run(ctx, []Target{{Login: alice}}, true)
	if err != nil || !sum.Outcomes[0].MTABlocked || sum.Attention() || sum.Outcomes[0].Incident != o.Incident {
		t.Errorf("after the fix: %+v, %v\n%s", sum.Outcomes, err, out.String())
	}
	if b, ok, _ := env.Store.IsBlocked(ctx, alice); !ok || b.IncidentID != o.Incident {
		t.Errorf("registry after the fix: %+v %v", b, ok)
	}
	if inc, _, _ := env.Store.GetIncident(ctx, o.Incident); inc.Status != store.StatusClosed {
		t.Errorf("incident %s after the block took effect, want closed", inc.Status)
	}
}

// TestLabDryRunAdvice follows the dry run's advice on a Postfix that does
// not consult the map yet: build the map (here with an admin's own entry in
// it), add the lines, reload; respond --yes then blocks, keeping the admin's
// entry. Before that, a map respond cannot read safely stops the block
// without the registry ever saying blocked.
func TestLabDryRunAdvice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lab := testlab.Start(t, testlab.Options{SMTPS: true, NoIMAP: true})
	var out bytes.Buffer
	// no account backend: the password keeps working, so the MTA block
	// alone is what refuses the mail
	env, err := Setup(ctx, Settings{PostfixConfig: lab.ConfigDir, StateDir: filepath.Join(t.TempDir(), "state")}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	const alice, bob = "alice@lab.test", "bob@lab.test"
	if _, err := env.Run(ctx, []Target{{Login: alice}}, false); err != nil {
		t.Fatal(err)
	}
	plan := out.String()
	t.Logf("plan:\n%s", plan)
	if !strings.Contains(plan, "touch "+env.Map.Path()+" && postmap "+env.Map.Ref()) || strings.Contains(plan, "only after respond --yes wrote it") {
		t.Fatalf("plan does not say to build the map first:\n%s", plan)
	}

	// A map respond cannot keep safely: the block stops, nothing says blocked.
	if err := os.WriteFile(env.Map.Path(), []byte("binary\x00junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	sum, err := env.Run(ctx, []Target{{Login: alice}}, true)
	if err == nil || !strings.Contains(err.Error(), "NOT blocked") {
		t.Fatalf("run on an unreadable map: %+v, %v\n%s", sum, err, out.String())
	}
	if b, ok, _ := env.Store.IsBlocked(ctx, alice); ok {
		t.Errorf("registry says blocked after the map write failed: %+v", b)
	}
	inc, acts, _ := env.Store.GetIncident(ctx, sum.Outcomes[0].Incident)
	if inc.Status != store.StatusOpen || !strings.HasPrefix(acts[len(acts)-1].Result, "not blocked") {
		t.Errorf("incident %s, last action %+v", inc.Status, acts[len(acts)-1])
	}

	// The advice: build the map (the admin's own entry in it), add the
	// lines the check names, reload.
	if err := os.WriteFile(env.Map.Path(), []byte("# by hand\n"+bob+" REJECT blocked by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Run(ctx, "postmap", env.Map.Ref()); err != nil {
		t.Fatal(err)
	}
	if err := labmap.ApplyFixes(ctx, lab, env.Map); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	sum, err = env.Run(ctx, []Target{{Login: alice}}, true)
	t.Logf("respond --yes:\n%s", out.String())
	if err != nil || !sum.Outcomes[0].MTABlocked || sum.Attention() {
		t.Fatalf("respond --yes after following the advice: %+v, %v", sum.Outcomes, err)
	}
	src, _ := os.ReadFile(env.Map.Path())
	if !strings.Contains(string(src), "\n# by hand\n"+bob+" REJECT blocked by hand\n") || !strings.Contains(string(src), alice+" REJECT ") {
		t.Errorf("map after respond:\n%s", src)
	}
	if b, ok, _ := env.Store.IsBlocked(ctx, alice); !ok || b.IncidentID != inc.ID {
		t.Errorf("registry after the block: %+v %v", b, ok)
	}
	var re *testlab.ReplyError
	for _, login := range []string{alice, bob} {
		if _, err := sendAs(ctx, lab, login, "127.0.0.66"); !errors.As(err, &re) || re.Reply.Code != 554 {
			t.Errorf("%s after respond: %v, want 554 (alice by respond, bob by the admin's entry)", login, err)
		}
	}
}

// labEnvB is labEnv for benchmarks.
func labEnvB(b *testing.B, ctx context.Context, out *bytes.Buffer) (*testlab.Lab, *Env) {
	return labEnv(b, ctx, nil, Settings{}, out)
}
