package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/testlab"
)

// TestPostfixIntegration runs a real Postfix (internal/testlab) with
// check_policy_service pointing at saslguard, in the submission service's
// own restrictions as Debian-style master.cf files have them: a login over
// its limit has its next mail deferred at RCPT (450), a compromised one is
// rejected from then on, and another login keeps sending.
func TestPostfixIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	lab := testlab.Start(t, testlab.Options{NoIMAP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := DefaultConfig()
	cfg.Listen = []string{"tcp:127.0.0.1:0"}
	cfg.StateDir = t.TempDir()
	cfg.Rules = Rules{
		MessagesPerMinute:     Rule{Limit: 2, Action: DeferIfPermit},
		RecipientsPerMinute:   Rule{Limit: 6, Action: Hold},
		ClientNetworksPerHour: Rule{Limit: 1, Action: Reject, Compromised: true},
	}
	var logBuf syncBuffer
	svc, err := NewService(cfg, Options{Log: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	policyAddr := svc.Addrs()[0].String()

	// The submission service overrides smtpd_recipient_restrictions with -o:
	// the check has to go there (commas, no spaces, as master.cf wants).
	sub := lab.SubmissionAddr() + "/inet/smtpd_recipient_restrictions=check_policy_service,inet:" + policyAddr + ",permit_sasl_authenticated,reject"
	if out, err := lab.Run(ctx, testlab.ToolPostconf, "-P", sub); err != nil {
		t.Fatalf("postconf -P: %v %s", err, out)
	}
	if err := lab.SetMain(ctx,
		"smtpd_policy_service_default_action=DUNNO",
		"smtpd_data_restrictions=check_policy_service inet:"+policyAddr,
	); err != nil {
		t.Fatal(err)
	}
	if err := lab.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let smtpd processes on the old configuration exit

	send := func(login, ip string, n int) (testlab.SendResult, error) {
		pw, _ := lab.Password(login)
		return lab.Send(ctx, testlab.SendOpts{
			LocalIP: ip, Login: login, Password: pw, From: login,
			To: []string{fmt.Sprintf("user%d@example.org", n), fmt.Sprintf("other%d@example.org", n)}, Subject: "test",
		})
	}
	// alice: two messages pass, the third is deferred at RCPT.
	for i := 0; i < 2; i++ {
		res, err := send("alice@lab.test", "127.0.0.66", i)
		if err != nil || res.QueueID == "" {
			t.Fatalf("alice message %d: %v %+v\nsaslguard log:\n%s", i, err, res, logBuf.String())
		}
	}
	res, err := send("alice@lab.test", "127.0.0.66", 3)
	var re *testlab.ReplyError
	if !errors.As(err, &re) || re.Command != "RCPT" || re.Reply.Code != 450 || !strings.Contains(re.Reply.Text(), "Sending limit reached") {
		t.Fatalf("alice third message: err %v, result %+v; want RCPT 450 Sending limit reached", err, res)
	}
	if res.QueueID != "" {
		t.Fatalf("alice third message queued as %s", res.QueueID)
	}
	if _, err := lab.WaitLog(ctx, testlab.PostfixLog, "450 4.7.1", nil); err != nil {
		t.Fatalf("no 450 in the Postfix log: %v", err)
	}
	// bob keeps sending.
	if res, err := send("bob@lab.test", "127.0.0.67", 4); err != nil || res.QueueID == "" {
		t.Fatalf("bob: %v %+v", err, res)
	}
	// carol logs in from a second network: compromised, rejected from now
	// on, also from her first address.
	if res, err := send("carol@lab.test", "127.0.0.68", 5); err != nil || res.QueueID == "" {
		t.Fatalf("carol first: %v %+v", err, res)
	}
	for i, ip := range []string{"127.0.1.68", "127.0.0.68"} {
		_, err := send("carol@lab.test", ip, 6+i)
		if !errors.As(err, &re) || re.Reply.Code != 554 || !strings.Contains(re.Reply.Text(), "Sending disabled") {
			t.Fatalf("carol message %d: %v; want 554 Sending disabled", i, err)
		}
	}
	if res, err := send("bob@lab.test", "127.0.0.67", 9); err != nil || res.QueueID == "" {
		t.Fatalf("bob after carol's block: %v %+v", err, res)
	}
	// postmaster sends one message to seven recipients: over
	// recipients_per_minute (6), Postfix accepts it onto the hold queue.
	pw, _ := lab.Password("postmaster@lab.test")
	var to []string
	for i := 0; i < 7; i++ {
		to = append(to, fmt.Sprintf("list%d@example.org", i))
	}
	hres, err := lab.Send(ctx, testlab.SendOpts{LocalIP: "127.0.0.69", Login: "postmaster@lab.test", Password: pw,
		From: "postmaster@lab.test", To: to, Subject: "newsletter"})
	if err != nil || hres.QueueID == "" {
		t.Fatalf("postmaster: %v %+v", err, hres)
	}
	// The queue holds exactly the accepted messages: 2 alice, 2 bob,
	// 1 carol (deferred: no relay listens) and postmaster's on hold.
	// postqueue can list a message twice while it moves between queues:
	// count distinct ids.
	ids := func(es []testlab.QueueEntry) map[string]bool {
		m := map[string]bool{}
		for _, e := range es {
			m[e.QueueID] = true
		}
		return m
	}
	q, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool {
		return testlab.QueueCounts(es)["hold"] == 1 && len(ids(es)) >= 6
	})
	if err != nil || len(ids(q)) != 6 {
		for _, e := range q {
			t.Logf("queued: %s %s from=%s to=%d", e.QueueName, e.QueueID, e.Sender, len(e.Recipients))
		}
		t.Fatalf("queue: %d messages %v, %v", len(ids(q)), testlab.QueueCounts(q), err)
	}
	for _, e := range q {
		if (e.QueueID == hres.QueueID) != (e.QueueName == "hold") {
			t.Fatalf("queue entry %+v: only postmaster's message should be held", e)
		}
	}
}
