// Package respond contains stolen SMTP AUTH logins on a live mail server: it
// blocks a login at the MTA, ends its sessions, holds its queued mail (with
// the filter copies and bounces the log ties to it), disables it at its
// account store, moves the held mail to quarantine and out of the queue, and
// releases what it held that was not the login's. Every action is recorded in
// the incident store, so an interrupted run is finished by running it again,
// and --undo reads the record to take the steps back.
//
// The queue files are the authority on which message is whose: log
// correlation only proposes candidates (filter copies, bounces) that the queue
// file must confirm, and nothing is ever deleted but from the hold queue, after
// a copy is in quarantine.
package respond

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/account"
	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/quarantine"
	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/store"
)

// LockName is the store lock respond and --undo take for their whole run.
// watch, policy and account enable are meant to take the same one before they
// change a block.
const LockName = "respond"

// Source is the incident and block source respond records.
const Source = "respond"

// MTA is the MTA block: a Blocker that can also check its configuration.
type MTA interface {
	mtablock.Blocker
	Check(ctx context.Context) (postfixblock.Check, error)
	Path() string
	Ref() string // TYPE:PATH, as postmap and main.cf name the map
}

// SessionEnder ends live MTA sessions (*postfixblock.SessionFinder).
type SessionEnder interface {
	End(ctx context.Context, q postfixblock.SessionQuery, grace time.Duration) (mtablock.KillResult, error)
}

// Config wires a Responder to one mail server.
type Config struct {
	Store *store.Store
	Queue queue.Manager
	// MTA blocks logins; nil leaves the MTA alone.
	MTA MTA
	// Sessions ends live sessions; nil skips that.
	Sessions SessionEnder
	// Account disables logins at their source; nil skips step 2.
	Account     account.Backend
	AccountName string // for messages: "passwd-file /etc/dovecot/users"
	Quarantine  *quarantine.Quarantine
	// QuarantineDir is the quarantine root, for messages.
	QuarantineDir string
	// Allow are logins never blocked (lower case).
	Allow map[string]bool
	// Block says how the MTA answers a blocked login (REJECT by default).
	Block mtablock.Options
	// HoldAll holds every queued message, not only the login's, until the
	// login's are out of the queue; the rest is then released.
	HoldAll bool
	// ResetPassword sets a new random password instead of a disabled marker.
	ResetPassword bool
	// EndByIP also ends sessions found only by a client address of the login
	// (it can end other users' sessions behind the same NAT).
	EndByIP bool
	// Grace is how long ended sessions get before SIGKILL (default 2 s).
	Grace time.Duration
	// MaxQueueLifetime is the MTA's maximal_queue_lifetime (0: unknown).
	MaxQueueLifetime time.Duration
	// Commands render the MTA commands for the plan and the record.
	Commands Commands
	Out      io.Writer
	// Hook, when set, is called at each step's end with the step's name;
	// an error stops the run there, as a crash would (tests use it).
	Hook func(point string) error
	Now  func() time.Time
}

// Commands renders command lines for display and records.
type Commands struct {
	// Postsuper and Postqueue are the argument vector prefixes (with -c).
	Postsuper []string
	Postqueue []string
}

func (c Commands) postsuper(args ...string) string {
	p := c.Postsuper
	if len(p) == 0 {
		p = []string{"postsuper"}
	}
	return argvString(append(slices.Clone(p), args...))
}

func (c Commands) postqueue(args ...string) string {
	p := c.Postqueue
	if len(p) == 0 {
		p = []string{"postqueue"}
	}
	return argvString(append(slices.Clone(p), args...))
}

// Responder runs respond and --undo.
type Responder struct {
	cfg Config
	out io.Writer
}

// New checks cfg and returns a Responder.
func New(cfg Config) (*Responder, error) {
	if cfg.Store == nil || cfg.Queue == nil || cfg.Quarantine == nil {
		return nil, errors.New("respond: store, queue and quarantine are required")
	}
	if cfg.Grace == 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Block.Text == "" {
		cfg.Block.Text = mtablock.DefaultText
	}
	if err := mtablock.ValidText(cfg.Block.Text); err != nil {
		return nil, fmt.Errorf("respond: block text: %w", err)
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	return &Responder{cfg: cfg, out: out}, nil
}

func (r *Responder) printf(format string, args ...any) { fmt.Fprintf(r.out, format, args...) }

func (r *Responder) hook(point string) error {
	if r.cfg.Hook == nil {
		return nil
	}
	if err := r.cfg.Hook(point); err != nil {
		return fmt.Errorf("stopped at %s: %w", point, err)
	}
	return nil
}

// Outcome is what one run did for one login.
type Outcome struct {
	Login    string
	Incident int64
	Skipped  string // why nothing was done, "" when it was handled
	// MTABlocked is true when the MTA check found the block effective.
	MTABlocked bool
	// MTANote says why it is not blocked at the MTA.
	MTANote     string
	Sessions    int
	Held        int
	Disabled    bool
	NewPassword string // shown once; never recorded
	Exported    int
	Deleted     int
	Released    int
	Expired     int // released messages older than maximal_queue_lifetime
	KeptHeld    int // held messages of the login that could not be exported
	// AccountNote says why the account backend could not handle the login.
	AccountNote string
}

// Attention reports whether the operator must act on this outcome.
func (o Outcome) Attention() bool {
	return o.Skipped == "" && o.openReason() != ""
}

// openReason says why the login is not fully contained ("" when it is):
// what keeps its incident open.
func (o Outcome) openReason() string {
	var why []string
	if !o.MTABlocked {
		note := o.MTANote
		if note == "" {
			note = "the MTA block is not in effect"
		}
		why = append(why, "not blocked at the MTA ("+note+")")
	}
	if o.KeptHeld > 0 {
		why = append(why, fmt.Sprintf("%d held message(s) of the login could not be quarantined", o.KeptHeld))
	}
	if o.AccountNote != "" {
		why = append(why, "account not disabled ("+o.AccountNote+")")
	}
	return strings.Join(why, "; ")
}

// Summary is the outcome of a run.
type Summary struct {
	DryRun   bool
	Outcomes []Outcome
}

// Attention reports whether any outcome needs the operator.
func (s Summary) Attention() bool {
	for _, o := range s.Outcomes {
		if o.Attention() {
			return true
		}
	}
	return false
}

// checkTarget says why a login must not be handled at all ("" when it can).
func (r *Responder) checkTarget(login string) string {
	if err := account.CheckLogin(login); err != nil {
		return "cannot be handled safely: " + err.Error()
	}
	if _, err := store.NormalizeLogin(login); err != nil {
		return "cannot be recorded: " + err.Error()
	}
	if r.cfg.Allow[strings.ToLower(login)] {
		return "allowlisted (scan.allow_logins): never blocked"
	}
	return ""
}

// Run responds to targets: with yes false it prints the plan and changes
// nothing; with yes true it executes it.
func (r *Responder) Run(ctx context.Context, targets []Target, yes bool) (Summary, error) {
	sum := Summary{DryRun: !yes}
	if yes {
		lock, err := r.cfg.Store.TryLock(LockName)
		if err != nil {
			return sum, fmt.Errorf("take the respond lock: %w (another respond, watch or account command is running)", err)
		}
		defer lock.Unlock()
	}
	var err error
	seen := map[string]bool{}
	for _, t := range targets {
		key := strings.ToLower(t.Login)
		if seen[key] {
			continue
		}
		seen[key] = true
		if why := r.checkTarget(t.Login); why != "" {
			r.printf("%s: skipped, %s\n", Quote(t.Login), why)
			sum.Outcomes = append(sum.Outcomes, Outcome{Login: t.Login, Skipped: why})
			continue
		}
		var o Outcome
		if yes {
			o, err = r.execute(ctx, t)
		} else {
			o, err = r.plan(ctx, t)
		}
		sum.Outcomes = append(sum.Outcomes, o)
		if err != nil {
			return sum, fmt.Errorf("respond to %s: %w", Quote(t.Login), err)
		}
	}
	if len(sum.Outcomes) == 0 {
		r.printf("no login to respond to\n")
	}
	if !yes && len(targets) > 0 {
		r.printf("\ndry run: nothing was changed. Run again with --yes to do it.\n")
	}
	return sum, nil
}

// How a run continues an incident.
const (
	newIncident      = iota
	resumeIncident   // respond's own open incident
	takeOverIncident // an open incident watch opened when it contained the login
	recheckIncident  // a complete incident whose registry block still stands
)

// incidentFor returns the incident a run for login continues: the login's
// open incident (respond's, or watch's, which respond takes over), else the
// closed incident whose block is still in the registry (a second run checks
// it again and changes nothing when all is done). Otherwise a new one.
func (r *Responder) incidentFor(ctx context.Context, login string) (store.Incident, int, error) {
	key, _ := store.NormalizeLogin(login)
	incs, err := r.cfg.Store.ListIncidents(ctx, store.IncidentFilter{Login: key})
	if err != nil {
		return store.Incident{}, newIncident, fmt.Errorf("list incidents: %w", err)
	}
	ours := func(inc store.Incident) bool {
		return inc.Login == key && (inc.Source == Source || inc.Source == watchSource)
	}
	for _, inc := range incs {
		if inc.Status == store.StatusOpen && ours(inc) {
			if inc.Source == Source {
				return inc, resumeIncident, nil
			}
			_, acts, err := r.cfg.Store.GetIncident(ctx, inc.ID)
			if err != nil {
				return store.Incident{}, newIncident, err
			}
			if _, ok := (journal{actions: acts}).find(StepStart, "taken over"); ok {
				return inc, resumeIncident, nil
			}
			return inc, takeOverIncident, nil
		}
	}
	b, blocked, err := r.cfg.Store.IsBlocked(ctx, login)
	if err != nil || !blocked || b.IncidentID == 0 {
		return store.Incident{}, newIncident, err
	}
	for _, inc := range incs {
		if inc.ID == b.IncidentID && ours(inc) {
			return inc, recheckIncident, nil
		}
	}
	return store.Incident{}, newIncident, nil
}

// watchSource is the incident source of watch --mode contain (watch.Source;
// watch imports this package).
const watchSource = "watch"

// linksFor returns the log's links plus those a previous run of the
// incident recorded (the log may have rotated since).
func linksFor(t Target, j journal) []queue.Link {
	links := slices.Clone(t.Links)
	have := map[string]bool{}
	for _, l := range links {
		have[l.QueueID] = true
	}
	add := func(prefix string, kind queue.LinkKind) {
		for _, id := range j.ids(StepHold, prefix) {
			if !have[id] {
				have[id] = true
				links = append(links, queue.Link{QueueID: id, Kind: kind})
			}
		}
	}
	add("held bounce", queue.LinkBounce)
	add("held filter-copy", queue.LinkFilterCopy)
	return links
}

func reasonCounts(sel []queue.Selected) string {
	n := map[string]int{}
	for _, m := range sel {
		n[m.Reason]++
	}
	var parts []string
	for _, r := range []string{"sasl_username", "filter-copy", "bounce"} {
		if n[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[r], r))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func ipStrings(ips []netip.Addr) []string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return s
}
