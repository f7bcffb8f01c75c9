package main

import (
	"context"
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/respond"
	"github.com/saslguard/saslguard/internal/store"
)

// TestAccountEnableAfterRespond: lifting a block that respond made lifts
// the registry entry under respond's lock and says what its --undo still
// has to lift.
func TestAccountEnableAfterRespond(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := st.CreateIncident(ctx, store.Incident{Login: "alice@lab.test", Source: respond.Source, Summary: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Block(ctx, "alice@lab.test", respond.Source, "test", id); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, out, errs := runCmd(t, "", "account", "enable", "--state-dir", dir, "alice@lab.test")
	if code != 0 || !strings.Contains(out, "respond --undo") {
		t.Fatalf("exit %d: %q %q", code, out, errs)
	}
	st, err = store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, blocked, _ := st.IsBlocked(ctx, "alice@lab.test"); blocked {
		t.Error("still blocked")
	}
	// while respond holds its lock, enable waits: a held lock makes TryLock fail
	lock, err := st.TryLock(respond.LockName)
	if err != nil {
		t.Fatal(err)
	}
	lock.Unlock()
	if code, _, _ := runCmd(t, "", "account", "enable", "--state-dir", dir, "nobody@lab.test"); code != 2 {
		t.Errorf("enable of a login that is not blocked: exit %d", code)
	}
}
