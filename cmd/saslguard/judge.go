package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/saslguard/saslguard/internal/report"
)

// Exit status 2 means "could not judge" for every command that reads logs:
// an error, an input with nothing to judge by, or a damaged file. Cron must
// not read "no login flagged" over such an input as all clear.

// nothingToJudge returns the error of an input that gave no mail event to
// judge by: no line at all (an empty file), or no line of Postfix or
// Dovecot understood (another MTA's log, an Exchange CSV, a web server's
// log, random bytes). damaged is how many files could not be read to their
// end; other and unparsed count the lines of other programs and those of
// Postfix or Dovecot no parser understood (may be nil). A log where Dovecot, amavis or opendkim lines outnumber Postfix's
// has Postfix events: it is judged.
func nothingToJudge(lines, parsed, noEnvelope int64, damaged int, other, unparsed map[string]int64) error {
	if lines == 0 && damaged > 0 {
		return fmt.Errorf("could not judge: no line could be read (%d file(s) damaged, see the warnings above)", damaged)
	}
	if lines == 0 {
		return fmt.Errorf("could not judge: the input is empty (nothing was read, so nothing is known to be clear)")
	}
	if parsed > 0 {
		return nil
	}
	var parts []string
	if noEnvelope > 0 {
		parts = append(parts, fmt.Sprintf("%d without a syslog envelope saslguard knows", noEnvelope))
	}
	if s := topPrograms(other, 3); s != "" {
		parts = append(parts, "other programs' lines: "+s)
	}
	if s := topPrograms(unparsed, 3); s != "" {
		parts = append(parts, "mail daemons' lines no parser understood: "+s)
	}
	if damaged > 0 {
		parts = append(parts, fmt.Sprintf("%d file(s) damaged", damaged))
	}
	what := fmt.Sprintf("none of the %d lines is", lines)
	if lines == 1 {
		what = "the only line is not"
	}
	detail := ""
	if len(parts) > 0 {
		detail = " (" + strings.Join(parts, "; ") + ")"
	}
	return fmt.Errorf("could not judge: %s a Postfix or Dovecot event saslguard reads%s; saslguard reads Postfix and Dovecot logs ('saslguard explain LINE' shows how a line is read)",
		what, detail)
}

// topPrograms lists the n programs with the most lines.
func topPrograms(m map[string]int64, n int) string {
	type kc struct {
		k string
		c int64
	}
	var all []kc
	for k, c := range m {
		all = append(all, kc{k, c})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].c != all[j].c {
			return all[i].c > all[j].c
		}
		return all[i].k < all[j].k
	})
	var out []string
	for _, x := range all[:min(n, len(all))] {
		out = append(out, fmt.Sprintf("%s (%d)", report.Safe(x.k, 40), x.c))
	}
	if len(all) > n {
		out = append(out, "...")
	}
	return strings.Join(out, ", ")
}

// warnDamaged writes the read errors of damaged files to w, one a line.
func warnDamaged(w io.Writer, errs []string) {
	for _, e := range errs {
		fmt.Fprintf(w, "saslguard: WARNING: %s\n", report.Safe(e, 300))
	}
}

// damaged returns the error of an input with damaged files whose readable
// part was judged.
func damaged(errs []string) error {
	return fmt.Errorf("could not judge all of the input: %d file(s) damaged (see the warnings above); the rest was read and judged", len(errs))
}
