package respond

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/queue/postfixq"
)

// forgedTakeover writes a log in which login relays n messages with forged
// senders from several addresses, each deferred, some causing a bounce.
func forgedTakeover(b *strings.Builder, t0 time.Time, login string, seq, n int) {
	for i := range n {
		ts := t0.Add(time.Duration(i) * 20 * time.Second).Format(time.Stamp)
		qid := fmt.Sprintf("%02X%08X", seq, i)
		pid := 20000 + seq*100 + i%4
		ip := fmt.Sprintf("198.51.%d.%d", seq, 10+i%4)
		fmt.Fprintf(b, "%s mx postfix/submission/smtpd[%d]: connect from unknown[%s]\n", ts, pid, ip)
		fmt.Fprintf(b, "%s mx postfix/submission/smtpd[%d]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=%s\n", ts, pid, qid, ip, login)
		fmt.Fprintf(b, "%s mx postfix/cleanup[300]: %s: message-id=<%d.%d@spam>\n", ts, qid, seq, i)
		fmt.Fprintf(b, "%s mx postfix/qmgr[200]: %s: from=<promo%d@deals%d.example>, size=900, nrcpt=1 (queue active)\n", ts, qid, i, i)
		fmt.Fprintf(b, "%s mx postfix/smtp[301]: %s: to=<victim%d@example.org>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.example.org: Connection refused)\n", ts, qid, i)
		if i%5 == 0 {
			ndr := fmt.Sprintf("%02X%08X", seq+0x80, i)
			fmt.Fprintf(b, "%s mx postfix/smtp[301]: %s: to=<nosuch%d@lab.test>, relay=none, delay=1, dsn=5.1.1, status=bounced (unknown user)\n", ts, qid, i)
			fmt.Fprintf(b, "%s mx postfix/bounce[302]: %s: sender non-delivery notification: %s\n", ts, qid, ndr)
			fmt.Fprintf(b, "%s mx postfix/qmgr[200]: %s: from=<>, size=2000, nrcpt=1 (queue active)\n", ts, ndr)
		}
		fmt.Fprintf(b, "%s mx postfix/submission/smtpd[%d]: disconnect from unknown[%s] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6\n", ts, pid, ip)
	}
}

// TestScanTargetsHostile: logins that are hostile to a map, a shell or a
// terminal, found by the detector in a log (no login named), come back
// verbatim with queue-id links of valid form only.
func TestScanTargetsHostile(t *testing.T) {
	hostile := []string{"a b@lab.test", "#x@lab.test", "o'brien@lab.test", "$(reboot)@lab.test", "-rf@lab.test", `x"y@lab.test`}
	var b strings.Builder
	t0 := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	for i, l := range hostile {
		forgedTakeover(&b, t0, l, i+1, 40)
	}
	path := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	targets, err := ScanTargets(context.Background(), nil, ScanOptions{Logs: []string{path}, Year: 2026, Loc: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range targets {
		got = append(got, tg.Login)
		if !tg.FromScan {
			t.Errorf("%s not marked as found by the scan", Quote(tg.Login))
		}
		bounces := 0
		for _, l := range tg.Links {
			if !postfixq.ValidQueueID(l.QueueID) {
				t.Errorf("%s: invalid link %q", Quote(tg.Login), l.QueueID)
			}
			bounces++
		}
		if bounces != 8 || len(tg.Hints) != 4 || len(tg.IPs) != 4 {
			t.Errorf("%s: %d links, %d pid hints, %d IPs; want 8, 4, 4", Quote(tg.Login), bounces, len(tg.Hints), len(tg.IPs))
		}
	}
	slices.Sort(got)
	want := slices.Clone(hostile)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("targets %q, want %q", got, want)
	}
}
