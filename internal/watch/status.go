package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saslguard/saslguard/internal/detect"
)

// Status is what `saslguard status` shows of a running daemon.
type Status struct {
	Now         time.Time `json:"now"`          // the daemon's clock
	NewestEvent time.Time `json:"newest_event"` // the newest log event read
	// LagSeconds is how far the newest event is behind the clock: a large
	// value means the log is quiet, or the daemon is behind.
	LagSeconds float64   `json:"lag_seconds"`
	Stats      Stats     `json:"stats"`
	Suspects   []Suspect `json:"suspects"` // flagged logins and the highest scores, most concerning first
	Alerts     []Alert   `json:"recent_alerts"`
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
	defer g.mu.Unlock()
	e := g.eng
	st := Status{Now: now, NewestEvent: e.lastAt, Stats: e.Stats}
	if !e.lastAt.IsZero() {
		st.LagSeconds = now.Sub(e.lastAt).Seconds()
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
