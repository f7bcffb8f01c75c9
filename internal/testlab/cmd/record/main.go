// Command record starts a private testlab (real Postfix and Dovecot on
// loopback), drives one incident scenario against it and copies the logs it
// produced into testdata, with the ground truth beside them:
//
//	go run ./internal/testlab/cmd/record -scenario takeover -out testdata/incidents/
//
// It writes NAME.maillog (Postfix, classic syslog format), NAME.dovecot.log,
// NAME.postqueue.json (postqueue -j at the end) and NAME.truth.json.
// Scenarios: takeover, longids (takeover with enable_long_queue_ids) and
// bulk-only (legitimate traffic only: nothing may be flagged).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/saslguard/saslguard/internal/testlab"
)

// Truth is the ground truth written as NAME.truth.json.
type Truth struct {
	Scenario     string   `json:"scenario"`
	Compromised  []string `json:"compromised"`
	Legitimate   []string `json:"legitimate"`
	BruteForced  []string `json:"brute_forced_never_compromised"`
	AttackerIPs  []string `json:"attacker_ips"`
	LongQueueIDs bool     `json:"long_queue_ids"`
	// Counts of what the driver did (replies it got), for sanity checks.
	Counts map[string]int `json:"counts"`
	// SpamQueueIDs are the first-hop queue ids the compromised login's
	// messages got (the DATA replies).
	SpamQueueIDs []string `json:"spam_queue_ids"`
	Note         string   `json:"note"`
}

type recorder struct {
	lab  *testlab.Lab
	log  *slog.Logger
	rng  *rand.Rand
	mu   sync.Mutex
	cnt  map[string]int
	spam []string
	errs []error
}

func (r *recorder) count(k string, n int) {
	r.mu.Lock()
	r.cnt[k] += n
	r.mu.Unlock()
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *recorder) intn(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.IntN(n)
}

// Accounts of the scenarios (login, password, source address).
type account struct {
	login, password, ip string
}

var (
	normalUsers = []account{
		{"alice@lab.test", "alice-secret-1", "127.0.0.11"},
		{"bob@lab.test", "bob-secret-2", "127.0.0.12"},
		{"carol@lab.test", "carol-secret-3", "127.0.0.13"},
		{"dave@lab.test", "dave-secret-4", "127.0.0.14"},
		{"frank@lab.test", "frank-Strong-5", "127.0.0.15"},
	}
	newsletter = account{"newsletter@lab.test", "news-secret-6", "127.0.0.20"}
	victim     = account{"erin@lab.test", "summer2024", ""}
	// frank is brute-forced too, but the attacker never gets in.
	bruteIPs      = []string{"127.0.0.101", "127.0.0.102", "127.0.0.103", "127.0.0.104"}
	frankBruteIPs = []string{"127.0.0.111", "127.0.0.112", "127.0.0.113"}
	// The spam comes from other addresses than the guessing (a botnet; and
	// a penalised address would wait out Postfix's auth timeout).
	spamIPs = []string{"127.0.0.127", "127.0.0.121", "127.0.0.122", "127.0.0.123", "127.0.0.124", "127.0.0.125", "127.0.0.126"}
)

func main() {
	scenario := flag.String("scenario", "takeover", "takeover, longids or bulk-only")
	out := flag.String("out", "testdata/incidents", "output directory")
	seed := flag.Uint64("seed", 1, "random seed for the traffic pattern")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), logger, *scenario, *out, *seed); err != nil {
		logger.Error("record failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger, scenario, out string, seed uint64) error {
	attack := true
	opts := testlab.Options{ContentFilter: testlab.FilterSMTPS, FilterSyslogName: "postfix/10025"}
	switch scenario {
	case "takeover":
	case "longids":
		opts.LongQueueIDs = true
	case "bulk-only":
		attack = false
	default:
		return fmt.Errorf("unknown scenario %q", scenario)
	}
	opts.Users = map[string]string{newsletter.login: newsletter.password, victim.login: victim.password}
	for _, a := range normalUsers {
		opts.Users[a.login] = a.password
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	t0 := time.Now()
	lab, err := testlab.New(opts, func(f string, a ...any) { logger.Info(fmt.Sprintf(f, a...)) })
	if err != nil {
		return err
	}
	defer func() {
		if err := lab.Close(); err != nil {
			logger.Warn("close lab", "err", err)
		}
	}()
	logger.Info("lab started", "dir", lab.Dir, "took", time.Since(t0).Round(time.Millisecond))
	// Dovecot notices the passwd-file written at start within a second.
	time.Sleep(1100 * time.Millisecond)

	r := &recorder{lab: lab, log: logger, rng: rand.New(rand.NewPCG(seed, 0x5a5a)), cnt: map[string]int{}}
	var wg sync.WaitGroup
	goRun := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	for _, a := range normalUsers {
		goRun(func() { r.normalUser(ctx, a) })
	}
	goRun(func() { r.bulk(ctx) })
	if attack {
		goRun(func() { r.takeover(ctx) })
		goRun(func() { r.bruteNeverSucceeds(ctx) })
	} else {
		goRun(func() { r.typo(ctx) })
	}
	wg.Wait()
	logger.Info("traffic done", "took", time.Since(t0).Round(time.Millisecond), "counts", r.cnt)
	if len(r.errs) > 0 {
		return fmt.Errorf("driver errors: %w", errors.Join(r.errs...))
	}

	// Let the queue settle: every message tried once (deferred) or gone.
	es, err := lab.WaitQueue(ctx, func(es []testlab.QueueEntry) bool {
		c := testlab.QueueCounts(es)
		return c["active"] == 0 && c["incoming"] == 0 && c["maildrop"] == 0
	})
	if err != nil {
		return fmt.Errorf("wait for the queue to settle: %w", err)
	}
	time.Sleep(2 * time.Second) // the last delivery lines
	lab.Stop()
	logger.Info("recorded", "queue", testlab.QueueCounts(es), "took", time.Since(t0).Round(time.Millisecond))

	truth := Truth{
		Scenario:     scenario,
		Compromised:  []string{},
		Legitimate:   []string{newsletter.login},
		BruteForced:  []string{},
		AttackerIPs:  []string{},
		LongQueueIDs: opts.LongQueueIDs,
		Counts:       r.cnt,
		SpamQueueIDs: r.spam,
		Note:         "recorded by internal/testlab/cmd/record against real Postfix and Dovecot on loopback; see README.md",
	}
	for _, a := range normalUsers {
		truth.Legitimate = append(truth.Legitimate, a.login)
	}
	if attack {
		truth.Compromised = []string{victim.login}
		truth.BruteForced = []string{"frank@lab.test"}
		ips := append(append(append([]string{}, bruteIPs...), frankBruteIPs...), spamIPs...)
		slices.Sort(ips)
		truth.AttackerIPs = slices.Compact(ips)
	}
	sort.Strings(truth.Legitimate)
	sort.Strings(truth.SpamQueueIDs)
	return writeOutputs(lab, out, scenario, truth, es)
}

func writeOutputs(lab *testlab.Lab, out, name string, truth Truth, es []testlab.QueueEntry) error {
	copies := []struct{ src, dst string }{
		{lab.LogPath(), name + ".maillog"},
		{lab.DovecotLog, name + ".dovecot.log"},
	}
	for _, c := range copies {
		b, err := os.ReadFile(c.src)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.src, err)
		}
		if err := os.WriteFile(filepath.Join(out, c.dst), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", c.dst, err)
		}
	}
	var q strings.Builder
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode queue entry: %w", err)
		}
		q.Write(b)
		q.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(out, name+".postqueue.json"), []byte(q.String()), 0o644); err != nil {
		return fmt.Errorf("write queue snapshot: %w", err)
	}
	b, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return fmt.Errorf("encode truth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, name+".truth.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	return nil
}

func (r *recorder) sleep(minMS, maxMS int) {
	time.Sleep(time.Duration(minMS+r.intn(maxMS-minMS+1)) * time.Millisecond)
}

// normalUser sends a few messages from the user's own address and IP to
// colleagues and outside correspondents, spread over the recording.
func (r *recorder) normalUser(ctx context.Context, a account) {
	rcpts := [][]string{
		{"alice@lab.test"}, {"bob@lab.test", "carol@lab.test"}, {"partner@example.com"},
		{"supplier@example.org"}, {"dave@lab.test"}, {"family@example.net"},
	}
	n := 3 + r.intn(3)
	for i := 0; i < n; i++ {
		r.sleep(2000, 15000)
		to := rcpts[r.intn(len(rcpts))]
		to = slices.DeleteFunc(slices.Clone(to), func(s string) bool { return s == a.login })
		if len(to) == 0 {
			to = []string{"partner@example.com"}
		}
		res, err := r.lab.Send(ctx, testlab.SendOpts{
			LocalIP: a.ip, Helo: "workstation-" + strings.TrimSuffix(a.login, "@lab.test"),
			Login: a.login, Password: a.password, From: a.login, To: to,
			Subject: fmt.Sprintf("note %d", i+1),
		})
		if err != nil {
			r.fail(fmt.Errorf("normal user %s: %w", a.login, err))
			return
		}
		r.count("legit_messages", 1)
		_ = res
	}
}

// bulk is the legitimate newsletter: ~60 messages from one IP, its own
// domain as sender, steady rate.
func (r *recorder) bulk(ctx context.Context) {
	r.sleep(1000, 3000)
	for i := 1; i <= 60; i++ {
		_, err := r.lab.Send(ctx, testlab.SendOpts{
			LocalIP: newsletter.ip, Helo: "lists.lab.test",
			Login: newsletter.login, Password: newsletter.password,
			From: "newsletter@lab.test", To: []string{fmt.Sprintf("subscriber%03d@example.%s", i, []string{"com", "org", "net"}[i%3])},
			Subject: "Lab news, November issue",
		})
		if err != nil {
			r.fail(fmt.Errorf("newsletter %d: %w", i, err))
			return
		}
		r.count("newsletter_messages", 1)
		r.sleep(150, 400)
	}
}

// authFail makes one failed AUTH per connection, as most brute-forcers do.
// After about three failures from one address Dovecot's auth penalty (up to
// 15 s) outlasts Postfix's wait for the auth server, and Postfix answers
// 454 "Connection lost to authentication server" instead of 535: both are
// failures, counted apart.
func (r *recorder) authFail(ctx context.Context, ip, login, pw, counter string) error {
	c, err := r.lab.Dial(ctx, testlab.DialOpts{LocalIP: ip, Helo: "User"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Auth(ctx, login, pw)
	var re *testlab.ReplyError
	switch {
	case errors.As(err, &re) && re.Reply.Code == 535:
		r.count(counter, 1)
	case errors.As(err, &re) && re.Reply.Code == 454:
		r.count(counter+"_454_auth_server_timeout", 1)
	default:
		return fmt.Errorf("auth %s from %s: want 535 or 454, got %v", login, ip, err)
	}
	c.Quit(ctx)
	return nil
}

var guesses = []string{"123456", "password", "erin", "erin123", "qwerty", "letmein", "welcome1",
	"Password1", "summer2023", "winter2024", "abc123", "lab.test", "erin2024", "iloveyou", "111111",
	"admin", "monkey", "dragon", "football", "baseball", "master", "sunshine", "princess", "shadow", "trustno1"}

// takeover: 25 failed AUTHs against the victim from 4 IPs (in parallel:
// Dovecot slows repeated failures from one IP), then success, then 50 spam
// messages with forged senders from 7 other IPs, some through the smtps listener
// (which has the content filter hop) and some to unknown local users.
func (r *recorder) takeover(ctx context.Context) {
	// Before the attack erin is an ordinary user.
	for i := 0; i < 2; i++ {
		r.sleep(500, 2000)
		if _, err := r.lab.Send(ctx, testlab.SendOpts{
			LocalIP: "127.0.0.16", Helo: "workstation-erin", Login: victim.login, Password: victim.password,
			From: victim.login, To: []string{"bob@lab.test"}, Subject: "lunch?",
		}); err != nil {
			r.fail(fmt.Errorf("erin before the attack: %w", err))
			return
		}
		r.count("victim_legit_messages", 1)
	}
	r.sleep(1000, 3000)
	var wg sync.WaitGroup
	for i, ip := range bruteIPs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < len(guesses); j += len(bruteIPs) {
				if err := r.authFail(ctx, ip, victim.login, guesses[j], "victim_auth_failures"); err != nil {
					r.fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r.sleep(500, 1500)
	var mu sync.Mutex
	var wg2 sync.WaitGroup
	for i, ip := range spamIPs {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for k := i; k < 50; k += len(spamIPs) {
				svc := testlab.Submission
				if k%3 == 1 {
					svc = testlab.SMTPS
				}
				dom := fmt.Sprintf("%s-%d.example", []string{"promo", "deals", "bank-secure", "pharma", "lottery", "crypto", "dating"}[k%7], 10+k%13)
				from := []string{"info", "support", "noreply", "billing", "winner"}[k%5] + "@" + dom
				to := []string{fmt.Sprintf("target%02d@example.org", k), fmt.Sprintf("user%02d@example.com", k)}
				if k%6 == 0 {
					to = append(to, fmt.Sprintf("nobody%02d@lab.test", k)) // unknown: bounces to the forged sender
				}
				res, err := r.lab.Send(ctx, testlab.SendOpts{
					Service: svc, LocalIP: ip, Helo: "ylmf-pc",
					Login: victim.login, Password: victim.password, From: from, To: to,
					Subject: "You have won", Body: "Click here to claim your prize.",
				})
				if err != nil {
					r.fail(fmt.Errorf("spam %d: %w", k, err))
					return
				}
				mu.Lock()
				r.spam = append(r.spam, res.QueueID)
				mu.Unlock()
				r.count("spam_messages", 1)
				if svc == testlab.SMTPS {
					r.count("spam_via_content_filter", 1)
				}
				if len(to) == 3 {
					r.count("spam_with_unknown_local_rcpt", 1)
				}
				r.sleep(50, 300)
			}
		}()
	}
	wg2.Wait()
}

// bruteNeverSucceeds guesses frank's password from 3 IPs and never gets in.
func (r *recorder) bruteNeverSucceeds(ctx context.Context) {
	r.sleep(8000, 10000)
	var wg sync.WaitGroup
	for i, ip := range frankBruteIPs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < 10; j += len(frankBruteIPs) {
				if err := r.authFail(ctx, ip, "frank@lab.test", "frank"+guesses[j], "frank_auth_failures"); err != nil {
					r.fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// typo: a legitimate user mistypes the password twice, then logs in.
func (r *recorder) typo(ctx context.Context) {
	a := normalUsers[1]
	r.sleep(4000, 6000)
	for _, pw := range []string{"bob-secret", "Bob-secret-2"} {
		if err := r.authFail(ctx, a.ip, a.login, pw, "typo_auth_failures"); err != nil {
			r.fail(err)
			return
		}
	}
	if _, err := r.lab.Send(ctx, testlab.SendOpts{LocalIP: a.ip, Login: a.login, Password: a.password, From: a.login, To: []string{"partner@example.com"}, Subject: "finally"}); err != nil {
		r.fail(err)
		return
	}
	r.count("legit_messages", 1)
}
