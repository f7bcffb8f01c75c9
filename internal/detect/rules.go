package detect

import (
	"fmt"
	"math"
)

// Kind tells what a rule that fires does to the verdict.
type Kind uint8

const (
	// Score rules add their points to the login's score.
	Score Kind = iota
	// Sending rules add no points; one of them must fire for the score to
	// make a login compromised: mail that looks like a takeover's, not
	// only failed logins or volume.
	Sending
	// Notable rules add no points; one of them (or a Sending rule) must
	// fire for the score to make a login suspicious: new IPs and failed
	// logins alone are a traveller's pattern too.
	Notable
)

func (k Kind) String() string {
	switch k {
	case Sending:
		return "sending"
	case Notable:
		return "notable"
	}
	return "score"
}

// Rule is one named rule of the detector: a condition over the window's
// evidence, the points it adds when it fires, the thresholds (keys of the
// [detect] configuration) it reads, the figures it reports and the reason
// it prints.
type Rule struct {
	Name string
	Kind Kind
	// Group: of the rules of one group that fire, only the one with the
	// most points counts (the first in the table on a tie), so that
	// tiers of one signal do not add up.
	Group string
	// Doc says what the rule detects, for the README and `saslguard
	// rules`; Points says how many points it gives.
	Doc, Points string
	Reads       []string // threshold keys
	Figures     []string // figure names reported when it fires
	// fire returns the points (1 for a rule of another kind) when the
	// rule fires, else 0.
	fire func(t *Thresholds, e *evidence) int
	// reason says in a sentence why the rule fired
	reason func(sn *Snapshot, f *Fired) string
}

// evidence is what the rules read: the window's counts and what derives
// from them, computed once per evaluation.
type evidence struct {
	counts
	// vol is the volume points (the higher of messages and recipients),
	// msgVol those of messages alone, rcptVol those of recipients alone
	vol, msgVol, rcptVol int
	forged               bool // the window's mail is mostly forged
	spammy               bool // more than volume says spam
	rej                  int  // spam rejections, unless a sliver of a big mailing
	failed               int  // failed logins and failures before first use
}

// Thresholds are the rules' thresholds, each a key of the configuration's
// [detect] section. Zero fields take the defaults (see Normalize).
type Thresholds struct {
	FewForeignDomains   int `toml:"few_foreign_domains"`
	MinForeignDomains   int `toml:"min_foreign_domains"`
	MoreForeignDomains  int `toml:"more_foreign_domains"`
	ManyForeignDomains  int `toml:"many_foreign_domains"`
	FewDomainsMessages  int `toml:"few_domains_messages"`
	OneDomainMessages   int `toml:"one_domain_messages"`
	ForgedShareMessages int `toml:"forged_share_messages"`
	ForgedNewIPMessages int `toml:"forged_new_ip_messages"`
	SenderReuse         int `toml:"sender_reuse"`
	NewIPs              int `toml:"new_ips"`
	MoreNewIPs          int `toml:"more_new_ips"`
	ManyNewIPs          int `toml:"many_new_ips"`
	VolumeFloor         int `toml:"volume_floor"`
	ForgedVolumeFloor   int `toml:"forged_volume_floor"`
	LoudVolume          int `toml:"loud_volume"`
	VolumeRatio         int `toml:"volume_ratio"`
	LoudVolumeRatio     int `toml:"loud_volume_ratio"`
	RcptMessages        int `toml:"rcpt_messages"`
	RcptWindow          int `toml:"rcpt_window"`
	RcptFloor           int `toml:"rcpt_floor"`
	RcptRatio           int `toml:"rcpt_ratio"`
	LoudRcptRatio       int `toml:"loud_rcpt_ratio"`
	BurstMessages       int `toml:"burst_messages"`
	Rejections          int `toml:"rejections"`
	ManyRejections      int `toml:"many_rejections"`
	HeavyRejections     int `toml:"heavy_rejections"`
	RejectionSliver     int `toml:"rejection_sliver"`
	Bounces             int `toml:"bounces"`
	FailedLogins        int `toml:"failed_logins"`
	ManyFailedLogins    int `toml:"many_failed_logins"`
}

// ThresholdInfo describes one threshold: its configuration key, what it
// means and its default.
type ThresholdInfo struct {
	Key, Doc string
	Default  int
	field    func(*Thresholds) *int
}

// Get returns the threshold's value in t.
func (ti ThresholdInfo) Get(t *Thresholds) int { return *ti.field(t) }

// Set sets the threshold's value in t.
func (ti ThresholdInfo) Set(t *Thresholds, v int) { *ti.field(t) = v }

// thresholds lists every threshold, in the order of the configuration
// example.
var thresholds = []ThresholdInfo{
	{"few_foreign_domains", "distinct foreign sender domains that say spam (a login sends as its own, and as a provider's address at most)", 2, func(t *Thresholds) *int { return &t.FewForeignDomains }},
	{"min_foreign_domains", "distinct foreign sender domains in the window that count as forgery (4 points)", 3, func(t *Thresholds) *int { return &t.MinForeignDomains }},
	{"more_foreign_domains", "foreign sender domains for 6 points", 5, func(t *Thresholds) *int { return &t.MoreForeignDomains }},
	{"many_foreign_domains", "foreign sender domains for 7 points", 10, func(t *Thresholds) *int { return &t.ManyForeignDomains }},
	{"few_domains_messages", "messages with few_foreign_domains or more foreign domains (below min_foreign_domains) for 2 points", 5, func(t *Thresholds) *int { return &t.FewDomainsMessages }},
	{"one_domain_messages", "messages, 80% of the window or more, with one foreign domain for 2 points", 20, func(t *Thresholds) *int { return &t.OneDomainMessages }},
	{"forged_share_messages", "foreign-sender messages, half the window or more, that make the window mostly forged", 10, func(t *Thresholds) *int { return &t.ForgedShareMessages }},
	{"forged_new_ip_messages", "foreign-sender messages from new IPs that make forgery a takeover", 3, func(t *Thresholds) *int { return &t.ForgedNewIPMessages }},
	{"sender_reuse", "messages per foreign sender address, on average, from which the window's foreign senders are the login's own set (a relay or an application repeats its few senders; forged spam varies them)", 2, func(t *Thresholds) *int { return &t.SenderReuse }},
	{"new_ips", "client IPs new in the window for 2 points (and for a burst to count)", 3, func(t *Thresholds) *int { return &t.NewIPs }},
	{"more_new_ips", "new client IPs for 3 points", 5, func(t *Thresholds) *int { return &t.MoreNewIPs }},
	{"many_new_ips", "new client IPs for 4 points", 10, func(t *Thresholds) *int { return &t.ManyNewIPs }},
	{"volume_floor", "fewest messages in the last hour that count as volume", 30, func(t *Thresholds) *int { return &t.VolumeFloor }},
	{"forged_volume_floor", "the same when the window is mostly forged", 20, func(t *Thresholds) *int { return &t.ForgedVolumeFloor }},
	{"loud_volume", "messages in the last hour of a loud burst", 100, func(t *Thresholds) *int { return &t.LoudVolume }},
	{"volume_ratio", "times the login's busiest baseline hour that make volume (3 points)", 5, func(t *Thresholds) *int { return &t.VolumeRatio }},
	{"loud_volume_ratio", "times the baseline that make a loud burst (4 points)", 10, func(t *Thresholds) *int { return &t.LoudVolumeRatio }},
	{"rcpt_messages", "fewest messages in the last hour for recipient volume", 5, func(t *Thresholds) *int { return &t.RcptMessages }},
	{"rcpt_window", "fewest recipients in the window for recipient volume (a sustained run)", 1000, func(t *Thresholds) *int { return &t.RcptWindow }},
	{"rcpt_floor", "fewest recipients in the last hour that count as volume (3 times: loud; 5 times without a baseline)", 100, func(t *Thresholds) *int { return &t.RcptFloor }},
	{"rcpt_ratio", "times the baseline's recipients that make recipient volume (3 points)", 10, func(t *Thresholds) *int { return &t.RcptRatio }},
	{"loud_rcpt_ratio", "times the baseline's recipients for 4 points", 20, func(t *Thresholds) *int { return &t.LoudRcptRatio }},
	{"burst_messages", "messages in the window for a burst mostly from new IPs to count", 50, func(t *Thresholds) *int { return &t.BurstMessages }},
	{"rejections", "remote spam rejections for 2 points", 3, func(t *Thresholds) *int { return &t.Rejections }},
	{"many_rejections", "remote spam rejections for 3 points", 10, func(t *Thresholds) *int { return &t.ManyRejections }},
	{"heavy_rejections", "remote spam rejections that make sending a takeover's (with the score), even without history or new IPs", 100, func(t *Thresholds) *int { return &t.HeavyRejections }},
	{"rejection_sliver", "spam rejections count only when more than one in this many of the window's recipients", 50, func(t *Thresholds) *int { return &t.RejectionSliver }},
	{"bounces", "bounces caused that count", 10, func(t *Thresholds) *int { return &t.Bounces }},
	{"failed_logins", "failed logins (for the login, or from its new IPs before their first use) for 1 point", 3, func(t *Thresholds) *int { return &t.FailedLogins }},
	{"many_failed_logins", "failed logins for 2 points", 10, func(t *Thresholds) *int { return &t.ManyFailedLogins }},
}

// ThresholdTable returns every threshold with its default, in order.
func ThresholdTable() []ThresholdInfo { return append([]ThresholdInfo(nil), thresholds...) }

// DefaultThresholds returns the thresholds saslguard ships with.
func DefaultThresholds() Thresholds {
	var t Thresholds
	for _, ti := range thresholds {
		ti.Set(&t, ti.Default)
	}
	return t
}

// normalize fills zero fields with their defaults.
func (t *Thresholds) normalize() {
	for _, ti := range thresholds {
		if ti.Get(t) <= 0 {
			ti.Set(t, ti.Default)
		}
	}
}

// tier returns the points of the highest tier that v reaches: p[i] for
// v >= at[i], the tiers in rising order; 0 below the first.
func tier(v int, at [3]int, p [3]int) int {
	for i := 2; i >= 0; i-- {
		if v >= at[i] {
			return p[i]
		}
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rules is the detector's rule table. Rules that read the login's own
// history say so: foreign-sender rules see no foreign senders for a login
// that sent mostly as other domains' addresses before the window (a
// ticketing system sending as its customers) or that reuses a few sender
// addresses throughout the window (a relay for hosted customers), and
// count as forged the addresses of its own domains it had not sent as
// before the window (a colleague's, an invented one); volume
// rules compare with the login's busiest hour before the window.
var rules = []Rule{
	{
		Name: "forged_domains", Kind: Score, Group: "forged",
		Doc:    "envelope senders of min_foreign_domains or more domains not the login's own, each address of its own domains that it had not sent as before the window counting as one more (a colleague's, an invented one: from a window of the login's history on; never its own address, the login itself) (unless its history shows it sends as others, or the window's foreign senders are a set it reuses: two addresses or more, sender_reuse messages per address, forged_share_messages at least, fewer than `rejections` spam refusals; this applies to every rule that reads foreign senders)",
		Points: "4; 6 from more_foreign_domains; 7 from many_foreign_domains",
		Reads:  []string{"min_foreign_domains", "more_foreign_domains", "many_foreign_domains", "sender_reuse"}, Figures: []string{"foreign_domains", "foreign_messages"},
		fire: func(t *Thresholds, e *evidence) int {
			return tier(e.d, [3]int{t.MinForeignDomains, t.MoreForeignDomains, t.ManyForeignDomains}, [3]int{4, 6, 7})
		},
		reason: foreignReason,
	},
	{
		Name: "few_forged_domains", Kind: Score, Group: "forged",
		Doc:    "senders of few_foreign_domains or more foreign domains in few_domains_messages messages or more",
		Points: "2",
		Reads:  []string{"few_foreign_domains", "few_domains_messages"}, Figures: []string{"foreign_domains", "foreign_messages"},
		fire: func(t *Thresholds, e *evidence) int {
			return 2 * b2i(e.d >= t.FewForeignDomains && e.foreign >= t.FewDomainsMessages)
		},
		reason: foreignReason,
	},
	{
		Name: "one_forged_domain", Kind: Score, Group: "forged",
		Doc:    "one foreign sender domain in one_domain_messages messages or more, 80% of the window at least",
		Points: "2",
		Reads:  []string{"one_domain_messages"}, Figures: []string{"foreign_messages", "window_messages"},
		fire: func(t *Thresholds, e *evidence) int {
			return 2 * b2i(e.d == 1 && e.foreign >= t.OneDomainMessages && e.foreign*5 >= e.n*4)
		},
		reason: foreignReason,
	},
	{
		Name: "forged_share", Kind: Score,
		Doc:    "half the window's messages or more, forged_share_messages at least, with foreign senders",
		Points: "2",
		Reads:  []string{"forged_share_messages"}, Figures: []string{"foreign_messages", "window_messages"},
		fire:   func(t *Thresholds, e *evidence) int { return 2 * b2i(e.forged) },
		reason: foreignReason,
	},
	{
		Name: "new_ips", Kind: Score,
		Doc:    "client IPs the login had not used before the window (IPv6 by /64; trusted networks and a login's first address at the log's start are never new)",
		Points: "2; 3 from more_new_ips; 4 from many_new_ips",
		Reads:  []string{"new_ips", "more_new_ips", "many_new_ips"}, Figures: []string{"new_ips"},
		fire: func(t *Thresholds, e *evidence) int {
			return tier(e.newIPs, [3]int{t.NewIPs, t.MoreNewIPs, t.ManyNewIPs}, [3]int{2, 3, 4})
		},
		reason: newIPsReason,
	},
	{
		Name: "volume", Kind: Score, Group: "volume",
		Doc:    "messages in the last hour against the login's busiest hour in the baseline_days before the window (a day of history at least): volume_ratio times and volume_floor messages (forged_volume_floor when mostly forged), or loud_volume_ratio times and loud_volume; without history, loud_volume messages, or volume_floor mostly forged",
		Points: "3; 4 when loud; 1 without history",
		Reads:  []string{"volume_floor", "forged_volume_floor", "loud_volume", "volume_ratio", "loud_volume_ratio"}, Figures: []string{"last_hour", "baseline_per_hour"},
		fire:   func(t *Thresholds, e *evidence) int { return e.msgVol },
		reason: volumeReason,
	},
	{
		Name: "rcpt_volume", Kind: Score, Group: "volume",
		Doc:    "the same in recipients, from rcpt_messages messages an hour and rcpt_window recipients in the window: rcpt_ratio times the baseline and rcpt_floor recipients, or loud_rcpt_ratio times and three times rcpt_floor; without a day of history, five times rcpt_floor",
		Points: "3; 4 when loud; 1 without history",
		Reads:  []string{"rcpt_messages", "rcpt_window", "rcpt_floor", "rcpt_ratio", "loud_rcpt_ratio"}, Figures: []string{"last_hour_rcpts", "baseline_rcpts"},
		fire:   func(t *Thresholds, e *evidence) int { return e.rcptVol },
		reason: rcptVolumeReason,
	},
	{
		Name: "burst_new_ips", Kind: Score,
		Doc:    "a volume burst (3 points or more) of burst_messages or more in the window, 80% of the last hour from new IPs, with more than volume to say spam (few_foreign_domains, rejections, or bounces)",
		Points: "2",
		Reads:  []string{"burst_messages", "few_foreign_domains", "rejections", "bounces"}, Figures: []string{"last_hour", "last_hour_new_ips"},
		fire: func(t *Thresholds, e *evidence) int {
			return 2 * b2i(e.vol >= 3 && e.n >= t.BurstMessages && e.hourNew*5 >= e.lastHour*4 && e.spammy)
		},
		reason: func(_ *Snapshot, f *Fired) string {
			return fmt.Sprintf("%d of the last hour's %d messages from new IPs", f.Figure("last_hour_new_ips"), f.Figure("last_hour"))
		},
	},
	{
		Name: "spam_rejections", Kind: Score,
		Doc:    "remote rejections that speak of spam or reputation (none when fewer than one in rejection_sliver of the window's recipients, for mail as the login's own from known IPs: a big mailing's few refusals; with sender_reuse, one of the two readings of the window that more messages can lower)",
		Points: "1; 2 from rejections; 3 from many_rejections",
		Reads:  []string{"rejections", "many_rejections", "rejection_sliver"}, Figures: []string{"rejections"},
		fire: func(t *Thresholds, e *evidence) int {
			return tier(e.rej, [3]int{1, t.Rejections, t.ManyRejections}, [3]int{1, 2, 3})
		},
		reason: rejectionsReason,
	},
	{
		Name: "bounces", Kind: Score,
		Doc:    "bounces the login's mail caused",
		Points: "1",
		Reads:  []string{"bounces"}, Figures: []string{"bounces"},
		fire: func(t *Thresholds, e *evidence) int { return b2i(e.bnc >= t.Bounces) },
		reason: func(_ *Snapshot, f *Fired) string {
			return fmt.Sprintf("caused %d bounce%s", f.Figure("bounces"), plural(f.Figure("bounces")))
		},
	},
	{
		Name: "failed_logins_first", Kind: Score,
		Doc:    "failed logins for the login, and from its new IPs (for any name) before they first logged in as it",
		Points: "1; 2 from many_failed_logins",
		Reads:  []string{"failed_logins", "many_failed_logins"}, Figures: []string{"failed_logins"},
		fire: func(t *Thresholds, e *evidence) int {
			return tier(e.failed, [3]int{t.FailedLogins, t.ManyFailedLogins, math.MaxInt}, [3]int{1, 2, 2})
		},
		reason: failedReason,
	},
	{
		Name: "forged_from_new_ips", Kind: Sending,
		Doc:   "min_foreign_domains or more foreign sender domains, forged_new_ip_messages of them from new IPs",
		Reads: []string{"min_foreign_domains", "forged_new_ip_messages"}, Figures: []string{"foreign_domains", "forged_from_new_ips"},
		fire: func(t *Thresholds, e *evidence) int {
			return b2i(e.d >= t.MinForeignDomains && e.fNew >= t.ForgedNewIPMessages)
		},
		reason: forgedNewReason,
	},
	{
		Name: "forged_domains_new_ips", Kind: Sending,
		Doc:   "few_foreign_domains or more foreign sender domains, forged_new_ip_messages from new_ips or more new IPs",
		Reads: []string{"few_foreign_domains", "new_ips", "forged_new_ip_messages"}, Figures: []string{"foreign_domains", "new_ips", "forged_from_new_ips"},
		fire: func(t *Thresholds, e *evidence) int {
			return b2i(e.d >= t.FewForeignDomains && e.newIPs >= t.NewIPs && e.fNew >= t.ForgedNewIPMessages)
		},
		reason: forgedNewReason,
	},
	{
		Name: "loud_burst_new_ips", Kind: Sending,
		Doc:   "a loud burst of messages (4 volume points) from new_ips or more new IPs",
		Reads: []string{"new_ips"}, Figures: []string{"last_hour", "new_ips"},
		fire:   func(t *Thresholds, e *evidence) int { return b2i(e.msgVol >= 4 && e.newIPs >= t.NewIPs) },
		reason: burstReason,
	},
	{
		Name: "spam_burst_new_ips", Kind: Sending,
		Doc:   "a volume burst (3 points or more) from new_ips or more new IPs, mostly forged or with more than volume to say spam",
		Reads: []string{"new_ips"}, Figures: []string{"last_hour", "new_ips"},
		fire: func(t *Thresholds, e *evidence) int {
			return b2i(e.vol >= 3 && e.newIPs >= t.NewIPs && (e.forged || e.spammy))
		},
		reason: burstReason,
	},
	{
		Name: "rejected_burst_new_ips", Kind: Sending,
		Doc:   "a volume burst (3 points or more) refused for spam many_rejections times or more, from two or more new IPs",
		Reads: []string{"many_rejections"}, Figures: []string{"rejections", "new_ips"},
		fire: func(t *Thresholds, e *evidence) int {
			return b2i(e.vol >= 3 && e.rej >= t.ManyRejections && e.newIPs >= 2)
		},
		reason: rejectionsReason,
	},
	{
		Name: "refused_from_new_ips", Kind: Sending,
		Doc:   "many_rejections or more remote spam rejections with new_ips or more new IPs (no volume needed: a login without history has no baseline)",
		Reads: []string{"many_rejections", "new_ips"}, Figures: []string{"rejections", "new_ips"},
		fire: func(t *Thresholds, e *evidence) int {
			return b2i(e.rej >= t.ManyRejections && e.newIPs >= t.NewIPs)
		},
		reason: rejectionsReason,
	},
	{
		Name: "heavily_refused", Kind: Sending,
		Doc:   "heavy_rejections or more remote spam rejections (not a big mailing's sliver), from any IP",
		Reads: []string{"heavy_rejections", "rejection_sliver"}, Figures: []string{"rejections"},
		fire:   func(t *Thresholds, e *evidence) int { return b2i(e.rej >= t.HeavyRejections) },
		reason: rejectionsReason,
	},
	{
		Name: "forged_burst_own_habit", Kind: Sending,
		Doc:   "a burst against its own past mostly with senders of many_foreign_domains or more, from a login whose history (two days) shows it sends as its own, even from its usual address (malware on the user's computer)",
		Reads: []string{"many_foreign_domains"}, Figures: []string{"foreign_domains", "foreign_messages", "window_messages"},
		fire: func(t *Thresholds, e *evidence) int {
			return b2i(e.vol >= 1 && e.d >= t.ManyForeignDomains && e.foreign*2 >= e.n && e.ownHabit)
		},
		reason: func(_ *Snapshot, f *Fired) string {
			return fmt.Sprintf("a login that sends as its own domain sent %d of %d messages as %d other domains", f.Figure("foreign_messages"), f.Figure("window_messages"), f.Figure("foreign_domains"))
		},
	},
	{
		Name: "unusual_burst", Kind: Notable,
		Doc:   "a volume burst (3 points or more) from new_ips or more new IPs",
		Reads: []string{"new_ips"}, Figures: []string{"last_hour", "new_ips"},
		fire:   func(t *Thresholds, e *evidence) int { return b2i(e.vol >= 3 && e.newIPs >= t.NewIPs) },
		reason: burstReason,
	},
	{
		Name: "forged_senders", Kind: Notable,
		Doc:   "senders of few_foreign_domains or more foreign domains",
		Reads: []string{"few_foreign_domains"}, Figures: []string{"foreign_domains"},
		fire:   func(t *Thresholds, e *evidence) int { return b2i(e.d >= t.FewForeignDomains) },
		reason: foreignReason,
	},
	{
		Name: "refused_for_spam", Kind: Notable,
		Doc:   "rejections or more remote spam rejections",
		Reads: []string{"rejections"}, Figures: []string{"rejections"},
		fire:   func(t *Thresholds, e *evidence) int { return b2i(e.rej >= t.Rejections) },
		reason: rejectionsReason,
	},
}

// RuleTable returns the detector's rules, in evaluation order.
func RuleTable() []Rule { return append([]Rule(nil), rules...) }

// masks of the rules by kind, and each rule's group index (-1: none)
var (
	sendingMask, notableMask uint64
	ruleGroup                []int8
	numGroups                int
	ruleIndex                = map[string]int{}
)

func init() {
	if len(rules) > 64 {
		panic("detect: more than 64 rules")
	}
	groups := map[string]int8{}
	ruleGroup = make([]int8, len(rules))
	for i, r := range rules {
		ruleIndex[r.Name] = i
		switch r.Kind {
		case Sending:
			sendingMask |= 1 << i
		case Notable:
			notableMask |= 1 << i
		}
		ruleGroup[i] = -1
		if r.Group != "" {
			g, ok := groups[r.Group]
			if !ok {
				g = int8(len(groups))
				groups[r.Group] = g
			}
			ruleGroup[i] = g
		}
	}
	numGroups = len(groups)
	if numGroups > maxGroups {
		panic("detect: too many rule groups")
	}
}

const maxGroups = 8

// derive computes into e what the rules read from the window's counts.
func derive(t *Thresholds, c counts, e *evidence) {
	if c.foreignNorm || c.reusesSenders(t) {
		// it always sends as others' addresses, or keeps to a few of
		// them throughout the window with nobody refusing them for
		// spam: judge it as if its senders were its own
		c.d, c.foreign, c.fNew = 0, 0, 0
	} else {
		// addresses of its own domains it has no history of (a
		// colleague's, an invented one) are forged senders too, each
		// address counting as one forged identity
		c.d += c.unfSenders
		c.foreign += c.unf
		c.fNew += c.unfNew
	}
	*e = evidence{counts: c}
	e.forged = c.foreign >= t.ForgedShareMessages && c.foreign*2 >= c.n
	e.rej = c.rej
	if c.rej*t.RejectionSliver < c.winRcpts && c.d == 0 && c.newIPs == 0 {
		// a sliver of a big mailing, sent as the login's own from its
		// known addresses: from new IPs or with forged senders, more
		// messages must not hide the refusals
		e.rej = 0
	}
	e.spammy = c.d >= t.FewForeignDomains || e.rej >= t.Rejections || c.bnc >= t.Bounces
	e.failed = c.fail + c.prior
	// mostly forged mail counts as volume from fewer messages than the
	// user's own (low-and-slow spam; a traveller catching up on mail)
	b := max(c.base, 1)
	floor := t.VolumeFloor
	if e.forged {
		floor = t.ForgedVolumeFloor
	}
	if c.hist {
		switch {
		case c.lastHour >= t.LoudVolume && c.lastHour >= t.LoudVolumeRatio*b:
			e.msgVol = 4
		case c.lastHour >= floor && c.lastHour >= t.VolumeRatio*b:
			e.msgVol = 3
		}
	} else if c.lastHour >= t.LoudVolume || e.forged && c.lastHour >= t.VolumeFloor {
		e.msgVol = 1 // no day of history to compare with
	}
	// the same in recipients (spam sent as the user's own address goes to
	// many recipients a message; one invitation to 300 does not count),
	// against a baseline of a day at least
	br := max(c.baseRcpts, 1)
	if c.lastHour >= t.RcptMessages && c.winRcpts >= t.RcptWindow {
		switch {
		case !c.rcptHist:
			if c.hourRcpts >= 5*t.RcptFloor {
				e.rcptVol = 1
			}
		case c.hourRcpts >= 3*t.RcptFloor && c.hourRcpts >= t.LoudRcptRatio*br:
			e.rcptVol = 4
		case c.hourRcpts >= t.RcptFloor && c.hourRcpts >= t.RcptRatio*br:
			e.rcptVol = 3
		}
	}
	e.vol = max(e.msgVol, e.rcptVol)
}

// reusesSenders tells whether the window's foreign mail keeps to a set of
// sender addresses: forged_share_messages or more with a known sender,
// from two addresses or more (one forged address throughout is a
// spammer's brand as often as a job's), sender_reuse messages per address
// on average, and fewer than `rejections` spam refusals. This reads the window as the login's own
// history (a relay sending as its hosted customers, a cron job's fixed
// addresses), which a login first seen at the log's start has no other of.
func (c *counts) reusesSenders(t *Thresholds) bool {
	return c.senderMsgs >= t.ForgedShareMessages && c.senders >= 2 && c.senders*t.SenderReuse <= c.senderMsgs && c.rej < t.Rejections
}

// apply runs the rule table over e: the score, and a bit for each rule
// that counts (a group's strongest only). It allocates nothing.
func apply(t *Thresholds, e *evidence) (score int, fired uint64) {
	if e.quiet() {
		return 0, 0
	}
	return applyAll(t, e)
}

// quiet tells whether the window shows none of what any rule reads: no
// foreign sender, new IP, volume, rejection, bounce or failed login (most
// messages of most logins). No rule fires then, as every threshold is 1 or
// more; a test checks that against the whole table.
func (e *evidence) quiet() bool {
	return e.d == 0 && e.foreign == 0 && e.fNew == 0 && e.newIPs == 0 && e.vol == 0 && e.rej == 0 && e.bnc == 0 && e.failed == 0
}

// applyAll is apply without the shortcut for a quiet window.
func applyAll(t *Thresholds, e *evidence) (score int, fired uint64) {
	var best [maxGroups]int
	var who [maxGroups]int8
	for i := range rules {
		p := rules[i].fire(t, e)
		if p <= 0 {
			continue
		}
		if g := ruleGroup[i]; g >= 0 {
			if who[g] == 0 || p > best[g] {
				best[g], who[g] = p, int8(i+1)
			}
			continue
		}
		fired |= 1 << i
		if rules[i].Kind == Score {
			score += p
		}
	}
	for g := range numGroups {
		if who[g] != 0 {
			i := int(who[g] - 1)
			fired |= 1 << i
			if rules[i].Kind == Score {
				score += best[g]
			}
		}
	}
	return score, fired
}

// Fired is a rule that fired, with its points and figures.
type Fired struct {
	Name    string
	Points  int
	Figures []Figure // in the rule's order
}

// Figure is one named number a rule read.
type Figure struct {
	Name  string
	Value int
}

// firedRules lists the rules of mask with their figures, in table order.
func firedRules(t *Thresholds, e *evidence, mask uint64) []Fired {
	var out []Fired
	for i, r := range rules {
		if mask&(1<<i) == 0 {
			continue
		}
		f := Fired{Name: r.Name, Figures: make([]Figure, len(r.Figures))}
		if r.Kind == Score {
			f.Points = r.fire(t, e)
		}
		for j, name := range r.Figures {
			v, _ := e.figure(name)
			f.Figures[j] = Figure{name, v}
		}
		out = append(out, f)
	}
	return out
}

// figure returns one named figure of the evidence.
func (e *evidence) figure(name string) (int, bool) {
	switch name {
	case "foreign_domains":
		return e.d, true
	case "foreign_messages":
		return e.foreign, true
	case "forged_from_new_ips":
		return e.fNew, true
	case "window_messages":
		return e.n, true
	case "new_ips":
		return e.newIPs, true
	case "last_hour":
		return e.lastHour, true
	case "last_hour_new_ips":
		return e.hourNew, true
	case "baseline_per_hour":
		return e.base, true
	case "last_hour_rcpts":
		return e.hourRcpts, true
	case "baseline_rcpts":
		return e.baseRcpts, true
	case "rejections":
		return e.rej, true
	case "bounces":
		return e.bnc, true
	case "failed_logins":
		return e.failed, true
	}
	return 0, false
}

// ruleNames returns the names of the rules in mask, in table order.
func ruleNames(mask uint64) []string {
	var out []string
	for i, r := range rules {
		if mask&(1<<i) != 0 {
			out = append(out, r.Name)
		}
	}
	return out
}

// checkTable verifies the table's references: every threshold a rule
// reads exists and every figure is known (a test calls it).
func checkTable() error {
	keys := map[string]bool{}
	for _, ti := range thresholds {
		keys[ti.Key] = true
	}
	names := map[string]bool{}
	var e evidence
	for _, r := range rules {
		if names[r.Name] {
			return fmt.Errorf("rule %s twice", r.Name)
		}
		names[r.Name] = true
		for _, k := range r.Reads {
			if !keys[k] {
				return fmt.Errorf("rule %s reads unknown threshold %s", r.Name, k)
			}
		}
		for _, f := range r.Figures {
			if _, ok := e.figure(f); !ok {
				return fmt.Errorf("rule %s reports unknown figure %s", r.Name, f)
			}
		}
		if r.Doc == "" || r.Kind == Score && r.Points == "" || r.reason == nil {
			return fmt.Errorf("rule %s is not documented", r.Name)
		}
	}
	return nil
}
