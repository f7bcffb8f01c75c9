package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
	"github.com/saslguard/saslguard/internal/report"
	"github.com/saslguard/saslguard/internal/respond"
	"github.com/saslguard/saslguard/internal/store"
)

// Source is the incident and block source the contain mode records.
const Source = "watch"

// Containment outcomes (Outcome.Status).
const (
	// Contained: blocked at the MTA (the configuration check found the
	// block effective), sessions ended, queued mail held.
	Contained = "contained"
	// NotContained: the steps ran but the MTA block is not effective (or
	// the login cannot be a map key): a person must act.
	NotContained = "not-contained"
	// Refused: the evidence was not confirmed by the queue files, or the
	// rate limit was reached; nothing was changed.
	Refused = "refused"
	// Skipped: allowlisted, or already blocked by watch or respond.
	Skipped = "skipped"
	// Failed: a step returned an error (what was done is recorded).
	Failed = "failed"
)

// Blocker blocks a login at the MTA (*postfixblock.Map).
type Blocker interface {
	Block(ctx context.Context, login string, opts mtablock.Options) (mtablock.Result, error)
}

// ContainConfig wires a Containment to one mail server.
type ContainConfig struct {
	Store *store.Store
	// Queue reads the queue files (the evidence) and holds the login's mail.
	Queue    queue.Manager
	MTA      Blocker
	Sessions respond.SessionEnder // nil leaves live sessions alone
	// Block says how the MTA answers the login (REJECT by default).
	Block mtablock.Options
	// MaxPerWindow containments at most in Window (default 3 per hour),
	// counted from the store's incidents of source "watch", so a restart
	// does not reset the budget. Refusals are reported, never silent.
	MaxPerWindow int
	Window       time.Duration
	// MinEvidence is how many of the login's queued messages the queue
	// files must confirm (sasl_username) before anything is done (default 3).
	MinEvidence int
	// The confirmed messages must also show a takeover in their queue
	// files, within Span of arrival time (default 1 h): at least
	// MinAddresses distinct client addresses (IPv6 counted by /64; default
	// 3), or at least MinForeign sender domains that are not the login's
	// (default 2; one more when the login has no domain and OwnDomains is
	// empty). A login's own addresses (laptop and phone) are not enough.
	MinAddresses, MinForeign int
	Span                     time.Duration
	// OwnDomains are the organisation's sender domains, owned by every
	// login besides the domain of the login itself; the attached engine's
	// configured domains (Config.Correlate.OwnDomains) count too.
	OwnDomains []string
	// MaxIDs caps the queue ids of one alert whose files are read (the
	// newest; default 1000), and VerifyTimeout the time spent reading them
	// (default 10 s): what forged lines name costs at most that.
	MaxIDs        int
	VerifyTimeout time.Duration
	// Workers check this many alerts at once (default 4), so that one
	// login's evidence never delays another's; the steps that change
	// something (block, end sessions, hold, record) run one at a time.
	Workers int
	// EndByIP also ends sessions found only by a client address of the login.
	EndByIP bool
	Grace   time.Duration // before SIGKILL (default 2 s)
	// LockWait bounds the wait for the store's respond lock (default 30 s).
	LockWait time.Duration
	// QueueLen bounds the alerts waiting for the worker (default 64);
	// alerts past it are reported as refused.
	QueueLen int
	// Report receives every outcome, on the worker goroutine.
	Report func(Outcome)
	Logger *slog.Logger
	// Now is the wall clock for the rate limit and the records.
	Now func() time.Time
	// MaxAge: an alert raised by events older than this (a replay of the
	// log's history at the first start, or after --reset-state) is
	// reported, not acted on (default 1 h).
	MaxAge time.Duration
}

// Outcome is what contain mode did about one alert.
type Outcome struct {
	Kind     string    `json:"kind"` // always "containment"
	Login    string    `json:"login"`
	Status   string    `json:"status"`
	Why      string    `json:"why,omitempty"`
	Incident int64     `json:"incident,omitempty"`
	Evidence string    `json:"evidence,omitempty"`
	Blocked  bool      `json:"blocked"`
	Sessions int       `json:"sessions_ended"`
	Held     int       `json:"held"`
	Notes    []string  `json:"notes,omitempty"`
	AlertAt  time.Time `json:"alert_at"` // the event that raised the verdict
	Queued   time.Time `json:"queued"`   // when the alert reached the worker's queue
	// BlockedAt is when the MTA block took effect (zero when it did not).
	BlockedAt time.Time `json:"blocked_at"`
	Done      time.Time `json:"done"`
	// Next is what a person runs to finish (quarantine, disable, release).
	Next string `json:"next,omitempty"`
	// retry: refused for want of queue-file evidence, which more of the
	// login's mail may still bring
	retry bool
}

type job struct {
	alert  Alert
	target respond.Target
	ids    []string // the login's own queue ids in the log (evidence candidates)
	own    []string // the organisation's domains the engine is configured with
	queued time.Time
}

// Containment is contain mode's alert sink: Sink takes what the log says
// about a compromised login on the log reader's goroutine (cheaply, never
// blocking); worker goroutines check each alert's evidence in the queue
// files (several alerts at once, each bounded in ids and time), and one at
// a time check the rate limit, block the login at the MTA, end its
// sessions, hold its queued mail and record an incident. Deleting and releasing mail stay with a
// person running respond.
type Containment struct {
	cfg  ContainConfig
	log  *slog.Logger
	eng  *Engine
	jobs chan job
	done chan struct{}

	mu      sync.Mutex
	pending map[string]bool // logins queued or being handled
	// retries are the logins refused for want of evidence, checked again
	// while they keep sending (see RecheckDue)
	retries map[string]*retryState
	closed  bool
	rmu     sync.Mutex // serialises Report
	// act serialises the steps that change something, once the evidence
	// of an alert is confirmed.
	act sync.Mutex
	own map[string]bool // OwnDomains, lower case
}

// NewContainment checks cfg and starts the worker; Close stops it.
func NewContainment(ctx context.Context, cfg ContainConfig) (*Containment, error) {
	if cfg.Store == nil || cfg.Queue == nil || cfg.MTA == nil {
		return nil, errors.New("contain: store, queue and MTA are required")
	}
	if cfg.MaxPerWindow <= 0 {
		cfg.MaxPerWindow = 3
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Hour
	}
	if cfg.MinEvidence <= 0 {
		cfg.MinEvidence = 3
	}
	if cfg.MinAddresses <= 0 {
		cfg.MinAddresses = 3
	}
	if cfg.MinForeign <= 0 {
		cfg.MinForeign = 2
	}
	if cfg.Span <= 0 {
		cfg.Span = time.Hour
	}
	if cfg.MaxIDs <= 0 {
		cfg.MaxIDs = 1000
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = 10 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = time.Hour
	}
	if cfg.LockWait <= 0 {
		cfg.LockWait = 30 * time.Second
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Block.Text == "" {
		cfg.Block.Text = mtablock.DefaultText
	}
	if err := mtablock.ValidText(cfg.Block.Text); err != nil {
		return nil, fmt.Errorf("contain: block text: %w", err)
	}
	c := &Containment{cfg: cfg, log: cfg.Logger, jobs: make(chan job, cfg.QueueLen),
		done: make(chan struct{}), pending: map[string]bool{}, retries: map[string]*retryState{}, own: map[string]bool{}}
	for _, d := range cfg.OwnDomains {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			c.own[d] = true
		}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx)
		}()
	}
	go func() {
		wg.Wait()
		close(c.done)
	}()
	return c, nil
}

// Attach gives the sink the engine whose alerts it receives: Sink reads the
// engine's correlator (on the engine's goroutine) for the login's client
// addresses, smtpd pids, queue ids and linked bounces.
func (c *Containment) Attach(e *Engine) { c.eng = e }

// Close stops taking alerts and waits for the worker to finish the queued
// ones (or for the context given to NewContainment to end).
func (c *Containment) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.jobs)
	}
	c.mu.Unlock()
	<-c.done
}

// Sink is the alert sink. It must be called on the engine's goroutine (as
// Config.Sink is).
func (c *Containment) Sink(a Alert) {
	if a.Verdict != detect.Compromised.String() {
		return
	}
	now := c.cfg.Now()
	if a.Allowlisted {
		c.report(Outcome{Login: a.Login, Status: Skipped, Why: "allowlisted: reported only", AlertAt: a.At, Queued: now, Done: now})
		return
	}
	if age := now.Sub(a.At); !a.At.IsZero() && age > c.cfg.MaxAge {
		c.report(Outcome{Login: a.Login, Status: Skipped, AlertAt: a.At, Queued: now, Done: now, Next: a.Command,
			Why: fmt.Sprintf("the evidence is from %s, %s ago (history read at start): reported only; run respond if the login is still sending",
				a.At.UTC().Format(time.RFC3339), age.Round(time.Minute))})
		return
	}
	key := strings.ToLower(a.Login)
	j := job{alert: a, queued: now, ids: slices.Clone(a.QueueIDs)}
	if c.eng != nil {
		j.own = c.eng.cfg.Correlate.OwnDomains // configured, never inferred from the log
		corr := c.eng.Correlator()
		j.target = respond.TargetFrom(corr, a.Login)
		for _, m := range corr.Open(key) {
			if m.Origin == correlate.Auth && !slices.Contains(j.ids, m.ID()) && len(j.ids) < 1000 {
				j.ids = append(j.ids, m.ID())
			}
		}
	} else {
		j.target = respond.Target{Login: a.Login}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.pending[key] {
		return // already queued: one containment per login at a time
	}
	select {
	case c.jobs <- j:
		c.pending[key] = true
	default:
		go c.report(Outcome{Login: a.Login, Status: Refused, Why: "contain queue full: not handled, run respond", AlertAt: a.At, Queued: now, Done: now, Next: a.Command})
	}
}

// A login refused for want of evidence is checked again while it keeps
// sending: first retryFirst after the refusal, then at doubling intervals up
// to retryMax, at most retryTries times. Forged log lines that raise a
// login's alert before its spam is queued (or with other logins' queue ids)
// then do not leave it uncontained until the next alert.
const (
	retryFirst = 30 * time.Second
	retryMax   = 10 * time.Minute
	retryTries = 12
)

type retryState struct {
	next  time.Time
	wait  time.Duration
	tries int
}

// noteRetry records when the login may be checked again (c.mu held).
func (c *Containment) noteRetry(key string, o Outcome) {
	if !o.retry {
		if o.Status == Contained || o.Status == Skipped {
			delete(c.retries, key)
		}
		return
	}
	r := c.retries[key]
	if r == nil {
		r = &retryState{wait: retryFirst}
		c.retries[key] = r
	} else {
		r.wait = min(2*r.wait, retryMax)
	}
	r.tries++
	if r.tries > retryTries {
		delete(c.retries, key)
		return
	}
	r.next = o.Done.Add(r.wait)
}

// RecheckDue tells whether login, refused earlier for want of evidence, is
// due to be checked again. The engine asks it as the login keeps sending,
// and hands the alert to Sink when it is; nothing is alerted again.
func (c *Containment) RecheckDue(login string) bool {
	key := strings.ToLower(login)
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.retries[key]
	return r != nil && !c.pending[key] && !c.cfg.Now().Before(r.next)
}

func (c *Containment) report(o Outcome) {
	o.Kind = "containment"
	lvl := slog.LevelWarn
	if o.Status == Refused || o.Status == Failed || o.Status == NotContained {
		lvl = slog.LevelError
	}
	c.log.Log(context.Background(), lvl, "containment", "login", o.Login, "status", o.Status, "why", o.Why,
		"incident", o.Incident, "blocked", o.Blocked, "sessions", o.Sessions, "held", o.Held)
	if c.cfg.Report != nil {
		c.rmu.Lock()
		c.cfg.Report(o)
		c.rmu.Unlock()
	}
}

func (c *Containment) run(ctx context.Context) {
	for {
		var j job
		var ok bool
		select {
		case j, ok = <-c.jobs:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
		o := c.contain(ctx, j)
		o.Done = c.cfg.Now()
		key := strings.ToLower(j.alert.Login)
		c.mu.Lock()
		delete(c.pending, key)
		c.noteRetry(key, o)
		c.mu.Unlock()
		c.report(o)
	}
}

// evidence is what the queue files say about the login's messages.
type evidence struct {
	named     int // valid queue ids the log names
	examined  int // of those, read (the newest MaxIDs)
	confirmed int
	other     int // named by the log as the login's, queue file disagrees
	// the most distinct client networks (an IPv4 address, an IPv6 /64)
	// and sender domains not the login's among confirmed messages that
	// arrived within Span of each other
	addrs, foreign int
	span           time.Duration
	timedOut       bool
}

func (e evidence) String() string {
	absent := "not in the queue"
	if e.timedOut {
		absent = "not read in time or not in the queue"
	}
	s := fmt.Sprintf("queue files: %d of the log's messages name the login as sasl_username (%d name another login or none, %d %s), within %s: %d client address(es), %d sender domain(s) not the login's",
		e.confirmed, e.other, e.examined-e.confirmed-e.other, absent, e.span, e.addrs, e.foreign)
	if e.named > e.examined {
		s += fmt.Sprintf("; %d of %d queue ids read (the newest)", e.examined, e.named)
	}
	if e.timedOut {
		s += "; reading stopped at its time limit"
	}
	return s
}

// confirmed is one message the queue file attributes to the login.
type confirmedMsg struct {
	at      time.Time
	network string // client address, IPv6 by /64
	foreign string // sender domain when not the login's, else ""
}

// clientNetwork is the key a client address counts under: the address for
// IPv4, its /64 for IPv6 (one host's privacy addresses are one network).
func clientNetwork(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// widest returns the most distinct networks and foreign sender domains
// among messages that arrived within span of each other.
func widest(ms []confirmedMsg, span time.Duration) (addrs, foreign int) {
	slices.SortFunc(ms, func(x, y confirmedMsg) int { return x.at.Compare(y.at) })
	nets, doms := map[string]int{}, map[string]int{}
	drop := func(m map[string]int, k string) {
		if k == "" {
			return
		}
		if m[k]--; m[k] == 0 {
			delete(m, k)
		}
	}
	lo := 0
	for _, m := range ms {
		for m.at.Sub(ms[lo].at) > span {
			drop(nets, ms[lo].network)
			drop(doms, ms[lo].foreign)
			lo++
		}
		if m.network != "" {
			nets[m.network]++
		}
		if m.foreign != "" {
			doms[m.foreign]++
		}
		addrs, foreign = max(addrs, len(nets)), max(foreign, len(doms))
	}
	return addrs, foreign
}

// verify reads the queue files of the queue ids the log attributes to the
// login. Any local user can write lines into the log (logger -t
// postfix/submission/smtpd ...), naming any login and any queue id that
// mailq shows; the queue files are written by Postfix's cleanup alone. So
// the decision rests on what the queue files show: enough messages whose
// file names the login as sasl_username, and among them the mark of a
// takeover, several client networks or sender domains that are not the
// login's. Nothing the log says about addresses or senders counts: a
// login's history from the log is as forgeable as the alert, and the
// queue keeps no history of mail already delivered. At most MaxIDs ids
// are read, within VerifyTimeout.
func (c *Containment) verify(ctx context.Context, j job) (evidence, string) {
	ev := evidence{span: c.cfg.Span}
	var ids []string
	seen := map[string]bool{}
	for _, id := range j.ids {
		if postfixq.ValidQueueID(id) && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	ev.named = len(ids)
	if len(ids) > c.cfg.MaxIDs {
		ids = ids[len(ids)-c.cfg.MaxIDs:]
	}
	ev.examined = len(ids)
	if len(ids) == 0 {
		return ev, "the log names no queued message of the login"
	}
	login := strings.ToLower(j.alert.Login)
	_, loginDom, hasDom := strings.Cut(login, "@")
	own := c.own
	if len(j.own) > 0 {
		own = maps.Clone(c.own)
		for _, d := range j.own {
			own[strings.ToLower(strings.TrimSpace(d))] = true
		}
	}
	minForeign := c.cfg.MinForeign
	if !hasDom && len(own) == 0 {
		minForeign++ // one of the domains may be the login's own
	}
	var ms []confirmedMsg
	vctx, cancel := context.WithTimeout(ctx, c.cfg.VerifyTimeout)
	defer cancel()
	err := c.cfg.Queue.Inspect(vctx, ids, func(m queue.Message) error {
		if !strings.EqualFold(m.SASLUsername, j.alert.Login) {
			ev.other++
			return nil
		}
		ev.confirmed++
		cm := confirmedMsg{at: m.ArrivalTime}
		if m.ClientAddress != "" {
			cm.network = clientNetwork(m.ClientAddress)
		}
		if _, dom, ok := strings.Cut(strings.ToLower(m.Sender), "@"); ok && dom != "" && !(hasDom && dom == loginDom) && !own[dom] {
			cm.foreign = dom
		}
		ms = append(ms, cm)
		return nil
	})
	ev.addrs, ev.foreign = widest(ms, c.cfg.Span)
	if err != nil {
		if ctx.Err() != nil {
			return ev, "cancelled while reading the queue files (watch is stopping)"
		}
		if vctx.Err() == nil {
			return ev, "reading the queue files failed: " + err.Error()
		}
		ev.timedOut = true // judge what was read in time
	}
	switch {
	case ev.confirmed < c.cfg.MinEvidence:
		why := fmt.Sprintf("evidence not confirmed: %d queued message(s) of the login by their queue files, %d needed", ev.confirmed, c.cfg.MinEvidence)
		if ev.timedOut {
			why += fmt.Sprintf(" (reading stopped after %s)", c.cfg.VerifyTimeout)
		}
		return ev, why
	case ev.addrs < c.cfg.MinAddresses && ev.foreign < minForeign:
		return ev, fmt.Sprintf("evidence not confirmed: the login's queued messages show %d client address(es) and %d sender domain(s) not its own within %s; a takeover needs %d addresses or %d such domains (a person's own devices are not enough)",
			ev.addrs, ev.foreign, c.cfg.Span, c.cfg.MinAddresses, minForeign)
	}
	return ev, ""
}

// recent counts the containments in the rate limit's window.
func (c *Containment) recent(ctx context.Context, now time.Time) (int, error) {
	incs, err := c.cfg.Store.ListIncidents(ctx, store.IncidentFilter{Limit: 1000})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, in := range incs {
		if in.Source == Source && in.Created.After(now.Add(-c.cfg.Window)) {
			n++
		}
	}
	return n, nil
}

func (c *Containment) contain(ctx context.Context, j job) Outcome {
	a := j.alert
	login := a.Login
	o := Outcome{Login: login, AlertAt: a.At, Queued: j.queued, Next: a.Command}
	fail := func(why string, err error) Outcome {
		o.Status, o.Why = Failed, why+": "+err.Error()
		return o
	}
	if err := checkLogin(login); err != "" {
		o.Status, o.Why = Refused, err
		return o
	}
	if b, ok, err := c.cfg.Store.IsBlocked(ctx, login); err != nil {
		return fail("read the block registry", err)
	} else if ok && (b.Source == Source || b.Source == respond.Source) {
		o.Status, o.Why, o.Incident = Skipped, "already blocked by "+b.Source, b.IncidentID
		return o
	}
	ev, why := c.verify(ctx, j)
	o.Evidence = ev.String()
	if why != "" {
		o.Status, o.Why = Refused, "not contained: "+why+"; checked again while it sends; check it and run respond"
		o.retry = true
		return o
	}
	c.act.Lock()
	defer c.act.Unlock()
	if ctx.Err() != nil {
		o.Status, o.Why = Refused, "not contained: cancelled (watch is stopping); run respond"
		return o
	}
	lctx, cancel := context.WithTimeout(ctx, c.cfg.LockWait)
	lock, err := c.cfg.Store.Lock(lctx, respond.LockName)
	cancel()
	if err != nil {
		o.Status, o.Why = Refused, "respond lock: "+err.Error()+": not contained"
		return o
	}
	defer lock.Unlock()
	now := c.cfg.Now()
	n, err := c.recent(ctx, now)
	if err != nil {
		return fail("count recent containments", err)
	}
	if n >= c.cfg.MaxPerWindow {
		o.Status = Refused
		o.Why = fmt.Sprintf("rate limit: %d automatic containments in the last %s (at most %d): not contained, run respond", n, c.cfg.Window, c.cfg.MaxPerWindow)
		return o
	}
	key, _ := store.NormalizeLogin(login)
	summary := fmt.Sprintf("watch contain: %s (score %d); %s", strings.Join(a.Reasons, "; "), a.Score, ev)
	if len(summary) > 2000 {
		summary = summary[:2000]
	}
	inc, reused, err := c.openIncident(ctx, key, summary)
	if err != nil {
		return fail("create incident", err)
	}
	o.Incident = inc
	rec := func(step, command, result string, ok, failed int, ids []string) {
		if len(ids) > 0 {
			result += " ids=" + strings.Join(ids, ",")
		}
		if _, err := c.cfg.Store.AddAction(ctx, store.Action{IncidentID: inc, Command: step + ": " + command, Result: result, OK: ok, Failed: failed}); err != nil {
			o.Notes = append(o.Notes, "record: "+err.Error())
		}
	}
	if reused {
		rec(respond.StepStart, "watch --mode contain", "contained again by watch: "+ev.String(), 1, 0, nil)
	} else {
		rec(respond.StepStart, "watch --mode contain", "started: "+ev.String(), 1, 0, nil)
	}

	// Block first: it stops new mail; the rest cleans up behind it.
	if _, err := c.cfg.Store.Block(ctx, login, Source, "watch: "+c.cfg.Block.Action.String(), inc); err != nil {
		rec(respond.StepBlock, "registry", "failed: "+err.Error(), 0, 1, nil)
		return fail("record the block", err)
	}
	rec(respond.StepBlock, "registry", "recorded as blocked", 1, 0, nil)
	res, err := c.cfg.MTA.Block(ctx, login, c.cfg.Block)
	cmd := "add " + key + " " + c.cfg.Block.Action.String() + " to the check_sasl_access map, postmap, postfix reload"
	switch {
	case err != nil && ctx.Err() != nil:
		rec(respond.StepBlock, cmd, "cancelled: "+err.Error(), 0, 1, nil)
		o.Notes = append(o.Notes, "MTA block cancelled (watch is stopping): "+err.Error())
	case err != nil:
		rec(respond.StepBlock, cmd, "failed: "+err.Error(), 0, 1, nil)
		o.Notes = append(o.Notes, "MTA block failed: "+err.Error())
	case res.Blocked():
		o.Blocked, o.BlockedAt = true, c.cfg.Now()
		rec(respond.StepBlock, cmd, "blocked: map entry written, postfix reloaded", 1, 0, nil)
	case res.NotBlockable != "":
		rec(respond.StepBlock, cmd, "not blockable: "+res.NotBlockable, 0, 1, nil)
		o.Notes = append(o.Notes, res.NotBlockable)
	case ctx.Err() != nil:
		// the configuration check did not finish: whether the map is
		// consulted is not known
		rec(respond.StepBlock, cmd, "written, check cancelled: "+strings.Join(res.Notes, "; "), 0, 1, nil)
		o.Notes = append(o.Notes, "the configuration check was cancelled (watch is stopping): whether Postfix consults the map is not known; run saslguard respond")
	default:
		rec(respond.StepBlock, cmd, "written, not effective: "+strings.Join(res.Notes, "; "), 0, 1, nil)
		o.Notes = append(o.Notes, "the map is not consulted by every service that offers AUTH: "+strings.Join(res.Notes, "; "))
	}

	if c.cfg.Sessions != nil {
		t := j.target
		kr, err := c.cfg.Sessions.End(ctx, postfixblock.SessionQuery{Login: login, Hints: t.Hints, IPs: t.IPs, ByIP: c.cfg.EndByIP}, c.cfg.Grace)
		if err != nil {
			rec(respond.StepSessions, "end smtpd sessions", "failed: "+err.Error(), 0, 1, nil)
			o.Notes = append(o.Notes, "ending sessions failed: "+err.Error())
		} else {
			o.Sessions = kr.Ended()
			if note := kr.ThrottleNote(); note != "" {
				o.Notes = append(o.Notes, note)
			}
			if len(kr.Found) > 0 {
				rec(respond.StepSessions, "kill smtpd sessions", "ended "+kr.Summary(), o.Sessions, len(kr.Found)-o.Sessions, nil)
			}
		}
	}

	rep, err := queue.HoldLogin(ctx, c.cfg.Queue, login, j.target.Links)
	if err != nil {
		rec(respond.StepHold, "postsuper -h -", "failed: "+err.Error(), 0, 1, nil)
		o.Notes = append(o.Notes, "hold failed: "+err.Error())
	} else {
		o.Held = len(rep.Held)
		byReason := map[string][]string{}
		for _, m := range rep.Selection.Messages {
			if slices.Contains(rep.Held, m.QueueID) {
				byReason[m.Reason] = append(byReason[m.Reason], m.QueueID)
			}
		}
		for _, reason := range []string{"sasl_username", "filter-copy", "bounce"} {
			if ids := byReason[reason]; len(ids) > 0 {
				rec(respond.StepHold, "postsuper -h -", fmt.Sprintf("held %s %d", reason, len(ids)), len(ids), 0, ids)
			}
		}
		if len(rep.Released) > 0 {
			rec(respond.StepHold, "postsuper -H -", fmt.Sprintf("reused ids released %d", len(rep.Released)), len(rep.Released), 0, rep.Released)
		}
	}
	if o.Blocked && len(o.Notes) == 0 {
		o.Status = Contained
	} else if o.Blocked {
		o.Status, o.Why = Contained, "blocked, with problems: "+strings.Join(o.Notes, "; ")
	} else {
		o.Status, o.Why = NotContained, "not blocked at the MTA: "+strings.Join(o.Notes, "; ")
	}
	rec("contain", "watch --mode contain", fmt.Sprintf("%s: blocked %v, %d session(s) ended, %d message(s) held; deletion and release left to respond", o.Status, o.Blocked, o.Sessions, o.Held), 1, 0, nil)
	return o
}

// openIncident returns the login's open incident (respond's or watch's
// own), so that one takeover has one incident, or opens a new one.
func (c *Containment) openIncident(ctx context.Context, key, summary string) (int64, bool, error) {
	incs, err := c.cfg.Store.ListIncidents(ctx, store.IncidentFilter{Login: key, Status: store.StatusOpen})
	if err != nil {
		return 0, false, err
	}
	for _, in := range incs {
		if in.Login == key && (in.Source == Source || in.Source == respond.Source) {
			return in.ID, true, nil
		}
	}
	id, err := c.cfg.Store.CreateIncident(ctx, store.Incident{Login: key, Source: Source, Summary: summary})
	return id, false, err
}

// checkLogin says why a login must not be acted on ("" when it can).
func checkLogin(login string) string {
	if _, err := store.NormalizeLogin(login); err != nil {
		return "cannot be recorded: " + err.Error()
	}
	if why := mtablock.ValidLogin(login); why != "" {
		return "not acted on automatically: " + why
	}
	return ""
}

// Alert returns the outcome in the shape of an alert (for the webhook):
// Verdict is the outcome's status ("contained", "refused", ...).
func (o Outcome) Alert() Alert {
	var reasons []string
	for _, r := range []string{o.Why, o.Evidence} {
		if r != "" {
			reasons = append(reasons, r)
		}
	}
	if o.Incident != 0 {
		reasons = append(reasons, fmt.Sprintf("incident %d: blocked at the MTA %v, %d session(s) ended, %d message(s) held", o.Incident, o.Blocked, o.Sessions, o.Held))
	}
	return Alert{Login: o.Login, Verdict: o.Status, At: o.Done, Reasons: reasons, Command: o.Next}
}

// WriteOutcome writes an outcome as readable lines.
func WriteOutcome(w io.Writer, o Outcome) {
	inc := ""
	if o.Incident != 0 {
		inc = fmt.Sprintf(" (incident %d)", o.Incident)
	}
	fmt.Fprintf(w, "%s %s %s%s\n", o.Done.Local().Format("2006-01-02 15:04:05"), strings.ToUpper(o.Status), report.Safe(o.Login, 200), inc)
	if o.Why != "" {
		fmt.Fprintf(w, "  - %s\n", report.Safe(o.Why, 600))
	}
	if o.Incident != 0 {
		fmt.Fprintf(w, "  - blocked at the MTA: %v; %d session(s) ended; %d message(s) held\n", o.Blocked, o.Sessions, o.Held)
	}
	if o.Evidence != "" {
		fmt.Fprintf(w, "  - %s\n", o.Evidence)
	}
	if o.Next != "" && o.Status != Skipped {
		fmt.Fprintf(w, "  next: %s\n", o.Next)
	}
}
