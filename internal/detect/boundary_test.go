package detect

import (
	"fmt"
	"testing"
)

// firedFor derives the evidence of c under the default thresholds and
// returns the rules that count, with their points.
func firedFor(c counts) map[string]int {
	t := DefaultThresholds()
	var e evidence
	derive(&t, c, &e)
	_, mask := apply(&t, &e)
	out := map[string]int{}
	for _, f := range firedRules(&t, &e, mask) {
		out[f.Name] = f.Points
	}
	return out
}

// TestRuleBoundaries checks each rule just below and at each of its
// thresholds (the defaults), and the points of each tier.
func TestRuleBoundaries(t *testing.T) {
	hist := func(c counts) counts { c.hist, c.base = true, max(c.base, 1); return c }
	cases := []struct {
		rule   string
		c      counts
		points int // 0: the rule does not count
	}{
		{"forged_domains", counts{n: 100, d: 2, foreign: 100}, 0},
		{"forged_domains", counts{n: 100, d: 3, foreign: 100}, 4},
		{"forged_domains", counts{n: 100, d: 4, foreign: 100}, 4},
		{"forged_domains", counts{n: 100, d: 5, foreign: 100}, 6},
		{"forged_domains", counts{n: 100, d: 9, foreign: 100}, 6},
		{"forged_domains", counts{n: 100, d: 10, foreign: 100}, 7},
		// a set of senders it reuses (sender_reuse per address, from
		// forged_share_messages, with fewer than `rejections` refusals)
		{"forged_domains", counts{n: 10, d: 3, foreign: 10, senderMsgs: 10, senders: 5}, 0},
		{"forged_domains", counts{n: 10, d: 3, foreign: 10, senderMsgs: 10, senders: 6}, 4},
		{"forged_domains", counts{n: 10, d: 3, foreign: 10, senderMsgs: 9, senders: 4}, 4},
		{"forged_domains", counts{n: 10, d: 3, foreign: 10, senderMsgs: 10, senders: 5, rej: 2}, 0},
		{"forged_domains", counts{n: 10, d: 3, foreign: 10, senderMsgs: 10, senders: 5, rej: 3}, 4},
		{"one_forged_domain", counts{n: 20, d: 1, foreign: 20, senderMsgs: 20, senders: 2}, 0},
		{"one_forged_domain", counts{n: 20, d: 1, foreign: 20, senderMsgs: 20, senders: 1}, 2}, // one address: no set
		// own-domain addresses it has no history of count as forged
		// senders, each address one
		{"forged_domains", counts{n: 10, unf: 10, unfSenders: 2}, 0},
		{"forged_domains", counts{n: 10, unf: 10, unfSenders: 3}, 4},
		{"forged_domains", counts{n: 10, d: 1, foreign: 5, unf: 5, unfSenders: 2}, 4},
		{"forged_domains", counts{n: 10, unf: 10, unfSenders: 3, foreignNorm: true}, 0},
		{"few_forged_domains", counts{n: 100, d: 2, foreign: 4}, 0},
		{"few_forged_domains", counts{n: 100, d: 2, foreign: 5}, 2},
		{"few_forged_domains", counts{n: 100, d: 3, foreign: 5}, 0}, // forged_domains counts instead
		{"one_forged_domain", counts{n: 25, d: 1, foreign: 19}, 0},
		{"one_forged_domain", counts{n: 25, d: 1, foreign: 20}, 2},
		{"one_forged_domain", counts{n: 26, d: 1, foreign: 20}, 0}, // under 80%
		{"forged_share", counts{n: 18, d: 1, foreign: 9}, 0},
		{"forged_share", counts{n: 20, d: 1, foreign: 10}, 2},
		{"forged_share", counts{n: 21, d: 1, foreign: 10}, 0}, // under half
		{"new_ips", counts{n: 1, newIPs: 2}, 0},
		{"new_ips", counts{n: 1, newIPs: 3}, 2},
		{"new_ips", counts{n: 1, newIPs: 4}, 2},
		{"new_ips", counts{n: 1, newIPs: 5}, 3},
		{"new_ips", counts{n: 1, newIPs: 9}, 3},
		{"new_ips", counts{n: 1, newIPs: 10}, 4},
		{"volume", hist(counts{n: 29, lastHour: 29, base: 6}), 0},
		{"volume", hist(counts{n: 30, lastHour: 30, base: 6}), 3},
		{"volume", hist(counts{n: 31, lastHour: 31, base: 7}), 0}, // under 5 times the baseline
		{"volume", hist(counts{n: 99, lastHour: 99, base: 6}), 3},
		{"volume", hist(counts{n: 100, lastHour: 100, base: 6}), 4},
		{"volume", hist(counts{n: 100, lastHour: 100, base: 11}), 3},                 // under 10 times
		{"volume", hist(counts{n: 20, lastHour: 20, foreign: 20, d: 1, base: 4}), 3}, // mostly forged: from 20
		{"volume", hist(counts{n: 19, lastHour: 19, foreign: 19, d: 1, base: 3}), 0},
		{"volume", counts{n: 99, lastHour: 99}, 0}, // no history
		{"volume", counts{n: 100, lastHour: 100}, 1},
		{"volume", counts{n: 30, lastHour: 30, foreign: 30, d: 1}, 1},
		{"volume", counts{n: 29, lastHour: 29, foreign: 29, d: 1}, 0},
		{"rcpt_volume", counts{n: 5, lastHour: 5, winRcpts: 1000, hourRcpts: 99, baseRcpts: 10, rcptHist: true}, 0},
		{"rcpt_volume", counts{n: 5, lastHour: 5, winRcpts: 1000, hourRcpts: 100, baseRcpts: 10, rcptHist: true}, 3},
		{"rcpt_volume", counts{n: 5, lastHour: 5, winRcpts: 1000, hourRcpts: 299, baseRcpts: 10, rcptHist: true}, 3},
		{"rcpt_volume", counts{n: 5, lastHour: 5, winRcpts: 1000, hourRcpts: 300, baseRcpts: 10, rcptHist: true}, 4},
		{"rcpt_volume", counts{n: 4, lastHour: 4, winRcpts: 1000, hourRcpts: 300, baseRcpts: 10, rcptHist: true}, 0},
		{"rcpt_volume", counts{n: 5, lastHour: 5, winRcpts: 999, hourRcpts: 300, baseRcpts: 10, rcptHist: true}, 0},
		{"rcpt_volume", counts{n: 5, lastHour: 5, winRcpts: 1000, hourRcpts: 499}, 0},
		{"rcpt_volume", counts{n: 5, lastHour: 5, winRcpts: 1000, hourRcpts: 500}, 1},
		{"burst_new_ips", hist(counts{n: 50, lastHour: 40, hourNew: 32, bnc: 10}), 2},
		{"burst_new_ips", hist(counts{n: 49, lastHour: 40, hourNew: 32, bnc: 10}), 0},
		{"burst_new_ips", hist(counts{n: 50, lastHour: 40, hourNew: 31, bnc: 10}), 0},
		{"burst_new_ips", hist(counts{n: 50, lastHour: 40, hourNew: 32, bnc: 9}), 0},
		{"spam_rejections", counts{n: 1, rej: 1}, 1},
		{"spam_rejections", counts{n: 1, rej: 2}, 1},
		{"spam_rejections", counts{n: 1, rej: 3}, 2},
		{"spam_rejections", counts{n: 1, rej: 9}, 2},
		{"spam_rejections", counts{n: 1, rej: 10}, 3},
		{"spam_rejections", counts{n: 1, rej: 2, winRcpts: 100}, 1},
		{"spam_rejections", counts{n: 1, rej: 2, winRcpts: 101}, 0}, // a sliver of a mailing
		{"bounces", counts{n: 1, bnc: 9}, 0},
		{"bounces", counts{n: 1, bnc: 10}, 1},
		{"failed_logins_first", counts{n: 1, fail: 1, prior: 1}, 0},
		{"failed_logins_first", counts{n: 1, fail: 1, prior: 2}, 1},
		{"failed_logins_first", counts{n: 1, fail: 9}, 1},
		{"failed_logins_first", counts{n: 1, prior: 10}, 2},
	}
	gates := []struct {
		rule  string
		c     counts
		fires bool
	}{
		{"forged_from_new_ips", counts{n: 10, d: 3, foreign: 10, fNew: 2}, false},
		{"forged_from_new_ips", counts{n: 10, d: 3, foreign: 10, fNew: 3}, true},
		{"forged_from_new_ips", counts{n: 10, d: 2, foreign: 10, fNew: 3}, false},
		{"forged_from_new_ips", counts{n: 10, unf: 10, unfSenders: 3, unfNew: 3}, true},
		{"forged_from_new_ips", counts{n: 10, unf: 10, unfSenders: 3, unfNew: 2}, false},
		{"forged_domains_new_ips", counts{n: 10, d: 2, foreign: 10, fNew: 3, newIPs: 3}, true},
		{"forged_domains_new_ips", counts{n: 10, d: 2, foreign: 10, fNew: 3, newIPs: 2}, false},
		{"forged_domains_new_ips", counts{n: 10, d: 1, foreign: 10, fNew: 3, newIPs: 3}, false},
		{"loud_burst_new_ips", hist(counts{n: 100, lastHour: 100, newIPs: 3}), true},
		{"loud_burst_new_ips", hist(counts{n: 99, lastHour: 99, newIPs: 3}), false},
		{"loud_burst_new_ips", hist(counts{n: 100, lastHour: 100, newIPs: 2}), false},
		{"spam_burst_new_ips", hist(counts{n: 30, lastHour: 30, newIPs: 3, bnc: 10}), true},
		{"spam_burst_new_ips", hist(counts{n: 30, lastHour: 30, newIPs: 3, bnc: 9}), false},
		{"spam_burst_new_ips", hist(counts{n: 29, lastHour: 29, newIPs: 3, bnc: 10}), false},
		{"rejected_burst_new_ips", hist(counts{n: 30, lastHour: 30, newIPs: 2, rej: 10}), true},
		{"rejected_burst_new_ips", hist(counts{n: 30, lastHour: 30, newIPs: 2, rej: 9}), false},
		{"rejected_burst_new_ips", hist(counts{n: 30, lastHour: 30, newIPs: 1, rej: 10}), false},
		{"refused_from_new_ips", counts{n: 1, rej: 10, newIPs: 3}, true},
		{"refused_from_new_ips", counts{n: 1, rej: 9, newIPs: 3}, false},
		{"refused_from_new_ips", counts{n: 1, rej: 10, newIPs: 2}, false},
		{"heavily_refused", counts{n: 1, rej: 100}, true},
		{"heavily_refused", counts{n: 1, rej: 99}, false},
		{"heavily_refused", counts{n: 1, rej: 100, winRcpts: 5001}, false}, // a sliver of a mailing
		{"forged_burst_own_habit", counts{n: 100, lastHour: 100, d: 10, foreign: 50, ownHabit: true}, true},
		{"forged_burst_own_habit", counts{n: 100, lastHour: 100, d: 9, foreign: 50, ownHabit: true}, false},
		{"forged_burst_own_habit", counts{n: 100, lastHour: 100, d: 10, foreign: 49, ownHabit: true}, false},
		{"forged_burst_own_habit", counts{n: 100, lastHour: 100, d: 10, foreign: 50}, false},
		{"unusual_burst", hist(counts{n: 30, lastHour: 30, newIPs: 3}), true},
		{"unusual_burst", hist(counts{n: 30, lastHour: 30, newIPs: 2}), false},
		{"forged_senders", counts{n: 2, d: 1, foreign: 2}, false},
		{"forged_senders", counts{n: 2, d: 2, foreign: 2}, true},
		{"forged_senders", counts{n: 2, d: 2, foreign: 2, foreignNorm: true}, false}, // its habit
		{"refused_for_spam", counts{n: 1, rej: 2}, false},
		{"refused_for_spam", counts{n: 1, rej: 3}, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%+v", tc.rule, tc.c), func(t *testing.T) {
			got, ok := firedFor(tc.c)[tc.rule]
			if !ok {
				got = 0
			}
			if got != tc.points {
				t.Errorf("%s: %d points, want %d (fired: %v)", tc.rule, got, tc.points, firedFor(tc.c))
			}
		})
	}
	for _, tc := range gates {
		t.Run(fmt.Sprintf("%s/%+v", tc.rule, tc.c), func(t *testing.T) {
			if _, ok := firedFor(tc.c)[tc.rule]; ok != tc.fires {
				t.Errorf("%s fires %v, want %v (fired: %v)", tc.rule, ok, tc.fires, firedFor(tc.c))
			}
		})
	}
	// every rule has its boundary tested
	tested := map[string]bool{}
	for _, tc := range cases {
		tested[tc.rule] = true
	}
	for _, tc := range gates {
		tested[tc.rule] = true
	}
	for _, r := range rules {
		if !tested[r.Name] {
			t.Errorf("rule %s has no boundary case", r.Name)
		}
	}
}

// TestVerdictBoundaries: the suspicious and compromised scores, each with
// the kind of rule it needs.
func TestVerdictBoundaries(t *testing.T) {
	cfg := DefaultConfig()
	var sending, notable uint64
	for i, r := range rules {
		switch r.Name {
		case "forged_from_new_ips":
			sending = 1 << i
		case "forged_senders":
			notable = 1 << i
		}
	}
	for _, tc := range []struct {
		score int
		fired uint64
		want  Verdict
	}{
		{4, notable, OK},
		{5, notable, Suspicious},
		{5, 0, OK},
		{7, sending, Suspicious},
		{8, sending, Compromised},
		{8, notable, Suspicious},
		{20, 0, OK},
	} {
		if got := verdictOf(&cfg, tc.score, tc.fired); got != tc.want {
			t.Errorf("score %d, rules %v: %v, want %v", tc.score, ruleNames(tc.fired), got, tc.want)
		}
	}
}
