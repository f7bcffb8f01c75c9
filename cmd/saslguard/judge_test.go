package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// corpusDir holds public log samples (see its SOURCES.md) when present.
const corpusDir = "../../../shared/corpus"

// cleanLog is a whole Postfix log of one login's ordinary mail.
func cleanLog(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		qid := "8A1A2B83" + string(rune('A'+i%26)) + string(rune('A'+i/26%26))
		b.WriteString("Nov 27 05:39:22 mx1 postfix/submission/smtpd[1]: " + qid + ": client=unknown[198.51.100.1], sasl_method=PLAIN, sasl_username=a@lab.test\n")
		b.WriteString("Nov 27 05:39:23 mx1 postfix/qmgr[2]: " + qid + ": from=<a@lab.test>, size=100, nrcpt=1 (queue active)\n")
		b.WriteString("Nov 27 05:39:24 mx1 postfix/smtp[3]: " + qid + ": to=<x@remote.test>, relay=mx.remote.test[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)\n")
		b.WriteString("Nov 27 05:39:24 mx1 postfix/qmgr[2]: " + qid + ": removed\n")
	}
	return b.String()
}

// TestCouldNotJudgeExitsTwo: an input with no mail event saslguard reads
// (another MTA's log, an Exchange CSV, a web server's log, random bytes,
// nothing at all) exits 2 with the reason on standard error, for scan and
// watch --once alike, never 0 with "no login flagged".
func TestCouldNotJudgeExitsTwo(t *testing.T) {
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i*i*31)
	}
	cases := []struct {
		name, data, stderr string
	}{
		{"empty", "", "the input is empty"},
		{"blank lines", "\n\n\r\n", "could not judge"},
		{"sendmail", "Nov 27 05:39:22 mx1 sendmail[1234]: 3AB1CdE1234567: from=<a@lab.test>, size=100, class=0, nrcpts=1, msgid=<x@lab.test>, proto=ESMTP, daemon=MTA, relay=[198.51.100.1]\n" +
			"Nov 27 05:39:22 mx1 sm-mta[1235]: 3AB1CdE1234567: AUTH=server, relay=[198.51.100.1], authid=a@lab.test, mech=LOGIN, bits=0\n", "sendmail (1)"},
		{"exchange csv", "#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n#Fields: date-time,client-ip,client-hostname,server-ip\n" +
			"2026-03-04T02:04:21.123Z,198.51.100.1,,192.0.2.1\n", "none of the 4 lines"},
		{"nginx", `198.51.100.1 - - [04/Mar/2026:02:04:21 +0000] "POST /wp-login.php HTTP/1.1" 200 4523 "-" "Mozilla/5.0"` + "\n", "the only line is not"},
		{"random bytes", string(random), "without a syslog envelope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "mail.log")
			if err := os.WriteFile(p, []byte(c.data), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"scan", "--year", "2026", p},
				{"scan", "--year", "2026", "--format", "json", "-"},
				{"watch", "--once", "--year", "2026", p},
			} {
				stdin := ""
				if args[len(args)-1] == "-" {
					stdin = c.data
				}
				code, out, stderr := runCmd(t, stdin, args...)
				if code != 2 {
					t.Errorf("%v: exit %d, want 2 (could not judge); stdout %q", args, code, out)
				}
				// watch names no programs: scan's reasons are checked
				if !strings.Contains(stderr, "could not judge") || args[0] == "scan" && !strings.Contains(stderr, c.stderr) {
					t.Errorf("%v: stderr %q does not say it could not judge (%q)", args, stderr, c.stderr)
				}
				if strings.Contains(out, "no login flagged") {
					t.Errorf("%v: stdout says %q", args, out)
				}
			}
		})
	}
}

// TestCorpusOtherLogsExitTwo: public logs of MTAs saslguard does not read
// yet (Sendmail) and of Exchange
// (when the corpus is present) cannot be judged.
func TestCorpusOtherLogsExitTwo(t *testing.T) {
	files := []string{
		"fail2ban/sendmail-reject", "fail2ban/sendmail-auth", "hirstar-EMAIL_MONITOR/mail.log",
		"exchange-public/qazeer_RECV2023011116-1.LOG", "exchange-public/qazeer_Owa_HttpProxy_2023010602-1.LOG",
	}
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("SKIPPING: the shared corpus %s is not present (%v)", corpusDir, err)
	}
	for _, f := range files {
		p := filepath.Join(corpusDir, f)
		if _, err := os.Stat(p); err != nil {
			t.Logf("%s: not present, skipped", f)
			continue
		}
		code, _, stderr := runCmd(t, "", "scan", "--year", "2026", "--no-progress", p)
		if code != 2 || !strings.Contains(stderr, "could not judge") {
			t.Errorf("%s: exit %d, stderr %q; want 2, could not judge", f, code, stderr)
		}
	}
}

// TestOtherDaemonsOutnumberingPostfixIsJudged: a mail.log where Dovecot,
// amavis and opendkim lines outnumber Postfix's is an ordinary log.
func TestOtherDaemonsOutnumberingPostfixIsJudged(t *testing.T) {
	var b strings.Builder
	b.WriteString(cleanLog(2))
	for i := 0; i < 50; i++ {
		b.WriteString("Nov 27 05:40:00 mx1 dovecot: imap-login: Login: user=<a@lab.test>, method=PLAIN, rip=198.51.100.1, lip=192.0.2.1, mpid=1, TLS, session=<a>\n")
		b.WriteString("Nov 27 05:40:01 mx1 amavis[77]: (00077-01) Passed CLEAN {RelayedOutbound}, [198.51.100.1] <a@lab.test> -> <x@remote.test>, Queue-ID: 8A1A2B83AA\n")
		b.WriteString("Nov 27 05:40:02 mx1 opendkim[88]: 8A1A2B83AA: DKIM-Signature field added (s=mail, d=lab.test)\n")
	}
	for _, args := range [][]string{{"scan", "--year", "2026", "-"}, {"watch", "--once", "--year", "2026", "-"}} {
		code, out, stderr := runCmd(t, b.String(), args...)
		if code != 0 || strings.Contains(stderr, "could not judge") {
			t.Errorf("%v: exit %d, stderr %q; want 0", args, code, stderr)
		}
		if args[0] == "scan" && !strings.Contains(out, "no login flagged") {
			t.Errorf("scan: %s", out)
		}
	}
}

// TestDamagedFilesExitTwo: a truncated or corrupt compressed file is
// reported on standard error with exit 2, and what could be read is still
// reported; a login found compromised in what was read still exits 1.
func TestDamagedFilesExitTwo(t *testing.T) {
	log := cleanLog(2000)
	var gz, zs, xzb bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(log))
	zw.Close()
	ze, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	ze.Write([]byte(log))
	ze.Close()
	xw, err := xz.NewWriter(&xzb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write([]byte(log))
	xw.Close()
	corrupt := func(b []byte) []byte {
		c := bytes.Clone(b)
		for i := len(c) / 3; i < len(c)/3+64; i++ {
			c[i] ^= 0x5a
		}
		return c
	}
	cases := []struct {
		name     string
		data     []byte
		readSome bool // the lines before the damage are reported
	}{
		{"truncated.gz", gz.Bytes()[:gz.Len()/2], true},
		{"corrupt.gz", corrupt(gz.Bytes()), true},
		{"truncated.zst", zs.Bytes()[:zs.Len()/2], false},
		{"corrupt.zst", corrupt(zs.Bytes()), false},
		{"truncated.xz", xzb.Bytes()[:xzb.Len()/2], false},
		{"corrupt.xz", corrupt(xzb.Bytes()), false},
		{"corrupt.bz2", append([]byte("BZh91AY&SY"), bytes.Repeat([]byte{0x42, 0x17}, 500)...), false},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"scan", "--year", "2026", p}, {"watch", "--once", "--year", "2026", p}} {
				code, out, stderr := runCmd(t, "", args...)
				if code != 2 {
					t.Errorf("%v: exit %d, want 2", args, code)
				}
				if !strings.Contains(stderr, "WARNING: read "+p) || !strings.Contains(stderr, "could not judge") {
					t.Errorf("%v: stderr %q lacks the file's warning or the verdict", args, stderr)
				}
				if strings.Contains(out, "WARNING") {
					t.Errorf("%v: the warning is on standard output: %q", args, out)
				}
				if args[0] == "scan" && c.readSome && !strings.Contains(out, "a@lab.test") {
					t.Errorf("scan: what could be read is not reported:\n%s", out)
				}
			}
		})
	}
	// a damaged file beside a whole one: the whole one is reported
	whole := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(whole, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, "", "scan", "--year", "2026", filepath.Join(dir, "corrupt.xz"), whole)
	if code != 2 || !strings.Contains(out, "a@lab.test") || !strings.Contains(stderr, "corrupt.xz") {
		t.Errorf("damaged beside whole: exit %d, stderr %q, stdout:\n%s", code, stderr, out)
	}
}

// TestDamagedFileWithTakeoverExitsOne: a takeover found in the readable
// part of a damaged file is acted on: exit 1, the damage on stderr.
func TestDamagedFileWithTakeoverExitsOne(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "mail.log.2.gz")
	if err := os.WriteFile(p, data[:len(data)*9/10], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCmd(t, "", "scan", "--year", "2026", "--tz", "UTC", p)
	if code != 1 || !strings.Contains(out, "COMPROMISED") || !strings.Contains(stderr, "WARNING: read "+p) {
		t.Errorf("exit %d, stderr %q; want 1 with the warning", code, stderr)
	}
}
