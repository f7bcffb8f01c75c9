package respond

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/store"
	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabDisableVerified checks step 2 against the real Dovecot: the moment
// respond --yes returns, Dovecot refuses the old password, and the moment
// --undo --enable-old-password returns, it accepts it again. Dovecot notices
// a passwd-file change only on its once-a-second check, so a step that
// returns as soon as the file is written loses this race in most runs; the
// loop repeats it.
func TestLabDisableVerified(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	lab, env := labEnv(t, ctx, nil, Settings{}, &out)
	const alice = "alice@lab.test"
	pw := testlab.DefaultUsers[alice]
	authTest := func() error {
		_, err := lab.Run(ctx, testlab.ToolDoveadm, "auth", "test", alice, pw)
		return err
	}
	if err := authTest(); err != nil {
		t.Fatalf("old password before respond: %v", err)
	}
	// Other users keep logging in meanwhile, so Dovecot keeps checking the
	// file (a check in the second of the write, before it, would otherwise
	// hide the change until the next second).
	traffic, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	var logins, failures int
	defer func() { stop(); <-done; t.Logf("bob logged in %d times meanwhile (%d failures)", logins, failures) }()
	go func() {
		defer close(done)
		for traffic.Err() == nil {
			c, err := lab.Dial(traffic, testlab.DialOpts{LocalIP: "127.0.0.10"})
			if err == nil {
				_, err = c.Auth(traffic, "bob@lab.test", testlab.DefaultUsers["bob@lab.test"])
				c.Close()
			}
			if err != nil {
				failures++
				time.Sleep(50 * time.Millisecond)
				continue
			}
			logins++
		}
	}()
	for i := range 5 {
		out.Reset()
		sum, err := env.Run(ctx, []Target{{Login: alice}}, true)
		authErr := authTest()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		if authErr == nil {
			t.Errorf("run %d: doveadm auth test with the old password succeeded right after respond --yes returned\n%s", i, out.String())
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "2. ") {
				t.Logf("run %d: %s", i, strings.TrimSpace(line))
			}
		}
		o := sum.Outcomes[0]
		if !o.Disabled || o.Attention() {
			t.Errorf("run %d: outcome %+v\n%s", i, o, out.String())
		}
		if !strings.Contains(out.String(), "2. disabled") || !strings.Contains(out.String(), "verified") {
			t.Errorf("run %d: step 2 does not report a verified disable:\n%s", i, out.String())
		}
		_, acts, err := env.Store.GetIncident(ctx, o.Incident)
		if err != nil {
			t.Fatal(err)
		}
		if a := lastDisable(acts); !strings.Contains(a.Result, "verified by doveadm auth lookup") || a.Failed != 0 {
			t.Errorf("run %d: journal records the disable as %q (failed %d), want how it was verified", i, a.Result, a.Failed)
		}

		out.Reset()
		_, err = env.Undo(ctx, o.Incident, UndoOptions{EnableOldPassword: true})
		authErr = authTest()
		if err != nil {
			t.Fatalf("undo %d: %v\n%s", i, err, out.String())
		}
		if authErr != nil {
			t.Errorf("undo %d: old password refused right after the undo returned: %v\n%s", i, authErr, out.String())
		}
	}
}

// lastDisable returns the last recorded action of step 2.
func lastDisable(acts []store.Action) store.Action {
	for i := len(acts) - 1; i >= 0; i-- {
		if stepOf(acts[i]) == StepDisable {
			return acts[i]
		}
	}
	return store.Action{}
}

// TestLabExecCheck: with the exec backend, step 2 reports what the
// program's check verb says. While check still answers "enabled" the step
// says NOT verified, the outcome asks for attention (exit 1) and the journal
// records it as failed; the next run checks again and records the verified
// disable; the undo verifies the re-enable.
func TestLabExecCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	state, lag := filepath.Join(dir, "disabled"), filepath.Join(dir, "lag")
	prog := filepath.Join(dir, "backend")
	src := `#!/bin/sh
case "$1" in
disable) touch ` + state + ` ;;
enable) rm -f ` + state + ` ;;
status) [ -e ` + state + ` ] && exit 1; exit 0 ;;
check) [ -e ` + lag + ` ] && exit 1; [ -e ` + state + ` ] && exit 0; exit 1 ;;
*) exit 64 ;;
esac
`
	if err := os.WriteFile(prog, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, env := labEnv(t, ctx, nil, Settings{ExecBackend: prog}, &out)
	const alice = "alice@lab.test"

	sum, err := env.Run(ctx, []Target{{Login: alice}}, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	o := sum.Outcomes[0]
	text := out.String()
	if o.Disabled || !o.Attention() || !strings.Contains(o.AccountNote, "NOT verified") {
		t.Errorf("unverified disable: outcome %+v", o)
	}
	if strings.Contains(text, "2. disabled") || !strings.Contains(text, "2. NOT verified") || !strings.Contains(text, "exec check: exit 1 (still enabled) after 5.") {
		t.Errorf("step 2 claims the disable or does not say what check said:\n%s", text)
	}
	_, acts, _ := env.Store.GetIncident(ctx, o.Incident)
	if a := lastDisable(acts); a.Failed != 1 || !strings.Contains(a.Result, "NOT verified: exec check: exit 1") {
		t.Errorf("journal: %+v", a)
	}

	// The program catches up: the next run checks again.
	os.Remove(lag)
	out.Reset()
	sum, err = env.Run(ctx, []Target{{Login: alice}}, true)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	o = sum.Outcomes[0]
	if o.Attention() || !strings.Contains(out.String(), "already disabled in exec backend") || !strings.Contains(out.String(), "verified: exec check: exit 0 (disabled)") {
		t.Errorf("second run: outcome %+v\n%s", o, out.String())
	}
	_, acts, _ = env.Store.GetIncident(ctx, o.Incident)
	if a := lastDisable(acts); a.Failed != 0 || !strings.HasPrefix(a.Result, "disabled: found disabled; verified by exec check: exit 0 (disabled)") {
		t.Errorf("journal: %+v", a)
	}

	out.Reset()
	ur, err := env.Undo(ctx, o.Incident, UndoOptions{EnableOldPassword: true})
	if err != nil || !ur.Enabled || !strings.Contains(out.String(), "verified: exec check: exit 1 (enabled)") {
		t.Errorf("undo = %+v, %v\n%s", ur, err, out.String())
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("undo left the login disabled")
	}
}
