// Package loggen generates realistic, labelled Postfix and Dovecot mail logs
// for testing and benchmarking saslguard.
//
// The log describes an organisation (corp.example and corp-mail.example) with
// ordinary users, legitimate bulk senders, travellers, heavy senders, inbound
// internet mail, local pickup mail, brute-force campaigns and several account
// takeovers of different shapes. Generate writes it in time order and returns
// the ground truth: which logins were taken over and when. The same Config
// always produces the same bytes.
package loggen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"time"
)

// Format selects the time stamp style of the output.
type Format int

const (
	// FormatBSD is classic syslog: "Mar  1 05:39:22 mx1 postfix/...".
	FormatBSD Format = iota
	// FormatRFC3339 is rsyslog's high-precision style:
	// "2026-03-01T05:39:22.548478+00:00 mx1 postfix/...".
	FormatRFC3339
)

// ParseFormat reads "bsd" or "rfc3339".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "bsd", "":
		return FormatBSD, nil
	case "rfc3339":
		return FormatRFC3339, nil
	}
	return 0, fmt.Errorf("unknown log format %q (want bsd or rfc3339)", s)
}

func (f Format) String() string {
	if f == FormatRFC3339 {
		return "rfc3339"
	}
	return "bsd"
}

// Config describes the log to generate.
type Config struct {
	// Size is the target size in bytes. The timeline (and, below about
	// 250 MB, the population) scales to reach it; the result can be
	// somewhat larger, never much smaller.
	Size int64
	// Seed selects the log; the same seed gives the same bytes.
	Seed uint64
	// Start is the first day of the log (UTC). Zero means 2026-03-01.
	Start time.Time
	// LongIDRatio is the fraction of messages with long queue ids
	// (enable_long_queue_ids style), 0 to 1.
	LongIDRatio float64
	// Format is the time stamp style.
	Format Format
	// Host is the syslog host name; empty means "mx1".
	Host string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
}

// Compromise is one account takeover in the generated log.
type Compromise struct {
	Login string `json:"login"`
	// Start is the time of the first successful login by the attacker, at
	// the precision of the log's time stamps.
	Start time.Time `json:"start"`
	// Kind names the scenario: "loud-burst", "low-and-slow", "phished",
	// "heavy-sender".
	Kind string `json:"kind"`
	// FirstMessage is the time of the attacker's first submitted message
	// (the first "client=..., sasl_username=" line from an attacker
	// address). It equals Start except when the attacker logged in over
	// IMAP first.
	FirstMessage time.Time `json:"first_message"`
	// AttackerIPs are the addresses the attacker logged in from
	// successfully.
	AttackerIPs []string `json:"attacker_ips"`
	// Messages is the number of messages the attacker submitted.
	Messages int `json:"messages"`
}

// Truth is the ground truth about a generated log.
type Truth struct {
	Compromised []Compromise `json:"compromised"`
	// Legitimate lists every other login that authenticated successfully.
	Legitimate []string `json:"legitimate"`
	// BruteForcedOnly lists names that only ever failed to authenticate.
	BruteForcedOnly []string `json:"brute_forced_only"`
	// Roles name the legitimate logins with unusual habits, for tests that
	// check a detector leaves them alone. A heavy sender can also be a victim.
	Roles Roles `json:"roles"`
	Lines int64 `json:"lines"`
	Bytes int64 `json:"bytes"`
	// QueueIDReuses counts short queue ids deliberately given to a new
	// message after the previous message with that id was removed.
	QueueIDReuses int `json:"queue_id_reuses"`
	// Users is the number of ordinary mailbox users in the population.
	Users int `json:"users"`
	// Start is the beginning of the first day; End is the last line's time
	// stamp.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Roles lists logins by habit.
type Roles struct {
	// Bulk senders send hundreds to thousands of messages a day.
	Bulk []string `json:"bulk"`
	// HeavySenders send 40-80 messages a working day.
	HeavySenders []string `json:"heavy_senders"`
	// Travellers log in from many addresses abroad, changing by the day.
	Travellers []string `json:"travellers"`
}

// bytesPerUserDay is the measured output per ordinary user and day with all
// background traffic included; it sizes the timeline.
const bytesPerUserDay = 13000

const (
	fullUsers = 2000
	minDays   = 8 // below this many days at full population, shrink it
	smallDays = 7
	// smallFixedPerDay is the measured output per day that does not grow
	// with the population (bulk senders' minimum, brute force, takeovers).
	smallFixedPerDay = 520_000
)

// Generate writes a log to w and returns its ground truth.
func Generate(w io.Writer, cfg Config) (*Truth, error) {
	if cfg.Size <= 0 {
		return nil, errors.New("size must be positive")
	}
	if cfg.LongIDRatio < 0 || cfg.LongIDRatio > 1 || math.IsNaN(cfg.LongIDRatio) {
		return nil, fmt.Errorf("long id ratio %v is not between 0 and 1", cfg.LongIDRatio)
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Host == "" {
		cfg.Host = "mx1"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	g := newGen(cfg, bw)
	log.Info("generating mail log", "size", cfg.Size, "seed", cfg.Seed, "users", len(g.w.users),
		"planned_days", strconv.FormatFloat(float64(g.plannedEnd-g.start)/float64(usDay), 'f', 1, 64),
		"takeovers", len(g.takeovers))
	day := int64(0)
	for m := g.start; ; m += usMin {
		g.processReleases(m)
		g.tick(m)
		g.s.flush(m + usMin)
		if g.s.err != nil {
			return nil, fmt.Errorf("write log: %w", g.s.err)
		}
		if d := (m - g.start) / usDay; d != day {
			day = d
			log.Debug("day done", "day", d, "bytes", g.s.bytes)
		}
		if g.s.bytes+g.s.pending >= cfg.Size && m >= g.lastTakeoverEnd {
			break
		}
	}
	g.s.flush(math.MaxInt64)
	if err := g.s.err; err != nil {
		return nil, fmt.Errorf("write log: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write log: %w", err)
	}
	return g.truth(), nil
}

// Pools of long-lived daemon processes.
const (
	pidCleanup = iota
	pidSMTP
	pidLMTP
	pidLocal
	pidVirtual
	pidBounce
	pidAmavis
	pidFilterSmtpd
	pidPickup
	nPools
)

var poolSizes = [nPools]int{4, 12, 4, 2, 2, 2, 4, 3, 1}

type release struct {
	t         int64
	qid       string
	removable bool
}

type ringEntry struct {
	t   int64
	qid string
}

type gen struct {
	cfg   Config
	r     *rng
	s     *sink
	w     *world
	start int64
	scale float64

	plannedEnd      int64
	lastTakeoverEnd int64
	takeovers       []*takeover

	qmgrPID  int
	anvilPID int
	nextPID  int
	pools    [nPools][]int

	live   map[string]struct{}
	rels   []release // min-heap by t
	ring   [512]ringEntry
	ringN  int
	reuses int

	forged  map[string]bool // forged sender domain -> has a working MX
	msg     message
	ndrMsg  message
	success map[string]bool
	failed  map[string]bool

	// Daily volumes.
	userDaily, imapDaily, inboundDaily, rejectDaily float64
	newsDaily, notifDaily, bruteDaily, webDaily     float64
}

func newGen(cfg Config, bw *bufio.Writer) *gen {
	r := newRNG(cfg.Seed)
	g := &gen{
		cfg:     cfg,
		r:       r,
		s:       &sink{w: bw, format: cfg.Format, host: cfg.Host},
		start:   cfg.Start.UTC().Truncate(24 * time.Hour).UnixMicro(),
		live:    map[string]struct{}{},
		forged:  map[string]bool{},
		success: map[string]bool{},
		failed:  map[string]bool{},
		nextPID: 1000 + r.intn(20000),
	}
	fullDay := float64(bytesPerUserDay * fullUsers)
	days := float64(cfg.Size) / fullDay
	users := fullUsers
	if days < minDays {
		// A smaller world over one week: the bulk senders, brute force and
		// the takeovers cost about smallFixedPerDay whatever the population.
		days = smallDays
		users = int((float64(cfg.Size)/smallDays - smallFixedPerDay) / bytesPerUserDay)
		users = min(max(users, 30), fullUsers)
	}
	g.scale = float64(users) / fullUsers
	g.w = buildWorld(r, users)
	g.plannedEnd = g.start + int64(days*float64(usDay))

	sum := 0.0
	for _, u := range g.w.users {
		sum += u.weight
	}
	g.userDaily = sum
	g.imapDaily = 5 * float64(users)
	g.inboundDaily = 7 * float64(users)
	g.rejectDaily = 1.5 * float64(users)
	g.newsDaily = max(100, 1500*g.scale)
	g.notifDaily = max(60, 800*g.scale)
	g.bruteDaily = max(3, 20*g.scale)
	g.webDaily = 0.2 * float64(users)

	g.qmgrPID = g.newPID()
	for i := range g.pools {
		for j := 0; j < poolSizes[i]; j++ {
			g.pools[i] = append(g.pools[i], g.newPID())
		}
	}
	g.planTakeovers()
	return g
}

func (g *gen) newPID() int {
	g.nextPID += 1 + g.r.intn(12)
	if g.nextPID > 4_000_000 {
		g.nextPID = 300 + g.r.intn(1000)
	}
	return g.nextPID
}

func (g *gen) pid(pool int) int { return pick(g.r, g.pools[pool]) }

// recyclePIDs replaces one process in each pool, as idle daemons exit and
// master starts new ones.
func (g *gen) recyclePIDs() {
	for i := range g.pools {
		p := g.pools[i]
		p[g.r.intn(len(p))] = g.newPID()
	}
}

const hexDigits = "0123456789ABCDEF"

// Postfix's long queue id alphabet: digits and consonants.
const longIDChars = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"

// newQID returns a queue id not used by any message in flight. Short ids
// are sometimes deliberately taken from recently removed messages.
func (g *gen) newQID(t int64) string {
	for {
		var q string
		if g.cfg.LongIDRatio > 0 && g.r.chance(g.cfg.LongIDRatio) {
			q = g.longID(t)
		} else if q = g.reuseID(t); q == "" {
			q = g.shortID(t)
		}
		if _, busy := g.live[q]; !busy {
			g.live[q] = struct{}{}
			return q
		}
	}
}

func (g *gen) shortID(t int64) string {
	var b [16]byte
	n := 0
	us := t % usSec
	for i := 4; i >= 0; i-- {
		b[n+i] = hexDigits[us&15]
		us >>= 4
	}
	n += 5
	ino := uint64(g.r.between(0x10000, 0xFFFFFF))
	var tmp [8]byte
	k := len(tmp)
	for ino > 0 {
		k--
		tmp[k] = hexDigits[ino&15]
		ino >>= 4
	}
	n += copy(b[n:], tmp[k:])
	return string(b[:n])
}

func (g *gen) longID(t int64) string {
	var b [24]byte
	enc := func(v uint64, base uint64, width int, at int) int {
		for i := width - 1; i >= 0; i-- {
			b[at+i] = longIDChars[v%base]
			v /= base
		}
		return at + width
	}
	n := enc(uint64(t/usSec), 52, 6, 0)
	n = enc(uint64(t%usSec), 52, 4, n)
	b[n] = 'z'
	n++
	// The inode number in base 51 (no 'z'), without padding.
	ino := uint64(g.r.between(51*51, 51*51*51*51-1))
	var tmp [8]byte
	k := len(tmp)
	for ino > 0 {
		k--
		tmp[k] = longIDChars[ino%51]
		ino /= 51
	}
	n += copy(b[n:], tmp[k:])
	return string(b[:n])
}

func (g *gen) reuseID(t int64) string {
	if g.ringN == 0 || !g.r.chance(0.004) {
		return ""
	}
	i := g.r.intn(min(g.ringN, len(g.ring)))
	e := &g.ring[i]
	if e.qid == "" || e.t >= t-usMin {
		return ""
	}
	q := e.qid
	e.qid = ""
	if _, busy := g.live[q]; busy {
		return ""
	}
	g.reuses++
	return q
}

func (g *gen) release(qid string, t int64, removed bool) {
	g.rels = append(g.rels, release{t: t, qid: qid, removable: removed})
	s := g.rels
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].t <= s[i].t {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// processReleases frees queue ids whose messages were removed before now.
func (g *gen) processReleases(now int64) {
	for len(g.rels) > 0 && g.rels[0].t < now {
		e := g.rels[0]
		s := g.rels
		n := len(s) - 1
		s[0] = s[n]
		s = s[:n]
		i := 0
		for {
			l := 2*i + 1
			if l >= n {
				break
			}
			m := l
			if l+1 < n && s[l+1].t < s[l].t {
				m = l + 1
			}
			if s[i].t <= s[m].t {
				break
			}
			s[i], s[m] = s[m], s[i]
			i = m
		}
		g.rels = s
		delete(g.live, e.qid)
		if e.removable && len(e.qid) <= 11 {
			g.ring[g.ringN%len(g.ring)] = ringEntry{t: e.t, qid: e.qid}
			g.ringN++
		}
	}
}

// stampTime is t at the precision the log prints.
func (g *gen) stampTime(t int64) time.Time {
	if g.cfg.Format == FormatBSD {
		t -= t % usSec
	}
	return time.UnixMicro(t).UTC()
}

func (g *gen) truth() *Truth {
	tr := &Truth{
		Lines:         g.s.lines,
		Bytes:         g.s.bytes,
		QueueIDReuses: g.reuses,
		Users:         len(g.w.users),
		Start:         time.UnixMicro(g.start).UTC(),
		End:           g.stampTime(g.s.lastT),
	}
	bad := map[string]bool{}
	for _, tk := range g.takeovers {
		if tk.victim == nil || tk.first < 0 {
			continue
		}
		bad[tk.victim.login] = true
		tr.Compromised = append(tr.Compromised, Compromise{
			Login:        tk.victim.login,
			Start:        g.stampTime(tk.first),
			FirstMessage: g.stampTime(tk.firstMsg),
			Kind:         tk.kind.String(),
			AttackerIPs:  tk.ips,
			Messages:     tk.msgs,
		})
	}
	sort.Slice(tr.Compromised, func(i, j int) bool { return tr.Compromised[i].Start.Before(tr.Compromised[j].Start) })
	for l := range g.success {
		if !bad[l] {
			tr.Legitimate = append(tr.Legitimate, l)
		}
	}
	for l := range g.failed {
		if !bad[l] && !g.success[l] {
			tr.BruteForcedOnly = append(tr.BruteForcedOnly, l)
		}
	}
	for _, u := range g.w.bulk {
		tr.Roles.Bulk = append(tr.Roles.Bulk, u.login)
	}
	for _, u := range g.w.users {
		switch u.kind {
		case kindHeavy:
			tr.Roles.HeavySenders = append(tr.Roles.HeavySenders, u.login)
		case kindTraveller:
			tr.Roles.Travellers = append(tr.Roles.Travellers, u.login)
		}
	}
	sort.Strings(tr.Roles.Bulk)
	sort.Strings(tr.Roles.HeavySenders)
	sort.Strings(tr.Roles.Travellers)
	sort.Strings(tr.Legitimate)
	sort.Strings(tr.BruteForcedOnly)
	return tr
}
