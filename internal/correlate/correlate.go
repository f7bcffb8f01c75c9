// Package correlate turns the stream of events into messages (per queue id,
// keyed by host, followed across content-filter hops and into the bounces
// they cause) and per-login accounts of what each SMTP AUTH login did, and
// feeds the detector as it goes.
//
// Memory follows what is open (queue ids in flight, logins), not the size of
// the log: a message is finished when Postfix removes it, and one that never
// sees "removed" (still queued when the log ends, or its lines rotated away)
// expires from the working set after Config.Expire of event time.
package correlate

import (
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/event"
)

// Config says what is the organisation's own and how much to keep.
type Config struct {
	// OwnDomains are the organisation's mail domains (lower case). When
	// empty they are inferred from the logins' own domains and from the
	// recipients delivered locally.
	OwnDomains []string
	Detect     detect.Config
	// MaxList caps the lists in the output (queue ids, IPs, domains).
	MaxList int
	// Expire is how long an open message may go without a line before it
	// leaves the working set.
	Expire time.Duration
	// MaxNames caps how many login names seen only in failed logins are
	// tracked; the rest are counted.
	MaxNames int
	// OnVerdict, when set, is called (from Add) each time a login's verdict
	// rises, with the time of the event that raised it: watch alerts on it.
	OnVerdict func(a *Account, from, to detect.Verdict, at time.Time)
	// OnEvidence, when set, is called for each further message of a login
	// already compromised (watch re-alerts after a cooldown).
	OnEvidence func(a *Account, at time.Time)
}

func (c *Config) normalize() {
	c.Detect.Normalize()
	if c.MaxList <= 0 {
		c.MaxList = 50
	}
	if c.Expire <= 0 {
		c.Expire = 10 * 24 * time.Hour
	}
	if c.MaxNames <= 0 {
		c.MaxNames = 50000
	}
}

// Origin says how a message entered the queue.
type Origin uint8

// Origins.
const (
	Unknown    Origin = iota // first seen in the middle of its life
	Auth                     // smtpd with SASL login
	Unauth                   // smtpd without login
	Local                    // pickup (sendmail command)
	Bounce                   // a notification Postfix made
	FilterCopy               // re-queued by a content filter
	Requeued                 // re-queued with postsuper -r
)

// skey names an smtpd process: host (by hash) and pid.
type skey struct {
	host uint64
	pid  int
}

type rcpt struct {
	addr   string
	status string
	reply  string // the remote reply of a deferral or bounce
	spam   bool   // a remote rejection for spam was counted for it
}

// Recipient is a recipient of a message and its latest outcome.
type Recipient struct {
	Address, Status, Reply string
}

// Recipients returns the tracked recipients of an authenticated message
// (up to 64) with their latest outcome.
func (m *Message) Recipients() []Recipient {
	out := make([]Recipient, len(m.rcpts))
	for i, r := range m.rcpts {
		out[i] = Recipient{r.addr, r.status, r.reply}
	}
	return out
}

// Message is one queued message.
type Message struct {
	k          qkey
	Host       string
	Acct       *Account
	Origin     Origin
	ClientIP   string
	PID        int
	Sender     string
	HasSender  bool
	Size       int64
	Nrcpt      int
	MessageID  string
	First      time.Time
	Last       time.Time
	Foreign    bool
	rcpts      []rcpt
	moreStatus map[string]int // outcomes of recipients past the cap
	observed   bool
	held       bool
	// priorFailures: failed logins from ClientIP before its first login as Acct
	priorFailures int
	newIP         bool   // the first message of its login from ClientIP
	sharedIP      bool   // ClientIP was used by several other logins before
	hopped        bool   // handed to a content filter: its copy carries the outcomes
	seq           uint64 // which opening of this struct (messages are reused)
}

const maxRcptTracked = 64

// maxAddrs caps the client addresses counted across all logins.
const maxAddrs = 200000

// maxAddr caps the length of a kept address (RFC 5321 allows 256 octets in
// a path; what is longer is hostile).
const maxAddr = 320

type session struct {
	host string
	acct *Account
	ip   string
	last time.Time
}

// Correlator consumes events in log order. It is not safe for concurrent use.
type Correlator struct {
	cfg      Config
	own      map[string]bool // configured own domains
	inferred map[string]bool // own domains learnt from the log
	// bareSenders counts, for each sender domain, the logins without a
	// domain (jordy) that sent as it; bareLogins those that sent at all
	bareSenders map[string]int
	bareLogins  int
	msgs        map[qkey]*Message
	// light holds unauthenticated messages (but loopback re-injections),
	// which need no detail: queue key to first time (unix seconds)
	light    map[qkey]int64
	hosts    map[uint64]string // host names by hash
	accounts []*Account        // in the order they were first seen
	// byHash finds accounts by the hash of the (lower-case) login that
	// Prepare made in the parallel stage, chained through Account.sameHash:
	// a lookup in the sequential stage hashes no string
	byHash   map[uint64]*Account
	sessions map[skey]*session
	ipFail   addrCounts // failed logins from each client IP
	ipLogins addrCounts // how many logins used each client IP
	spare    []*Message // finished messages, for reuse

	failCur, failPrev map[failKey]*failSeen
	failGen           int64

	now, nextSweep time.Time
	begin          time.Time // the first event's time: where the log's history starts

	// An excerpt (grep sasl_username, a paste) holds smtpd's client= lines
	// without qmgr's from= lines, where a message is counted. A login's
	// message on a host whose qmgr lines the log has not shown waits in
	// pending (oldest first) until excerptWait of event time has passed
	// or the log ends; if by then the host has still shown none, the host
	// is read as an excerpt: its messages count at their client line.
	pending  []pendingMsg
	pendHead int
	qmgrSeen map[uint64]bool // hosts with a qmgr from= line of a tracked message
	qmgrLast uint64          // the last host found in qmgrSeen (most logs have one)
	qmgrAny  bool            // qmgrLast is set
	excerpt  map[uint64]bool // hosts read as an excerpt
	opened   uint64          // messages opened so far (Message.seq)

	Unauth UnauthStats
	Stats  Stats
}

// Stats counts what the correlator saw and dropped.
type Stats struct {
	Messages        int `json:"messages"`                     // messages opened
	Orphans         int `json:"orphans"`                      // lines for a queue id whose start was not in the log
	Expired         int `json:"expired"`                      // messages that left the working set without "removed"
	OpenAtEnd       int `json:"open_at_end"`                  // still queued when the log ends
	UntrackedNames  int `json:"untracked_names"`              // failed-login names past Config.MaxNames
	Suppressed      int `json:"journal_suppressed"`           // lines the journal suppressed (lost evidence)
	PeakOpen        int `json:"peak_open"`                    // most messages open at once
	AuthFailures    int `json:"auth_failures"`                // failed logins seen
	NamelessFailure int `json:"auth_failures_nameless"`       // failed logins whose name the log did not give
	AuthNoLogin     int `json:"auth_without_login,omitempty"` // authenticated messages whose log line names no login (Exim without server_set_id)
}

// UnauthStats describes mail that came without a login, so that "nothing
// flagged" is not read as "all clear" when spam came another way.
type UnauthStats struct {
	Messages       int // via smtpd without AUTH
	Local          int // via pickup (local sendmail)
	Outbound       int // their recipients handed to a remote relay
	ForeignSenders int // of those messages, with a sender domain not the organisation's
	TopClients     *Counter
	TopSenders     *Counter
}

// New returns a correlator.
func New(cfg Config) *Correlator {
	cfg.normalize()
	c := &Correlator{
		cfg:      cfg,
		own:      map[string]bool{},
		inferred: map[string]bool{},
		msgs:     map[qkey]*Message{},
		light:    map[qkey]int64{},
		hosts:    map[uint64]string{},
		byHash:   map[uint64]*Account{},
		sessions: map[skey]*session{},
		ipFail:   newAddrCounts(maxAddrs),
		ipLogins: newAddrCounts(maxAddrs),
		qmgrSeen: map[uint64]bool{},
		excerpt:  map[uint64]bool{},
	}
	for _, d := range cfg.OwnDomains {
		c.own[strings.ToLower(strings.TrimSpace(d))] = true
	}
	c.Unauth.TopClients = NewCounter(1000)
	c.Unauth.TopSenders = NewCounter(1000)
	return c
}

// Add consumes one event. Its strings may point into a reader's buffer: Add
// copies what it keeps.
func (c *Correlator) Add(ev *event.Event) {
	Prepare(ev)
	if ev.Time.After(c.now) {
		c.now = ev.Time
	}
	if c.begin.IsZero() && ev.Kind != event.None {
		c.begin = ev.Time
	}
	// the working set is swept once an hour of event time, as of the hour
	// that began: what a sweep drops depends on which hour the log has
	// reached, not on which line took it there (the scan's parse stage
	// leaves out lines the correlator would ignore; see Skipper)
	if c.nextSweep.IsZero() {
		c.nextSweep = c.now.Truncate(time.Hour).Add(time.Hour)
	} else if !c.now.Before(c.nextSweep) {
		at := c.now.Truncate(time.Hour)
		c.sweep(at)
		c.nextSweep = at.Add(time.Hour)
	}
	if c.pendHead < len(c.pending) {
		c.settle(c.now.Unix(), false)
	}
	switch ev.Kind {
	case event.Client:
		c.client(ev)
	case event.From:
		c.from(ev)
	case event.Arrival:
		// Exim says in one line what Postfix says in a client (or
		// pickup) line and a qmgr from= line
		if localArrival(ev) {
			c.pickup(ev)
		} else {
			c.client(ev)
		}
		if m := c.lookup(ev); m != nil {
			if m.MessageID == "" && ev.MessageID != "" {
				m.MessageID = clip(ev.MessageID, 256)
			}
			c.from(ev)
		}
	case event.Delivery:
		c.delivery(ev)
	case event.Removed:
		k := ev.QKey
		if m := c.msgs[k]; m != nil {
			c.finish(m)
		} else {
			delete(c.light, k)
		}
	case event.Notify:
		c.notify(ev)
	case event.Expired:
		if m := c.lookup(ev); m != nil {
			m.Last = ev.Time
		}
	case event.Pickup:
		c.pickup(ev)
	case event.MessageID:
		if m := c.lookup(ev); m != nil && m.MessageID == "" {
			m.MessageID = clip(ev.MessageID, 256)
		}
	case event.AuthFailure:
		c.authFailure(ev)
	case event.Login:
		// IMAP/POP3 logins are evidence about logins already known from
		// SMTP (the first access of an attacker who reads, then sends);
		// mailbox users who never send are not tracked
		if ev.Login != "" {
			if a := c.find(ev.Login, ev.LoginHash); a != nil {
				a.OtherLogins += max(ev.Count, 1)
				a.touch(ev.Time)
				if ip, isNew := a.OtherIPs.Add(ev.ClientIP, 1); isNew && len(a.otherFirst) < 1000 {
					if a.otherFirst == nil {
						a.otherFirst = map[string]time.Time{}
					}
					a.otherFirst[ip] = ev.Time
				}
			}
		}
	case event.Reject:
		c.reject(ev)
	case event.Hold:
		if m := c.lookup(ev); m != nil {
			m.held = true
		}
	case event.Disconnect:
		delete(c.sessions, skey{ev.HostHash, ev.PID})
	case event.Suppressed:
		c.Stats.Suppressed += ev.Count
	}
}

// lookup finds the message of an event, opening an orphan when its start
// was not in the log.
func (c *Correlator) lookup(ev *event.Event) *Message {
	if ev.QID == "" {
		return nil
	}
	k := ev.QKey
	m := c.msgs[k]
	if m == nil {
		if _, ok := c.light[k]; ok {
			return nil
		}
		m = c.open(ev, ev.QKey, Unknown)
		c.Stats.Orphans++
	}
	m.Last = ev.Time
	return m
}

type qkey = event.QKey

// key returns the map key of another queue id (NewQID, OrigQID) on the
// event's host; the event's own is ev.QKey, which Prepare made in the
// parallel stage. Add prepares every event first.
func key(ev *event.Event, qid string) qkey { return event.MakeQKey(ev.HostHash, qid) }

// hostName returns the correlator's own copy of the event's host name
// (map keys and kept fields must not point into the reader's buffers).
func (c *Correlator) hostName(ev *event.Event) string {
	h := ev.HostHash
	host, ok := c.hosts[h]
	if !ok {
		host = strings.Clone(ev.Host)
		if len(c.hosts) < 65536 {
			c.hosts[h] = host
		}
	}
	return host
}

func (c *Correlator) open(ev *event.Event, k qkey, o Origin) *Message {
	var m *Message
	if n := len(c.spare); n > 0 {
		m, c.spare = c.spare[n-1], c.spare[:n-1]
	} else {
		m = new(Message)
	}
	rc := m.rcpts
	c.opened++
	*m = Message{k: k, Host: c.hostName(ev), Origin: o, First: ev.Time, Last: ev.Time, rcpts: rc, seq: c.opened}
	c.msgs[k] = m
	c.Stats.Messages++
	if n := len(c.msgs) + len(c.light); n > c.Stats.PeakOpen {
		c.Stats.PeakOpen = n
	}
	return m
}

func (c *Correlator) client(ev *event.Event) {
	if ev.QID == "" {
		return
	}
	if ev.Login == "" && ev.Method != "" {
		// authenticated, but the log names no login (an Exim
		// authenticator without server_set_id): counted as
		// unauthenticated mail, and said
		c.Stats.AuthNoLogin++
	}
	k := ev.QKey
	if old := c.msgs[k]; old != nil {
		// a short queue id reused: the old message's end was not logged
		c.finish(old)
	}
	if isLight(ev) {
		c.Unauth.Messages++
		c.Unauth.TopClients.Add(ev.ClientIP, 1)
		c.light[k] = ev.Time.Unix()
		c.hostName(ev) // so that a snapshot can name the host
		return
	}
	delete(c.light, k)
	origin := Unauth
	if ev.Login != "" {
		origin = Auth
	}
	m := c.open(ev, ev.QKey, origin)

	m.PID = ev.PID
	if ev.OrigQID != "" {
		if parent := c.msgs[key(ev, ev.OrigQID)]; parent != nil && parent.Acct != nil && ev.Login == "" {
			m.Acct, m.Origin = parent.Acct, FilterCopy
			parent.Acct.FilterCopies++
			return
		}
	}
	if ev.Login == "" {
		// unauthenticated: counted now; the address is kept only for the
		// loopback re-injections of a content filter (see hop)
		c.Unauth.Messages++
		m.observed = true
		ip, _ := c.Unauth.TopClients.Add(ev.ClientIP, 1)
		if ev.LoopbackClient {
			m.ClientIP = ip
		}
		return
	}
	a := c.account(ev.Login, ev.LoginHash, ev.Time)
	if a == nil {
		return
	}
	ip, isNew := a.IPs.Add(ev.ClientIP, 1)
	m.ClientIP = ip
	m.Acct = a
	a.touch(ev.Time)
	if a.Method == "" && ev.Method != "" {
		a.Method = clip(ev.Method, 32)
	}
	sk := skey{ev.HostHash, ev.PID}
	s := c.sessions[sk]
	if s == nil || s.acct != a || s.ip != ev.ClientIP {
		s = &session{host: m.Host, acct: a, ip: m.ClientIP}
		c.sessions[sk] = s
		a.Sessions++
	}
	s.last = ev.Time
	if d := domainOf(a.Login); d != "" && len(c.own) == 0 && !c.inferred[d] && len(c.inferred) < 10000 {
		c.inferred[d] = true
	}
	if isNew {
		m.newIP = true
		m.sharedIP = c.ipLogins.add(ev.ClientIP, 1) >= 3
		pf, _ := c.ipFail.get(ev.ClientIP)
		m.priorFailures = int(pf)
		if m.priorFailures > 0 {
			a.FailuresFromItsIPs += m.priorFailures
		}
		a.Nets.Add(network(ev.ClientIP), 1)
	}
	if h := ev.HostHash; !c.hasQmgr(h) {
		if c.excerpt[h] {
			c.observeExcerpt(m)
		} else {
			c.pending = append(c.pending, pendingMsg{m: m, seq: m.seq, due: ev.Time.Unix() + excerptWait})
		}
	}
}

func (c *Correlator) from(ev *event.Event) {
	m := c.lookup(ev)
	if m == nil {
		return
	}
	if !c.hasQmgr(ev.HostHash) {
		c.sawQmgr(ev.HostHash)
	}
	if !m.HasSender && m.Acct != nil {
		m.Sender = clip(ev.Sender, maxAddr)
		m.HasSender = true
	}
	m.Size = ev.Size
	if ev.Nrcpt > 0 {
		m.Nrcpt = ev.Nrcpt
	}
	if m.observed {
		return
	}
	m.observed = true
	switch {
	case m.Acct != nil && m.Origin == Auth:
		c.observe(m, m.First, ev.SenderDomain)
	case m.Origin == Local:
		c.Unauth.Local++
	}
}

// observe counts an authenticated message for its login and shows it to the
// detector.
func (c *Correlator) observe(m *Message, t time.Time, dom string) {
	a := m.Acct
	a.Messages++
	a.Recipients += max(m.Nrcpt, 1)
	if dom != "" && a.SenderDomains.Len() == 0 && strings.IndexByte(a.Login, '@') < 0 {
		c.bareLogins++
	}
	var firstAs bool
	if dom != "" {
		// the detector keeps the domain: give it the counter's own copy
		dom, firstAs = a.SenderDomains.Add(dom, 1)
	}
	if firstAs && strings.IndexByte(a.Login, '@') < 0 {
		c.inferFromBare(dom)
	}
	m.Foreign = dom != "" && !c.ownDomain(dom, a)
	if dom != "" {
		if m.Foreign {
			a.ForeignMessages++
			a.ForeignDomains.Add(dom, 1)
		}
	}
	was := a.state.Verdict()
	changed := a.state.Message(&c.cfg.Detect, detect.Message{
		Time: t, IP: m.ClientIP, Domain: dom, Foreign: m.Foreign, Sender: m.Sender, OwnAddress: strings.EqualFold(m.Sender, a.Login), PriorFailures: m.priorFailures,
		EarlierLogin: a.otherFirst[m.ClientIP], SharedIP: m.sharedIP, Rcpts: m.Nrcpt, LogStart: c.begin,
	})
	if m.Foreign || m.newIP || a.state.Verdict() == detect.Compromised {
		a.evidence(m, t, c.cfg.MaxList, changed && was != detect.Compromised && a.state.Verdict() == detect.Compromised)
	}
	if changed {
		c.notifyVerdict(a, was, t)
	} else if was == detect.Compromised && c.cfg.OnEvidence != nil {
		c.cfg.OnEvidence(a, t)
	}
}

// notifyVerdict tells Config.OnVerdict that a login's verdict rose.
func (c *Correlator) notifyVerdict(a *Account, was detect.Verdict, t time.Time) {
	if c.cfg.OnVerdict != nil {
		c.cfg.OnVerdict(a, was, a.state.Verdict(), t)
	}
}

// inferFromBare counts a login without a domain that first sends as dom:
// a domain that most such logins send as (two at least) is the
// organisation's, when none is configured.
func (c *Correlator) inferFromBare(dom string) {
	if len(c.own) > 0 || c.inferred[dom] {
		return
	}
	if c.bareSenders == nil {
		c.bareSenders = map[string]int{}
	}
	if _, ok := c.bareSenders[dom]; !ok && len(c.bareSenders) >= 10000 {
		return
	}
	c.bareSenders[dom]++
	if n := c.bareSenders[dom]; n >= 2 && n*2 >= c.bareLogins && len(c.inferred) < 10000 {
		c.inferred[dom] = true
	}
}

// ownDomain tells whether d (lower case) is the login's or the
// organisation's: configured domains, or, when none are configured, the
// domains learnt from the log; and their subdomains (root@web1.example.org).
func (c *Correlator) ownDomain(d string, a *Account) bool {
	if ld := domainOf(a.Login); ld != "" && strings.EqualFold(ld, d) {
		return true
	}
	if internalTLD(d) || strings.IndexByte(d, '.') < 0 {
		// a device's default, scanner@mfp-02.office.lan, or a bare host
		// name (root@dmnenix): not an Internet domain, no forger's choice
		return true
	}
	set := c.own
	if len(set) == 0 {
		set = c.inferred
	}
	for x := d; x != ""; {
		if set[x] {
			return true
		}
		_, rest, ok := strings.Cut(x, ".")
		if !ok {
			break
		}
		x = rest
	}
	return false
}

func (c *Correlator) delivery(ev *event.Event) {
	m := c.lookup(ev)
	if m == nil {
		if unauthOutbound(ev) {
			if _, ok := c.light[ev.QKey]; ok {
				c.Unauth.Outbound++
			}
		}
		return
	}
	status := ev.Status
	firstSpam := true
	if m.Acct != nil {
		firstSpam = m.setStatus(ev.Recipient, status, ev.Reply, ev.Spam)
	}
	local := ev.LocalRelay
	if status == "sent" && local && len(c.own) == 0 && len(c.inferred) < 10000 {
		if d := strings.ToLower(domainOf(ev.Recipient)); d != "" && !c.inferred[d] && ev.LocalDelivery {
			c.inferred[strings.Clone(d)] = true
		}
	}
	if ev.NewQID != "" && status == "sent" {
		c.hop(m, ev, local)
	}
	if ev.Spam && firstSpam {
		// a recipient refused again on each retry is one rejection
		if a := m.Acct; a != nil {
			a.RemoteRejections++
			if len(a.RejectionExamples) < 3 {
				a.RejectionExamples = append(a.RejectionExamples, clip(ev.Reply, 200))
			}
			was := a.state.Verdict()
			c.afterVerdict(a, was, a.state.Rejection(&c.cfg.Detect, ev.Time), m, ev.Time)
		}
	}
	if m.Acct == nil && (m.Origin == Unauth) && !local && ev.Relay != "none" && status != "" {
		c.Unauth.Outbound++
	}
}

// hop links a message re-queued by a content filter ("queued as NEWQID")
// to the login of the original. A remote server's "queued as" names its own
// queue, so only loopback relays, or an id already open here, are linked.
func (c *Correlator) hop(m *Message, ev *event.Event, local bool) {
	if m.Acct == nil {
		return
	}
	k := key(ev, ev.NewQID)
	child := c.msgs[k]
	if child == nil {
		if !local {
			return
		}
		child = c.open(ev, k, FilterCopy)
	}
	if child.Acct != nil {
		return
	}
	if child.Origin == Unauth {
		c.Unauth.Messages--
		c.Unauth.TopClients.Add(child.ClientIP, -1)
	}
	m.hopped = true
	child.Acct, child.Origin = m.Acct, FilterCopy
	m.Acct.FilterCopies++
	m.Acct.addQID(child, c.cfg.MaxList)
}

func (c *Correlator) notify(ev *event.Event) {
	m := c.lookup(ev)
	if m == nil {
		return
	}
	k := key(ev, ev.NewQID)
	child := c.msgs[k]
	if child == nil {
		child = c.open(ev, k, Bounce)
	}
	child.Origin = Bounce
	if m.Acct == nil || child.Acct != nil {
		return
	}
	child.Acct = m.Acct
	a := m.Acct
	a.Bounces++
	a.addQID(child, c.cfg.MaxList)
	was := a.state.Verdict()
	c.afterVerdict(a, was, a.state.Bounce(&c.cfg.Detect, ev.Time), m, ev.Time)
}

func (c *Correlator) afterVerdict(a *Account, was detect.Verdict, changed bool, m *Message, t time.Time) {
	if !changed {
		return
	}
	if a.state.Verdict() == detect.Compromised {
		a.evidence(m, t, c.cfg.MaxList, true)
	}
	c.notifyVerdict(a, was, t)
}

func (c *Correlator) pickup(ev *event.Event) {
	if ev.QID == "" {
		return
	}
	if old := c.msgs[ev.QKey]; old != nil {
		c.finish(old)
	}
	m := c.open(ev, ev.QKey, Local)
	if ev.OrigQID != "" {
		if parent := c.msgs[key(ev, ev.OrigQID)]; parent != nil {
			m.Origin, m.Acct = Requeued, parent.Acct
			m.observed = true
			if m.Acct != nil {
				m.Acct.addQID(m, c.cfg.MaxList)
			}
		}
	}
}

// failKey names the failures of one login from one IP.
type failKey struct{ login, ip string }

// failSeen counts recent failure lines per source: Postfix smtpd, Dovecot's
// passdb ("auth: passwd-file(...): Password mismatch") and Dovecot's login
// processes ("imap-login: ... auth failed"). One SMTP attempt through
// Dovecot SASL logs a Postfix and a passdb line, one IMAP attempt a login
// and a passdb line: the attempts are max(passdb, postfix + login).
type failSeen [3]int32

const failGeneration = 2 * 60 // seconds a generation of failSeen lives

// dedupFailures returns how many new attempts n failure lines of ev are,
// given the lines seen from the other sources in the last few minutes.
func (c *Correlator) dedupFailures(ev *event.Event, n int) int {
	src := 0
	if ev.Source == event.Dovecot {
		src = 2
		if ev.Service == "auth" {
			src = 1
		}
	}
	if gen := ev.Time.Unix() / failGeneration; gen > c.failGen {
		if gen == c.failGen+1 {
			c.failPrev = c.failCur
		} else {
			c.failPrev = nil
		}
		c.failCur, c.failGen = map[failKey]*failSeen{}, gen
	}
	k := failKey{ev.Login, ev.ClientIP}
	b := c.failCur[k]
	if b == nil {
		b = c.failPrev[k]
		if b == nil {
			if len(c.failCur) >= 100000 {
				return n // too many to remember: count every line
			}
			b = new(failSeen)
		}
		c.failCur[failKey{strings.Clone(ev.Login), strings.Clone(ev.ClientIP)}] = b
	}
	before := max(b[1], b[0]+b[2])
	b[src] += int32(min(n, 1<<20))
	return int(max(b[1], b[0]+b[2]) - before)
}

func (c *Correlator) authFailure(ev *event.Event) {
	n := max(ev.Count, 1)
	if ev.AuthTotal > 1 {
		n *= ev.AuthTotal
	}
	if n = c.dedupFailures(ev, n); n == 0 {
		return
	}
	c.Stats.AuthFailures += n
	if ev.ClientIP != "" {
		c.ipFail.add(ev.ClientIP, int32(min(n, 1<<20)))
	}
	if ev.Login == "" {
		c.Stats.NamelessFailure += n
		return
	}
	a := c.account(ev.Login, ev.LoginHash, ev.Time)
	if a == nil {
		return
	}
	a.FailedLogins += n
	ip, _ := a.FailureIPs.Add(ev.ClientIP, n) // the detector keeps the counter's copy
	if a.FirstFailure.IsZero() {
		a.FirstFailure = ev.Time
	}
	a.LastFailure = ev.Time
	for i := 0; i < min(n, 64); i++ {
		a.state.Failure(&c.cfg.Detect, ev.Time, ip)
	}
}

func (c *Correlator) reject(ev *event.Event) {
	s := c.sessions[skey{ev.HostHash, ev.PID}]
	if s == nil || s.acct == nil {
		return
	}
	s.acct.Refused += max(ev.Count, 1)
	s.acct.touch(ev.Time)
}

// account returns the account of a login (in lower case, whose hash is h),
// creating it, or nil when the name is unusable or the tracking cap is
// reached.
func (c *Correlator) account(login string, h uint64, t time.Time) *Account {
	if login == "" || len(login) > 512 {
		return nil
	}
	if a := c.find(login, h); a != nil {
		return a
	}
	if len(c.accounts) >= c.cfg.MaxNames {
		c.Stats.UntrackedNames++
		return nil
	}
	a := newAccount(login, t)
	c.insertAccount(a, h)
	return a
}

// find returns the account of login (in lower case, whose hash is h) if it
// is tracked, else nil.
func (c *Correlator) find(login string, h uint64) *Account {
	for a := c.byHash[h]; a != nil; a = a.sameHash {
		if a.Login == login {
			return a
		}
	}
	return nil
}

func (c *Correlator) insertAccount(a *Account, h uint64) {
	c.accounts = append(c.accounts, a)
	a.sameHash = c.byHash[h]
	c.byHash[h] = a
}

// finish tallies a message's recipients and drops it from the working set.
func (c *Correlator) finish(m *Message) {
	m.seq = 0 // no longer the message a pending entry waits for
	m.tally()
	delete(c.msgs, m.k)
	// keep the struct (and its recipient slice) for the next message:
	// messages are most of what the correlator allocates
	if len(c.spare) < maxSpare {
		clear(m.rcpts)
		m.rcpts = m.rcpts[:0]
		c.spare = append(c.spare, m)
	}
}

// maxSpare caps the finished messages kept for reuse.
const maxSpare = 1024

// tally adds the final outcome of each recipient to the login's counts:
// those of its own messages and of their filter copies, not of the
// bounces they caused, nor the hand-over to a content filter.
func (m *Message) tally() {
	a := m.Acct
	if a == nil || m.hopped || m.Origin == Bounce {
		return
	}
	for _, r := range m.rcpts {
		a.tally(r.status, 1)
	}
	for st, n := range m.moreStatus {
		a.tally(st, n)
	}
	clear(m.rcpts)
	m.rcpts, m.moreStatus = m.rcpts[:0], nil
}

// sweep expires messages that have gone quiet, and old sessions, as of the
// hour at.
func (c *Correlator) sweep(at time.Time) {
	cut := at.Add(-c.cfg.Expire)
	for _, m := range c.msgs {
		if m.Last.Before(cut) {
			c.Stats.Expired++
			c.finish(m)
		}
	}
	lcut := cut.Unix()
	for k, first := range c.light {
		if first < lcut {
			c.Stats.Expired++
			delete(c.light, k)
		}
	}
	scut := at.Add(-24 * time.Hour)
	for k, s := range c.sessions {
		if s.last.Before(scut) {
			delete(c.sessions, k)
		}
	}
	// once a day (of event time; the last sweep was an hour before
	// nextSweep): the detector windows of logins gone quiet, see
	// detect.State.Trim
	if last := c.nextSweep.Add(-time.Hour); last.Unix()/86400 != at.Unix()/86400 {
		tcut := at.Add(-time.Hour)
		for _, a := range c.accounts {
			a.state.Trim(&c.cfg.Detect, tcut)
		}
	}
}

// Finish tallies the messages still open at the end of the log. The
// correlator can be read (Accounts, Open) before and after.
func (c *Correlator) Finish() {
	c.Settle()
	c.Stats.OpenAtEnd = len(c.msgs) + len(c.light)
	for _, m := range c.msgs {
		m.tally()
	}
}

// Reconfigure changes the thresholds and the organisation's domains of a
// running correlator (watch's SIGHUP). What was counted stays; the new
// values apply from the next event.
func (c *Correlator) Reconfigure(ownDomains []string, d detect.Config) {
	d.Normalize()
	c.cfg.Detect = d
	c.cfg.OwnDomains = ownDomains
	c.own = map[string]bool{}
	for _, dom := range ownDomains {
		c.own[strings.ToLower(strings.TrimSpace(dom))] = true
	}
}

// Accounts returns every tracked account, in no particular order.
func (c *Correlator) Accounts() []*Account {
	return slices.Clone(c.accounts)
}

// Account returns the account of login, or nil.
func (c *Correlator) Account(login string) *Account {
	l := lower(login)
	return c.find(l, loginHash(l))
}

// Open returns the messages still open (queued when the log ends) that
// belong to login: its own, their filter copies and the bounces they caused.
// They are valid until the next Add, which may reuse a finished message.
func (c *Correlator) Open(login string) []*Message {
	a := c.Account(login)
	if a == nil {
		return nil
	}
	var out []*Message
	for _, m := range c.msgs {
		if m.Acct == a {
			out = append(out, m)
		}
	}
	return out
}

// ID returns the message's queue id.
func (m *Message) ID() string { return m.k.ID() }

// Now returns the time of the newest event seen.
func (c *Correlator) Now() time.Time { return c.now }

// setStatus records a recipient's latest outcome. It reports whether spam
// is the recipient's first spam rejection (always, for recipients past
// those tracked).
func (m *Message) setStatus(addr, status, reply string, spam bool) (firstSpam bool) {
	if status == "" {
		return spam
	}
	st := statusName(status)
	if len(addr) > maxAddr {
		addr = addr[:maxAddr] // as it is kept, so that its next line finds it
	}
	keep := ""
	if st != "sent" {
		keep = reply
	}
	for i := range m.rcpts {
		r := &m.rcpts[i]
		if r.addr == addr {
			r.status = st
			if keep != r.reply {
				r.reply = clip(keep, 200)
			}
			firstSpam = spam && !r.spam
			r.spam = r.spam || spam
			return firstSpam
		}
	}
	if len(m.rcpts) < maxRcptTracked {
		m.rcpts = append(m.rcpts, rcpt{addr: strings.Clone(addr), status: st, reply: clip(keep, 200), spam: spam})
		return spam
	}
	if m.moreStatus == nil {
		m.moreStatus = map[string]int{}
	}
	m.moreStatus[st]++
	return spam
}

// statusName returns a constant for the common statuses so that no copy of
// the reader's buffer is kept.
func statusName(s string) string {
	switch s {
	case "sent":
		return "sent"
	case "deferred":
		return "deferred"
	case "bounced":
		return "bounced"
	case "expired":
		return "expired"
	}
	return "other"
}

func isLoopback(ip string) bool {
	return strings.HasPrefix(ip, "127.") || ip == "::1"
}

// isLocalRelay tells whether a relay= value is this host (a content filter
// or local delivery) rather than a remote server.
func isLocalRelay(relay string) bool {
	return relay == "local" || relay == "virtual" || strings.HasPrefix(relay, "127.") ||
		strings.Contains(relay, "[127.") || strings.Contains(relay, "[::1]") ||
		strings.HasPrefix(relay, "localhost") || strings.HasPrefix(relay, "private/") ||
		strings.Contains(relay, "dovecot") || strings.HasPrefix(relay, "lmtp")
}

// isLocalDelivery tells a final local delivery (mailbox) from a content
// filter hop.
func isLocalDelivery(relay, program string) bool {
	return relay == "local" || relay == "virtual" || strings.Contains(relay, "dovecot") ||
		strings.HasSuffix(program, "/lmtp") || strings.HasSuffix(program, "/local") ||
		strings.HasSuffix(program, "/virtual") || strings.HasSuffix(program, "/pipe")
}

// spamSignal tells whether a deferral or bounce speaks of spam, policy or
// reputation rather than of a bad address or a dead host.
func spamSignal(dsn, reply string) bool {
	l := strings.ToLower(reply)
	if strings.Contains(l, "greylist") || strings.Contains(l, "graylist") {
		return false // 4.7.1 greylisting says nothing about the sender
	}
	for _, w := range [...]string{"spam", "tss04", "blocklist", "blacklist", "spamhaus", "reputation", "block list", "listed at", "listed in",
		"unsolicited", "complaint", "rbl", "bulk mail", "phish", "abuse"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	if strings.HasPrefix(dsn, "4.7.") {
		// a temporary refusal says spam only in its words: "server busy",
		// "try again later", a certificate not verified are not
		return false
	}
	if strings.HasPrefix(dsn, "5.7.") {
		// a permanent security refusal, unless it is about encryption or
		// authentication rather than the mail
		for _, w := range [...]string{"certificate", "tls", "encryption", "authentication required", "must issue a starttls"} {
			if strings.Contains(l, w) {
				return false
			}
		}
		return true
	}
	return false
}

// internalTLD tells whether domain d ends in a name that is not on the
// Internet (special-use and the usual private ones).
func internalTLD(d string) bool {
	tld := d
	if i := strings.LastIndexByte(d, '.'); i >= 0 {
		tld = d[i+1:]
	}
	switch tld {
	case "local", "lan", "localdomain", "localhost", "internal", "intranet", "home", "corp", "private", "invalid":
		return true
	}
	return strings.HasSuffix(d, ".home.arpa")
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// network returns the /24 (IPv4) or /48 (IPv6) of an address, or the
// address itself when it does not parse.
func network(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ip
	}
	return p.String()
}

// lower returns s in lower case. Unlike strings.ToLower it keeps bytes that
// are not UTF-8 as they are, so that two different hostile names never
// become one; s itself is returned when it has no capital.
func lower(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := append(make([]byte, 0, len(s)+utf8.UTFMax), s[:i]...)
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, s[i])
		} else {
			b = utf8.AppendRune(b, unicode.ToLower(r))
		}
		i += n
	}
	if string(b) == s {
		return s
	}
	return string(b)
}

// clip copies s, cut to at most n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Clone(s)
}
