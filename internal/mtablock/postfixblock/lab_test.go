package postfixblock

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/testlab"
)

// TestLabBlock blocks a login in a private real Postfix: first the check says
// the map is not evaluated (and how to fix it), after applying the fix the
// login's recipients are refused while another login still sends.
func TestLabBlock(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	m, err := New(ctx, Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Block(ctx, "alice@lab.test", mtablock.Options{Text: "stolen login"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Written || res.Effective || res.Blocked() {
		t.Fatalf("before the fix: %+v", res)
	}
	chk, err := m.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for _, s := range chk.Services {
		if !s.AUTH || s.Effective {
			continue
		}
		// Apply the fix the check proposed, as an admin would.
		if s.FixMain != "" {
			if _, err := lab.Run(ctx, "postconf", "-e", s.FixMain); err != nil {
				t.Fatal(err)
			}
		} else {
			if _, err := lab.Run(ctx, "postconf", "-P", s.Service+"/"+strings.TrimPrefix(s.FixMaster, "-o ")); err != nil {
				t.Fatal(err)
			}
		}
		applied++
	}
	if applied == 0 {
		t.Fatalf("no fix proposed: %v", chk.Notes())
	}
	if err := lab.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	res, err = m.Block(ctx, "alice@lab.test", mtablock.Options{Text: "stolen login"})
	if err != nil || !res.Blocked() {
		t.Fatalf("after the fix: %+v, %v", res, err)
	}
	send := func(login string) (testlab.SendResult, error) {
		return lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.66", Login: login, Password: testlab.DefaultUsers[login],
			From: "x@spam.example", To: []string{"victim@example.org"}})
	}
	// A fresh smtpd sees the new map: postfix reload ends idle ones.
	var rerr *testlab.ReplyError
	_, err = send("alice@lab.test")
	if !errors.As(err, &rerr) || rerr.Reply.Code != 554 || !strings.Contains(rerr.Reply.Text(), "stolen login") {
		t.Fatalf("alice's mail: %v, want 554 with our text", err)
	}
	if r, err := send("bob@lab.test"); err != nil || r.QueueID == "" {
		t.Errorf("bob's mail: %+v, %v", r, err)
	}
	// Two edits within one second: the second block must be seen too.
	if _, err := m.Block(ctx, "bob@lab.test", mtablock.Options{Action: mtablock.TempFail, Text: "slow down"}); err != nil {
		t.Fatal(err)
	}
	_, err = send("bob@lab.test")
	if !errors.As(err, &rerr) || rerr.Reply.Code != 421 {
		t.Errorf("bob after block: %v, want 421", err)
	}
	if res, err := m.Unblock(ctx, "alice@lab.test"); err != nil || !res.Written {
		t.Fatalf("unblock: %+v, %v", res, err)
	}
	if r, err := send("alice@lab.test"); err != nil || r.QueueID == "" {
		t.Errorf("alice after unblock: %+v, %v", r, err)
	}
}

// TestLabEndSessions ends a live, authenticated session that has queued
// nothing (so no log line names it), found by its client address; and checks
// that a log pid older than the line's time is not taken.
func TestLabEndSessions(t *testing.T) {
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := New(ctx, Config{ConfigDir: lab.ConfigDir})
	if err != nil {
		t.Fatal(err)
	}
	victim, err := lab.Dial(ctx, testlab.DialOpts{LocalIP: "127.0.0.66"})
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	if _, err := victim.Auth(ctx, "alice@lab.test", testlab.DefaultUsers["alice@lab.test"]); err != nil {
		t.Fatal(err)
	}
	other, err := lab.Dial(ctx, testlab.DialOpts{LocalIP: "127.0.0.67"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	sf := m.Sessions()
	ip := netip.MustParseAddr("127.0.0.66")
	found, err := sf.Find(SessionQuery{Login: "alice@lab.test", IPs: []netip.Addr{ip}, ByIP: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ClientAddr != "127.0.0.66" || found[0].How != "client-ip" {
		t.Fatalf("found %+v, want one session from 127.0.0.66", found)
	}
	pid := found[0].PID
	// A hint older than the process: the pid must have been reused.
	old, _ := sf.Find(SessionQuery{Hints: []PIDHint{{PID: pid, Seen: time.Now().Add(-time.Hour)}}, IPs: []netip.Addr{ip}})
	if len(old) != 0 {
		t.Errorf("hint older than the process matched: %+v", old)
	}
	// Queue a message in the open session: its log line gives the pid
	// and a whole-second time, as the correlator would pass them.
	if _, err := victim.Mail(ctx, "x@spam.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := victim.Rcpt(ctx, "victim@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := victim.Data(ctx, []byte("Subject: x\r\n\r\nspam\r\n")); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^(\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ postfix/\S*smtpd\[(\d+)\]: \w+: client=.*sasl_username=alice@lab\.test`)
	line, err := lab.WaitLog(ctx, testlab.PostfixLog, "", re)
	if err != nil {
		t.Fatal(err)
	}
	sm := re.FindStringSubmatch(line)
	logPID, _ := strconv.Atoi(sm[2])
	stamp, err := time.ParseInLocation("2006 Jan _2 15:04:05", strconv.Itoa(time.Now().Year())+" "+sm[1], time.Local)
	if err != nil || logPID != pid {
		t.Fatalf("log line %q: pid %d (session %d), time %v", line, logPID, pid, err)
	}
	byLog, _ := sf.Find(SessionQuery{Hints: []PIDHint{{PID: logPID, Seen: stamp}}, IPs: []netip.Addr{ip}})
	if len(byLog) != 1 || byLog[0].How != "log-pid" {
		t.Errorf("hint from the log not matched: %+v", byLog)
	}
	noIP, _ := sf.Find(SessionQuery{Hints: []PIDHint{{PID: logPID, Seen: stamp}}})
	if len(noIP) != 1 {
		t.Errorf("hint without addresses not matched: %+v", noIP)
	}
	kr, err := sf.End(ctx, SessionQuery{Login: "alice@lab.test", IPs: []netip.Addr{ip}, ByIP: true}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// the connection is reset: the session is over, smtpd lives on (killing
	// a process in its first session makes master throttle the service)
	if !slices.Equal(kr.Reset, []int{pid}) || kr.Ended() != 1 {
		t.Fatalf("end = %+v, want the connection of %d reset", kr, pid)
	}
	if _, err := victim.Cmd(ctx, "NOOP"); err == nil {
		t.Error("the ended session still answers")
	}
	if _, err := other.Cmd(ctx, "NOOP"); err != nil {
		t.Errorf("the other client's session was hurt: %v", err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("smtpd %d is gone: %v", pid, err)
	}
	if _, err := lab.WaitLog(ctx, testlab.PostfixLog, "", regexp.MustCompile(`smtpd\[`+strconv.Itoa(pid)+`\]: disconnect from unknown\[127\.0\.0\.66\]`)); err != nil {
		t.Errorf("no disconnect line for the reset session: %v", err)
	}
	// new sessions are served at once: the service was not throttled
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	next, err := lab.Dial(dctx, testlab.DialOpts{LocalIP: "127.0.0.68", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("a new session after the reset: %v", err)
	}
	next.Close()

	// Without a working reset (the socket stays), End falls back to signals.
	sig := *sf
	sig.ResetConn = func(context.Context, netip.AddrPort, netip.AddrPort) error { return nil }
	kr, err = sig.End(ctx, SessionQuery{Login: "bob", IPs: []netip.Addr{netip.MustParseAddr("127.0.0.67")}, ByIP: true}, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(kr.Reset) != 0 || len(kr.Terminated)+len(kr.Killed) != 1 {
		t.Fatalf("end without reset = %+v, want one process signalled", kr)
	}
	if _, err := other.Cmd(ctx, "NOOP"); err == nil {
		t.Error("the signalled session still answers")
	}
}
