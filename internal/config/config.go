// Package config loads saslguard's configuration file: TOML, decoded
// strictly (an unknown key is an error, so a typo never silently falls back
// to a default), validated once at load. Example prints a commented default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/saslguard/saslguard/internal/detect"
)

// otherSections are sections of the same file that other packages decode
// (policy.LoadConfig reads [policy]).
var otherSections = map[string]bool{"policy": true}

// Config is the file's scan and detect sections.
type Config struct {
	Scan   Scan   `toml:"scan"`
	Detect Detect `toml:"detect"`
}

// Scan configures what is the organisation's own and who is trusted.
type Scan struct {
	// OwnDomains are the organisation's mail domains; empty means infer
	// them from the logins and local deliveries.
	OwnDomains []string `toml:"own_domains"`
	// TrustedNetworks are client networks never counted as new (CIDR).
	TrustedNetworks []string `toml:"trusted_networks"`
	// AllowLogins are never flagged (and never blocked by respond).
	AllowLogins []string `toml:"allow_logins"`
	// Timezone of classic syslog stamps ("Local", "UTC", "Europe/Berlin").
	Timezone string `toml:"timezone"`
	// Logs are read when scan is given no file.
	Logs []string `toml:"logs"`
}

// Detect holds the detector's thresholds.
type Detect struct {
	Window           Duration `toml:"window"`
	BaselineDays     int      `toml:"baseline_days"`
	CompromisedScore int      `toml:"compromised_score"`
	SuspiciousScore  int      `toml:"suspicious_score"`
	// the rules' thresholds, keys of the same section
	detect.Thresholds
}

// Duration is a time.Duration written as "24h" or "90m".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes a duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration used when there is no file.
func Default() *Config {
	dc := detect.DefaultConfig()
	return &Config{
		Scan: Scan{OwnDomains: []string{}, TrustedNetworks: []string{}, AllowLogins: []string{}, Timezone: "Local", Logs: []string{"/var/log/mail.log"}},
		Detect: Detect{
			Window:           Duration{dc.Window},
			BaselineDays:     dc.BaselineDays,
			CompromisedScore: dc.CompromisedScore,
			SuspiciousScore:  dc.SuspiciousScore,
			Thresholds:       dc.Thresholds,
		},
	}
}

// Load reads a file over the defaults. An empty path gives the defaults.
func Load(path string) (*Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if err := c.decode(data); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads configuration text over the defaults.
func Parse(text string) (*Config, error) {
	c := Default()
	if err := c.decode([]byte(text)); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) decode(data []byte) error {
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(c)
	if err != nil {
		return err
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			if len(k) > 0 && otherSections[k[0]] {
				continue // decoded, strictly, by its own package
			}
			keys = append(keys, k.String())
		}
		if len(keys) == 0 {
			return c.Validate()
		}
		sort.Strings(keys)
		return fmt.Errorf("unknown key(s): %s", strings.Join(keys, ", "))
	}
	return c.Validate()
}

// Validate checks values once, at load.
func (c *Config) Validate() error {
	var errs []error
	for _, n := range c.Scan.TrustedNetworks {
		if _, err := parseNet(n); err != nil {
			errs = append(errs, fmt.Errorf("scan.trusted_networks: %q is not an address or CIDR network", n))
		}
	}
	for _, d := range c.Scan.OwnDomains {
		if d == "" || strings.ContainsAny(d, " @\t\r\n") {
			errs = append(errs, fmt.Errorf("scan.own_domains: %q is not a domain", d))
		}
	}
	if _, err := c.Location(); err != nil {
		errs = append(errs, err)
	}
	d := c.Detect
	if d.Window.Duration < time.Minute || d.Window.Duration > 30*24*time.Hour {
		errs = append(errs, errors.New("detect.window must be between 1m and 720h"))
	}
	if d.BaselineDays < 1 || d.BaselineDays > 8 {
		errs = append(errs, errors.New("detect.baseline_days must be between 1 and 8"))
	}
	if d.SuspiciousScore < 1 || d.CompromisedScore < d.SuspiciousScore {
		errs = append(errs, errors.New("detect: need 1 <= suspicious_score <= compromised_score"))
	}
	for _, ti := range detect.ThresholdTable() {
		if v := ti.Get(&d.Thresholds); v < 1 || v > maxThreshold {
			errs = append(errs, fmt.Errorf("detect.%s must be between 1 and %d, not %d", ti.Key, maxThreshold, v))
		}
	}
	for _, o := range [][3]string{
		{"few_foreign_domains", "min_foreign_domains", "more_foreign_domains"},
		{"min_foreign_domains", "more_foreign_domains", "many_foreign_domains"},
		{"new_ips", "more_new_ips", "many_new_ips"},
		{"rejections", "many_rejections", ""},
		{"failed_logins", "many_failed_logins", ""},
	} {
		if err := ordered(&d.Thresholds, o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// maxThreshold bounds every threshold (a count of messages, IPs,
// recipients, or a ratio).
const maxThreshold = 1000000

// ordered checks that tiers of one rule rise: keys a <= b <= c.
func ordered(t *detect.Thresholds, keys [3]string) error {
	var vals []int
	var names []string
	for _, k := range keys {
		for _, ti := range detect.ThresholdTable() {
			if ti.Key == k {
				vals = append(vals, ti.Get(t))
				names = append(names, k)
			}
		}
	}
	for i := 1; i < len(vals); i++ {
		if vals[i] < vals[i-1] {
			return fmt.Errorf("detect: need %s (each tier at least the one before; %s is %d, %s is %d)",
				strings.Join(names, " <= "), names[i-1], vals[i-1], names[i], vals[i])
		}
	}
	return nil
}

func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Location returns the configured zone.
func (c *Config) Location() (*time.Location, error) {
	switch c.Scan.Timezone {
	case "", "Local":
		return time.Local, nil
	}
	loc, err := time.LoadLocation(c.Scan.Timezone)
	if err != nil {
		return nil, fmt.Errorf("scan.timezone: %w", err)
	}
	return loc, nil
}

// DetectConfig returns the detector's configuration.
func (c *Config) DetectConfig() detect.Config {
	dc := detect.Config{
		Window:           c.Detect.Window.Duration,
		BaselineDays:     c.Detect.BaselineDays,
		CompromisedScore: c.Detect.CompromisedScore,
		SuspiciousScore:  c.Detect.SuspiciousScore,
		Thresholds:       c.Detect.Thresholds,
	}
	for _, n := range c.Scan.TrustedNetworks {
		if p, err := parseNet(n); err == nil {
			dc.TrustedNets = append(dc.TrustedNets, p)
		}
	}
	dc.Normalize()
	return dc
}

// Allow returns the allowlisted logins, lower case.
func (c *Config) Allow() map[string]bool {
	m := map[string]bool{}
	for _, l := range c.Scan.AllowLogins {
		m[strings.ToLower(l)] = true
	}
	return m
}

// Example is a commented default configuration; Parse(Example) gives Default.
var Example = `# saslguard configuration. Every key is optional; these are the defaults.
# Unknown keys are errors, so a typo is caught at start.

[scan]
# The organisation's mail domains. Envelope senders in other domains count as
# forged when an authenticated login uses them. Empty: inferred from the
# logins' own domains and from recipients delivered locally.
own_domains = []
# Client networks never counted as "new" for a login (office NAT, webmail).
trusted_networks = []
# Logins never flagged by scan and never blocked by respond or watch.
allow_logins = []
# Zone of classic syslog stamps ("Nov 27 05:39:22"), which carry none.
timezone = "Local"
# Logs read when scan is given no file.
logs = ["/var/log/mail.log"]

[detect]
# Sliding window of event time over which the signals are counted.
window = "24h0m0s"
# How many days before the window the login's hourly baseline looks at.
baseline_days = 7
# Score at which a login is compromised (it must also be sending: forged or
# abnormal mail from new IPs, or a burst far above its own past mostly with
# foreign sender domains; failed logins alone never flag a login).
compromised_score = 8
# Score at which a login is suspicious.
suspicious_score = 5
# The rules' thresholds ('saslguard rules' shows which rule reads which).
` + thresholdExample()

// thresholdExample renders every threshold with its default and meaning.
func thresholdExample() string {
	var b strings.Builder
	for _, ti := range detect.ThresholdTable() {
		fmt.Fprintf(&b, "# %s\n%s = %d\n", ti.Doc, ti.Key, ti.Default)
	}
	return b.String()
}
