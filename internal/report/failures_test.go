package report

import (
	"fmt"
	"testing"
	"time"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/scan"
)

// TestFailuresOnlyAreTheMostTried: with more failure-only names than the
// document lists, it lists the most-tried ones (not the first in rank
// order) and counts the rest.
func TestFailuresOnlyAreTheMostTried(t *testing.T) {
	c := correlate.New(correlate.Config{})
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	const names = 150
	for i := 0; i < names; i++ {
		// later names (in login order) are tried more: rank order, which
		// ties by login, would list the least tried first
		for j := 0; j < 10+i; j++ {
			c.Add(&event.Event{
				Time: t0.Add(time.Duration(i*1000+j) * time.Second), Host: "mx", Program: "postfix/smtpd",
				Source: event.Postfix, Kind: event.AuthFailure, Count: 1,
				Login: fmt.Sprintf("user%03d@example.org", i), ClientIP: fmt.Sprintf("198.51.100.%d", j%200),
			})
		}
	}
	c.Finish()
	res := &scan.Result{Accounts: scan.Rank(c.Accounts(), nil), Correlator: c}
	doc := Build(res, nil, time.UTC)
	if len(doc.FailuresOnly) != maxFailuresOnly || doc.FailureOnlyMore != names-maxFailuresOnly {
		t.Fatalf("%d listed and %d more, want %d and %d", len(doc.FailuresOnly), doc.FailureOnlyMore, maxFailuresOnly, names-maxFailuresOnly)
	}
	for k, f := range doc.FailuresOnly {
		i := names - 1 - k
		if want := fmt.Sprintf("user%03d@example.org", i); f.Login != want || f.FailedLogins != 10+i {
			t.Fatalf("row %d: %s with %d failures, want %s with %d", k, f.Login, f.FailedLogins, want, 10+i)
		}
	}
	if len(doc.Accounts) != 0 {
		t.Fatalf("failure-only names listed as accounts: %d", len(doc.Accounts))
	}
}
