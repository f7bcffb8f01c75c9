package main

import (
	"strings"
	"testing"
)

func TestExplainReadsStandardInput(t *testing.T) {
	in := "Nov 27 05:39:22 mx1 postfix/submission/smtpd[18296]: 8A1A2B830F: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=alice@example.org\r\n" +
		"not a log line\n" +
		"Nov 27 05:39:23 mx1 postfix/smtpd[18297]: connect from unknown[198.51.100.7]" // no final newline
	code, out, errs := runCmd(t, in, "explain", "--year", "2026", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if n := strings.Count(out, "line:     "); n != 3 {
		t.Errorf("explained %d lines, want 3:\n%s", n, out)
	}
	for _, s := range []string{"login:", "alice@example.org", "no syslog envelope", "198.51.100.7"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "line:     -\n") {
		t.Error(`"-" was explained as a log line`)
	}
	if strings.Contains(out, `\r`) || strings.Contains(out, "\r") {
		t.Error("the CR of a CRLF line was kept")
	}

	// a line longer than the limit is an error, not a silent stop
	code, _, errs = runCmd(t, strings.Repeat("x", maxExplainLine+10)+"\n", "explain", "-")
	if code != 2 || !strings.Contains(errs, "standard input") {
		t.Errorf("overlong line: exit %d, %q", code, errs)
	}
}
