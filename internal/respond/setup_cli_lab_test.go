package respond

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabSetupThenRespond is the way a new user goes: on a Postfix in a
// fresh Debian install's shape, "setup postfix" (a dry run first), then
// "respond --yes" blocks the stolen login on submission and smtps.
func TestLabSetupThenRespond(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := binaryRunner(t, ctx)
	lab := testlab.Start(t, testlab.Options{SMTPS: true, NoIMAP: true})
	if _, _, err := lab.DebianShape(ctx); err != nil {
		t.Fatal(err)
	}
	mainCf := filepath.Join(lab.ConfigDir, "main.cf")
	before, _ := os.ReadFile(mainCf)
	setup := []string{"setup", "postfix", "--postfix-config", lab.ConfigDir}
	// The lab's main.cf says it is generated: refused without --force.
	if out, code := run(setup...); code != 2 || !strings.Contains(out, "REFUSED") {
		t.Fatalf("setup on a generated main.cf: exit %d:\n%s", code, out)
	}
	setup = append(setup, "--force")
	out, code := run(setup...)
	if code != 0 || !strings.Contains(out, "dry run: nothing was changed") || !strings.Contains(out, "mua_recipient_restrictions") {
		t.Fatalf("setup dry run: exit %d:\n%s", code, out)
	}
	if after, _ := os.ReadFile(mainCf); string(after) != string(before) {
		t.Fatal("the dry run changed main.cf")
	}
	out, code = run(append(setup, "--yes")...)
	if code != 0 || !strings.Contains(out, "is consulted by every service that offers AUTH") {
		t.Fatalf("setup --yes: exit %d:\n%s", code, out)
	}
	t.Logf("setup --yes:\n%s", out)

	const alice = "alice@lab.test"
	spamRun(t, ctx, lab, alice, 6, "setup")
	state := filepath.Join(t.TempDir(), "state")
	// An account backend that leaves the password working, so that the
	// test sees the MTA block alone refuse the login.
	backend := filepath.Join(t.TempDir(), "backend")
	if err := os.WriteFile(backend, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code = run("respond", "--yes", "--postfix-config", lab.ConfigDir, "--state-dir", state,
		"--exec-backend", backend, alice)
	if code == 2 || !strings.Contains(out, "1. blocked at Postfix") {
		t.Fatalf("respond --yes: exit %d:\n%s", code, out)
	}
	for _, svc := range []testlab.Service{testlab.Submission, testlab.SMTPS} {
		send := func(login string) error {
			_, err := lab.Send(ctx, testlab.SendOpts{Service: svc, LocalIP: "127.0.0.70", Login: login,
				Password: testlab.DefaultUsers[login], From: login, To: []string{"x@example.org"}})
			return err
		}
		var rerr *testlab.ReplyError
		if err := send(alice); !errors.As(err, &rerr) || rerr.Reply.Code != 554 || !strings.Contains(rerr.Reply.Text(), "SASL login name rejected") {
			t.Errorf("%v: alice after respond: %v, want 554 from the map", svc, err)
		}
		if err := send("bob@lab.test"); err != nil {
			t.Errorf("%v: bob refused: %v", svc, err)
		}
	}
	// The quarantine's retention: respond exported alice's spam just now.
	common := []string{"--postfix-config", lab.ConfigDir, "--state-dir", state}
	out, code = run(append([]string{"quarantine", "list"}, common...)...)
	// alice's 6 messages, and the bounce one caused if it was queued by then
	m := regexp.MustCompile(`quarantine: (\d+) message\(s\)`).FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] != "6" && m[1] != "7" {
		t.Fatalf("quarantine list: exit %d:\n%s", code, out)
	}
	n := m[1]
	if out, code = run(append([]string{"quarantine", "purge", "--older-than", "1d", "--yes"}, common...)...); code != 0 || !strings.Contains(out, "removed 0 message(s)") {
		t.Errorf("purge of nothing old: exit %d:\n%s", code, out)
	}
	if out, code = run(append([]string{"quarantine", "purge", "--max-size", "1K"}, common...)...); code != 0 || !strings.Contains(out, "would remove "+n+" message(s)") {
		t.Errorf("purge dry run: exit %d:\n%s", code, out)
	}
	if out, code = run(append([]string{"quarantine", "purge", "--max-size", "1K", "--yes"}, common...)...); code != 0 || !strings.Contains(out, "removed "+n+" message(s)") {
		t.Errorf("purge: exit %d:\n%s", code, out)
	}
	if out, code = run(append([]string{"quarantine", "list"}, common...)...); code != 0 || !strings.Contains(out, "quarantine: empty") {
		t.Errorf("quarantine list after purge: exit %d:\n%s", code, out)
	}
	if out, code = run(append([]string{"quarantine", "purge", "--max-size", "-3"}, common...)...); code != 2 {
		t.Errorf("purge with a bad size: exit %d:\n%s", code, out)
	}

	if out, code := run(append(setup[:len(setup)-1], "--undo")...); code != 0 || !strings.Contains(out, "dry run") {
		t.Errorf("undo dry run: exit %d:\n%s", code, out)
	}
}
