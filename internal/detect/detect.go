// Package detect decides, login by login, whether an SMTP AUTH login has
// been taken over. It is online: the correlator feeds it one observation at a
// time, in log order, and the verdict at any moment depends only on what it
// has seen so far. Time comes from the observations, never from the clock,
// so a replayed log and the live daemon reach the same verdicts.
//
// The signals, over a sliding window of event time (24 hours by default):
// envelope senders in domains that are not the login's own (spammers forge
// them freely, and many different ones are the clearest sign), client IPs
// the login had not used before the window, volume in the last hour against
// the login's own hourly baseline, remote rejections that speak of spam or
// reputation, bounces it caused, and failed logins before the success.
// Failed logins alone never make a verdict.
//
// The rules that read them are a table (rules.go): each named, with its
// points, the thresholds of the configuration it reads and the reason it
// prints. To change the detector, change one entry there and its case in
// TestRuleBoundaries.
package detect

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// Verdict is the detector's conclusion about a login.
type Verdict uint8

// Verdicts, in rising order of concern.
const (
	OK Verdict = iota
	Suspicious
	Compromised
)

func (v Verdict) String() string {
	switch v {
	case Suspicious:
		return "suspicious"
	case Compromised:
		return "compromised"
	}
	return "ok"
}

// Config holds the thresholds. Zero fields take the defaults of
// DefaultConfig (see Normalize).
type Config struct {
	Window           time.Duration // sliding window for the signals
	BaselineDays     int           // how far back the hourly baseline looks
	CompromisedScore int
	SuspiciousScore  int
	// Thresholds are the rules' thresholds (see the rule table).
	Thresholds
	// TrustedNets are client networks never counted as new (office NAT,
	// the webmail host).
	TrustedNets []netip.Prefix
	// MaxTracked caps per-login tracking (IPs, domains, window entries).
	MaxTracked int
	// Trace, when set, is called whenever the set of rules that fire for
	// a login changes, or its verdict does (for `scan --explain-login`).
	Trace func(s *State, e TraceEvent)
}

// TraceEvent is a change in what the rules say of a login.
type TraceEvent struct {
	At      time.Time
	Rules   []Fired // the rules that fire now, with their figures
	Score   int     // the score now
	Level   Verdict // the verdict the score and rules make now
	Verdict Verdict // the login's verdict (the strongest reached)
}

// DefaultConfig returns the thresholds saslguard ships with.
func DefaultConfig() Config {
	return Config{
		Window:           24 * time.Hour,
		BaselineDays:     7,
		CompromisedScore: 8,
		SuspiciousScore:  5,
		Thresholds:       DefaultThresholds(),
		MaxTracked:       20000,
	}
}

// Normalize fills zero fields with defaults.
func (c *Config) Normalize() {
	d := DefaultConfig()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.BaselineDays <= 0 {
		c.BaselineDays = d.BaselineDays
	}
	if c.CompromisedScore <= 0 {
		c.CompromisedScore = d.CompromisedScore
	}
	if c.SuspiciousScore <= 0 {
		c.SuspiciousScore = d.SuspiciousScore
	}
	c.Thresholds.normalize()
	if c.MaxTracked <= 0 {
		c.MaxTracked = d.MaxTracked
	}
}

func (c *Config) trusted(ip string) bool {
	if len(c.TrustedNets) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range c.TrustedNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Message is one message submitted by the login.
type Message struct {
	Time    time.Time
	IP      string
	Domain  string // envelope sender domain, lower case; "" for none
	Foreign bool   // the sender domain is not the login's own
	// Sender is the envelope sender address ("" for none or unknown): a
	// relay or an application repeats its few senders, forged spam varies
	// them. Only a hash of it is kept.
	Sender string
	// OwnAddress: Sender is the login's own address (the login itself,
	// when it is an address): never a forgery.
	OwnAddress bool
	// PriorFailures is how many failed logins (for any name) came from IP
	// before it first logged in as this login; the correlator sets it on
	// the first message from an IP.
	PriorFailures int
	// EarlierLogin is when IP first logged in as this login through another
	// service (IMAP, POP3), if it did: the takeover began there.
	EarlierLogin time.Time
	// SharedIP: several other logins of the organisation use IP (an office
	// NAT): it never dates the start of a takeover.
	SharedIP bool
	// Rcpts is the message's number of recipients (nrcpt); 0 counts as 1.
	Rcpts int
	// LogStart is the time of the log's first event (zero: unknown).
	LogStart time.Time
}

type obs struct {
	t          time.Time
	domain     string
	foreign    bool
	foreignNew bool
	fromNew    bool   // from an IP new in the window
	rcpts      int32  // recipients
	sender     uint64 // SenderKey of a foreign or unfamiliar sender counted in senders (else 0)
	// unfamiliar: an address of the login's own domains that it had not
	// sent as before the window (a colleague's, an invented one)
	unfamiliar bool
}

// SenderKey is the key the detector keeps for an envelope sender address:
// a 64-bit FNV-1a hash of it in lower case (ASCII), stable across runs so
// that a saved state keeps its meaning; 0 for "".
func SenderKey(addr string) uint64 {
	if addr == "" {
		return 0
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h ^= uint64(c)
		h *= 1099511628211
	}
	if h == 0 {
		h = 1
	}
	return h
}

type firstSeen struct {
	t  time.Time
	ip string
	// viaOther: first seen through another service's login (IMAP, POP3),
	// which dates the access itself
	viaOther bool
	shared   bool
	// msg is when IP first sent a message: the correlator counts its
	// prior failures up to then, even when t is an earlier IMAP login
	msg time.Time
}

// hourSlot is one hour of the baseline ring.
type hourSlot struct {
	hour  int32  // hours since 1970
	count uint16 // messages (saturating)
	rcpts uint16 // recipients (saturating)
}

// Snapshot is what the detector saw when it reached its strongest verdict.
type Snapshot struct {
	At              time.Time
	Score           int
	WindowMessages  int
	ForeignMessages int
	ForeignDomains  int
	NewIPs          int
	NewIPList       []string
	LastHour        int
	BaselinePerHour int
	// recipients in the last hour, and in the baseline's busiest hour
	LastHourRcpts, BaselineRcpts int
	HasHistory                   bool
	Rejections                   int
	Bounces                      int
	Failures                     int
	FailureIPs                   int
	PriorFailures                int
	// PriorOwn is the part of PriorFailures that tried this login's name
	// (those are in Failures too).
	PriorOwn         int
	FirstNewIP       string
	FirstNewIPAt     time.Time
	Start            time.Time
	TopForeign       []string
	MessagesBefore   int
	IPsBefore        int
	HoursBefore      float64
	WindowStart      time.Time
	ForeignOnlyNewIP int
	MessagesSince    int
	// Rules are the rules that fired, with their figures
	Rules []Fired
}

// State is the detector's memory of one login.
type State struct {
	first, last time.Time
	messages    int
	foreignAll  int       // messages with foreign senders, ever
	foreignFrom time.Time // the first of them

	ipFirst  map[string]time.Time // first use of each IP by this login
	origin   string               // the IP of the login's first message, if it is never new
	newIPs   []firstSeen          // IPs first used within the window, oldest first
	newHead  int
	priorFor map[string]int // failures before first use, for IPs in newIPs

	win      []obs // messages in the window, oldest first
	winHead  int
	hourHead int // index of the first message in the last hour
	minHead  int // index of the first message in the last minute
	domains  map[string]int
	foreign  int
	fNew     int
	// senders counts the window's foreign messages by SenderKey (those
	// with a known sender), senderMsgs is their sum
	senders    map[uint64]int32
	senderMsgs int
	// sendFirst: when the login first sent as each own-domain address
	// (bounded by MaxTracked); sendersFrom: senders are known from then
	// (zero: from the first message; later for a state saved without them)
	sendFirst   map[uint64]time.Time
	sendersFrom time.Time
	// the window's messages as unfamiliar own-domain addresses: their
	// distinct senders, how many, how many from new IPs
	unfSenders  map[uint64]int32
	unf, unfNew int
	// recipients in the window and in its last hour, and messages of the
	// last hour from IPs new in the window
	winRcpts, hourRcpts, hourNew int

	rej     []time.Time
	rejHead int
	bnc     []time.Time
	bncHead int
	fail    []failure
	failHd  int

	hours *[24 * 9]hourSlot // hourly counts for the baseline, made by the first message

	peakMinute, peakHour int

	fired uint64    // the rules that fired at the last evaluation, when traced
	ev    *evidence // the last evaluation's evidence (scratch)

	verdict Verdict
	score   int
	best    Snapshot
	start   time.Time

	priorSum int
	// forgedFrom marks the new IPs of the window that sent forged mail
	forgedFrom map[string]bool
	baseHour   int64
	baseVal    int
	baseRcpts  int
	baseHist   bool
	// rcptsFrom: recipients are counted in the hourly baseline from then
	// (zero: from the first message)
	rcptsFrom time.Time
}

type failure struct {
	t  time.Time
	ip string
}

// NewState returns an empty state.
func NewState() *State {
	return &State{}
}

// Verdict returns the strongest verdict reached so far. A compromised
// verdict stays: a takeover does not end because the spammer paused.
func (s *State) Verdict() Verdict { return s.verdict }

// Score returns the highest score reached.
func (s *State) Score() int { return s.score }

// Start returns the likely start of the compromise (zero unless compromised).
func (s *State) Start() time.Time { return s.start }

// Best returns the snapshot taken at the highest score.
func (s *State) Best() Snapshot { return s.best }

// Peaks returns the highest message counts seen in one minute and one hour.
func (s *State) Peaks() (minute, hour int) { return s.peakMinute, s.peakHour }

// Failure records a failed login for this name.
func (s *State) Failure(cfg *Config, t time.Time, ip string) {
	if len(s.fail)-s.failHd >= cfg.MaxTracked {
		s.failHd++
	}
	s.fail = append(s.fail, failure{t, ip})
	s.expire(cfg, t)
}

// Rejection records a remote rejection that speaks of spam or reputation.
func (s *State) Rejection(cfg *Config, t time.Time) (changed bool) {
	if len(s.rej)-s.rejHead < cfg.MaxTracked {
		s.rej = append(s.rej, t)
	}
	s.expire(cfg, t)
	return s.evaluate(cfg, t)
}

// Bounce records a bounce the login's mail caused.
func (s *State) Bounce(cfg *Config, t time.Time) (changed bool) {
	if len(s.bnc)-s.bncHead < cfg.MaxTracked {
		s.bnc = append(s.bnc, t)
	}
	s.expire(cfg, t)
	return s.evaluate(cfg, t)
}

// Message records a message and reports whether the verdict changed.
func (s *State) Message(cfg *Config, m Message) (changed bool) {
	t := m.Time
	if s.hours == nil {
		// the maps are made with the first message: a name seen only in
		// failed logins (brute force) costs little
		s.hours = new([24 * 9]hourSlot)
		s.ipFirst, s.domains = map[string]time.Time{}, map[string]int{}
		s.priorFor, s.forgedFrom = map[string]int{}, map[string]bool{}
	}
	if s.first.IsZero() {
		s.first = t
	}
	if t.After(s.last) {
		s.last = t
	}
	s.messages++
	if m.Foreign {
		s.foreignAll++
		if s.foreignFrom.IsZero() {
			s.foreignFrom = t
		}
	}
	isNew := false
	if m.IP != "" && !cfg.trusted(m.IP) {
		m.IP = newnessKey(m.IP)
		if seen, ok := s.ipFirst[m.IP]; !ok {
			if len(s.ipFirst) < cfg.MaxTracked {
				ft, via := t, false
				if e := m.EarlierLogin; !e.IsZero() && e.Before(t) && t.Sub(e) < cfg.Window {
					ft, via = e, true
				}
				s.ipFirst[m.IP] = ft
				if s.messages == 1 && m.PriorFailures == 0 && !m.LogStart.IsZero() && t.Sub(m.LogStart) < cfg.Window {
					// the first address of a login first seen within a
					// window of the log's start is new only against a
					// history the log does not hold: it is not judged on
					// it (a login first seen later, dormant until then,
					// is)
					s.origin = m.IP
				} else {
					s.newIPs = append(s.newIPs, firstSeen{ft, m.IP, via, m.SharedIP, t})
					s.priorFor[m.IP] = m.PriorFailures
					s.priorSum += m.PriorFailures
				}
			}
			isNew = m.IP != s.origin
		} else {
			isNew = m.IP != s.origin && !seen.Before(t.Add(-cfg.Window))
		}
	}
	o := obs{t: t, domain: m.Domain, foreign: m.Foreign, foreignNew: m.Foreign && isNew, fromNew: isNew,
		rcpts: int32(min(max(m.Rcpts, 1), 1<<20))}
	if m.Foreign {
		o.sender = SenderKey(m.Sender)
	} else if m.Sender != "" && !m.OwnAddress {
		k := SenderKey(m.Sender)
		if o.unfamiliar = s.unfamiliarSender(cfg, k, t); o.unfamiliar {
			o.sender = k
		}
	}
	if o.foreignNew && len(s.forgedFrom) < cfg.MaxTracked {
		s.forgedFrom[m.IP] = true
	}
	if len(s.win)-s.winHead >= cfg.MaxTracked {
		s.drop()
	}
	s.win = append(s.win, o)
	s.winRcpts += int(o.rcpts)
	s.hourRcpts += int(o.rcpts)
	if o.fromNew {
		s.hourNew++
	}
	if o.unfamiliar {
		s.unf++
		if o.fromNew {
			s.unfNew++
		}
		if !s.addSender(cfg.MaxTracked, o.sender) {
			s.win[len(s.win)-1].sender = 0 // not counted: not to be taken out
		}
		s.countUnfamiliar(cfg.MaxTracked, s.win[len(s.win)-1].sender)
	}
	if o.foreign {
		s.foreign++
		if o.foreignNew {
			s.fNew++
		}
		if _, ok := s.domains[o.domain]; ok || len(s.domains) < cfg.MaxTracked {
			s.domains[o.domain]++
		}
		if !s.addSender(cfg.MaxTracked, o.sender) {
			s.win[len(s.win)-1].sender = 0 // not counted: not to be taken out
		}
	}
	s.countHour(t, int(o.rcpts))
	s.expire(cfg, t)
	if n := len(s.win) - s.minHead; n > s.peakMinute {
		s.peakMinute = n
	}
	if n := len(s.win) - s.hourHead; n > s.peakHour {
		s.peakHour = n
	}
	return s.evaluate(cfg, t)
}

// addSender counts a foreign message's sender, up to limit distinct
// senders (a message whose sender is not counted counts in neither sum).
func (s *State) addSender(limit int, k uint64) bool {
	if k == 0 {
		return false
	}
	if s.senders == nil {
		s.senders = map[uint64]int32{}
	}
	if _, ok := s.senders[k]; ok || len(s.senders) < limit {
		s.senders[k]++
		s.senderMsgs++
		return true
	}
	return false
}

// unfamiliarSender records that the login sent as own-domain address k
// at t, and tells whether k is unfamiliar: first sent as within the window,
// by a login whose senders are known for a window before (at the log's
// start, or after a state without sender history was loaded, every
// address would be new).
func (s *State) unfamiliarSender(cfg *Config, k uint64, t time.Time) bool {
	if s.sendFirst == nil {
		s.sendFirst = map[uint64]time.Time{}
	}
	ft, ok := s.sendFirst[k]
	if !ok {
		if len(s.sendFirst) >= cfg.MaxTracked {
			return false
		}
		ft = t
		s.sendFirst[k] = t
	}
	from := s.first
	if s.sendersFrom.After(from) {
		from = s.sendersFrom
	}
	return !ft.Before(t.Add(-cfg.Window)) && ft.Sub(from) >= cfg.Window
}

// countUnfamiliar counts a distinct unfamiliar sender of the window.
func (s *State) countUnfamiliar(limit int, k uint64) {
	if k == 0 {
		return
	}
	if s.unfSenders == nil {
		s.unfSenders = map[uint64]int32{}
	}
	if _, ok := s.unfSenders[k]; ok || len(s.unfSenders) < limit {
		s.unfSenders[k]++
	}
}

// newnessKey is what is new or not about a client address: the address,
// or for IPv6 its /64 (privacy addresses change within it every few hours).
func newnessKey(ip string) string {
	if strings.IndexByte(ip, ':') < 0 {
		return ip // IPv4: no parse on every message
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// leaveHour takes a message out of the last hour's sums.
func (s *State) leaveHour(o obs) {
	s.hourRcpts -= int(o.rcpts)
	if o.fromNew {
		s.hourNew--
	}
}

func (s *State) countHour(t time.Time, rcpts int) {
	h := int32(t.Unix() / 3600)
	i := int(h) % len(s.hours)
	if i < 0 {
		i += len(s.hours) // a stamp before 1970 (a bad clock)
	}
	slot := &s.hours[i]
	if slot.hour != h {
		*slot = hourSlot{hour: h}
	}
	if slot.count < math.MaxUint16 {
		slot.count++
	}
	slot.rcpts = uint16(min(int(slot.rcpts)+rcpts, math.MaxUint16))
}

// baseline returns the highest hourly counts of messages and of recipients
// in the BaselineDays before the window, and whether the login has any
// history before the window.
func (s *State) baseline(cfg *Config, now time.Time) (msgs, rcpts int, hist bool) {
	winStart := now.Add(-cfg.Window)
	if s.first.IsZero() || !s.first.Before(winStart) || s.hours == nil {
		return 0, 0, false
	}
	hi := winStart.Unix() / 3600
	lo := hi - int64(cfg.BaselineDays*24)
	for _, sl := range s.hours {
		if int64(sl.hour) >= lo && int64(sl.hour) < hi {
			msgs, rcpts = max(msgs, int(sl.count)), max(rcpts, int(sl.rcpts))
		}
	}
	return msgs, rcpts, true
}

// drop removes the oldest window entry.
func (s *State) drop() {
	o := s.win[s.winHead]
	if s.hourHead <= s.winHead {
		s.leaveHour(o)
	}
	s.winRcpts -= int(o.rcpts)
	s.win[s.winHead] = obs{}
	s.winHead++
	if o.unfamiliar {
		s.unf--
		if o.fromNew {
			s.unfNew--
		}
		if n, ok := s.unfSenders[o.sender]; ok && o.sender != 0 {
			if n <= 1 {
				delete(s.unfSenders, o.sender)
			} else {
				s.unfSenders[o.sender] = n - 1
			}
		}
	}
	if o.foreign {
		s.foreign--
		if o.foreignNew {
			s.fNew--
		}
		if n := s.domains[o.domain]; n <= 1 {
			delete(s.domains, o.domain)
		} else {
			s.domains[o.domain] = n - 1
		}
	}
	if o.sender != 0 {
		if n, ok := s.senders[o.sender]; ok {
			if n <= 1 {
				delete(s.senders, o.sender)
			} else {
				s.senders[o.sender] = n - 1
			}
			s.senderMsgs--
		}
	}
	if s.hourHead < s.winHead {
		s.hourHead = s.winHead
	}
	if s.minHead < s.winHead {
		s.minHead = s.winHead
	}
}

// Trim lets go of what has left the window by now, for a login that may
// have gone quiet: its memory follows its window, not its busiest day. The
// correlator trims every login now and then, an hour behind its clock, so
// that a line that comes a little late sees the same window as without the
// trim (a later event's own expiry would have dropped the same entries).
func (s *State) Trim(cfg *Config, now time.Time) {
	if len(s.win)+len(s.newIPs)+len(s.rej)+len(s.bnc)+len(s.fail) == 0 {
		return
	}
	s.expire(cfg, now)
}

// expire moves the window's heads past entries older than it.
func (s *State) expire(cfg *Config, now time.Time) {
	cut := now.Add(-cfg.Window)
	for s.winHead < len(s.win) && s.win[s.winHead].t.Before(cut) {
		s.drop()
	}
	hourCut := now.Add(-time.Hour)
	for s.hourHead < len(s.win) && s.win[s.hourHead].t.Before(hourCut) {
		s.leaveHour(s.win[s.hourHead])
		s.hourHead++
	}
	minCut := now.Add(-time.Minute)
	for s.minHead < len(s.win) && s.win[s.minHead].t.Before(minCut) {
		s.minHead++
	}
	for s.newHead < len(s.newIPs) && s.newIPs[s.newHead].t.Before(cut) {
		s.priorSum -= s.priorFor[s.newIPs[s.newHead].ip]
		delete(s.priorFor, s.newIPs[s.newHead].ip)
		delete(s.forgedFrom, s.newIPs[s.newHead].ip)
		s.newIPs[s.newHead] = firstSeen{}
		s.newHead++
	}
	for s.rejHead < len(s.rej) && s.rej[s.rejHead].Before(cut) {
		s.rejHead++
	}
	for s.bncHead < len(s.bnc) && s.bnc[s.bncHead].Before(cut) {
		s.bncHead++
	}
	for s.failHd < len(s.fail) && s.fail[s.failHd].t.Before(cut) {
		s.fail[s.failHd] = failure{}
		s.failHd++
	}
	// compact the slices now and then so memory follows the window
	s.win, s.hourHead, s.minHead = compact(s.win, &s.winHead, s.hourHead, s.minHead)
	s.newIPs = compactSimple(s.newIPs, &s.newHead)
	s.rej = compactSimple(s.rej, &s.rejHead)
	s.bnc = compactSimple(s.bnc, &s.bncHead)
	s.fail = compactSimple(s.fail, &s.failHd)
}

func compact(w []obs, head *int, h, m int) ([]obs, int, int) {
	d := *head
	w = compactSimple(w, head)
	if *head == d {
		return w, h, m
	}
	return w, h - d, m - d
}

// compactSimple moves the live entries of w (from *head on) to its start
// once at least half of it is dead: each entry dropped pays for one copy.
func compactSimple[T any](w []T, head *int) []T {
	if *head < 16 || *head < len(w)/2 {
		return w
	}
	live := w[*head:]
	*head = 0
	if cap(w) > 4*len(live) {
		// far below its peak (a burst has left the window): let the
		// peak's array go, so that memory follows the window
		if len(live) == 0 {
			return nil
		}
		return append(make([]T, 0, max(2*len(live), 8)), live...)
	}
	n := copy(w, live)
	clear(w[n:])
	return w[:n]
}

// counts are the window's signals, cheap to compute on every message.
type counts struct {
	n, d, foreign, fNew, newIPs, lastHour, base, rej, bnc, fail, prior int
	hist                                                               bool
	// recipients in the window, in the last hour and the baseline's
	// busiest hour; messages of the last hour from IPs new in the window
	winRcpts, hourRcpts, baseRcpts, hourNew int
	// rcptHist: the recipient baseline covers a day or more
	rcptHist bool
	// foreignNorm: before the window the login sent mostly as other
	// domains' addresses (a ticketing system sending as its customers);
	// ownHabit: it sent mostly as its own, over two days at least
	foreignNorm, ownHabit bool
	// senders: distinct senders of the window's foreign messages whose
	// sender is known, senderMsgs: those messages
	senders, senderMsgs int
	// unf: messages as own-domain addresses the login had no history of,
	// unfNew: those from new IPs, unfSenders: their distinct addresses
	unf, unfNew, unfSenders int
}

func (s *State) counts(cfg *Config, now time.Time) counts {
	lastHour := len(s.win) - s.hourHead
	// the baseline (a walk over the hourly counts) matters to the score
	// only from volumeFloor messages in the last hour: most logins never
	// get there, and would otherwise walk it at nearly every message
	t := &cfg.Thresholds
	if h := now.Unix() / 3600; h != s.baseHour && (lastHour >= min(t.ForgedVolumeFloor, t.VolumeFloor, t.LoudVolume) || lastHour >= t.RcptMessages && s.hourRcpts >= t.RcptFloor) {
		s.baseHour = h
		s.baseVal, s.baseRcpts, s.baseHist = s.baseline(cfg, now)
	}
	winStart := now.Add(-cfg.Window)
	// a baseline needs a day of history before the window: on a login's
	// second day in the log it would hold only minutes
	dayBefore := winStart.Add(-24 * time.Hour)
	own, foreign := s.habit(winStart)
	return counts{
		n:        len(s.win) - s.winHead,
		d:        len(s.domains),
		foreign:  s.foreign,
		fNew:     s.fNew,
		newIPs:   len(s.newIPs) - s.newHead,
		lastHour: lastHour,
		base:     s.baseVal,
		hist:     s.baseHist && s.first.Before(dayBefore),
		rej:      len(s.rej) - s.rejHead,
		bnc:      len(s.bnc) - s.bncHead,
		fail:     len(s.fail) - s.failHd,
		prior:    s.priorSum,

		winRcpts: s.winRcpts, hourRcpts: s.hourRcpts, baseRcpts: s.baseRcpts, hourNew: s.hourNew,
		rcptHist:    s.baseHist && s.rcptBaseFrom().Before(dayBefore),
		foreignNorm: foreign,
		ownHabit:    own,
		senders:     len(s.senders),
		senderMsgs:  s.senderMsgs,
		unf:         s.unf, unfNew: s.unfNew, unfSenders: len(s.unfSenders),
	}
}

// habit tells how the login sent before the window (which starts at
// winStart), over two days or more: mostly as its own domains (10 messages
// at least), or mostly as addresses of other domains (50 at least; a
// takeover that has run for a window is not a habit). Forged-looking
// senders are then its habit, not a sign.
func (s *State) habit(winStart time.Time) (own, foreign bool) {
	before := s.messages - (len(s.win) - s.winHead)
	foreignBefore := s.foreignAll - s.foreign
	twoDays := winStart.Add(-48 * time.Hour)
	own = before >= 10 && foreignBefore*2 < before && s.first.Before(twoDays)
	foreign = before >= 50 && foreignBefore*2 >= before && !s.foreignFrom.IsZero() && s.foreignFrom.Before(twoDays)
	return own, foreign
}

// rcptBaseFrom is when the recipient baseline begins: the login's first
// message, or when recipients began to be counted (a state saved by a
// version that did not count them).
func (s *State) rcptBaseFrom() time.Time {
	if s.rcptsFrom.After(s.first) {
		return s.rcptsFrom
	}
	return s.first
}

// verdictOf is the verdict a score and the rules that fired make: the
// compromised score with a Sending rule, the suspicious score with a
// Sending or Notable rule.
func verdictOf(cfg *Config, score int, fired uint64) Verdict {
	switch {
	case score >= cfg.CompromisedScore && fired&sendingMask != 0:
		return Compromised
	case score >= cfg.SuspiciousScore && fired&(sendingMask|notableMask) != 0:
		return Suspicious
	}
	return OK
}

// evaluate scores the window and updates the verdict. The full snapshot,
// which walks the window, is taken only when the verdict or the score
// rises, or the evidence has grown by a quarter since the last one.
func (s *State) evaluate(cfg *Config, now time.Time) bool {
	c := s.counts(cfg, now)
	if c.n == 0 {
		return false
	}
	if s.ev == nil {
		s.ev = new(evidence)
	}
	e := s.ev // kept with the state: the rules' calls would move it to the heap at every message
	derive(&cfg.Thresholds, c, e)
	sc, fired := apply(&cfg.Thresholds, e)
	v := verdictOf(cfg, sc, fired)
	changed := v > s.verdict
	if cfg.Trace != nil && (fired != s.fired || changed) {
		s.fired = fired
		tv := s.verdict
		if changed {
			tv = v
		}
		cfg.Trace(s, TraceEvent{At: now, Rules: firedRules(&cfg.Thresholds, e, fired), Score: sc, Level: v, Verdict: tv})
	}
	grown := sc >= s.score && c.n*4 >= s.best.WindowMessages*5 && s.verdict == v
	if !changed && sc <= s.score && !grown {
		return false
	}
	if s.verdict == Compromised && v != Compromised {
		return false // keep the evidence of the takeover
	}
	snap := s.snapshot(cfg, now)
	snap.Score = sc
	snap.Rules = firedRules(&cfg.Thresholds, e, fired)
	if changed {
		s.verdict = v
		if v == Compromised {
			s.start = snap.Start
		}
	}
	if s.verdict == Compromised {
		// The start stays what it was when the verdict was reached: a live
		// daemon alerts then, and a replay must agree with it.
		snap.Start = s.start
		snap.recountBefore(s)
		if !changed {
			// and so does what the login did before it: the snapshot that
			// fixed the start counted it (the window has moved on since)
			snap.MessagesBefore, snap.IPsBefore, snap.HoursBefore = s.best.MessagesBefore, s.best.IPsBefore, s.best.HoursBefore
		}
	}
	s.best = snap
	if sc > s.score {
		s.score = sc
	}
	return changed
}

// recountBefore recomputes the activity before the fixed start.
func (sn *Snapshot) recountBefore(s *State) {
	sn.MessagesSince = max(sn.WindowMessages-s.windowBefore(sn.Start), 0)
}

// windowBefore counts the window's messages before t.
func (s *State) windowBefore(t time.Time) int {
	before := 0
	for _, o := range s.win[s.winHead:] {
		if !o.t.Before(t) {
			break
		}
		before++
	}
	return before
}

func (s *State) snapshot(cfg *Config, now time.Time) Snapshot {
	n := len(s.win) - s.winHead
	base, baseR, hist := s.baseline(cfg, now)
	snap := Snapshot{
		At:               now,
		WindowMessages:   n,
		ForeignMessages:  s.foreign,
		ForeignDomains:   len(s.domains),
		NewIPs:           len(s.newIPs) - s.newHead,
		LastHour:         len(s.win) - s.hourHead,
		BaselinePerHour:  base,
		LastHourRcpts:    s.hourRcpts,
		BaselineRcpts:    baseR,
		HasHistory:       hist,
		Rejections:       len(s.rej) - s.rejHead,
		Bounces:          len(s.bnc) - s.bncHead,
		Failures:         len(s.fail) - s.failHd,
		ForeignOnlyNewIP: s.fNew,
		WindowStart:      now.Add(-cfg.Window),
	}
	ips := map[string]bool{}
	for _, f := range s.fail[s.failHd:] {
		if len(ips) > 1000 {
			break
		}
		ips[f.ip] = true
	}
	snap.FailureIPs = len(ips)
	// the likely start: the first use of a new IP in the window; the first
	// foreign message when no IP is new.
	var firstUse map[string]time.Time
	for _, f := range s.newIPs[s.newHead:] {
		if p := s.priorFor[f.ip]; p > 0 {
			snap.PriorFailures += p
			if firstUse == nil {
				firstUse = map[string]time.Time{}
			}
			firstUse[f.ip] = f.msg
		}
		if len(snap.NewIPList) < 20 {
			snap.NewIPList = append(snap.NewIPList, f.ip)
		}
	}
	for _, f := range s.fail[s.failHd:] {
		if t, ok := firstUse[f.ip]; ok && !f.t.After(t) {
			snap.PriorOwn++
		}
	}
	snap.PriorOwn = min(snap.PriorOwn, snap.PriorFailures)
	// The likely start: the first use of a new IP that sent forged mail or
	// had failed logins before; else the first new IP; else the first
	// forged message; else the window's first message.
	if snap.NewIPs > 0 {
		f := s.newIPs[s.newHead]
		found := false
		for _, x := range s.newIPs[s.newHead:] {
			if (s.forgedFrom[x.ip] || s.priorFor[x.ip] > 0) && (!found || x.t.Before(f.t)) {
				f, found = x, true
			}
		}
		// Attackers often test the login from one address shortly before
		// the run: a new IP that appeared within the hour before it joins,
		// unless the run's own first access is dated by an IMAP/POP3 login.
		for _, x := range s.newIPs[s.newHead:] {
			// only against an established history: without one, the
			// login's own first address is as new as the attacker's
			if !f.viaOther && !x.shared && x.t.Before(f.t) && f.t.Sub(x.t) <= time.Hour &&
				s.first.Before(x.t.Add(-time.Hour)) {
				f = x
				break
			}
		}
		snap.FirstNewIP, snap.FirstNewIPAt, snap.Start = f.ip, f.t, f.t
	} else {
		for _, o := range s.win[s.winHead:] {
			if o.foreign {
				snap.Start = o.t
				break
			}
		}
		if snap.Start.IsZero() {
			snap.Start = s.win[s.winHead].t
		}
	}
	snap.TopForeign = topDomains(s.domains, 5)
	// activity before the start: for "before 14:02 it sent 3 messages/hour"
	before, ips2 := s.windowBefore(snap.Start), 0
	snap.MessagesSince = n - before
	older := s.messages - n // messages already out of the window
	snap.MessagesBefore = before + older
	for _, t := range s.ipFirst {
		if t.Before(snap.Start) {
			ips2++
		}
	}
	snap.IPsBefore = ips2
	if !s.first.IsZero() && snap.Start.After(s.first) {
		snap.HoursBefore = snap.Start.Sub(s.first).Hours()
	}
	return snap
}

// topDomains returns up to k domains with the highest counts (ties by name).
func topDomains(m map[string]int, k int) []string {
	type dc struct {
		d string
		c int
	}
	var top []dc
	for d, c := range m {
		top = append(top, dc{d, c})
		for i := len(top) - 1; i > 0; i-- {
			a, b := top[i-1], top[i]
			if b.c > a.c || b.c == a.c && b.d < a.d {
				top[i-1], top[i] = b, a
			}
		}
		if len(top) > k {
			top = top[:k]
		}
	}
	out := make([]string, len(top))
	for i, x := range top {
		out[i] = x.d
	}
	return out
}

// Reasons renders a snapshot as sentences a person reads at a glance: what
// the login sent and since when, then the reason of each rule that fired,
// in the table's order (rules that say the same say it once).
func Reasons(sn Snapshot, loc *time.Location) []string {
	if loc == nil {
		loc = time.UTC
	}
	var r []string
	if sn.WindowMessages > 0 {
		msg := fmt.Sprintf("%d messages in %s", sn.MessagesSince, humanSpan(sn.At.Sub(maxTime(sn.Start, sn.WindowStart))))
		if sn.NewIPs > 0 {
			msg += fmt.Sprintf(" from %d new IP%s", sn.NewIPs, plural(sn.NewIPs))
		}
		if sn.LastHour > 0 {
			msg += fmt.Sprintf(" (%d in the last hour)", sn.LastHour)
		}
		r = append(r, msg)
	}
	if !sn.Start.IsZero() {
		if sn.MessagesBefore > 0 && sn.HoursBefore > 0 {
			rate := float64(sn.MessagesBefore) / max(sn.HoursBefore, 1)
			r = append(r, fmt.Sprintf("before %s it sent %s messages/hour from %d IP%s",
				sn.Start.In(loc).Format("Jan 2 15:04"), fmtRate(rate), sn.IPsBefore, plural(sn.IPsBefore)))
		} else {
			r = append(r, fmt.Sprintf("no activity before %s in the log", sn.Start.In(loc).Format("Jan 2 15:04")))
		}
	}
	seen := map[string]bool{}
	for i := range sn.Rules {
		f := &sn.Rules[i]
		k, ok := ruleIndex[f.Name]
		if !ok || rules[k].reason == nil {
			continue // a rule of another version, in a saved state
		}
		if s := rules[k].reason(&sn, f); s != "" && !seen[s] {
			seen[s] = true
			r = append(r, s)
		}
	}
	return r
}

// Figure returns the value of the named figure, 0 when absent.
func (f *Fired) Figure(name string) int {
	for _, x := range f.Figures {
		if x.Name == name {
			return x.Value
		}
	}
	return 0
}

// foreignReason names the window's foreign sender domains.
func foreignReason(sn *Snapshot, _ *Fired) string {
	if sn.ForeignMessages == 0 {
		return ""
	}
	s := fmt.Sprintf("%d with sender domains not its own (%d domain%s", sn.ForeignMessages, sn.ForeignDomains, plural(sn.ForeignDomains))
	if len(sn.TopForeign) > 0 {
		s += ": " + strings.Join(sn.TopForeign, ", ")
		if sn.ForeignDomains > len(sn.TopForeign) {
			s += ", ..."
		}
	}
	return s + ")"
}

// newIPsReason names the window's new client IPs.
func newIPsReason(sn *Snapshot, f *Fired) string {
	n := f.Figure("new_ips")
	s := fmt.Sprintf("%d client IP%s new in the window", n, plural(n))
	if k := min(len(sn.NewIPList), 5); k > 0 {
		s += ": " + strings.Join(sn.NewIPList[:k], ", ")
		if n > k {
			s += ", ..."
		}
	}
	return s
}

// volumeReason compares the last hour with the login's baseline.
func volumeReason(sn *Snapshot, f *Fired) string {
	if !sn.HasHistory {
		return fmt.Sprintf("%d messages in the last hour, and no day of history to compare with", f.Figure("last_hour"))
	}
	return fmt.Sprintf("%d messages in the last hour against a baseline of at most %d/hour", f.Figure("last_hour"), f.Figure("baseline_per_hour"))
}

func rcptVolumeReason(sn *Snapshot, f *Fired) string {
	if !sn.HasHistory {
		return fmt.Sprintf("%d recipients in the last hour, and no day of history to compare with", f.Figure("last_hour_rcpts"))
	}
	return fmt.Sprintf("%d recipients in the last hour against a baseline of at most %d/hour", f.Figure("last_hour_rcpts"), f.Figure("baseline_rcpts"))
}

func burstReason(_ *Snapshot, f *Fired) string {
	return fmt.Sprintf("a burst of %d messages in the last hour from %d new IPs", f.Figure("last_hour"), f.Figure("new_ips"))
}

func forgedNewReason(_ *Snapshot, f *Fired) string {
	n := f.Figure("forged_from_new_ips")
	return fmt.Sprintf("%d message%s with foreign senders from new IPs", n, plural(n))
}

func rejectionsReason(_ *Snapshot, f *Fired) string {
	return fmt.Sprintf("%d remote rejections for spam or reputation", f.Figure("rejections"))
}

// failedReason counts failed logins for this name, and for other names
// from the addresses that then logged in as it (each attempt once).
func failedReason(sn *Snapshot, _ *Fired) string {
	f := sn.Failures + sn.PriorFailures - sn.PriorOwn
	if f <= 0 {
		return ""
	}
	s := fmt.Sprintf("%d failed logins", f)
	if sn.FailureIPs > 0 {
		s += fmt.Sprintf(" from %d IP%s", sn.FailureIPs, plural(sn.FailureIPs))
	}
	if sn.FirstNewIP != "" {
		s += ", then success from " + sn.FirstNewIP
	}
	return s
}

func fmtRate(r float64) string {
	if r < 0.1 {
		return "under 0.1"
	}
	if r >= 10 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func humanSpan(d time.Duration) string {
	switch {
	case d < 0:
		return "0 s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	default:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
}
