package policy

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/saslguard/saslguard/internal/config"
)

// Duration is a time.Duration written as "30s", "5m" in TOML.
type Duration = config.Duration

// Rule is one per-login limit: when the login's count in the rule's window
// goes over Limit, the request gets Action. Limit 0 turns the rule off.
// A Compromised rule also blocks the login until a person lifts the block.
type Rule struct {
	Limit       int    `toml:"limit"`
	Action      Action `toml:"action"`
	Compromised bool   `toml:"compromised"`
}

// Rules are the per-login limits, in the [policy.rules.NAME] tables.
type Rules struct {
	MessagesPerMinute     Rule `toml:"messages_per_minute"`
	MessagesPerHour       Rule `toml:"messages_per_hour"`
	MessagesPerDay        Rule `toml:"messages_per_day"`
	RecipientsPerMinute   Rule `toml:"recipients_per_minute"`
	RecipientsPerHour     Rule `toml:"recipients_per_hour"`
	RecipientsPerDay      Rule `toml:"recipients_per_day"`
	ClientIPsPerHour      Rule `toml:"client_ips_per_hour"`
	ClientNetworksPerHour Rule `toml:"client_networks_per_hour"`
	SenderDomainsPerHour  Rule `toml:"sender_domains_per_hour"`
	ForeignSendersPerHour Rule `toml:"foreign_senders_per_hour"`
}

// Rule names, as used in logs, metrics and the store.
const (
	RuleMessagesPerMinute     = "messages_per_minute"
	RuleMessagesPerHour       = "messages_per_hour"
	RuleMessagesPerDay        = "messages_per_day"
	RuleRecipientsPerMinute   = "recipients_per_minute"
	RuleRecipientsPerHour     = "recipients_per_hour"
	RuleRecipientsPerDay      = "recipients_per_day"
	RuleClientIPsPerHour      = "client_ips_per_hour"
	RuleClientNetworksPerHour = "client_networks_per_hour"
	RuleSenderDomainsPerHour  = "sender_domains_per_hour"
	RuleForeignSendersPerHour = "foreign_senders_per_hour"
	RuleBlocked               = "blocked"
)

// ruleNames lists every rule name; metrics use it as their label set.
var ruleNames = []string{
	RuleMessagesPerMinute, RuleMessagesPerHour, RuleMessagesPerDay,
	RuleRecipientsPerMinute, RuleRecipientsPerHour, RuleRecipientsPerDay,
	RuleClientIPsPerHour, RuleClientNetworksPerHour, RuleSenderDomainsPerHour,
	RuleForeignSendersPerHour, RuleBlocked,
}

// list returns the rules with their names and the total each one checks.
func (r *Rules) list() []namedRule {
	return []namedRule{
		{RuleMessagesPerMinute, r.MessagesPerMinute, func(t *Totals) int { return t.Messages[0] }},
		{RuleMessagesPerHour, r.MessagesPerHour, func(t *Totals) int { return t.Messages[1] }},
		{RuleMessagesPerDay, r.MessagesPerDay, func(t *Totals) int { return t.Messages[2] }},
		{RuleRecipientsPerMinute, r.RecipientsPerMinute, func(t *Totals) int { return t.Recipients[0] }},
		{RuleRecipientsPerHour, r.RecipientsPerHour, func(t *Totals) int { return t.Recipients[1] }},
		{RuleRecipientsPerDay, r.RecipientsPerDay, func(t *Totals) int { return t.Recipients[2] }},
		{RuleClientIPsPerHour, r.ClientIPsPerHour, func(t *Totals) int { return t.ClientIPs }},
		{RuleClientNetworksPerHour, r.ClientNetworksPerHour, func(t *Totals) int { return t.ClientNetworks }},
		{RuleSenderDomainsPerHour, r.SenderDomainsPerHour, func(t *Totals) int { return t.SenderDomains }},
		{RuleForeignSendersPerHour, r.ForeignSendersPerHour, func(t *Totals) int { return t.ForeignSenders }},
	}
}

type namedRule struct {
	name  string
	rule  Rule
	value func(*Totals) int
}

// Replies are the texts sent after each action. They are generic on
// purpose: the client learns nothing about which rule tripped.
type Replies struct {
	DeferIfPermit string `toml:"defer_if_permit"`
	Hold          string `toml:"hold"`
	Reject        string `toml:"reject"`
	// Blocked is sent to a login that is blocked.
	Blocked string `toml:"blocked"`
}

// Config is the [policy] section of saslguard's configuration file.
type Config struct {
	// Listen holds "tcp:HOST:PORT" and "unix:/PATH" addresses.
	Listen []string `toml:"listen"`
	// SocketMode and SocketGroup apply to unix sockets ("0660", "postfix").
	SocketMode  string `toml:"socket_mode"`
	SocketGroup string `toml:"socket_group"`
	// StateDir holds saslguard.db (blocks, incidents) and the snapshot.
	StateDir string `toml:"state_dir"`
	// Redis, if set, is host:port of the redis-server the fleet shares.
	Redis          string   `toml:"redis"`
	RedisPrefix    string   `toml:"redis_prefix"`
	RedisTimeout   Duration `toml:"redis_timeout"`
	Metrics        string   `toml:"metrics"`
	MaxConnections int      `toml:"max_connections"`
	IdleTimeout    Duration `toml:"idle_timeout"`
	// RequestTimeout bounds one request from its first byte to its empty line.
	RequestTimeout Duration `toml:"request_timeout"`
	// MaxLogins bounds the logins whose counters are kept in memory.
	MaxLogins        int      `toml:"max_logins"`
	SnapshotInterval Duration `toml:"snapshot_interval"`
	SyncInterval     Duration `toml:"sync_interval"`
	// BlockAction is the answer for a blocked login.
	BlockAction Action `toml:"block_action"`
	// BlockedLogins are always blocked (the explicit block list).
	BlockedLogins []string `toml:"blocked_logins"`
	// OwnDomains are sender domains never counted as foreign, besides the
	// login's own domain.
	OwnDomains []string `toml:"own_domains"`
	Replies    Replies  `toml:"replies"`
	Rules      Rules    `toml:"rules"`
}

// DefaultConfig returns the defaults: limits a person sending by hand
// never reaches, well below what a spammer with a stolen login sends.
func DefaultConfig() Config {
	return Config{
		Listen:           []string{"tcp:127.0.0.1:10040"},
		SocketMode:       "0660",
		StateDir:         "/var/lib/saslguard",
		RedisPrefix:      "saslguard:",
		RedisTimeout:     Duration{Duration: 200 * time.Millisecond},
		MaxConnections:   1000,
		IdleTimeout:      Duration{Duration: 330 * time.Second},
		RequestTimeout:   Duration{Duration: 10 * time.Second},
		MaxLogins:        100000,
		SnapshotInterval: Duration{Duration: time.Minute},
		SyncInterval:     Duration{Duration: 2 * time.Second},
		BlockAction:      Reject,
		Replies: Replies{
			DeferIfPermit: "4.7.1 Sending limit reached, try again later",
			Hold:          "Held for review",
			Reject:        "5.7.1 Message refused, contact your administrator",
			Blocked:       "5.7.1 Sending disabled for this account, contact your administrator",
		},
		Rules: Rules{
			MessagesPerMinute:     Rule{Limit: 30, Action: DeferIfPermit},
			MessagesPerHour:       Rule{Limit: 300, Action: DeferIfPermit},
			MessagesPerDay:        Rule{Limit: 1000, Action: DeferIfPermit},
			RecipientsPerMinute:   Rule{Limit: 100, Action: DeferIfPermit},
			RecipientsPerHour:     Rule{Limit: 1000, Action: DeferIfPermit},
			RecipientsPerDay:      Rule{Limit: 5000, Action: Reject, Compromised: true},
			ClientIPsPerHour:      Rule{Limit: 20, Action: DeferIfPermit},
			ClientNetworksPerHour: Rule{Limit: 10, Action: Reject, Compromised: true},
			SenderDomainsPerHour:  Rule{Limit: 10, Action: Reject, Compromised: true},
			ForeignSendersPerHour: Rule{Limit: 0, Action: DeferIfPermit},
		},
	}
}

// maxDistinct is how many distinct values (IPs, networks, domains) are
// remembered per login; distinct-value limits must stay below it.
const maxDistinct = 64

// Validate checks a configuration once, at load.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Listen) == 0 {
		errs = append(errs, errors.New("listen: no address"))
	}
	for _, l := range c.Listen {
		if _, _, err := ParseListen(l); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxConnections < 1 {
		errs = append(errs, errors.New("max_connections must be at least 1"))
	}
	if c.MaxLogins < 100 {
		errs = append(errs, errors.New("max_logins must be at least 100"))
	}
	for name, d := range map[string]Duration{
		"idle_timeout": c.IdleTimeout, "request_timeout": c.RequestTimeout,
		"snapshot_interval": c.SnapshotInterval, "sync_interval": c.SyncInterval,
		"redis_timeout": c.RedisTimeout,
	} {
		if d.Duration <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.BlockAction == Dunno || c.BlockAction >= numActions {
		errs = append(errs, errors.New("block_action must be DEFER_IF_PERMIT, HOLD or REJECT"))
	}
	for _, t := range []string{c.Replies.DeferIfPermit, c.Replies.Hold, c.Replies.Reject, c.Replies.Blocked} {
		if SanitizeText(t) != t {
			errs = append(errs, fmt.Errorf("reply text %q: only printable ASCII, at most %d bytes, no leading or trailing space", t, maxReplyText))
		}
	}
	for _, r := range c.Rules.list() {
		if r.rule.Limit < 0 {
			errs = append(errs, fmt.Errorf("rules.%s.limit must not be negative", r.name))
		}
		if r.rule.Action >= numActions {
			errs = append(errs, fmt.Errorf("rules.%s.action invalid", r.name))
		}
		switch r.name {
		case RuleClientIPsPerHour, RuleClientNetworksPerHour, RuleSenderDomainsPerHour:
			if r.rule.Limit >= maxDistinct {
				errs = append(errs, fmt.Errorf("rules.%s.limit must be below %d", r.name, maxDistinct))
			}
		}
	}
	for _, l := range c.BlockedLogins {
		if l == "" || strings.ContainsAny(l, "\x00\r\n") {
			errs = append(errs, fmt.Errorf("blocked_logins: invalid login %q", l))
		}
	}
	if c.Redis != "" {
		if _, _, err := net.SplitHostPort(c.Redis); err != nil {
			errs = append(errs, fmt.Errorf("redis: %w", err))
		}
	}
	if c.SocketMode != "" {
		if _, err := parseMode(c.SocketMode); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ParseListen splits "tcp:HOST:PORT" or "unix:/PATH" into a network and an
// address for net.Listen.
func ParseListen(s string) (network, addr string, err error) {
	network, addr, ok := strings.Cut(s, ":")
	if !ok || addr == "" {
		return "", "", fmt.Errorf("listen %q: want tcp:HOST:PORT or unix:/PATH", s)
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", "", fmt.Errorf("listen %q: %w", s, err)
		}
	case "unix":
		if !strings.HasPrefix(addr, "/") {
			return "", "", fmt.Errorf("listen %q: unix socket path must be absolute", s)
		}
	default:
		return "", "", fmt.Errorf("listen %q: unknown network %q", s, network)
	}
	return network, addr, nil
}

func parseMode(s string) (uint32, error) {
	var m uint32
	if _, err := fmt.Sscanf(s, "%o", &m); err != nil || m > 0o777 {
		return 0, fmt.Errorf("socket_mode %q: want an octal mode like 0660", s)
	}
	return m, nil
}

type fileConfig struct {
	Policy Config `toml:"policy"`
}

// LoadConfig reads the [policy] section of a TOML file over the defaults.
// Unknown keys in [policy] are errors; other top-level sections belong to
// other commands and are left to their own loaders.
func LoadConfig(path string) (Config, error) {
	fc := fileConfig{Policy: DefaultConfig()}
	md, err := toml.DecodeFile(path, &fc)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return finishLoad(path, md, fc)
}

// DecodeConfig is LoadConfig for a string; name is used in messages.
func DecodeConfig(name, data string) (Config, error) {
	fc := fileConfig{Policy: DefaultConfig()}
	md, err := toml.Decode(data, &fc)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", name, err)
	}
	return finishLoad(name, md, fc)
}

func finishLoad(name string, md toml.MetaData, fc fileConfig) (Config, error) {
	var unknown []string
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] == "policy" {
			unknown = append(unknown, k.String())
		}
	}
	if len(unknown) > 0 {
		return Config{}, fmt.Errorf("load config %s: unknown keys: %s", name, strings.Join(unknown, ", "))
	}
	if err := fc.Policy.Validate(); err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", name, err)
	}
	return fc.Policy, nil
}

// ExampleConfig is a commented [policy] section with the defaults.
const ExampleConfig = `[policy]
# Where Postfix's check_policy_service connects.
listen = ["tcp:127.0.0.1:10040"]       # or "unix:/var/spool/postfix/private/saslguard"
socket_mode = "0660"                   # for unix sockets
# socket_group = "postfix"
state_dir = "/var/lib/saslguard"       # saslguard.db and policy-state.json
# redis = "127.0.0.1:6379"             # share counters and blocks across a fleet
redis_prefix = "saslguard:"
redis_timeout = "200ms"
# metrics = "127.0.0.1:9154"           # Prometheus /metrics
max_connections = 1000
idle_timeout = "330s"                  # above Postfix's smtpd_policy_service_max_idle (300s)
request_timeout = "10s"                # first byte to empty line
max_logins = 100000                    # logins whose counters are kept in memory
snapshot_interval = "1m"
sync_interval = "2s"                   # re-read blocks from the store and Redis
block_action = "REJECT"                # answer for a blocked login
blocked_logins = []                    # always blocked
own_domains = []                       # sender domains never counted as foreign

[policy.replies]
defer_if_permit = "4.7.1 Sending limit reached, try again later"
hold = "Held for review"
reject = "5.7.1 Message refused, contact your administrator"
blocked = "5.7.1 Sending disabled for this account, contact your administrator"

# Each rule: limit (0 = off), action (DUNNO logs only, DEFER_IF_PERMIT,
# HOLD, REJECT), compromised (block the login until "saslguard account enable").
[policy.rules.messages_per_minute]
limit = 30
action = "DEFER_IF_PERMIT"
[policy.rules.messages_per_hour]
limit = 300
action = "DEFER_IF_PERMIT"
[policy.rules.messages_per_day]
limit = 1000
action = "DEFER_IF_PERMIT"
[policy.rules.recipients_per_minute]
limit = 100
action = "DEFER_IF_PERMIT"
[policy.rules.recipients_per_hour]
limit = 1000
action = "DEFER_IF_PERMIT"
[policy.rules.recipients_per_day]
limit = 5000
action = "REJECT"
compromised = true
[policy.rules.client_ips_per_hour]
limit = 20
action = "DEFER_IF_PERMIT"
[policy.rules.client_networks_per_hour]  # IPv4 /24, IPv6 /48
limit = 10
action = "REJECT"
compromised = true
[policy.rules.sender_domains_per_hour]
limit = 10
action = "REJECT"
compromised = true
[policy.rules.foreign_senders_per_hour]  # messages whose sender is outside the login's domain
limit = 0
action = "DEFER_IF_PERMIT"
`
