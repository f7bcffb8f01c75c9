// Package report renders scan results: a table a person reads on a terminal,
// with the evidence for each flagged login, and a stable JSON document for
// programs (documented in docs/json.md).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/scan"
)

// Account is one login in the JSON document.
type Account struct {
	Login       string   `json:"login"`
	Verdict     string   `json:"verdict"`
	Score       int      `json:"score"`
	Allowlisted bool     `json:"allowlisted,omitempty"`
	Reasons     []string `json:"reasons"`
	// Rules are the detector's rules that fired when the reasons were
	// taken, with the figures they read
	Rules           []Rule     `json:"rules"`
	CompromiseStart *time.Time `json:"compromise_start"`
	// EvidenceAt is when the reasons were taken: the moment the login's
	// strongest verdict was reached (the totals run on to the log's end)
	EvidenceAt           *time.Time `json:"evidence_at,omitempty"`
	FirstSeen            time.Time  `json:"first_seen"`
	LastSeen             time.Time  `json:"last_seen"`
	Sessions             int        `json:"sessions"`
	Messages             int        `json:"messages"`
	Recipients           int        `json:"recipients"`
	ClientIPs            int        `json:"client_ips"`
	Networks             int        `json:"networks"`
	SenderDomains        int        `json:"sender_domains"`
	ForeignSenderDomains int        `json:"foreign_sender_domains"`
	ForeignMessages      int        `json:"foreign_messages"`
	Sent                 int        `json:"sent"`
	Deferred             int        `json:"deferred"`
	Bounced              int        `json:"bounced"`
	Expired              int        `json:"expired"`
	RemoteRejections     int        `json:"remote_rejections"`
	BouncesCaused        int        `json:"bounces_caused"`
	FilterCopies         int        `json:"filter_copies"`
	Refused              int        `json:"refused"`
	FailedLogins         int        `json:"failed_logins"`
	FailuresFromItsIPs   int        `json:"failures_from_its_ips"`
	OtherLogins          int        `json:"imap_pop_logins"`
	PeakPerMinute        int        `json:"peak_per_minute"`
	PeakPerHour          int        `json:"peak_per_hour"`
	TopClientIPs         []KeyCount `json:"top_client_ips"`
	TopForeignDomains    []KeyCount `json:"top_foreign_domains"`
	RejectionExamples    []string   `json:"rejection_examples,omitempty"`
	QueueIDs             []string   `json:"queue_ids"`
	QueueIDCount         int        `json:"queue_id_count"`
}

// Rule is a detector rule that fired (see `saslguard rules`).
type Rule struct {
	Name    string         `json:"name"`
	Points  int            `json:"points"`
	Figures map[string]int `json:"figures"`
}

// rulesOf converts the detector's fired rules.
func rulesOf(fs []detect.Fired) []Rule {
	out := make([]Rule, 0, len(fs))
	for _, f := range fs {
		r := Rule{Name: f.Name, Points: f.Points, Figures: make(map[string]int, len(f.Figures))}
		for _, x := range f.Figures {
			r.Figures[x.Name] = x.Value
		}
		out = append(out, r)
	}
	return out
}

// RulesLines renders fired rules compactly for a terminal: the rules that
// gave points with their points, then the others, wrapped to width:
// "rules: new_ips +3, volume +4; forged_from_new_ips".
func RulesLines(rs []Rule, indent string, width int) []string {
	var lines []string
	line := indent + "rules:"
	sep := " "
	add := func(item string) {
		if len(line)+len(sep)+len(item) > width && len(line) > len(indent)+len("rules:") {
			lines = append(lines, line+strings.TrimSpace(sep))
			line, sep = indent+"       ", ""
		}
		line += sep + item
		sep = ", "
	}
	for _, r := range rs {
		if r.Points > 0 {
			add(fmt.Sprintf("%s +%d", r.Name, r.Points))
		}
	}
	if sep == ", " {
		sep = "; "
	}
	for _, r := range rs {
		if r.Points == 0 {
			add(r.Name)
		}
	}
	return append(lines, line)
}

// KeyCount is a value and how often it was seen.
type KeyCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// FailureOnly is a name seen only in failed logins.
type FailureOnly struct {
	Login        string `json:"login"`
	FailedLogins int    `json:"failed_logins"`
	IPs          int    `json:"ips"`
}

// Unauth is the mail that came without a login.
type Unauth struct {
	Messages   int        `json:"messages"`
	Local      int        `json:"local_submissions"`
	Outbound   int        `json:"outbound_recipients"`
	TopClients []KeyCount `json:"top_clients"`
}

// Document is the JSON output of scan.
type Document struct {
	Version         int           `json:"version"`
	Accounts        []Account     `json:"accounts"`
	FailuresOnly    []FailureOnly `json:"failed_logins_only"`
	FailureOnlyMore int           `json:"failed_logins_only_more"`
	Unauthenticated Unauth        `json:"unauthenticated"`
	Stats           scan.Stats    `json:"stats"`
}

// maxFailuresOnly caps the failure-only names listed in the document.
const maxFailuresOnly = 100

// Build turns a scan result into the document.
func Build(res *scan.Result, allow map[string]bool, loc *time.Location) Document {
	doc := Document{Version: 1, Accounts: []Account{}, FailuresOnly: []FailureOnly{}, Stats: res.Stats}
	doc.Stats.FirstEvent = shiftYears(doc.Stats.FirstEvent, res.YearShift)
	doc.Stats.LastEvent = shiftYears(doc.Stats.LastEvent, res.YearShift)
	for _, a := range res.Accounts {
		if a.Messages == 0 && a.Detector().Verdict() == detect.OK && a.Refused == 0 {
			switch {
			case a.FailedLogins > 0 && a.OtherLogins > 0:
				// failed, then logged in over IMAP/POP3: it did succeed,
				// and a guessed password may be in use: show it
				doc.Accounts = append(doc.Accounts, account(a, allow, loc, res.YearShift))
			case a.FailedLogins > 0:
				doc.FailuresOnly = append(doc.FailuresOnly, FailureOnly{a.Login, a.FailedLogins, a.FailureIPs.Len()})
			}
			continue
		}
		doc.Accounts = append(doc.Accounts, account(a, allow, loc, res.YearShift))
	}
	// the most-tried failure-only names, most first; the rest are counted
	fo := doc.FailuresOnly
	sort.Slice(fo, func(i, j int) bool {
		if fo[i].FailedLogins != fo[j].FailedLogins {
			return fo[i].FailedLogins > fo[j].FailedLogins
		}
		return fo[i].Login < fo[j].Login
	})
	if len(fo) > maxFailuresOnly {
		doc.FailureOnlyMore = len(fo) - maxFailuresOnly
		doc.FailuresOnly = fo[:maxFailuresOnly:maxFailuresOnly]
	}
	u := res.Correlator.Unauth
	doc.Unauthenticated = Unauth{Messages: u.Messages, Local: u.Local, Outbound: u.Outbound, TopClients: top(u.TopClients, 10)}
	return doc
}

// shiftYears moves t by n years (scan.Result.YearShift); zero stays zero.
func shiftYears(t time.Time, n int) time.Time {
	if n == 0 || t.IsZero() {
		return t
	}
	return t.AddDate(n, 0, 0)
}

// account is a login's entry, its times moved by shift years (YearShift).
func account(a *correlate.Account, allow map[string]bool, loc *time.Location, shift int) Account {
	d := a.Detector()
	v := d.Verdict()
	out := Account{
		Login: a.Login, Verdict: v.String(), Score: d.Score(),
		FirstSeen: shiftYears(a.First, shift), LastSeen: shiftYears(a.Last, shift),
		Sessions: a.Sessions, Messages: a.Messages, Recipients: a.Recipients,
		ClientIPs: a.IPs.Len(), Networks: a.Nets.Len(),
		SenderDomains: a.SenderDomains.Len(), ForeignSenderDomains: a.ForeignDomains.Len(),
		ForeignMessages: a.ForeignMessages,
		Sent:            a.Sent, Deferred: a.Deferred, Bounced: a.Bounced, Expired: a.Expired,
		RemoteRejections: a.RemoteRejections, BouncesCaused: a.Bounces, FilterCopies: a.FilterCopies,
		Refused: a.Refused, FailedLogins: a.FailedLogins, FailuresFromItsIPs: a.FailuresFromItsIPs,
		OtherLogins:       a.OtherLogins,
		TopClientIPs:      top(&a.IPs, 10),
		TopForeignDomains: top(&a.ForeignDomains, 10),
		RejectionExamples: a.RejectionExamples,
		QueueIDs:          append([]string{}, a.QueueIDs...),
		QueueIDCount:      a.QueueIDCount,
		Reasons:           []string{},
		Rules:             rulesOf(d.Best().Rules),
	}
	out.PeakPerMinute, out.PeakPerHour = d.Peaks()
	if v != detect.OK {
		out.Reasons = detect.Reasons(d.Best(), loc)
		if at := d.Best().At; !at.IsZero() {
			at = shiftYears(at, shift)
			out.EvidenceAt = &at
		}
	}
	if v == detect.Compromised {
		t := shiftYears(d.Start(), shift)
		out.CompromiseStart = &t
	}
	if allow[a.Login] {
		out.Allowlisted = true
		if v != detect.OK {
			out.Reasons = append([]string{fmt.Sprintf("allowlisted: would be %s", v)}, out.Reasons...)
		}
		out.Verdict = detect.OK.String()
		out.CompromiseStart = nil
	}
	return out
}

func top(c *correlate.Counter, n int) []KeyCount {
	out := []KeyCount{}
	if c == nil {
		return out
	}
	for _, kc := range c.Top(n) {
		out = append(out, KeyCount{kc.Key, kc.Count})
	}
	return out
}

// JSON writes the document, indented.
func JSON(w io.Writer, doc Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(true)
	return enc.Encode(doc)
}

// TextOptions tune the terminal report.
type TextOptions struct {
	Loc     *time.Location
	MaxOK   int // ok logins shown in the table (the busiest)
	Verbose bool
}

// Text writes the table and the evidence for each flagged login.
func Text(w io.Writer, doc Document, o TextOptions) error {
	if o.Loc == nil {
		o.Loc = time.Local
	}
	if o.MaxOK <= 0 {
		o.MaxOK = 10
	}
	ew := &ErrWriter{W: w}
	flagged := 0
	for _, a := range doc.Accounts {
		if a.Verdict != "ok" {
			flagged++
		}
	}
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERDICT\tSCORE\tLOGIN\tMESSAGES\tRCPTS\tIPS\tFOREIGN DOMAINS\tFAILED LOGINS\tSINCE")
	shownOK, hiddenOK := 0, 0
	for _, a := range doc.Accounts {
		if a.Verdict == "ok" {
			if shownOK >= o.MaxOK && !o.Verbose {
				hiddenOK++
				continue
			}
			shownOK++
		}
		since := ""
		if a.CompromiseStart != nil {
			since = a.CompromiseStart.In(o.Loc).Format("Jan 2 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", strings.ToUpper(a.Verdict), a.Score, Safe(a.Login, 60),
			a.Messages, a.Recipients, a.ClientIPs, a.ForeignSenderDomains, a.FailedLogins, since)
	}
	tw.Flush()
	if hiddenOK > 0 {
		fmt.Fprintf(ew, "... and %d more ok logins (--verbose shows them)\n", hiddenOK)
	}
	if len(doc.Accounts) == 0 {
		fmt.Fprintln(ew, "(no authenticated mail in the log)")
	}
	for _, a := range doc.Accounts {
		if a.Verdict == "ok" {
			continue
		}
		fmt.Fprintf(ew, "\n%s  %s (score %d)\n", strings.ToUpper(a.Verdict), Safe(a.Login, 200), a.Score)
		if a.CompromiseStart != nil {
			fmt.Fprintf(ew, "  likely start: %s\n", a.CompromiseStart.In(o.Loc).Format("2006-01-02 15:04:05 MST"))
		}
		if a.EvidenceAt != nil && len(a.Reasons) > 0 {
			fmt.Fprintf(ew, "  why, as of %s:\n", a.EvidenceAt.In(o.Loc).Format("Jan 2 15:04"))
		}
		for _, r := range a.Reasons {
			fmt.Fprintf(ew, "  - %s\n", Safe(r, 400))
		}
		if len(a.Rules) > 0 {
			for _, l := range RulesLines(a.Rules, "  ", 100) {
				fmt.Fprintln(ew, l)
			}
		}
		fmt.Fprintf(ew, "  totals: %d messages, %d recipients (%d sent, %d deferred, %d bounced), %d bounces caused, %d remote rejections\n",
			a.Messages, a.Recipients, a.Sent, a.Deferred, a.Bounced, a.BouncesCaused, a.RemoteRejections)
		if len(a.TopClientIPs) > 0 {
			fmt.Fprintf(ew, "  client IPs (%d): %s\n", a.ClientIPs, joinKC(a.TopClientIPs, 6))
		}
		if len(a.TopForeignDomains) > 0 {
			fmt.Fprintf(ew, "  forged sender domains (%d): %s\n", a.ForeignSenderDomains, joinKC(a.TopForeignDomains, 6))
		}
		for _, ex := range a.RejectionExamples {
			fmt.Fprintf(ew, "  remote said: %s\n", Safe(ex, 160))
		}
		if a.QueueIDCount > 0 {
			ids := a.QueueIDs
			more := ""
			if len(ids) > 10 {
				ids = ids[:10]
			}
			if a.QueueIDCount > len(ids) {
				more = fmt.Sprintf(" (+%d more)", a.QueueIDCount-len(ids))
			}
			fmt.Fprintf(ew, "  queue ids: %s%s\n", Safe(strings.Join(ids, " "), 400), more)
		}
		if a.Verdict == "compromised" {
			fmt.Fprintf(ew, "  next: saslguard respond -- %s   (a dry run; add --yes to act)\n", ShellQuote(a.Login))
		}
	}
	if len(doc.FailuresOnly) > 0 {
		total := 0
		for _, f := range doc.FailuresOnly {
			total += f.FailedLogins
		}
		fmt.Fprintf(ew, "\nfailed logins only (never succeeded): %d names", len(doc.FailuresOnly)+doc.FailureOnlyMore)
		var names []string
		for _, f := range doc.FailuresOnly[:min(5, len(doc.FailuresOnly))] {
			names = append(names, fmt.Sprintf("%s (%d)", Safe(f.Login, 60), f.FailedLogins))
		}
		fmt.Fprintf(ew, ", most tried: %s\n", strings.Join(names, ", "))
	}
	u := doc.Unauthenticated
	fmt.Fprintf(ew, "\nunauthenticated mail: %d messages via smtpd without login, %d local submissions, %d recipients relayed outward",
		u.Messages, u.Local, u.Outbound)
	if len(u.TopClients) > 0 {
		fmt.Fprintf(ew, "; busiest clients: %s", joinKC(u.TopClients, 3))
	}
	fmt.Fprintln(ew)
	s := doc.Stats
	fmt.Fprintf(ew, "read %d lines (%s) from %d file(s) in %.2fs; %d understood", s.Lines, HumanBytes(s.Bytes), len(s.Files), s.Seconds, s.Parsed)
	if !s.FirstEvent.IsZero() {
		fmt.Fprintf(ew, "; events from %s to %s", s.FirstEvent.In(o.Loc).Format("2006-01-02 15:04"), s.LastEvent.In(o.Loc).Format("2006-01-02 15:04"))
	}
	fmt.Fprintln(ew)
	if n := sum(s.Unparsed); n > 0 {
		fmt.Fprintf(ew, "not understood: %s\n", joinMap(s.Unparsed))
	}
	if s.NoEnvelope > 0 {
		fmt.Fprintf(ew, "lines without a syslog envelope: %d\n", s.NoEnvelope)
	}
	if n := s.Correlation.AuthNoLogin; n > 0 {
		fmt.Fprintf(ew, "WARNING: %d authenticated messages name no login (an Exim authenticator without server_set_id: A=name with no :id); they are counted as unauthenticated\n", n)
	}
	if s.Suppressed > 0 {
		fmt.Fprintf(ew, "WARNING: the journal suppressed %d messages: evidence is missing\n", s.Suppressed)
	}
	if s.YearNote != "" {
		fmt.Fprintf(ew, "note: %s\n", s.YearNote)
	}
	if flagged == 0 {
		fmt.Fprintln(ew, "no login flagged")
	}
	return ew.Err
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func joinMap(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", Safe(k, 40), v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func joinKC(kc []KeyCount, n int) string {
	var parts []string
	for _, x := range kc[:min(n, len(kc))] {
		parts = append(parts, fmt.Sprintf("%s (%d)", Safe(x.Value, 80), x.Count))
	}
	return strings.Join(parts, ", ")
}

// HumanBytes shows a byte count in B, KiB, MiB or GiB.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Safe makes a string from a log printable on a terminal: control
// characters (escape sequences, CR, LF) and invalid UTF-8 are shown
// escaped, and it is cut to at most n runes.
func Safe(s string, n int) string {
	var b strings.Builder
	count := 0
	for i, r := range s {
		if count >= n {
			b.WriteString("…")
			break
		}
		switch {
		case r == unicode.ReplacementChar && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
		count++
	}
	return b.String()
}

// ShellQuote quotes s for a shell, so that a suggested command line names
// the login exactly and cannot run anything it holds. A name a terminal
// shows as it is goes in single quotes; one with control characters or
// invalid UTF-8 in bash's $'...' with those bytes escaped, so that the line
// is safe to print and still names the login.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@._+-=:/", r))
	}) < 0 && s[0] != '-' {
		return s
	}
	if Safe(s, len(s)) == s {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case Safe(s[i:i+n], 1) == s[i:i+n]:
			b.WriteString(s[i : i+n])
		default:
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "\\x%02x", c)
			}
		}
		i += n
	}
	b.WriteByte('\'')
	return b.String()
}

// ErrWriter writes to W until a write fails, then keeps the error in Err
// and writes nothing more: a report is printed without an error check per
// line, and the first error is returned at its end.
type ErrWriter struct {
	W   io.Writer
	Err error
}

func (e *ErrWriter) Write(p []byte) (int, error) {
	if e.Err != nil {
		return 0, e.Err
	}
	n, err := e.W.Write(p)
	e.Err = err
	return n, err
}
