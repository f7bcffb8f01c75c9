package passwdfile

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/account"
	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabDisable disables a login in a real Dovecot passwd-file: AUTH fails
// at once (the auth cache is flushed), the userdb still knows the mailbox,
// the file keeps its owner and mode, and Enable and a reset work.
func TestLabDisable(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	auth := func(login, pw string) error {
		c, err := lab.Dial(ctx, testlab.DialOpts{LocalIP: "127.0.0.66"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Auth(ctx, login, pw)
		return err
	}
	const alice = "alice@lab.test"
	pw := testlab.DefaultUsers[alice]
	if err := auth(alice, pw); err != nil {
		t.Fatalf("AUTH before: %v", err)
	}
	imap, err := lab.IMAPLogin(ctx, "127.0.0.66", alice, pw)
	if err != nil {
		t.Fatalf("IMAP login: %v", err)
	}
	defer imap.Close()
	before, _ := os.Stat(lab.PasswdFile)
	b, err := New(Config{Path: lab.PasswdFile, DovecotConfig: lab.DovecotConf})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Disable(ctx, alice, account.Options{})
	if err != nil || !res.Changed || len(res.Notes) != 0 {
		t.Fatalf("disable = %+v, %v", res, err)
	}
	if v := res.Verification; !v.Verified || !strings.HasPrefix(v.Method, "doveadm auth lookup: saslguard_disabled=yes after ") {
		t.Errorf("disable verification = %+v", v)
	}
	t.Logf("disable: %s", res.Verification.Method)
	// Dovecot's own answer, at once: the old password is refused.
	if out, err := lab.Run(ctx, testlab.ToolDoveadm, "auth", "test", alice, pw); err == nil {
		t.Errorf("doveadm auth test with the old password right after Disable: %s", out)
	}
	if err := imap.Noop(); !errors.Is(err, testlab.ErrIMAPClosed) {
		t.Errorf("IMAP session after disable: %v, want it kicked", err)
	}
	var rerr *testlab.ReplyError
	if err := auth(alice, pw); !errors.As(err, &rerr) || rerr.Reply.Code != 535 {
		t.Errorf("AUTH after disable: %v, want 535", err)
	}
	if err := auth("bob@lab.test", testlab.DefaultUsers["bob@lab.test"]); err != nil {
		t.Errorf("bob's AUTH: %v", err)
	}
	if out, err := lab.Run(ctx, "doveadm", "user", alice); err != nil {
		t.Errorf("userdb lost the mailbox: %v %s", err, out)
	}
	after, _ := os.Stat(lab.PasswdFile)
	bs, as := before.Sys().(*syscall.Stat_t), after.Sys().(*syscall.Stat_t)
	if before.Mode() != after.Mode() || bs.Uid != as.Uid || bs.Gid != as.Gid {
		t.Errorf("owner/mode changed: %v %d:%d -> %v %d:%d", before.Mode(), bs.Uid, bs.Gid, after.Mode(), as.Uid, as.Gid)
	}
	if res, err := b.Enable(ctx, alice, account.EnableOptions{}); err != nil || !res.Changed || len(res.Notes) != 0 || !res.Verification.Verified {
		t.Fatalf("enable = %+v, %v", res, err)
	}
	if err := auth(alice, pw); err != nil {
		t.Errorf("AUTH after enable: %v", err)
	}
	res, err = b.Disable(ctx, alice, account.Options{Reset: true})
	if err != nil || res.NewPassword == "" || !res.Verification.Verified {
		t.Fatalf("reset = %+v, %v", res, err)
	}
	t.Logf("reset: %s", res.Verification.Method)
	// A Dovecot that never shows the change (another instance's config)
	// leaves a disable NOT verified within the bound.
	other, err := New(Config{Path: lab.PasswdFile, DovecotConfig: lab.DovecotConf, VerifyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if v := other.Verify(ctx, alice, true); v.Verified || !strings.Contains(v.Method, "still enabled after 1.") {
		t.Errorf("verify on an enabled login = %+v", v)
	}
	if err := auth(alice, pw); err == nil {
		t.Error("old password still works after reset")
	}
	if err := auth(alice, res.NewPassword); err != nil {
		t.Errorf("new password: %v", err)
	}
}
