package gridgen

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Outcome is what the scan said of a case's subject login.
type Outcome struct {
	Verdict string     // compromised | suspicious | ok | absent (not in the report)
	Score   int        // the detector's score
	Start   *time.Time // the likely start, when compromised
}

// ParseScan reads `saslguard scan --format json` output (docs/json.md)
// and returns the outcome for login.
func ParseScan(r io.Reader, login string) (Outcome, error) {
	var doc struct {
		Accounts []struct {
			Login           string     `json:"login"`
			Verdict         string     `json:"verdict"`
			Score           int        `json:"score"`
			CompromiseStart *time.Time `json:"compromise_start"`
		} `json:"accounts"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return Outcome{}, fmt.Errorf("read scan json: %w", err)
	}
	for _, a := range doc.Accounts {
		if strings.EqualFold(a.Login, login) {
			return Outcome{Verdict: a.Verdict, Score: a.Score, Start: a.CompromiseStart}, nil
		}
	}
	return Outcome{Verdict: "absent"}, nil
}

// StartTolerance is how far the likely start may be from the truth.
const StartTolerance = 5 * time.Minute

// Judged is one case with its outcome.
type Judged struct {
	Truth   *Truth
	Outcome Outcome
}

// Failed says whether the case misses the target: an innocent called
// compromised, or a loud takeover not called compromised.
func (j Judged) Failed() bool {
	c := j.Outcome.Verdict == "compromised"
	if j.Truth.Label == "innocent" {
		return c
	}
	return j.Truth.Class == "loud" && !c
}

// StartOK says whether a compromised takeover's likely start is within
// StartTolerance of the truth.
func (j Judged) StartOK() bool {
	s := j.Outcome.Start
	if s == nil {
		return false
	}
	d := s.Sub(j.Truth.Start)
	return d >= -StartTolerance && d <= StartTolerance
}

// Describe is a one-line summary of a case and its outcome.
func (j Judged) Describe() string {
	t, c := j.Truth, j.Truth.Case
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", c.ID, styleName(c))
	if t.Label == "takeover" {
		fmt.Fprintf(&b, " [%s] %d/h %v, %d msgs, %d new IPs, start %s", t.Class, c.Rate, c.Duration, t.Accepted, t.NewIPs, c.StartAt)
		if c.FailedFirst {
			b.WriteString(", failed logins first")
		}
		if c.Rejections {
			fmt.Fprintf(&b, ", %d refusals", t.Rejected)
		}
		if c.IMAPProbe {
			b.WriteString(", IMAP first")
		}
	}
	fmt.Fprintf(&b, ": %s (score %d)", j.Outcome.Verdict, j.Outcome.Score)
	if j.Outcome.Start != nil && t.Label == "takeover" {
		fmt.Fprintf(&b, ", start off by %v", j.Outcome.Start.Sub(t.Start).Round(time.Second))
	}
	return b.String()
}

func styleName(c Case) string {
	s := c.Kind + ": " + c.Style
	if c.Grep {
		s = "grep excerpt, " + s
	}
	return s
}

type row struct {
	name                              string
	cases, loud, comp, susp, ok       int
	detected, startOK                 int
	quiet, quietComp, undet, undetCmp int
}

// Table writes the Markdown tables of a set's results: takeovers per
// style, innocents per style, loud takeovers per axis value, then the
// failures and the undetectable cases.
func Table(w io.Writer, title string, js []Judged) {
	rows := map[string]*row{}
	var order []string
	get := func(name string) *row {
		if rows[name] == nil {
			rows[name] = &row{name: name}
			order = append(order, name)
		}
		return rows[name]
	}
	axis := map[string]*row{}
	var axisOrder []string
	getAxis := func(name string) *row {
		if axis[name] == nil {
			axis[name] = &row{name: name}
			axisOrder = append(axisOrder, name)
		}
		return axis[name]
	}
	var total row
	var innoTotal row
	for _, j := range js {
		c, t, v := j.Truth.Case, j.Truth, j.Outcome.Verdict
		r := get(styleName(c))
		r.cases++
		if t.Label == "innocent" {
			innoTotal.cases++
			switch v {
			case "compromised":
				r.comp++
				innoTotal.comp++
			case "suspicious":
				r.susp++
				innoTotal.susp++
			default:
				r.ok++
				innoTotal.ok++
			}
			continue
		}
		total.cases++
		if v == "compromised" {
			r.detected++
			total.detected++
			if j.StartOK() {
				r.startOK++
				total.startOK++
			}
		}
		switch t.Class {
		case "loud":
			r.loud++
			total.loud++
			keys := []string{
				fmt.Sprintf("rate %d/h", c.Rate), fmt.Sprintf("duration %v", c.Duration),
				fmt.Sprintf("new IPs %d", c.NewIPs), "senders " + c.Style, "start " + c.StartAt,
				fmt.Sprintf("failed logins first %v", c.FailedFirst), fmt.Sprintf("refusals %v", c.Rejections),
				fmt.Sprintf("IMAP login first %v", c.IMAPProbe), fmt.Sprintf("grep excerpt %v", c.Grep),
			}
			for _, k := range keys {
				a := getAxis(k)
				a.loud++
				switch v {
				case "compromised":
					a.comp++
				case "suspicious":
					a.susp++
				default:
					a.ok++
				}
			}
			switch v {
			case "compromised":
				r.comp++
				total.comp++
			case "suspicious":
				r.susp++
				total.susp++
			default:
				r.ok++
				total.ok++
			}
		case "quiet":
			r.quiet++
			total.quiet++
			if v == "compromised" {
				r.quietComp++
				total.quietComp++
			}
		case "undetectable":
			r.undet++
			total.undet++
			if v == "compromised" {
				r.undetCmp++
				total.undetCmp++
			}
		}
	}
	sort.Strings(order)
	pct := func(a, b int) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
	}
	fmt.Fprintf(w, "### %s\n\n", title)
	fmt.Fprintf(w, "Takeovers (loud: 20+ messages and a trace that tells them from the owner; they must be `compromised`):\n\n")
	fmt.Fprintln(w, "| style | cases | loud | compromised | suspicious | missed (ok) | recall | start within 5 min of detected | quiet (compromised) | undetectable (compromised) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	line := func(r *row, name string) {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %s | %d/%d (%s) | %d (%d) | %d (%d) |\n", name, r.cases, r.loud, r.comp, r.susp, r.ok, pct(r.comp, r.loud), r.startOK, r.detected, pct(r.startOK, r.detected), r.quiet, r.quietComp, r.undet, r.undetCmp)
	}
	for _, n := range order {
		if strings.Contains(n, "takeover: ") {
			line(rows[n], n)
		}
	}
	line(&total, "**all takeovers**")
	fmt.Fprintf(w, "\nInnocents (none may be `compromised`):\n\n")
	fmt.Fprintln(w, "| style | cases | compromised (false) | suspicious | ok |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, n := range order {
		if r := rows[n]; strings.Contains(n, "innocent: ") {
			fmt.Fprintf(w, "| %s | %d | %d | %d | %d |\n", n, r.cases, r.comp, r.susp, r.ok)
		}
	}
	fmt.Fprintf(w, "| **all innocents** | %d | %d | %d | %d |\n", innoTotal.cases, innoTotal.comp, innoTotal.susp, innoTotal.ok)
	allComp := total.detected + innoTotal.comp
	fmt.Fprintf(w, "\nPrecision (takeovers among all `compromised`): %d/%d (%s); false compromised among innocents: %d/%d; recall on loud takeovers: %d/%d (%s); likely start within 5 min: %d/%d (%s) of the detected.\n",
		total.detected, allComp, pct(total.detected, allComp), innoTotal.comp, innoTotal.cases, total.comp, total.loud, pct(total.comp, total.loud), total.startOK, total.detected, pct(total.startOK, total.detected))
	fmt.Fprintf(w, "\nLoud takeovers by axis value:\n\n| axis value | loud | compromised | suspicious | missed (ok) | recall |\n|---|---:|---:|---:|---:|---:|\n")
	sort.Strings(axisOrder)
	for _, k := range axisOrder {
		a := axis[k]
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %s |\n", k, a.loud, a.comp, a.susp, a.ok, pct(a.comp, a.loud))
	}
	var fails, undet, late []string
	for _, j := range js {
		switch {
		case j.Failed():
			fails = append(fails, j.Describe())
		case j.Truth.Class == "undetectable":
			undet = append(undet, j.Describe())
		}
		if j.Truth.Label == "takeover" && j.Outcome.Verdict == "compromised" && !j.StartOK() {
			late = append(late, j.Describe())
		}
	}
	list := func(head string, l []string) {
		fmt.Fprintf(w, "\n%s (%d):\n\n", head, len(l))
		for _, s := range l {
			fmt.Fprintf(w, "- %s\n", s)
		}
	}
	list("Failures (innocent compromised, or loud takeover not compromised)", fails)
	list("Undetectable takeovers (look exactly like their owner; not tuned for)", undet)
	list("Compromised takeovers whose likely start is more than 5 min off", late)
}
