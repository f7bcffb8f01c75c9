// Package watch is the engine of `saslguard watch`: it takes mail log lines
// as they are written (or replays a log), runs the scan's correlator and
// online detector over them in event time, and raises one alert each time a
// login's verdict rises to the alerting level. Replaying a log gives the
// alerts a live daemon would have raised, with the same compromise start as
// `scan`: the detector decides from what it has seen so far.
//
// This package holds the engine, the alert sinks, the contain mode
// (contain.go: evidence checked against the queue files, rate-limited) and
// the status socket and metrics; following files lives in package follow.
package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unsafe"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/logline"
	"github.com/saslguard/saslguard/internal/report"
)

// Alert is raised once when a login's verdict reaches the alerting level.
type Alert struct {
	Login   string    `json:"login"`
	Verdict string    `json:"verdict"`
	Score   int       `json:"score"`
	At      time.Time `json:"at"`    // the event that raised the verdict
	Start   time.Time `json:"start"` // the likely start of the compromise
	Reasons []string  `json:"reasons"`
	// QueueIDs of the evidence so far (capped).
	QueueIDs []string `json:"queue_ids"`
	// Allowlisted logins are reported, never contained.
	Allowlisted bool `json:"allowlisted,omitempty"`
	// Command is what a person runs to finish the cleanup.
	Command string `json:"command"`
}

// Config configures an Engine.
type Config struct {
	Correlate correlate.Config
	// Loc is the zone of stamps without one.
	Loc *time.Location
	// Level is the lowest verdict that alerts (default Compromised).
	Level detect.Verdict
	// Allow lists logins that are reported but never contained.
	Allow map[string]bool
	// Sink receives each alert, on the goroutine that called Line.
	Sink func(Alert)
	// Journal, when set, drops journal lines with a Postfix tag that the
	// journal's trusted fields show were not written by Postfix.
	Journal *JournalTrust
	// Cooldown: a login alerted once alerts again when it still (or again)
	// sends this long after its last alert, in event time (default 6 h), so
	// a login cleaned up, re-enabled and taken over again is not silent.
	Cooldown time.Duration
	// RecheckDue and Recheck give a compromised login that keeps sending
	// back to contain mode when it asks (a refusal for want of evidence,
	// which more mail may bring): Recheck gets the alert, on the goroutine
	// that called Line, and nothing is alerted again.
	RecheckDue func(login string) bool
	Recheck    func(Alert)
}

// Engine turns lines into alerts. It is not safe for concurrent use: one
// goroutine feeds it (the follower's).
type Engine struct {
	cfg    Config
	corr   *correlate.Correlator
	parser *logline.Parser
	files  map[string]*fileState
	ev     event.Event
	Stats  Stats
	alerts []Alert
	lastAt time.Time
	// readErrs are the read errors of the files of the last Replay
	// (damaged files: a truncated gzip, a corrupt xz)
	readErrs []string
}

type fileState struct {
	index int
	year  int
	end   time.Time // bounds the file's stamps (a replay's InferYears); zero when live
	fix   logline.YearFixer
}

// Stats count what the engine read.
type Stats struct {
	Lines, Parsed, Unparsed, NoEnvelope, Alerts int64
	// Untrusted counts journal lines with a Postfix tag that Postfix did
	// not write (Config.Journal).
	Untrusted int64
}

// New returns an engine.
func New(cfg Config) *Engine {
	if cfg.Level == detect.OK {
		cfg.Level = detect.Compromised
	}
	if cfg.Loc == nil {
		cfg.Loc = time.Local
	}
	e := &Engine{cfg: cfg, files: map[string]*fileState{}}
	if cfg.Cooldown <= 0 {
		e.cfg.Cooldown = 6 * time.Hour
	}
	cc := cfg.Correlate
	cc.OnVerdict = e.onVerdict
	cc.OnEvidence = e.onEvidence
	e.corr = correlate.New(cc)
	e.parser = logline.New(0, cfg.Loc)
	return e
}

// SetYear sets the year of classic syslog stamps at the start of path (for
// example from the file's modification time, or the scan's inference for a
// replay). Lines of a path with no year set assume the year of the newest
// event seen, else year 0 is avoided by the caller.
func (e *Engine) SetYear(path string, year int) {
	e.file(path).year = year
}

func (e *Engine) file(path string) *fileState {
	fs := e.files[path]
	if fs == nil {
		fs = &fileState{index: len(e.files)}
		e.files[path] = fs
	}
	return fs
}

// yearOf is the year for classic syslog stamps of a file whose year is
// year: when it is unknown (0), that of the newest event read.
func (e *Engine) yearOf(year int) int {
	if year == 0 && !e.lastAt.IsZero() {
		return e.lastAt.In(e.cfg.Loc).Year()
	}
	return year
}

// Line reads one line (without its newline) from path.
func (e *Engine) Line(path string, data []byte) {
	e.Stats.Lines++
	if len(data) == 0 {
		return
	}
	fs := e.file(path)
	e.parser.Env.Year = e.yearOf(fs.year)
	r := e.parser.Parse(unsafe.String(&data[0], len(data)), &e.ev)
	if r.Status != logline.NoEnvelope && e.untrusted() {
		e.ev = event.Event{}
		return
	}
	switch r.Status {
	case logline.NoEnvelope:
		e.Stats.NoEnvelope++
		return
	case logline.Unparsed:
		e.Stats.Unparsed++
		return
	case logline.Other:
		return
	}
	e.Stats.Parsed++
	// every stamp goes through the fixer, ignored lines' too: where the
	// log is in the hour repeated at the end of DST depends on them
	if e.ev.YearGuessed {
		fs.fix.File(fs.index, fs.end, e.cfg.Loc)
		fs.fix.Fix(&e.ev)
	}
	if e.ev.Kind == event.Ignored {
		return
	}
	if e.ev.Time.After(e.lastAt) {
		e.lastAt = e.ev.Time
	}
	e.corr.Add(&e.ev)
	e.ev = event.Event{} // drop the pointers into data
}

// Correlator gives access to the accounts (for status and tests).
func (e *Engine) Correlator() *correlate.Correlator { return e.corr }

// Alerts returns the alerts raised so far (the last 1,000).
func (e *Engine) Alerts() []Alert { return e.alerts }

// Newest returns the time of the newest event read.
func (e *Engine) Newest() time.Time { return e.lastAt }

func (e *Engine) onVerdict(a *correlate.Account, from, to detect.Verdict, at time.Time) {
	if to < e.cfg.Level || from >= e.cfg.Level {
		return // below the level, or already alerted for this login
	}
	d := a.Detector()
	al := Alert{
		Login: a.Login, Verdict: to.String(), Score: d.Score(), At: at,
		Reasons:     detect.Reasons(d.Best(), e.cfg.Loc),
		QueueIDs:    append([]string(nil), a.QueueIDs...),
		Allowlisted: e.cfg.Allow[a.Login],
		Command:     "saslguard respond -- " + report.ShellQuote(a.Login),
	}
	if to == detect.Compromised {
		al.Start = d.Start()
	}
	e.raise(al)
}

// raise records and delivers an alert.
func (e *Engine) raise(al Alert) {
	e.Stats.Alerts++
	if len(e.alerts) >= 1000 {
		copy(e.alerts, e.alerts[1:])
		e.alerts = e.alerts[:999]
	}
	e.alerts = append(e.alerts, al)
	if e.cfg.Sink != nil {
		e.cfg.Sink(al)
	}
}

// lastAlert returns when login was last alerted (zero if never, or if the
// alert is no longer among the kept ones).
func (e *Engine) lastAlert(login string) time.Time {
	for i := len(e.alerts) - 1; i >= 0; i-- {
		if e.alerts[i].Login == login {
			return e.alerts[i].At
		}
	}
	return time.Time{}
}

// onEvidence re-alerts a compromised login that still sends a cooldown
// after its last alert.
func (e *Engine) onEvidence(a *correlate.Account, at time.Time) {
	d := a.Detector()
	if d.Verdict() < e.cfg.Level {
		return
	}
	if d.Verdict() == detect.Compromised && e.cfg.RecheckDue != nil && e.cfg.Recheck != nil && e.cfg.RecheckDue(a.Login) {
		e.cfg.Recheck(e.alertOf(a, d, at))
	}
	last := e.lastAlert(a.Login)
	if last.IsZero() || at.Sub(last) < e.cfg.Cooldown {
		return
	}
	reasons := append([]string{fmt.Sprintf("still sending %s after the alert of %s",
		at.Sub(last).Round(time.Minute), last.In(e.cfg.Loc).Format("Jan 2 15:04"))}, detect.Reasons(d.Best(), e.cfg.Loc)...)
	al := e.alertOf(a, d, at)
	al.Reasons = reasons
	e.raise(al)
}

// alertOf is the alert for a's detector state at time at.
func (e *Engine) alertOf(a *correlate.Account, d *detect.State, at time.Time) Alert {
	return Alert{
		Login: a.Login, Verdict: d.Verdict().String(), Score: d.Score(), At: at, Start: d.Start(),
		Reasons: detect.Reasons(d.Best(), e.cfg.Loc), QueueIDs: append([]string(nil), a.QueueIDs...),
		Allowlisted: e.cfg.Allow[a.Login], Command: "saslguard respond -- " + report.ShellQuote(a.Login),
	}
}

// TextSink writes alerts as readable lines.
func TextSink(w io.Writer, loc *time.Location) func(Alert) {
	return func(a Alert) {
		start := ""
		if !a.Start.IsZero() {
			start = " since " + a.Start.In(loc).Format("2006-01-02 15:04:05")
		}
		allow := ""
		if a.Allowlisted {
			allow = " (allowlisted: not contained)"
		}
		fmt.Fprintf(w, "%s %s %s (score %d)%s%s\n", a.At.In(loc).Format("2006-01-02 15:04:05"),
			strings.ToUpper(a.Verdict), report.Safe(a.Login, 200), a.Score, start, allow)
		for _, r := range a.Reasons {
			fmt.Fprintf(w, "  - %s\n", report.Safe(r, 400))
		}
		fmt.Fprintf(w, "  next: %s\n", a.Command)
	}
}

// JSONSink writes one JSON object per alert.
func JSONSink(w io.Writer) func(Alert) {
	enc := json.NewEncoder(w)
	return func(a Alert) { _ = enc.Encode(a) }
}

// LogSink writes alerts as structured log lines.
func LogSink(log *slog.Logger) func(Alert) {
	return func(a Alert) {
		log.Warn("login flagged", "login", a.Login, "verdict", a.Verdict, "score", a.Score,
			"start", a.Start, "reasons", a.Reasons, "next", a.Command)
	}
}

// Webhook posts alerts as JSON to a URL, with a timeout, from a bounded
// queue (see sender).
type Webhook struct {
	*sender
	url    string
	client *http.Client
}

// NewWebhook checks the URL (http or https only) and starts the sender.
func NewWebhook(ctx context.Context, rawURL string, timeout time.Duration, log *slog.Logger) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook %q: need an http or https URL", rawURL)
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	w := &Webhook{url: u.String(), client: &http.Client{Timeout: timeout}}
	w.sender = startSender(ctx, "webhook", log, w.post)
	return w, nil
}

func (w *Webhook) post(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("post alert: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return errors.New("post alert: " + resp.Status)
	}
	return nil
}
