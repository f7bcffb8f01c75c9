package main

import (
	"context"
	"strings"
	"testing"

	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/respond"
	"github.com/saslguard/saslguard/internal/store"
	"github.com/saslguard/saslguard/internal/testlab"
	"github.com/saslguard/saslguard/internal/watch"
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

// TestAccountEnableLiftsWatchBlock: a block watch's contain mode wrote into
// Postfix's map is lifted by account enable, map entry included.
func TestAccountEnableLiftsWatchBlock(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx := context.Background()
	m, err := postfixblock.New(ctx, postfixblock.Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Block(ctx, "alice@lab.test", mtablock.Options{Text: "stolen login"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Block(ctx, "alice@lab.test", watch.Source, "test", 0); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errs := runCmd(t, "", "account", "enable", "--state-dir", dir, "--postfix-config", lab.ConfigDir, "alice@lab.test")
	if code != 0 || !strings.Contains(out, "map entry") {
		t.Fatalf("exit %d: %q %q", code, out, errs)
	}
	entries, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.EqualFold(e.Login, "alice@lab.test") {
			t.Errorf("map entry left: %+v", e)
		}
	}
}
