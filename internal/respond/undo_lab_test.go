package respond

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabResetThenUndo: with --reset-password the old password stops
// working and the new one (shown once) authenticates but is refused at RCPT
// while blocked; undo needs no --enable-old-password and lifts the block.
func TestLabResetThenUndo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	lab, env := labEnv(t, ctx, nil, Settings{Reset: true}, &out)
	const alice = "alice@lab.test"
	if _, err := sendAs(ctx, lab, alice, "127.0.0.66"); err != nil {
		t.Fatal(err)
	}
	settle(t, ctx, lab, 1)
	sum, err := env.Run(ctx, []Target{{Login: alice}}, true)
	if err != nil {
		t.Fatal(err)
	}
	o := sum.Outcomes[0]
	if o.NewPassword == "" || !strings.Contains(out.String(), o.NewPassword) {
		t.Fatalf("no new password shown: %+v", o)
	}
	_, acts, _ := env.Store.GetIncident(ctx, o.Incident)
	for _, a := range acts {
		if strings.Contains(a.Result+a.Command, o.NewPassword) {
			t.Errorf("the new password was recorded: %+v", a)
		}
	}
	time.Sleep(1100 * time.Millisecond) // Dovecot's one-second re-read
	send := func(pw string) error {
		_, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.67", Login: alice, Password: pw, From: alice, To: []string{"x@example.org"}})
		return err
	}
	var re *testlab.ReplyError
	if err := send(testlab.DefaultUsers[alice]); !errors.As(err, &re) || re.Command != "AUTH" {
		t.Errorf("old password after reset: %v, want AUTH refused", err)
	}
	if err := send(o.NewPassword); !errors.As(err, &re) || re.Command != "RCPT" {
		t.Errorf("new password while blocked: %v, want RCPT refused", err)
	}
	out.Reset()
	ur, err := env.Undo(ctx, o.Incident, UndoOptions{})
	if err != nil || !ur.Unblocked || ur.Enabled {
		t.Fatalf("undo after a reset: %+v, %v\n%s", ur, err, out.String())
	}
	if err := send(o.NewPassword); err != nil {
		t.Errorf("new password after undo: %v", err)
	}
	// A second undo has nothing left to do.
	ur, err = env.Undo(ctx, o.Incident, UndoOptions{})
	if err != nil || ur.Unblocked || !ur.AlreadyOff {
		t.Errorf("second undo: %+v, %v", ur, err)
	}
}

// TestLabPostfixStopped: with Postfix down, respond fails with an error
// that says what to do, and records the failure.
func TestLabPostfixStopped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	var out bytes.Buffer
	env, err := Setup(ctx, Settings{PostfixConfig: lab.ConfigDir, StateDir: filepath.Join(t.TempDir(), "state")}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if _, err := lab.Run(ctx, "postfix", "stop"); err != nil {
		t.Fatal(err)
	}
	_, err = env.Run(ctx, []Target{{Login: "alice@lab.test"}}, true)
	if err == nil || !strings.Contains(err.Error(), "postfix start") {
		t.Fatalf("respond with Postfix stopped: %v\n%s", err, out.String())
	}
	t.Logf("error: %v", err)
}

// TestLabReleaseExpired: with --hold-all, the other logins' mail is released
// after the cleaning, and messages older than maximal_queue_lifetime are
// named (here the lifetime is made tiny instead of waiting days).
func TestLabReleaseExpired(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	lab, env := labEnv(t, ctx, nil, Settings{HoldAll: true}, &out)
	if env.cfg.MaxQueueLifetime != 5*24*time.Hour {
		t.Errorf("maximal_queue_lifetime read as %v, want Postfix's default 5d", env.cfg.MaxQueueLifetime)
	}
	env.cfg.MaxQueueLifetime = time.Nanosecond
	for _, login := range []string{"bob@lab.test", "bob@lab.test", "alice@lab.test"} {
		if _, err := sendAs(ctx, lab, login, "127.0.0.66"); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, ctx, lab, 3)
	sum, err := env.Run(ctx, []Target{{Login: "alice@lab.test"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	o := sum.Outcomes[0]
	if o.Exported != 1 || o.Released != 2 || o.Expired != 2 || !strings.Contains(out.String(), "outlived maximal_queue_lifetime") {
		t.Errorf("outcome %+v\n%s", o, out.String())
	}
}

// failingQueue makes one queue operation fail once, as a Postfix command
// can (a full disk, a signal).
type failingQueue struct {
	queue.Manager
	failHold, failDelete bool
}

var errPostsuper = errors.New("postsuper: fatal: simulated failure")

func (f *failingQueue) Hold(ctx context.Context, ids []string) (queue.OpResult, error) {
	if f.failHold {
		f.failHold = false
		return queue.OpResult{}, errPostsuper
	}
	return f.Manager.Hold(ctx, ids)
}

func (f *failingQueue) DeleteHeld(ctx context.Context, ids []string) (queue.OpResult, error) {
	if f.failDelete {
		f.failDelete = false
		return queue.OpResult{}, errPostsuper
	}
	return f.Manager.DeleteHeld(ctx, ids)
}

// TestLabStepFails: a Postfix command that fails stops the run, the failure
// is recorded, and the next run completes the incident; while another
// process holds the lock, respond does not start.
func TestLabStepFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	lab, env := labEnv(t, ctx, nil, Settings{}, &out)
	n := 4 + spamRun(t, ctx, lab, "alice@lab.test", 4, "f")
	settle(t, ctx, lab, n)
	tg, err := ScanTargets(ctx, []string{"alice@lab.test"}, ScanOptions{Logs: []string{lab.LogPath()}, Year: time.Now().Year(), Loc: time.Local})
	if err != nil {
		t.Fatal(err)
	}

	lock, err := env.Store.TryLock(LockName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Run(ctx, tg, true); err == nil || !strings.Contains(err.Error(), "lock") {
		t.Errorf("run under another's lock: %v", err)
	}
	lock.Unlock()

	fq := &failingQueue{Manager: env.cfg.Queue, failHold: true, failDelete: true}
	env.cfg.Queue = fq
	for i, want := range []string{"hold", "delete"} {
		sum, err := env.Run(ctx, tg, true)
		if !errors.Is(err, errPostsuper) || !strings.Contains(err.Error(), "run respond again") {
			t.Fatalf("run %d: %v, want the %s failure", i, err, want)
		}
		_, acts, _ := env.Store.GetIncident(ctx, sum.Outcomes[0].Incident)
		last := acts[len(acts)-1]
		if stepOf(last) != want || last.Failed != 1 || !strings.Contains(last.Result, "simulated failure") {
			t.Errorf("run %d: last action %+v, want the recorded %s failure", i, last, want)
		}
	}
	sum, err := env.Run(ctx, tg, true)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := env.Quar.List()
	if len(ents) != n || len(owners(t, ctx, env)) != 0 {
		t.Errorf("after recovery: %d quarantined (want %d), queue %v\n%s", len(ents), n, owners(t, ctx, env), out.String())
	}
	// Undo re-enables the login with a new password on request.
	ur, err := env.Undo(ctx, sum.Outcomes[0].Incident, UndoOptions{ResetPassword: true})
	if err != nil || !ur.Enabled || ur.NewPassword == "" {
		t.Fatalf("undo --reset-password: %+v, %v", ur, err)
	}
	time.Sleep(1100 * time.Millisecond) // Dovecot's one-second re-read
	if _, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.67", Login: "alice@lab.test", Password: ur.NewPassword,
		From: "alice@lab.test", To: []string{"x@example.org"}}); err != nil {
		t.Errorf("alice with the new password after undo: %v", err)
	}
}
