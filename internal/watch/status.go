package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/follow"
	"github.com/saslguard/saslguard/internal/report"
)

// Status is what `saslguard status` shows of a running daemon.
type Status struct {
	Now         time.Time `json:"now"`          // the daemon's clock
	NewestEvent time.Time `json:"newest_event"` // the newest log event read
	// SinceNewestEvent is the time from the newest event to Now, in
	// seconds: how quiet the log is, not how far behind the daemon is
	// (Behind says that).
	SinceNewestEvent float64 `json:"since_newest_event_seconds"`
	// Behind is, per followed file, how many bytes are written and not yet
	// read; nil when the daemon follows no file (a stream only).
	Behind []follow.Backlog `json:"behind"`
	// CaughtUp is set when every followed file is read to its end.
	CaughtUp bool      `json:"caught_up"`
	Stats    Stats     `json:"stats"`
	Suspects []Suspect `json:"suspects"` // flagged logins and the highest scores, most concerning first
	Alerts   []Alert   `json:"recent_alerts"`
}

// Suspect is one login in the status.
type Suspect struct {
	Login    string `json:"login"`
	Verdict  string `json:"verdict"`
	Score    int    `json:"score"`
	Messages int    `json:"messages"`
}

// Guarded wraps an Engine for use from several goroutines: the follower
// feeds it lines while the status socket and metrics read it.
type Guarded struct {
	mu  sync.Mutex
	eng *Engine
	// backlog reports how far the follower is behind the logs' ends.
	backlog func() []follow.Backlog
}

// SetBacklog sets where Status learns how far the reading is behind the
// end of each log (follow.Follower.Backlog).
func (g *Guarded) SetBacklog(f func() []follow.Backlog) {
	g.mu.Lock()
	g.backlog = f
	g.mu.Unlock()
}

// NewGuarded wraps e.
func NewGuarded(e *Engine) *Guarded { return &Guarded{eng: e} }

// Line feeds one line.
func (g *Guarded) Line(path string, data []byte) {
	g.mu.Lock()
	g.eng.Line(path, data)
	g.mu.Unlock()
}

// Status returns the daemon's status; now is the wall clock (for the lag
// only: detection never reads it).
func (g *Guarded) Status(now time.Time, max int) Status {
	g.mu.Lock()
	backlog := g.backlog
	g.mu.Unlock()
	var behind []follow.Backlog
	if backlog != nil {
		// outside the engine's lock: it stats files
		behind = backlog()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.eng
	st := Status{Now: now, NewestEvent: e.lastAt, Stats: e.Stats, Behind: behind, CaughtUp: behind != nil}
	for _, b := range behind {
		if b.Bytes > 0 {
			st.CaughtUp = false
		}
	}
	if !e.lastAt.IsZero() {
		st.SinceNewestEvent = now.Sub(e.lastAt).Seconds()
	}
	for _, a := range e.corr.Accounts() {
		d := a.Detector()
		if d.Score() == 0 && d.Verdict() == detect.OK {
			continue
		}
		st.Suspects = append(st.Suspects, Suspect{a.Login, d.Verdict().String(), d.Score(), a.Messages})
	}
	sort.Slice(st.Suspects, func(i, j int) bool {
		a, b := st.Suspects[i], st.Suspects[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.Login < b.Login
	})
	if len(st.Suspects) > max {
		st.Suspects = st.Suspects[:max]
	}
	al := e.alerts
	if len(al) > max {
		al = al[len(al)-max:]
	}
	st.Alerts = append([]Alert(nil), al...)
	return st
}

// ServeStatus answers on a unix socket: each connection gets the status as
// one JSON document, then the socket is closed. The socket is created with
// mode 0600 (root reads it); an existing socket that nobody serves is
// replaced, one that another daemon serves is an error. Serving ends when
// ctx ends or stop is called; stop returns once the socket is closed and
// removed, so that a daemon started next finds it free.
func (g *Guarded) ServeStatus(ctx context.Context, path string) (stop func(), err error) {
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("status socket %s: another daemon is serving it", path)
	}
	_ = os.Remove(path)
	// the default lives in /run/saslguard, which systemd's RuntimeDirectory
	// creates; a daemon started by hand creates it too
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("status socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("status socket: %w", err)
	}
	var once sync.Once
	closed := make(chan struct{})
	stop = func() {
		once.Do(func() {
			l.Close()
			os.Remove(path)
		})
		<-closed
	}
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-closed:
		}
	}()
	go func() {
		defer close(closed)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_ = json.NewEncoder(c).Encode(g.Status(time.Now(), 20))
			c.Close()
		}
	}()
	return stop, nil
}

// ReadStatus asks a daemon for its status.
func ReadStatus(path string, timeout time.Duration) (Status, error) {
	var st Status
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return st, fmt.Errorf("status: %w (is saslguard watch running?)", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if err := json.NewDecoder(io.LimitReader(c, 16<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	return st, nil
}

// Collector exports the daemon's counters to Prometheus. Label sets are
// fixed (no login or path labels).
func (g *Guarded) Collector() prometheus.Collector { return (*collector)(g) }

type collector Guarded

var (
	descLines    = prometheus.NewDesc("saslguard_watch_lines_total", "Log lines read.", nil, nil)
	descParsed   = prometheus.NewDesc("saslguard_watch_lines_parsed_total", "Lines understood.", nil, nil)
	descUnparsed = prometheus.NewDesc("saslguard_watch_lines_unparsed_total", "Postfix or Dovecot lines no parser understood.", nil, nil)
	descAlerts   = prometheus.NewDesc("saslguard_watch_alerts_total", "Alerts raised.", nil, nil)
	descVerdicts = prometheus.NewDesc("saslguard_watch_logins", "Logins by current verdict.", []string{"verdict"}, nil)
	descNewest   = prometheus.NewDesc("saslguard_watch_newest_event_timestamp_seconds", "Time of the newest log event read.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLines, descParsed, descUnparsed, descAlerts, descVerdicts, descNewest} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	g := (*Guarded)(c)
	g.mu.Lock()
	s := g.eng.Stats
	newest := g.eng.lastAt
	var counts [3]int
	for _, a := range g.eng.corr.Accounts() {
		counts[a.Detector().Verdict()]++
	}
	g.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descLines, prometheus.CounterValue, float64(s.Lines))
	ch <- prometheus.MustNewConstMetric(descParsed, prometheus.CounterValue, float64(s.Parsed))
	ch <- prometheus.MustNewConstMetric(descUnparsed, prometheus.CounterValue, float64(s.Unparsed))
	ch <- prometheus.MustNewConstMetric(descAlerts, prometheus.CounterValue, float64(s.Alerts))
	for v, n := range counts {
		ch <- prometheus.MustNewConstMetric(descVerdicts, prometheus.GaugeValue, float64(n), detect.Verdict(v).String())
	}
	if !newest.IsZero() {
		ch <- prometheus.MustNewConstMetric(descNewest, prometheus.GaugeValue, float64(newest.UnixNano())/1e9)
	}
}

// Reconfigure applies a reloaded configuration (SIGHUP): the allowlist, the
// organisation's domains and the detector's thresholds.
func (g *Guarded) Reconfigure(allow map[string]bool, ownDomains []string, d detect.Config) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.eng.cfg.Allow = allow
	g.eng.cfg.Correlate.OwnDomains = ownDomains
	g.eng.cfg.Correlate.Detect = d
	g.eng.corr.Reconfigure(ownDomains, d)
}

// WriteStatus writes st as readable lines: how far the daemon is behind the
// end of each log (or that it is caught up), when the newest event was,
// the counters, the suspects and the recent alerts.
func WriteStatus(w io.Writer, st Status) {
	switch {
	case st.Behind == nil:
		fmt.Fprintf(w, "reading: no file followed (a stream's end is not known)\n")
	case st.CaughtUp:
		fmt.Fprintf(w, "reading: caught up (every log read to its end)\n")
	default:
		fmt.Fprintf(w, "reading: behind the end of the log\n")
	}
	for _, b := range st.Behind {
		var what string
		switch {
		case b.Bytes > 0 && b.Rotated:
			what = fmt.Sprintf("%d bytes not read yet (finishing the rotated file)", b.Bytes)
		case b.Bytes > 0:
			what = fmt.Sprintf("%d bytes not read yet", b.Bytes)
		case b.Missing:
			what = "no file there"
		default:
			what = "read to the end"
		}
		fmt.Fprintf(w, "  %s: %s\n", report.Safe(b.Path, 400), what)
	}
	if st.NewestEvent.IsZero() {
		fmt.Fprintf(w, "newest event: none yet\n")
	} else {
		fmt.Fprintf(w, "newest event: %s (%s before the daemon's clock: how quiet the log is)\n",
			st.NewestEvent.Local().Format("2006-01-02 15:04:05"), time.Duration(st.SinceNewestEvent*float64(time.Second)).Round(time.Second))
	}
	fmt.Fprintf(w, "%d lines read, %d understood, %d not understood, %d alerts\n", st.Stats.Lines, st.Stats.Parsed, st.Stats.Unparsed, st.Stats.Alerts)
	for _, s := range st.Suspects {
		fmt.Fprintf(w, "  %-11s %3d  %s (%d messages)\n", strings.ToUpper(s.Verdict), s.Score, report.Safe(s.Login, 200), s.Messages)
	}
	for _, a := range st.Alerts {
		fmt.Fprintf(w, "  alert %s %s %s\n", a.At.Local().Format("2006-01-02 15:04:05"), a.Verdict, report.Safe(a.Login, 200))
	}
}
