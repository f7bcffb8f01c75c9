// Package gridgen writes a grid of labelled mail logs for measuring the
// detector: each case is one Postfix 3.7 + Dovecot log of an organisation's
// ordinary traffic around one subject login, which is either an innocent
// sender of an unusual kind (a newsletter, a traveller, a ticketing system
// sending as customers...) or a takeover drawn from a grid of attack styles
// (rate, duration, new IPs, forged senders, failed logins first, remote
// refusals, where in the log it starts). Its truth says which, when the
// takeover began and whether it is loud enough that a detector must call it
// compromised.
//
// It is written independently of internal/loggen, so that the detector is
// measured on lines and habits its tests were not tuned on.
package gridgen

import (
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"
)

// Takeover axes: every value of each is covered by a grid.
var (
	Rates       = []int{5, 20, 60, 200, 1000} // messages an hour
	Durations   = []time.Duration{10 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}
	NewIPCounts = []int{1, 3, 10, 30, 100}
	// SenderStyles: the envelope senders the attacker uses.
	SenderStyles = []string{"own", "colleagues", "invented", "one-foreign", "many-foreign"}
	// StartPositions: at the log's start, after the owner fell silent for
	// days, or in the middle of the owner's usual traffic.
	StartPositions = []string{"log-start", "dormant", "mid-log"}
)

// InnocentStyles are the legitimate senders that look unusual.
var InnocentStyles = []string{
	"newsletter", "traveller", "roaming-phone", "scanner", "ticketing", "list-server",
	"web-form", "trade-fair", "relay", "bare-heavy", "new-cluster",
}

// DefaultMaxMessages caps a takeover's messages (1,000 an hour for three
// days would be 72,000): the attack stops there, as a full queue or a
// provider's block would stop it.
const DefaultMaxMessages = 10000

// Case is one labelled log.
type Case struct {
	ID    string `json:"id"`
	Set   string `json:"set"` // tuning | holdout | ci
	Seed  uint64 `json:"seed"`
	Kind  string `json:"kind"`  // takeover | innocent
	Style string `json:"style"` // sender style of a takeover, or the innocent's kind
	// Grep keeps only the lines a `grep sasl_username` keeps.
	Grep bool `json:"grep,omitempty"`

	Rate        int           `json:"rate,omitempty"`
	Duration    time.Duration `json:"duration,omitempty"`
	NewIPs      int           `json:"new_ips,omitempty"`
	FailedFirst bool          `json:"failed_first,omitempty"`
	Rejections  bool          `json:"rejections,omitempty"`
	StartAt     string        `json:"start_at,omitempty"`
	IMAPProbe   bool          `json:"imap_probe,omitempty"` // the attacker logs in over IMAP first
	MaxMessages int           `json:"max_messages,omitempty"`
}

// Truth is what a case holds.
type Truth struct {
	Case  Case   `json:"case"`
	Login string `json:"login"`
	Label string `json:"label"` // takeover | innocent
	// Class of a takeover: loud (must be compromised), quiet (any verdict
	// will do), undetectable (looks exactly like its owner).
	Class  string   `json:"class,omitempty"`
	Traces []string `json:"traces,omitempty"` // the traces that tell it from its owner
	// Start is the attacker's first successful login (SMTP or IMAP), or
	// its first message when logins are not in the log.
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	Accepted int       `json:"accepted,omitempty"` // attacker messages accepted
	IPsUsed  int       `json:"ips_used,omitempty"` // distinct attacker IPs that sent
	NewIPs   int       `json:"new_ips,omitempty"`  // of those, new to the login
	// BaselinePerHour is the owner's busiest hour before the start (0:
	// no history in the log); PeakPerHour the attacker's busiest hour.
	BaselinePerHour int       `json:"baseline_per_hour,omitempty"`
	PeakPerHour     int       `json:"peak_per_hour,omitempty"`
	Rejected        int       `json:"rejected,omitempty"` // recipients refused for spam
	LogStart        time.Time `json:"log_start"`
	LogEnd          time.Time `json:"log_end"`
	Lines           int       `json:"lines"`
}

func seedOf(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// cycler hands out the values of one axis in shuffled rounds, so that n
// draws cover every value once n reaches the axis's length, and evenly.
type cycler struct {
	r    *rng
	n    int
	perm []int
}

func (c *cycler) next() int {
	if len(c.perm) == 0 {
		c.perm = make([]int, c.n)
		for i := range c.perm {
			c.perm[i] = i
		}
		shuffle(c.r, c.perm)
	}
	v := c.perm[0]
	c.perm = c.perm[1:]
	return v
}

// Sizes of a grid.
type Sizes struct {
	Takeovers                    int // takeover cases
	PerInnocent                  int // cases of each innocent style
	GrepTakeovers, GrepInnocents int // of those, also given as grep excerpts
}

// Grid samples the cases of a set. The set's name seeds everything: the
// "tuning" and "holdout" sets share no seed, and a set gives the same cases
// on every run.
func Grid(set string, sz Sizes) []Case {
	r := newRNG(seedOf("grid", set))
	prefix := set
	if len(prefix) > 3 {
		prefix = prefix[:3]
	}
	axes := map[string]*cycler{}
	ax := func(name string, n int) int {
		c := axes[name]
		if c == nil {
			c = &cycler{r: r.child(seedOf(name)), n: n}
			axes[name] = c
		}
		return c.next()
	}
	var out []Case
	for i := 0; i < sz.Takeovers; i++ {
		c := Case{
			ID: fmt.Sprintf("%s-k%03d", prefix, i), Set: set, Seed: seedOf(set, "takeover", fmt.Sprint(i)),
			Kind: "takeover", Style: SenderStyles[ax("senders", len(SenderStyles))],
			Rate: Rates[ax("rate", len(Rates))], Duration: Durations[ax("duration", len(Durations))],
			NewIPs: NewIPCounts[ax("newips", len(NewIPCounts))], FailedFirst: ax("failed", 2) == 1,
			Rejections: ax("rejections", 2) == 1, StartAt: StartPositions[ax("start", len(StartPositions))],
			IMAPProbe: ax("imap", 2) == 1,
		}
		out = append(out, c)
	}
	n := 0
	for _, st := range InnocentStyles {
		for j := 0; j < sz.PerInnocent; j++ {
			out = append(out, Case{ID: fmt.Sprintf("%s-i%03d", prefix, n), Set: set, Seed: seedOf(set, "innocent", st, fmt.Sprint(j)), Kind: "innocent", Style: st})
			n++
		}
	}
	// grep excerpts of some cases: every few takeovers, and the first
	// case of each innocent style
	var grep []Case
	step := 1
	if sz.GrepTakeovers > 0 && sz.Takeovers > sz.GrepTakeovers {
		step = sz.Takeovers / sz.GrepTakeovers
	}
	for i := 0; i < sz.Takeovers && len(grep) < sz.GrepTakeovers; i += step {
		grep = append(grep, out[i])
	}
	for k, c := range out[sz.Takeovers:] {
		if k%sz.PerInnocent == 0 && k/sz.PerInnocent < sz.GrepInnocents {
			grep = append(grep, c)
		}
	}
	for _, c := range grep {
		c.ID = strings.Replace(c.ID, prefix+"-", prefix+"-g", 1)
		c.Grep = true
		out = append(out, c)
	}
	return out
}

// TuningSizes and HoldoutSizes are the two sets bench/detect.sh measures.
var (
	TuningSizes  = Sizes{Takeovers: 250, PerInnocent: 5, GrepTakeovers: 40, GrepInnocents: 11}
	HoldoutSizes = Sizes{Takeovers: 125, PerInnocent: 3, GrepTakeovers: 20, GrepInnocents: 11}
)

// CISizes is the small grid the Go test runs (CI): every value of every
// axis and every innocent style at least once; its takeovers are capped
// at CIMaxMessages so that it runs in seconds.
var CISizes = Sizes{Takeovers: 30, PerInnocent: 1, GrepTakeovers: 6, GrepInnocents: 3}

// CIMaxMessages caps the CI grid's takeovers.
const CIMaxMessages = 1000

// CIGrid is the CI grid's cases, capped.
func CIGrid() []Case {
	cs := Grid("ci", CISizes)
	for i := range cs {
		if cs[i].Kind == "takeover" {
			cs[i].MaxMessages = CIMaxMessages
		}
	}
	return cs
}

// Lookup finds a case of the tuning, holdout or CI set by id.
func Lookup(id string) (Case, bool) {
	var cs []Case
	switch {
	case strings.HasPrefix(id, "tun-"):
		cs = Grid("tuning", TuningSizes)
	case strings.HasPrefix(id, "hol-"):
		cs = Grid("holdout", HoldoutSizes)
	case strings.HasPrefix(id, "ci-"):
		cs = CIGrid()
	}
	for _, c := range cs {
		if c.ID == id {
			return c, true
		}
	}
	return Case{}, false
}

// Generate writes the case's log to w and returns its truth.
func Generate(w io.Writer, c Case) (*Truth, error) {
	g := newGen(c)
	switch c.Kind {
	case "takeover":
		g.takeover()
	case "innocent":
		if err := g.innocent(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("case %s: unknown kind %q", c.ID, c.Kind)
	}
	g.background()
	g.finish()
	var keep func(string) bool
	if c.Grep {
		keep = func(s string) bool { return strings.Contains(s, "sasl_username") }
	}
	n, err := g.w.write(w, g.rfc3339, keep)
	g.truth.Lines = n
	return &g.truth, err
}
