package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bareLoginLog writes a log where the bare login jordy (no domain) sends
// 1,313 messages in 15 hours, 1,272 of them in one hour, from one IP, as
// jordy@example.nl, and a few as root@dmnenix (a bare host name). No other
// login and no local delivery tells which domain is the organisation's.
func bareLoginLog(t *testing.T) string {
	var b strings.Builder
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	n := 0
	msg := func(at time.Time, sender string) {
		n++
		id := fmt.Sprintf("%011X", 0x1000000+n)
		st := at.Format(time.Stamp)
		fmt.Fprintf(&b, "%s mail postfix/submission/smtpd[100]: %s: client=office.example.nl[192.0.2.50], sasl_method=PLAIN, sasl_username=jordy\n", st, id)
		fmt.Fprintf(&b, "%s mail postfix/qmgr[50]: %s: from=<%s>, size=2000, nrcpt=1 (queue active)\n", st, id, sender)
		fmt.Fprintf(&b, "%s mail postfix/smtp[200]: %s: to=<client%d@customer%d.example>, relay=mx.customer.example[198.51.100.7]:25, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 ok)\n", st, id, n, n%40)
		fmt.Fprintf(&b, "%s mail postfix/qmgr[50]: %s: removed\n", st, id)
	}
	for i := range 41 { // the day's ordinary mail, over 14 hours
		sender := "jordy@example.nl"
		if i%10 == 0 {
			sender = "root@dmnenix"
		}
		msg(t0.Add(time.Duration(i)*20*time.Minute), sender)
	}
	burst := t0.Add(14 * time.Hour)
	for i := range 1272 { // a mailing to customers, in one hour
		msg(burst.Add(time.Duration(i)*2830*time.Millisecond), "jordy@example.nl")
	}
	path := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A heavy legitimate sender with a bare login, sending as one domain from
// one IP, is not flagged: a bare host name is not an Internet domain.
func TestBareLoginHeavySenderIsOK(t *testing.T) {
	code, out, errs := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", "--format", "json", bareLoginLog(t))
	if code != 0 {
		t.Errorf("exit %d: %s", code, errs)
	}
	var doc struct {
		Accounts []struct {
			Login, Verdict string
			Messages       int
			Reasons        []string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Accounts) != 1 || doc.Accounts[0].Login != "jordy" || doc.Accounts[0].Messages != 1313 {
		t.Fatalf("accounts %+v", doc.Accounts)
	}
	if a := doc.Accounts[0]; a.Verdict != "ok" {
		t.Errorf("jordy: %s: %q", a.Verdict, a.Reasons)
	}
}

// oneForgedDomainLog writes a log where alice, after a week of a few
// messages a day from her office, sends 24 messages as one foreign domain
// at two an hour from three new IPs.
func oneForgedDomainLog(t *testing.T) string {
	var b strings.Builder
	n := 0
	msg := func(at time.Time, ip, sender string) {
		n++
		id := fmt.Sprintf("%011X", 0x2000000+n)
		st := at.Format(time.Stamp)
		fmt.Fprintf(&b, "%s mail postfix/submission/smtpd[100]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=alice@corp.example\n", st, id, ip)
		fmt.Fprintf(&b, "%s mail postfix/qmgr[50]: %s: from=<%s>, size=2000, nrcpt=1 (queue active)\n", st, id, sender)
		fmt.Fprintf(&b, "%s mail postfix/smtp[200]: %s: to=<someone%d@elsewhere.example>, relay=mx.elsewhere.example[198.51.100.7]:25, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 ok)\n", st, id, n)
		fmt.Fprintf(&b, "%s mail postfix/qmgr[50]: %s: removed\n", st, id)
	}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for d := range 8 {
		for i := range 3 {
			msg(t0.Add(time.Duration(d)*24*time.Hour+time.Duration(i)*2*time.Hour), "192.0.2.10", "alice@corp.example")
		}
	}
	run := t0.Add(8 * 24 * time.Hour)
	for i := range 24 {
		msg(run.Add(time.Duration(i)*30*time.Minute), fmt.Sprintf("203.0.113.%d", 1+i%3), "billing@forged.example")
	}
	path := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// min_foreign_domains in the configuration file changes the verdict: at 1,
// one forged domain from new IPs is a takeover.
func TestMinForeignDomainsInTheConfigurationFile(t *testing.T) {
	log := oneForgedDomainLog(t)
	verdict := func(args ...string) string {
		t.Helper()
		_, out, errs := runCmd(t, "", append(append([]string{"scan", "--year", "2026", "--tz", "UTC", "--format", "json"}, args...), log)...)
		var doc struct {
			Accounts []struct{ Login, Verdict string }
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Accounts) != 1 {
			t.Fatalf("%v %s: %v %+v", args, errs, err, doc)
		}
		return doc.Accounts[0].Verdict
	}
	if v := verdict(); v != "ok" {
		t.Errorf("default configuration: %s, want ok", v)
	}
	cfg := filepath.Join(t.TempDir(), "saslguard.toml")
	if err := os.WriteFile(cfg, []byte("[detect]\nfew_foreign_domains = 1\nmin_foreign_domains = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v := verdict("-c", cfg); v != "compromised" {
		t.Errorf("min_foreign_domains = 1: %s, want compromised", v)
	}
}
