package testlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var (
	shortID = regexp.MustCompile(`^[0-9A-F]{6,12}$`)
	longID  = regexp.MustCompile(`^[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,}$`)
)

// TestSubmission checks the submission listener behaves like a victim
// server's: AUTH works from a "remote" loopback address, wrong passwords and
// unauthenticated relaying are refused, and each outcome is logged.
func TestSubmission(t *testing.T) {
	l := Start(t, Options{})
	ctx := ctxT(t)
	alicePW := DefaultUsers["alice@lab.test"]
	tests := []struct {
		name     string
		opts     SendOpts
		wantCmd  string // "" means accepted
		wantCode int
		wantLog  string
	}{
		{
			name:    "auth ok from 127.0.0.66",
			opts:    SendOpts{LocalIP: "127.0.0.66", Login: "alice@lab.test", Password: alicePW, From: "alice@lab.test", To: []string{"friend@example.org"}},
			wantLog: "client=unknown[127.0.0.66], sasl_method=PLAIN, sasl_username=alice@lab.test",
		},
		{
			name:     "bad password refused",
			opts:     SendOpts{LocalIP: "127.0.0.67", Login: "alice@lab.test", Password: "wrong", From: "alice@lab.test", To: []string{"friend@example.org"}},
			wantCmd:  "AUTH",
			wantCode: 535,
			wantLog:  "warning: unknown[127.0.0.67]: SASL PLAIN authentication failed",
		},
		{
			name:     "unknown login refused",
			opts:     SendOpts{LocalIP: "127.0.0.68", Login: "mallory@lab.test", Password: "x", From: "a@b.example", To: []string{"friend@example.org"}},
			wantCmd:  "AUTH",
			wantCode: 535,
			wantLog:  "warning: unknown[127.0.0.68]: SASL PLAIN authentication failed",
		},
		{
			name:     "unauthenticated submission refused",
			opts:     SendOpts{LocalIP: "127.0.0.69", From: "spam@forged.example", To: []string{"victim@example.org"}},
			wantCmd:  "RCPT",
			wantCode: 554,
			wantLog:  "NOQUEUE: reject: RCPT from unknown[127.0.0.69]: 554 5.7.1",
		},
		{
			name:     "unauthenticated relay on port 25 refused",
			opts:     SendOpts{Service: SMTP, LocalIP: "127.0.0.70", From: "spam@forged.example", To: []string{"victim@example.org"}},
			wantCmd:  "RCPT",
			wantCode: 554,
			wantLog:  "NOQUEUE: reject: RCPT from unknown[127.0.0.70]: 554 5.7.1 <victim@example.org>: Relay access denied",
		},
		{
			name:    "port 25 accepts mail for a local mailbox",
			opts:    SendOpts{Service: SMTP, LocalIP: "127.0.0.71", From: "someone@example.org", To: []string{"bob@lab.test"}},
			wantLog: "to=<bob@lab.test>, relay=virtual",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := l.Send(ctx, tc.opts)
			if tc.wantCmd == "" {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				if res.QueueID == "" || !shortID.MatchString(res.QueueID) {
					t.Errorf("queue id %q from %v is not a short id", res.QueueID, res.Data)
				}
			} else {
				var re *ReplyError
				if !errors.As(err, &re) {
					t.Fatalf("send: got err %v, want a %s %d reply", err, tc.wantCmd, tc.wantCode)
				}
				if re.Command != tc.wantCmd || re.Reply.Code != tc.wantCode {
					t.Errorf("got %s %v, want %s %d", re.Command, re.Reply, tc.wantCmd, tc.wantCode)
				}
				if res.QueueID != "" {
					t.Errorf("refused message was queued as %s", res.QueueID)
				}
			}
			if _, err := l.WaitLog(ctx, PostfixLog, tc.wantLog, nil); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := l.WaitLog(ctx, DovecotLog, "passwd-file(alice@lab.test,127.0.0.67", nil); err != nil {
		t.Errorf("dovecot did not log the password mismatch: %v", err)
	}
}

// TestDeferredAndBounce checks external mail stays deferred in the queue
// (nothing leaves the machine) and mail to an unknown local user bounces to
// the forged sender.
func TestDeferredAndBounce(t *testing.T) {
	l := Start(t, Options{})
	ctx := ctxT(t)
	res, err := l.Send(ctx, SendOpts{
		LocalIP: "127.0.0.66", Login: "bob@lab.test", Password: DefaultUsers["bob@lab.test"],
		From: "promo@forged.example", To: []string{"target@example.org", "nosuchuser@lab.test"},
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	// The message to example.org is deferred; the NDR to promo@forged.example
	// is deferred too (its relay is the dead port).
	es, err := l.WaitQueue(ctx, func(es []QueueEntry) bool {
		var spam, ndr bool
		for _, e := range es {
			if e.QueueName != "deferred" {
				continue
			}
			for _, r := range e.Recipients {
				if e.QueueID == res.QueueID && r.Address == "target@example.org" && strings.Contains(r.DelayReason, "Connection refused") {
					spam = true
				}
				// postqueue -j shows the null sender as MAILER-DAEMON.
				if e.Sender == "MAILER-DAEMON" && r.Address == "promo@forged.example" {
					ndr = true
				}
			}
		}
		return spam && ndr
	})
	if err != nil {
		t.Fatalf("queue never held the deferred spam and its NDR: %v; queue %+v", err, es)
	}
	for _, want := range []string{
		res.QueueID + ": to=<nosuchuser@lab.test>, relay=virtual",
		"status=bounced",
		res.QueueID + ": sender non-delivery notification: ",
		res.QueueID + ": to=<target@example.org>, relay=none",
		"status=deferred (connect to 127.0.0.1[127.0.0.1]:",
	} {
		if _, err := l.WaitLog(ctx, PostfixLog, want, nil); err != nil {
			t.Error(err)
		}
	}
	// postcat ties the queued message to its login.
	out, err := l.Postcat(ctx, []string{"-e"}, res.QueueID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "sasl_username=bob@lab.test") {
		t.Errorf("postcat -e %s lacks sasl_username:\n%s", res.QueueID, out)
	}
}

// TestContentFilterHop checks the after-queue hop gives each message a
// second queue id.
func TestContentFilterHop(t *testing.T) {
	for _, mode := range []FilterMode{FilterAll, FilterSMTPS} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			t.Parallel()
			l := Start(t, Options{ContentFilter: mode, FilterSyslogName: "postfix/10025"})
			ctx := ctxT(t)
			svc := Submission
			if mode == FilterSMTPS {
				svc = SMTPS
			}
			res, err := l.Send(ctx, SendOpts{Service: svc, LocalIP: "127.0.0.80", Login: "carol@lab.test", Password: DefaultUsers["carol@lab.test"], From: "x@forged.example", To: []string{"y@example.com"}})
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			line, err := l.WaitLog(ctx, PostfixLog, "", regexp.MustCompile(regexp.QuoteMeta(res.QueueID)+`: to=<y@example.com>, relay=127.0.0.1\[127.0.0.1\]:\d+, .*status=sent \(250 2.0.0 Ok: queued as (\w+)\)`))
			if err != nil {
				t.Fatal(err)
			}
			newID := regexp.MustCompile(`queued as (\w+)\)`).FindStringSubmatch(line)[1]
			if newID == res.QueueID {
				t.Fatalf("hop kept the queue id %s", newID)
			}
			if _, err := l.WaitLog(ctx, PostfixLog, "postfix/10025/smtpd", regexp.MustCompile(`postfix/10025/smtpd\[\d+\]: `+newID+`: client=unknown\[127.0.0.1\]`)); err != nil {
				t.Error(err)
			}
			if _, err := l.WaitLog(ctx, PostfixLog, newID+": to=<y@example.com>, relay=none", nil); err != nil {
				t.Error(err)
			}
			if mode == FilterSMTPS {
				// Submission mail does not hop in this mode.
				r2, err := l.Send(ctx, SendOpts{LocalIP: "127.0.0.81", Login: "carol@lab.test", Password: DefaultUsers["carol@lab.test"], From: "x@forged.example", To: []string{"z@example.com"}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := l.WaitLog(ctx, PostfixLog, r2.QueueID+": to=<z@example.com>, relay=none", nil); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestQueueIDForms(t *testing.T) {
	for _, tc := range []struct {
		long bool
		re   *regexp.Regexp
	}{{false, shortID}, {true, longID}} {
		t.Run(fmt.Sprintf("long=%v", tc.long), func(t *testing.T) {
			t.Parallel()
			l := Start(t, Options{LongQueueIDs: tc.long, NoIMAP: true})
			ctx := ctxT(t)
			res, err := l.Send(ctx, SendOpts{LocalIP: "127.0.0.90", Login: "alice@lab.test", Password: DefaultUsers["alice@lab.test"], From: "alice@lab.test", To: []string{"carol@lab.test"}})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.re.MatchString(res.QueueID) {
				t.Errorf("queue id %q does not match %v", res.QueueID, tc.re)
			}
			if _, err := l.WaitLog(ctx, PostfixLog, res.QueueID+": to=<carol@lab.test>, relay=virtual", nil); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestParallelLabs starts two labs at once and checks they share nothing.
func TestParallelLabs(t *testing.T) {
	labs := make([]*Lab, 2)
	t.Run("group", func(t *testing.T) {
		for i := range labs {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				l := Start(t, Options{})
				labs[i] = l
				ctx := ctxT(t)
				from := fmt.Sprintf("lab%d@forged.example", i)
				if _, err := l.Send(ctx, SendOpts{LocalIP: "127.0.0.66", Login: "alice@lab.test", Password: DefaultUsers["alice@lab.test"], From: from, To: []string{"r@example.org"}}); err != nil {
					t.Fatal(err)
				}
				if _, err := l.WaitQueue(ctx, func(es []QueueEntry) bool { return len(es) == 1 && es[0].Sender == from }); err != nil {
					t.Fatal(err)
				}
				if _, err := l.WaitLog(ctx, PostfixLog, "from=<"+from+">", nil); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
	if labs[0] == nil || labs[1] == nil {
		t.Fatal("a lab did not start")
	}
	if labs[0].SubmissionAddr() == labs[1].SubmissionAddr() || labs[0].Dir == labs[1].Dir {
		t.Errorf("labs share an address or directory: %s %s", labs[0].SubmissionAddr(), labs[1].SubmissionAddr())
	}
	// The subtests' cleanups have run: nothing of either lab may be left.
	for _, l := range labs {
		if pids := l.Processes(); len(pids) > 0 {
			t.Errorf("lab %s left processes %v", l.Dir, pids)
		}
	}
}

// TestPasswordChangeAndLiveSession checks what blocking a login by its
// password does on this server: new AUTH attempts with the old password fail
// (Dovecot 2.3 does not cache passwd-file lookups, so no flush is needed),
// but a session that authenticated before the change keeps sending.
func TestPasswordChangeAndLiveSession(t *testing.T) {
	l := Start(t, Options{})
	ctx := ctxT(t)
	const login, oldPW, newPW = "victim@lab.test", "guessable1", "n3w-strong-pw"
	if err := l.AddUser(login, oldPW); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // Dovecot checks the file at most once a second
	live, err := l.Dial(ctx, DialOpts{LocalIP: "127.0.0.50"})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.Auth(ctx, login, oldPW); err != nil {
		t.Fatalf("auth with the first password: %v", err)
	}
	auth := func(ip, pw string) int {
		c, err := l.Dial(ctx, DialOpts{LocalIP: ip})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r, err := c.Auth(ctx, login, pw)
		var re *ReplyError
		if err != nil && !errors.As(err, &re) {
			t.Fatal(err)
		}
		return r.Code
	}
	if got := auth("127.0.0.51", oldPW); got != 235 {
		t.Errorf("password before the change: got %d, want 235", got)
	}
	if err := l.SetPassword(login, newPW); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if got := auth("127.0.0.52", oldPW); got != 535 {
		t.Errorf("old password after the change: got %d, want 535", got)
	}
	if err := l.FlushAuthCache(ctx); err != nil {
		t.Fatal(err)
	}
	if got := auth("127.0.0.53", newPW); got != 235 {
		t.Errorf("new password: got %d, want 235", got)
	}
	if err := l.SetPassword("nobody@lab.test", "x"); err == nil {
		t.Error("SetPassword of an unknown login succeeded")
	}
	// The session authenticated before the change still relays.
	if _, err := live.Mail(ctx, "spam@forged.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := live.Rcpt(ctx, "target@example.org"); err != nil {
		t.Fatal(err)
	}
	r, err := live.Data(ctx, []byte("Subject: still here\n\nhello\n"))
	if err != nil {
		t.Fatalf("live session data: %v", err)
	}
	if QueueID(r) == "" {
		t.Errorf("no queue id in %v", r)
	}
	if err := live.Quit(ctx); err != nil {
		t.Error(err)
	}
}

func TestIMAPKick(t *testing.T) {
	l := Start(t, Options{})
	ctx := ctxT(t)
	c, err := l.IMAPLogin(ctx, "127.0.0.44", "alice@lab.test", DefaultUsers["alice@lab.test"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil {
		t.Fatalf("noop before kick: %v", err)
	}
	if _, err := l.WaitLog(ctx, DovecotLog, "imap-login: Info: Login: user=<alice@lab.test>, method=PLAIN, rip=127.0.0.44", nil); err != nil {
		t.Error(err)
	}
	if err := l.Kick(ctx, "alice@lab.test"); err != nil {
		t.Fatal(err)
	}
	// The kick is asynchronous: the session ends shortly after doveadm returns.
	var nerr error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if nerr = c.Noop(); nerr != nil {
			break
		}
	}
	if !errors.Is(nerr, ErrIMAPClosed) {
		t.Errorf("noop after kick: got %v, want ErrIMAPClosed", nerr)
	}
	if _, err := l.IMAPLogin(ctx, "127.0.0.45", "alice@lab.test", "wrong"); err == nil {
		t.Error("imap login with a wrong password succeeded")
	}
}

// TestTools checks the tool wrappers run against this instance.
func TestTools(t *testing.T) {
	l := Start(t, Options{NoIMAP: true})
	ctx := ctxT(t)
	if got, err := l.Postconf(ctx, "queue_directory"); err != nil || got != l.QueueDir {
		t.Errorf("postconf queue_directory = %q, %v; want %q", got, err, l.QueueDir)
	}
	if got, err := l.Postconf(ctx, "mynetworks"); err != nil || got != "127.0.0.1/32" {
		t.Errorf("postconf mynetworks = %q, %v", got, err)
	}
	res, err := l.Send(ctx, SendOpts{LocalIP: "127.0.0.66", Login: "alice@lab.test", Password: DefaultUsers["alice@lab.test"], From: "a@forged.example", To: []string{"b@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitQueue(ctx, func(es []QueueEntry) bool { return QueueCounts(es)["deferred"] == 1 }); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Postsuper(ctx, "-h", res.QueueID); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitQueue(ctx, func(es []QueueEntry) bool { return QueueCounts(es)["hold"] == 1 }); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitLog(ctx, PostfixLog, res.QueueID+": placed on hold", nil); err != nil {
		t.Error(err)
	}
	if _, err := l.RunInput(ctx, []byte(res.QueueID+"\n"), ToolPostsuper, "-d", "-", "hold"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitQueue(ctx, func(es []QueueEntry) bool { return len(es) == 0 }); err != nil {
		t.Fatal(err)
	}
	if err := l.SetMain(ctx, "smtpd_banner=$myhostname ESMTP lab"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitLog(ctx, PostfixLog, "reload -- version", nil); err != nil {
		t.Error(err)
	}
	out, err := l.Run(ctx, ToolDoveadm, "user", "bob@lab.test")
	if err != nil || !strings.Contains(string(out), "home") {
		t.Errorf("doveadm user: %v\n%s", err, out)
	}
	if _, err := l.Command("rm"); err == nil {
		t.Error("Command accepted an unknown tool")
	}
}

func TestStopLeavesNothing(t *testing.T) {
	l := Start(t, Options{SMTPS: true, ContentFilter: FilterAll})
	if len(l.Processes()) == 0 {
		t.Fatal("no processes found for a running lab")
	}
	l.Stop()
	if pids := l.Processes(); len(pids) > 0 {
		t.Errorf("processes left after Stop: %v", pids)
	}
	l.Stop() // twice is fine
}

// TestSessionPID checks a test can find and end a live authenticated session.
func TestSessionPID(t *testing.T) {
	l := Start(t, Options{NoIMAP: true})
	ctx := ctxT(t)
	c, err := l.Dial(ctx, DialOpts{LocalIP: "127.0.0.77"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Auth(ctx, "alice@lab.test", DefaultUsers["alice@lab.test"]); err != nil {
		t.Fatal(err)
	}
	pid, err := l.SessionPID(ctx, "127.0.0.77")
	if err != nil {
		t.Fatal(err)
	}
	if !l.owns(pid) {
		t.Fatalf("pid %d is not a process of this lab", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Mail(ctx, "alice@lab.test"); err == nil {
		t.Error("session still answers after its smtpd was ended")
	}
}

// TestAddUserMailbox checks a user added to a running lab can log in and
// receive mail at once, and that the passwd-file keeps Dovecot's ownership.
func TestAddUserMailbox(t *testing.T) {
	l := Start(t, Options{NoIMAP: true})
	ctx := ctxT(t)
	// Deliver once first, so a virtual(8) process with the old map exists.
	if _, err := l.Send(ctx, SendOpts{Service: SMTP, LocalIP: "127.0.0.30", From: "x@example.org", To: []string{"bob@lab.test"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitLog(ctx, PostfixLog, "to=<bob@lab.test>, relay=virtual", nil); err != nil {
		t.Fatal(err)
	}
	if err := l.AddUser("newbie@lab.test", "fresh-pw-1"); err != nil {
		t.Fatal(err)
	}
	res, err := l.Send(ctx, SendOpts{Service: SMTP, LocalIP: "127.0.0.30", From: "x@example.org", To: []string{"newbie@lab.test"}})
	if err != nil {
		t.Fatal(err)
	}
	line, err := l.WaitLog(ctx, PostfixLog, res.QueueID+": to=<newbie@lab.test>", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "status=sent (delivered to maildir)") {
		t.Errorf("mail to a just-added user: %s", line)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := l.Send(ctx, SendOpts{LocalIP: "127.0.0.31", Login: "newbie@lab.test", Password: "fresh-pw-1", From: "newbie@lab.test", To: []string{"bob@lab.test"}}); err != nil {
		t.Errorf("new user cannot send: %v", err)
	}
	fi, err := os.Stat(l.PasswdFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("passwd-file mode %v, want 0640", fi.Mode().Perm())
	}
	if err := l.AddUser("bad user@lab.test", "x"); err == nil {
		t.Error("AddUser accepted a login with a space")
	}
}

// TestSharedLog checks Dovecot and Postfix can share one log file.
func TestSharedLog(t *testing.T) {
	l := Start(t, Options{SharedLog: true, NoIMAP: true})
	ctx := ctxT(t)
	if l.DovecotLog != l.LogPath() {
		t.Fatalf("DovecotLog %s != LogPath %s", l.DovecotLog, l.LogPath())
	}
	_, err := l.Send(ctx, SendOpts{LocalIP: "127.0.0.88", Login: "alice@lab.test", Password: "nope", From: "a@b.example", To: []string{"c@d.example"}})
	var re *ReplyError
	if !errors.As(err, &re) || re.Reply.Code != 535 {
		t.Fatalf("got %v, want 535", err)
	}
	for _, want := range []string{
		"mail dovecot: auth: Info: passwd-file(alice@lab.test,127.0.0.88): Password mismatch",
		"mail postfix/submission/smtpd[",
	} {
		if _, err := l.WaitLog(ctx, PostfixLog, want, nil); err != nil {
			t.Error(err)
		}
	}
}
