package respond

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/queue"
)

// plan prints what execute would do for t, changing nothing.
func (r *Responder) plan(ctx context.Context, t Target) (Outcome, error) {
	o := Outcome{Login: t.Login}
	login := t.Login
	inc, how, err := r.incidentFor(ctx, login)
	if err != nil {
		return o, err
	}
	var j journal
	if how != newIncident {
		o.Incident = inc.ID
		if j, err = loadJournal(ctx, r.cfg.Store, inc.ID); err != nil {
			return o, err
		}
	}
	switch how {
	case resumeIncident:
		r.printf("%s: would resume open incident %d\n", Quote(login), inc.ID)
	case takeOverIncident:
		r.printf("%s: would take over incident %d, opened by %s\n", Quote(login), inc.ID, inc.Source)
	case recheckIncident:
		r.printf("%s: would check complete incident %d again\n", Quote(login), inc.ID)
	default:
		r.printf("%s: would open a new incident\n", Quote(login))
	}
	if t.Evidence != "" {
		r.printf("  evidence: %s\n", t.Evidence)
	}
	// 1. block
	switch {
	case r.cfg.MTA == nil:
		r.printf("  1. MTA block: none configured\n")
	case mtablock.ValidLogin(login) != "":
		o.MTANote = mtablock.ValidLogin(login)
		r.printf("  1. cannot block at the MTA: the login %s; only the account disable stops it\n", o.MTANote)
	default:
		key := strings.ToLower(login)
		r.printf("  1. block at Postfix: line %q in %s, then postmap and postfix reload\n",
			key+" "+r.actionWord()+" "+r.cfg.Block.Text, r.cfg.MTA.Path())
		chk, err := r.cfg.MTA.Check(ctx)
		if err != nil {
			r.printf("     configuration check failed: %v\n", postfixHint(err))
		} else if chk.Effective() {
			o.MTABlocked = true
			r.printf("     the map is consulted in every service that offers AUTH\n")
		} else {
			r.printf("     WARNING: Postfix does not consult the map in every AUTH service; the login would NOT be blocked. Add:\n")
			for _, n := range chk.Notes() {
				r.printf("       %s\n", n)
			}
			if _, err := os.Stat(r.cfg.MTA.Path()); errors.Is(err, os.ErrNotExist) {
				p := r.cfg.MTA.Path()
				r.printf("     The map does not exist yet, and Postfix answers 451 \"Server configuration error\" to every\n")
				r.printf("     authenticated client while main.cf names a map that is not built. Build it first (respond keeps\n")
				r.printf("     any entries you put in it):\n")
				r.printf("       touch %s && postmap %s\n", shellQuote(p), shellQuote(r.cfg.MTA.Ref()))
				r.printf("     then add those lines, postfix reload, and run respond --yes.\n")
			}
		}
	}
	r.printf("     once the block is in effect, record %s as blocked in the incident store\n", Quote(login))
	if r.cfg.Sessions != nil {
		r.printf("     end the live smtpd sessions of the login: log pids %v, client IPs %v (by IP alone: %v)\n",
			pidList(t), ipStrings(t.IPs), r.cfg.EndByIP)
	}
	if r.cfg.HoldAll {
		n := 0
		_ = r.cfg.Queue.List(ctx, func(e queue.Entry) error {
			if e.Queue != "hold" {
				n++
			}
			return nil
		})
		r.printf("     hold all %d queued messages (--hold-all) with %s, ids on standard input\n", n, r.cfg.Commands.postsuper("-h", "-"))
	}
	sel, err := queue.SelectLogin(ctx, r.cfg.Queue, login, linksFor(t, j))
	if err != nil {
		return o, postfixHint(err)
	}
	r.printf("     hold %d message(s) of the login (%s) with %s, ids on standard input:\n", len(sel.Messages), reasonCounts(sel.Messages), r.cfg.Commands.postsuper("-h", "-"))
	for _, m := range sel.Messages {
		r.printf("       %-16s %-8s %-13s from=<%s> to=%d recipient(s)\n", m.QueueID, m.Queue, m.Reason, printableAddr(m.Sender), len(m.Recipients))
	}
	for _, rf := range sel.Refused {
		r.printf("       not taken: %s (%s)\n", rf.QueueID, rf.Reason)
	}
	// 2. account
	switch {
	case r.cfg.Account == nil:
		r.printf("  2. account: no backend configured\n")
	case j.done(StepDisable, "disabled"):
		r.printf("  2. account: already disabled by this incident\n")
	default:
		how := "disable (the password field is kept inside a disabled marker)"
		if r.cfg.ResetPassword {
			how = "reset to a new random password (printed once)"
		}
		r.printf("  2. %s in %s\n", how, r.cfg.AccountName)
	}
	// 3-4
	r.printf("  3. re-check each held message's queue file, export it to %s, then %s\n", r.cfg.QuarantineDir, r.cfg.Commands.postsuper("-d", "-", "hold"))
	r.printf("  4. release the messages this incident held that are not the login's with %s, then %s\n", r.cfg.Commands.postsuper("-H", "-"), r.cfg.Commands.postqueue("-f"))
	return o, nil
}

func (r *Responder) actionWord() string {
	switch r.cfg.Block.Action {
	case mtablock.TempFail:
		return "421 4.7.0"
	case mtablock.Hold:
		return "HOLD"
	}
	return "REJECT"
}

func pidList(t Target) []int {
	var p []int
	for _, h := range t.Hints {
		p = append(p, h.PID)
	}
	return p
}

// printableAddr shows an envelope address safely (it is the sender's text).
func printableAddr(s string) string {
	q := Quote(s)
	if q != s {
		return q
	}
	return s
}
