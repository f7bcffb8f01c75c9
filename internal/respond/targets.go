package respond

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/logsrc"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
	"github.com/saslguard/saslguard/internal/scan"
)

// Target is one login to respond to, with what the log says about it. The
// log is evidence, not proof: links are only candidates that the queue files
// must confirm, hints are only pids that the session finder re-checks.
type Target struct {
	Login string
	// Links are the open filter copies and bounces the log ties to the
	// login's messages (queue ids checked for form only).
	Links []queue.Link
	// Hints are smtpd pids of the login's sessions, with the line's time.
	Hints []postfixblock.PIDHint
	// IPs are the login's client addresses in the log.
	IPs []netip.Addr
	// Evidence is a one-line summary for the incident record.
	Evidence string
	// FromScan is true when the scan named the login (not the operator).
	FromScan bool
}

// ScanOptions say how to read the logs for Targets.
type ScanOptions struct {
	Logs  []string
	Year  int
	Loc   *time.Location
	Allow map[string]bool
	Own   []string
}

// ScanTargets reads the logs and returns a target for each named login, or
// for every login the detector calls compromised when none is named.
func ScanTargets(ctx context.Context, logins []string, o ScanOptions) ([]Target, error) {
	set, err := logsrc.Open(o.Logs, scan.ReaderOptions())
	if err != nil {
		return nil, fmt.Errorf("open logs: %w", err)
	}
	loc := o.Loc
	if loc == nil {
		loc = time.Local
	}
	res, err := scan.Run(ctx, set, scan.Options{Year: o.Year, Loc: loc, Allow: o.Allow,
		Correlate: correlate.Config{OwnDomains: o.Own}})
	if err != nil {
		return nil, fmt.Errorf("scan logs: %w", err)
	}
	named := len(logins) > 0
	if !named {
		for _, a := range res.Accounts {
			if scan.Verdict(a, o.Allow) == detect.Compromised {
				logins = append(logins, a.Login)
			}
		}
	}
	var out []Target
	for _, l := range logins {
		t := TargetFrom(res.Correlator, l)
		t.FromScan = !named
		out = append(out, t)
	}
	return out, nil
}

// TargetFrom builds the target of login from a correlator (which may be nil
// or know nothing of the login: then only the queue files tie messages to it).
func TargetFrom(c *correlate.Correlator, login string) Target {
	t := Target{Login: login}
	if c == nil {
		return t
	}
	a := c.Account(login) // in any case: Account lower-cases as the correlator does
	if a == nil {
		return t
	}
	t.Evidence = fmt.Sprintf("log: %d messages, %d recipients, %d filter copies, %d bounces, %d client IPs",
		a.Messages, a.Recipients, a.FilterCopies, a.Bounces, a.IPs.Len())
	for _, kc := range a.IPs.Top(256) {
		if ip, err := netip.ParseAddr(kc.Key); err == nil {
			t.IPs = append(t.IPs, ip.Unmap())
		}
	}
	seenPID := map[int]bool{}
	for _, m := range c.Open(login) {
		id := m.ID()
		switch m.Origin {
		case correlate.FilterCopy:
			if postfixq.ValidQueueID(id) {
				t.Links = append(t.Links, queue.Link{QueueID: id, Kind: queue.LinkFilterCopy})
			}
		case correlate.Bounce:
			if postfixq.ValidQueueID(id) {
				t.Links = append(t.Links, queue.Link{QueueID: id, Kind: queue.LinkBounce})
			}
		case correlate.Auth:
			if m.PID > 0 && !seenPID[m.PID] {
				seenPID[m.PID] = true
				t.Hints = append(t.Hints, postfixblock.PIDHint{PID: m.PID, Seen: m.First})
			}
		}
	}
	slices.SortFunc(t.Links, func(x, y queue.Link) int { return strings.Compare(x.QueueID, y.QueueID) })
	return t
}
