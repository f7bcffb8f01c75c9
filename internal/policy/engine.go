package policy

import (
	"context"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxLoginLen bounds the SASL logins the engine keeps state for: longer
// ones are answered DUNNO, so a hostile client cannot make each tracked
// login cost kilobytes.
const MaxLoginLen = 512

// Decision is the engine's answer to one request.
type Decision struct {
	Action Action
	Text   string // reply text (generic, from the configuration)
	Rule   string // the rule that decided, "" for none
	// NewBlock is set when this request blocked the login.
	NewBlock bool
}

// BlockEvent tells the persistence side that a rule blocked a login.
type BlockEvent struct {
	Login  string
	Rule   string
	Reason string
	At     time.Time
}

// Engine applies the rules to requests. It is safe for concurrent use.
type Engine struct {
	cfg       atomic.Pointer[engineConfig]
	counters  Counters
	blocks    *BlockSet
	instances *instanceTracker
	log       *slog.Logger
	metrics   *Metrics
	// events receives new blocks; a full channel drops the event (the
	// block still holds in memory) and counts it.
	events chan BlockEvent
	// logGate bounds "limit reached" lines: a login over its limit asks
	// again for every recipient.
	logGate logGate
}

type engineConfig struct {
	rules      []namedRule
	replies    Replies
	blockAct   Action
	ownDomains map[string]bool
}

// NewEngine returns an engine with the configuration's rules over counters.
// metrics may be nil.
func NewEngine(cfg Config, counters Counters, log *slog.Logger, metrics *Metrics) *Engine {
	e := &Engine{
		counters:  counters,
		blocks:    NewBlockSet(),
		instances: newInstanceTracker(65536, time.Hour),
		log:       log,
		metrics:   metrics,
		events:    make(chan BlockEvent, 1024),
	}
	e.SetConfig(cfg)
	return e
}

// SetConfig replaces the rules, replies and static block list (SIGHUP).
func (e *Engine) SetConfig(cfg Config) {
	ec := &engineConfig{
		rules:      cfg.Rules.list(),
		replies:    cfg.Replies,
		blockAct:   cfg.BlockAction,
		ownDomains: make(map[string]bool),
	}
	for _, d := range cfg.OwnDomains {
		ec.ownDomains[strings.ToLower(d)] = true
	}
	static := make(map[string]bool)
	for _, l := range cfg.BlockedLogins {
		static[normalizeLogin(l)] = true
	}
	e.blocks.setStatic(static)
	e.cfg.Store(ec)
}

// Blocks returns the engine's set of blocked logins.
func (e *Engine) Blocks() *BlockSet { return e.blocks }

// Events returns the channel of new blocks.
func (e *Engine) Events() <-chan BlockEvent { return e.events }

func (ec *engineConfig) text(a Action) string {
	switch a {
	case DeferIfPermit:
		return ec.replies.DeferIfPermit
	case Hold:
		return ec.replies.Hold
	case Reject:
		return ec.replies.Reject
	}
	return ""
}

// Decide answers one request at time now (from the server's clock: policy
// requests carry no time).
func (e *Engine) Decide(ctx context.Context, req *Request, now time.Time) Decision {
	ec := e.cfg.Load()
	if req.SASLUsername == "" || (req.Request != "" && req.Request != "smtpd_access_policy") {
		return Decision{Action: Dunno}
	}
	if len(req.SASLUsername) > MaxLoginLen {
		if e.logGate.allow() {
			e.log.Warn("sasl_username too long, answering DUNNO", "bytes", len(req.SASLUsername), "client", req.ClientAddress)
		}
		return Decision{Action: Dunno}
	}
	login := normalizeLogin(req.SASLUsername)
	if e.blocks.Has(login) {
		return Decision{Action: ec.blockAct, Text: ec.replies.Blocked, Rule: RuleBlocked}
	}
	obs := e.observation(login, req, ec, now)
	tot, err := e.counters.Observe(ctx, obs, now)
	if err != nil {
		// Fail open: mail keeps flowing while the shared counters are away.
		if e.metrics != nil {
			e.metrics.failOpen.Inc()
		}
		return Decision{Action: Dunno}
	}
	var d Decision
	compromised := ""
	for _, r := range ec.rules {
		if r.rule.Limit <= 0 || r.value(&tot) <= r.rule.Limit {
			continue
		}
		if e.metrics != nil {
			e.metrics.ruleHit(r.name).Inc()
		}
		if r.rule.Compromised && compromised == "" {
			compromised = r.name
		}
		if d.Rule == "" || r.rule.Action > d.Action {
			d.Action, d.Rule = r.rule.Action, r.name
		}
	}
	if compromised != "" {
		if e.blocks.addDynamic(login) {
			d.NewBlock = true
			e.log.Warn("login blocked", "login", login, "rule", compromised, "client", req.ClientAddress)
			ev := BlockEvent{Login: login, Rule: compromised, Reason: "policy rule " + compromised, At: now}
			select {
			case e.events <- ev:
			default:
				if e.metrics != nil {
					e.metrics.eventsDropped.Inc()
				}
			}
		}
		return Decision{Action: ec.blockAct, Text: ec.replies.Blocked, Rule: compromised, NewBlock: d.NewBlock}
	}
	d.Text = ec.text(d.Action)
	if d.Rule != "" && e.logGate.allow() {
		e.log.Info("limit reached", "login", login, "rule", d.Rule, "action", d.Action.String(), "client", req.ClientAddress)
	}
	return d
}

// observation works out what req adds: the message once per instance, its
// recipients one per RCPT request or from recipient_count at DATA and
// END-OF-MESSAGE, whichever says more.
func (e *Engine) observation(login string, req *Request, ec *engineConfig, now time.Time) Observation {
	obs := Observation{Login: login}
	key := req.Instance
	if key == "" {
		// Without instance (hostile or very old client), tie requests by
		// what stays the same within a message.
		key = req.ClientAddress + "\x00" + req.Sender + "\x00" + req.QueueID
	}
	state := strings.ToUpper(req.ProtocolState)
	rcpt := 0
	switch state {
	case "RCPT":
		rcpt = 1
	case "DATA", "END-OF-MESSAGE":
		rcpt = max(req.RecipientCount, 0)
	}
	isNew, add := e.instances.observe(instanceKey(login, key), state, rcpt, state == "END-OF-MESSAGE", now)
	obs.Recipients = add
	if !isNew {
		return obs
	}
	obs.Messages = 1
	if ip, err := netip.ParseAddr(req.ClientAddress); err == nil {
		ip = ip.Unmap()
		obs.ClientIP = hash64(ip.String())
		bits := 24
		if ip.Is6() {
			bits = 48
		}
		if p, err := ip.Prefix(bits); err == nil {
			obs.ClientNet = hash64(p.String())
		}
	}
	if at := strings.LastIndexByte(req.Sender, '@'); at >= 0 && at < len(req.Sender)-1 {
		dom := strings.ToLower(req.Sender[at+1:])
		obs.SenderDomain = hash64(dom)
		own := ec.ownDomains[dom]
		if la := strings.LastIndexByte(login, '@'); la >= 0 && login[la+1:] == dom {
			own = true
		}
		if !own {
			obs.Foreign = 1
		}
	}
	return obs
}

// Sweep drops expired message instances and, for local counters, idle
// logins. Call it now and then with the server's clock.
func (e *Engine) Sweep(now time.Time) {
	e.instances.sweep(now)
	if lc, ok := e.counters.(*LocalCounters); ok {
		lc.Sweep(now)
	}
}

var instanceSeed = maphash.MakeSeed()

// instanceKey identifies a message in progress by a hash of its login and
// instance, so that hostile, long instance values cost no memory.
func instanceKey(login, instance string) uint64 {
	var h maphash.Hash
	h.SetSeed(instanceSeed)
	h.WriteString(login)
	h.WriteByte(0)
	h.WriteString(instance)
	return h.Sum64()
}

// instanceTracker remembers the messages in progress: which instance was
// counted and how many of its recipients. Bounded in size and age.
type instanceTracker struct {
	mu    sync.Mutex
	m     map[uint64]*msgState
	order []uint64 // insertion order, for eviction
	head  int
	max   int
	ttl   int64
}

type msgState struct {
	rcpts int
	first int64
}

func newInstanceTracker(max int, ttl time.Duration) *instanceTracker {
	return &instanceTracker{m: make(map[uint64]*msgState), max: max, ttl: int64(ttl / time.Second)}
}

// observe records a request of message key: rcpt is 1 for a RCPT request,
// recipient_count at DATA/END-OF-MESSAGE. It returns whether the message is
// new and how many recipients to add. done forgets the message.
func (t *instanceTracker) observe(key uint64, state string, rcpt int, done bool, now time.Time) (isNew bool, add int) {
	ts := now.Unix()
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.m[key]
	if st == nil {
		isNew = true
		st = &msgState{first: ts}
		if !done {
			t.evictLocked(ts)
			t.m[key] = st
			t.order = append(t.order, key)
		}
	}
	if state == "RCPT" {
		add = rcpt
	} else if rcpt > st.rcpts {
		add = rcpt - st.rcpts
	}
	st.rcpts += add
	if done && !isNew {
		delete(t.m, key)
	}
	return isNew, add
}

func (t *instanceTracker) evictLocked(now int64) {
	for t.head < len(t.order) {
		k := t.order[t.head]
		st, ok := t.m[k]
		if ok && len(t.m) < t.max && st.first > now-t.ttl {
			break
		}
		if ok && st != nil {
			delete(t.m, k)
		}
		t.order[t.head] = 0
		t.head++
	}
	if t.head > len(t.order)/2 && t.head > 1024 {
		t.order = append(t.order[:0], t.order[t.head:]...)
		t.head = 0
	}
}

func (t *instanceTracker) sweep(now time.Time) {
	t.mu.Lock()
	t.evictLocked(now.Unix())
	t.mu.Unlock()
}

func (t *instanceTracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// BlockSet is the set of blocked logins the engine checks on every
// request: the static list from the configuration, the logins synced from
// the store and Redis, and the ones blocked here that are not persisted yet.
type BlockSet struct {
	mu      sync.RWMutex
	static  map[string]bool
	synced  map[string]bool
	dynamic map[string]bool
}

// NewBlockSet returns an empty set.
func NewBlockSet() *BlockSet {
	return &BlockSet{static: map[string]bool{}, synced: map[string]bool{}, dynamic: map[string]bool{}}
}

// Has reports whether login (normalized) is blocked.
func (b *BlockSet) Has(login string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.static[login] || b.synced[login] || b.dynamic[login]
}

func (b *BlockSet) setStatic(m map[string]bool) {
	b.mu.Lock()
	b.static = m
	b.mu.Unlock()
}

// addDynamic blocks login locally; it reports false if already blocked.
func (b *BlockSet) addDynamic(login string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.static[login] || b.synced[login] || b.dynamic[login] {
		return false
	}
	b.dynamic[login] = true
	return true
}

// persisted moves login from the dynamic to the synced layer once it is
// recorded where the next sync will find it.
func (b *BlockSet) persisted(login string) {
	b.mu.Lock()
	b.synced[login] = true
	delete(b.dynamic, login)
	b.mu.Unlock()
}

// SetSynced replaces the logins known from the store and Redis.
func (b *BlockSet) SetSynced(m map[string]bool) {
	b.mu.Lock()
	b.synced = m
	b.mu.Unlock()
}

// Dynamic returns the logins blocked here and not yet persisted.
func (b *BlockSet) Dynamic() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.dynamic))
	for k := range b.dynamic {
		out = append(out, k)
	}
	return out
}

// Len returns the number of distinct blocked logins.
func (b *BlockSet) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := len(b.synced)
	for k := range b.static {
		if !b.synced[k] {
			n++
		}
	}
	for k := range b.dynamic {
		if !b.synced[k] && !b.static[k] {
			n++
		}
	}
	return n
}

func (b *BlockSet) removeDynamic(login string) {
	b.mu.Lock()
	delete(b.dynamic, login)
	b.mu.Unlock()
}
