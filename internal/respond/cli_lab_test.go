package respond

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabCLI runs the saslguard binary's respond, incident, quarantine and
// queue commands against a lab: the flags reach the package, the exit codes
// say what happened.
func TestLabCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := binaryRunner(t, ctx)
	var buf bytes.Buffer
	lab, env := labEnv(t, ctx, nil, Settings{}, &buf)
	state := filepath.Dir(env.Store.Path())
	env.Close()
	bounces := spamRun(t, ctx, lab, "alice@lab.test", 12, "cli")
	if _, err := sendAs(ctx, lab, "bob@lab.test", "127.0.0.10"); err != nil {
		t.Fatal(err)
	}
	settle(t, ctx, lab, 12+bounces+1)
	common := []string{"--postfix-config", lab.ConfigDir, "--state-dir", state}
	respondArgs := append([]string{"respond", "--log", lab.LogPath(), "--year", time.Now().Format("2006"),
		"--passwd-file", lab.PasswdFile, "--doveadm-config", lab.DovecotConf}, common...)
	out, code := run(respondArgs...)
	if code != 0 || !strings.Contains(out, "dry run: nothing was changed") || !strings.Contains(out, "alice@lab.test") {
		t.Fatalf("dry run exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(state, "quarantine")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dry run created the quarantine directory: %v", err)
	}
	if st, err := os.Stat(filepath.Join(state, "saslguard.db")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("incident store mode: %v, %v; want 0600", st.Mode(), err)
	}
	// Read-only commands refuse a state directory that does not exist and
	// create nothing there.
	typo := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{
		{"incident", "list", "--state-dir", typo},
		{"incident", "show", "1", "--state-dir", typo},
		{"account", "list", "--state-dir", typo},
		{"quarantine", "list", "--postfix-config", lab.ConfigDir, "--state-dir", typo},
		append(slices.Clone(respondArgs[:len(respondArgs)-1]), typo),
		{"respond", "--undo", "1", "--postfix-config", lab.ConfigDir, "--state-dir", typo},
	} {
		out, code := run(args...)
		if code != 2 || !strings.Contains(out, "does not exist") {
			t.Errorf("%q: exit %d, want 2 with the reason:\n%s", args, code, out)
		}
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%q created %s: %v", args, typo, err)
		}
	}
	out, code = run(append(respondArgs, "--yes")...)
	if code != 0 || !strings.Contains(out, "1. blocked at Postfix") {
		t.Fatalf("respond --yes exit %d:\n%s", code, out)
	}
	t.Logf("respond --yes:\n%s", out)
	out, code = run("incident", "list", "--state-dir", state)
	if code != 0 || !regexp.MustCompile(`(?m)^1\s+alice@lab\.test\s+respond\s+closed`).MatchString(out) {
		t.Errorf("incident list exit %d:\n%s", code, out)
	}
	out, code = run("incident", "show", "1", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "delete: ") || !strings.Contains(out, "disable in passwd-file") {
		t.Errorf("incident show exit %d:\n%s", code, out)
	}
	out, code = run(append([]string{"quarantine", "list", "--login", "alice@lab.test"}, common...)...)
	if code != 0 || !strings.Contains(out, "12") && !strings.Contains(out, " message(s)") {
		t.Errorf("quarantine list exit %d:\n%s", code, out)
	}
	// Pick a message alice submitted herself (not a filter copy or bounce):
	// its readable copy names her login.
	var id []string
	for _, m := range regexp.MustCompile(`(?m)^([0-9A-Za-z]+-[0-9a-f]{16})\s`).FindAllStringSubmatch(out, -1) {
		show, code := run(append([]string{"quarantine", "show", m[1]}, common...)...)
		if code != 0 || !strings.Contains(show, "Subject: cheap pills cli") {
			t.Errorf("quarantine show exit %d:\n%s", code, show)
		}
		if strings.Contains(show, "sasl_username=alice@lab.test") {
			id = m
			break
		}
	}
	if id == nil {
		t.Fatalf("no quarantined message of alice's own in:\n%s", out)
	}
	out, code = run(append([]string{"quarantine", "restore", "--keep-held", id[1]}, common...)...)
	if code != 0 || !strings.Contains(out, "restored as queue id") {
		t.Errorf("quarantine restore exit %d:\n%s", code, out)
	}
	out, code = run(append([]string{"queue", "list", "--login", "alice@lab.test"}, common...)...)
	if code != 0 || !strings.Contains(out, "hold") || !strings.Contains(out, "1 message(s)") {
		t.Errorf("queue list --login exit %d:\n%s", code, out)
	}
	out, code = run(append([]string{"queue", "purge", "--yes", "alice@lab.test"}, common...)...)
	if code != 0 || !strings.Contains(out, "quarantined 1 and deleted 1") {
		t.Errorf("queue purge exit %d:\n%s", code, out)
	}
	out, code = run(append([]string{"queue", "release", "--yes", "ABCDEF0123"}, common...)...)
	if code != 1 {
		t.Errorf("release of an id not on hold: exit %d:\n%s", code, out)
	}
	out, code = run(append([]string{"queue", "release", "--yes", "ALL"}, common...)...)
	if code != 2 || !strings.Contains(out, "not a queue id") {
		t.Errorf("release ALL: exit %d:\n%s", code, out)
	}
	// Undo refuses the old password, then lifts the block when told.
	undo := append([]string{"respond", "--undo", "1", "--passwd-file", lab.PasswdFile, "--doveadm-config", lab.DovecotConf}, common...)
	out, code = run(undo...)
	if code != 2 || !strings.Contains(out, "enable-old-password") {
		t.Errorf("undo without a reset: exit %d:\n%s", code, out)
	}
	// Without --yes the undo only says what it would do.
	mapBefore, _ := os.ReadFile(env.Map.Path())
	out, code = run(append(undo, "--keep-disabled")...)
	if code != 0 || !strings.Contains(out, "would remove alice@lab.test from") || !strings.Contains(out, "dry run: nothing was changed") {
		t.Errorf("undo --keep-disabled without --yes: exit %d:\n%s", code, out)
	}
	if mapAfter, _ := os.ReadFile(env.Map.Path()); !bytes.Equal(mapBefore, mapAfter) || !strings.Contains(string(mapAfter), "alice@lab.test REJECT") {
		t.Errorf("the undo's dry run changed the map:\n%s", mapAfter)
	}
	out, code = run("account", "list", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "alice@lab.test") {
		t.Errorf("account list after the undo's dry run: exit %d:\n%s", code, out)
	}
	out, code = run(append(undo, "--keep-disabled", "--yes")...)
	if code != 0 || !strings.Contains(out, "removed from") || !strings.Contains(out, "stays disabled") {
		t.Errorf("undo --keep-disabled --yes: exit %d:\n%s", code, out)
	}
	if _, err := sendAs(ctx, lab, "alice@lab.test", "127.0.0.66"); err == nil {
		t.Error("alice can send after an undo that kept the account disabled")
	}
	// Bad input is an error with exit 2, never a panic.
	if out, code = run("incident", "show", "1; rm -rf /", "--state-dir", state); code != 2 {
		t.Errorf("incident show with a hostile id: exit %d:\n%s", code, out)
	}
	_ = testlab.Domain
}

// binaryRunner builds the saslguard binary and returns a function that runs
// it with args, giving its combined output and exit code.
func binaryRunner(t *testing.T, ctx context.Context) func(args ...string) (string, int) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "saslguard")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/saslguard/saslguard/cmd/saslguard").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
}
