package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/report"
)

// ruleTrace collects what the detector's rules said of each login, as
// they changed (detect.Config.Trace), for `scan --explain-login`.
type ruleTrace struct {
	mu sync.Mutex
	ev map[*detect.State][]detect.TraceEvent
}

func newRuleTrace() *ruleTrace { return &ruleTrace{ev: map[*detect.State][]detect.TraceEvent{}} }

func (rt *ruleTrace) record(s *detect.State, e detect.TraceEvent) {
	rt.mu.Lock()
	rt.ev[s] = append(rt.ev[s], e)
	rt.mu.Unlock()
}

// writeTimeline prints one login's timeline: when each rule began and
// stopped firing, with its points and figures, the score, and each rise of
// the verdict. Times move by shift years (scan.Result.YearShift).
func writeTimeline(w io.Writer, a *correlate.Account, events []detect.TraceEvent, cfg *detect.Config, loc *time.Location, shift int) error {
	ew := &report.ErrWriter{W: w}
	fmt.Fprintf(ew, "%s: when the detector's rules fired (suspicious from score %d with a sending or notable rule, compromised from %d with a sending rule)\n",
		report.Safe(a.Login, 200), cfg.SuspiciousScore, cfg.CompromisedScore)
	if len(events) == 0 {
		fmt.Fprintln(ew, "no rule ever fired")
	}
	prev := map[string]detect.Fired{}
	was := detect.OK
	for _, e := range events {
		at := e.At
		if shift != 0 {
			at = at.AddDate(shift, 0, 0)
		}
		var changes []string
		now := map[string]detect.Fired{}
		for _, f := range e.Rules {
			now[f.Name] = f
			p, ok := prev[f.Name]
			switch {
			case !ok:
				changes = append(changes, "+"+firedText(f))
			case p.Points != f.Points:
				changes = append(changes, "~"+firedText(f))
			}
		}
		for _, f := range prevOrder(prev) {
			if _, ok := now[f]; !ok {
				changes = append(changes, "-"+f)
			}
		}
		prev = now
		if len(changes) == 0 {
			changes = []string{""}
		}
		for i, c := range changes {
			if i == 0 {
				fmt.Fprintf(ew, "%s  score %-3d %-11s %s\n", at.In(loc).Format("2006-01-02 15:04:05"), e.Score, e.Level, c)
			} else {
				fmt.Fprintf(ew, "%43s%s\n", "", c)
			}
		}
		if e.Verdict > was {
			fmt.Fprintf(ew, "%19s  verdict %s -> %s\n", "", was, e.Verdict)
			was = e.Verdict
		}
	}
	d := a.Detector()
	fmt.Fprintf(ew, "verdict at the end: %s (highest score %d)\n", d.Verdict(), d.Score())
	return ew.Err
}

// prevOrder lists the names of the rules in prev in table order.
func prevOrder(prev map[string]detect.Fired) []string {
	var out []string
	for _, r := range detect.RuleTable() {
		if _, ok := prev[r.Name]; ok {
			out = append(out, r.Name)
		}
	}
	return out
}

// firedText is "new_ips +3 (new_ips 7)": a rule, its points and figures.
func firedText(f detect.Fired) string {
	s := f.Name
	if f.Points > 0 {
		s += fmt.Sprintf(" +%d", f.Points)
	}
	var figs []string
	for _, x := range f.Figures {
		figs = append(figs, fmt.Sprintf("%s %d", x.Name, x.Value))
	}
	if len(figs) > 0 {
		s += " (" + strings.Join(figs, ", ") + ")"
	}
	return s
}
