package respond

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/account"
	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/queue"
	"github.com/saslguard/saslguard/internal/store"
)

// run is one execution for one login: the incident and its record.
type run struct {
	*Responder
	t   Target
	inc int64
	j   journal
	o   *Outcome
}

func (x *run) record(ctx context.Context, a store.Action) error {
	if _, err := x.cfg.Store.AddAction(ctx, a); err != nil {
		return fmt.Errorf("record action: %w", err)
	}
	x.j.actions = append(x.j.actions, a)
	return nil
}

// fail records a failed step and returns err, wrapped with what to do.
func (x *run) fail(ctx context.Context, step, command string, err error) error {
	_ = x.record(ctx, action(x.inc, step, command, "failed: "+err.Error(), 0, 1, nil))
	return fmt.Errorf("%s: %w; what was done is recorded in incident %d: run respond again to finish, or respond --undo %d --yes", step, err, x.inc, x.inc)
}

func (r *Responder) execute(ctx context.Context, t Target) (Outcome, error) {
	o := Outcome{Login: t.Login}
	inc, how, err := r.incidentFor(ctx, t.Login)
	if err != nil {
		return o, err
	}
	x := &run{Responder: r, t: t, o: &o}
	if how != newIncident {
		x.inc = inc.ID
		if x.j, err = loadJournal(ctx, r.cfg.Store, inc.ID); err != nil {
			return o, err
		}
	}
	switch how {
	case resumeIncident:
		r.printf("%s: incident %d (open since %s): resuming\n", Quote(t.Login), inc.ID, inc.Created.UTC().Format(time.RFC3339))
	case recheckIncident:
		r.printf("%s: incident %d is complete and its block stands: checking it again\n", Quote(t.Login), inc.ID)
	case takeOverIncident:
		r.printf("%s: incident %d (opened by %s at %s): respond takes it over\n", Quote(t.Login), inc.ID, inc.Source, inc.Created.UTC().Format(time.RFC3339))
		if err := x.record(ctx, action(inc.ID, StepStart, "respond --yes", "taken over from "+inc.Source, 1, 0, nil)); err != nil {
			return o, err
		}
	default:
		key, _ := store.NormalizeLogin(t.Login)
		summary := t.Evidence
		if summary == "" {
			summary = "named by the operator"
		}
		id, err := r.cfg.Store.CreateIncident(ctx, store.Incident{Login: key, Source: Source, Summary: summary})
		if err != nil {
			return o, err
		}
		x.inc = id
		r.printf("%s: incident %d opened\n", Quote(t.Login), id)
		if err := x.record(ctx, action(id, StepStart, "respond --yes", "started: "+summary, 1, 0, nil)); err != nil {
			return o, err
		}
	}
	o.Incident = x.inc
	for _, step := range []func(context.Context) error{x.block, x.sessions, x.hold, x.disable, x.quarantine, x.release} {
		if err := step(ctx); err != nil {
			return o, err
		}
	}
	if err := x.finish(ctx, inc.Status); err != nil {
		return o, err
	}
	x.advice()
	return o, nil
}

// finish closes the incident when every step is done for its login: the
// MTA block is in effect, the account handled, no held mail of the login
// left. Otherwise it stays open and says why.
func (x *run) finish(ctx context.Context, status string) error {
	if why := x.o.openReason(); why != "" {
		x.printf("  incident %d stays open: not fully contained: %s\n", x.inc, why)
		if a, ok := x.j.find(StepDone, ""); !ok || a.Result != "open: "+why {
			if err := x.record(ctx, action(x.inc, StepDone, "respond --yes", "open: "+why, 0, 1, nil)); err != nil {
				return err
			}
		}
		if status == store.StatusClosed {
			return x.cfg.Store.SetIncidentStatus(ctx, x.inc, store.StatusOpen)
		}
		return nil
	}
	if a, ok := x.j.find(StepDone, ""); !ok || !strings.HasPrefix(a.Result, "complete") {
		if err := x.record(ctx, action(x.inc, StepDone, "respond --yes", "complete: incident closed", 1, 0, nil)); err != nil {
			return err
		}
	}
	if status != store.StatusClosed {
		if err := x.cfg.Store.SetIncidentStatus(ctx, x.inc, store.StatusClosed); err != nil {
			return err
		}
		x.printf("  incident %d complete: closed\n", x.inc)
	}
	return nil
}

// Step 1a: the MTA block, then the shared registry. The registry says
// blocked only after the map was written, rebuilt, reloaded and found
// consulted in every AUTH service: never while the MTA still accepts the
// login's mail.
func (x *run) block(ctx context.Context) error {
	login := x.t.Login
	if x.cfg.MTA == nil {
		x.o.MTANote = "no MTA configured"
		x.printf("  1. MTA block: skipped (no MTA configured)\n")
		return nil
	}
	if why := mtablock.ValidLogin(login); why != "" {
		x.o.MTANote = why
		x.printf("  1. NOT blocked at the MTA: %s; only the account disable (step 2) can stop it\n", why)
		if _, ok := x.j.find(StepBlock, "not blockable"); !ok {
			if err := x.record(ctx, action(x.inc, StepBlock, "check_sasl_access map", "not blockable: "+why, 0, 1, nil)); err != nil {
				return err
			}
		}
		return x.hook(StepBlock)
	}
	key := strings.ToLower(login)
	cmd := fmt.Sprintf("add %q to %s, postmap, postfix reload", key+" "+x.cfg.Block.Action.String(), x.cfg.MTA.Path())
	entries, err := x.cfg.MTA.List(ctx)
	if err != nil {
		return x.notBlocked(ctx, cmd, postfixHint(err))
	}
	present := slices.ContainsFunc(entries, func(e mtablock.Entry) bool {
		return e.Login == key && e.Action == x.cfg.Block.Action && e.Text == x.cfg.Block.Text
	})
	var res mtablock.Result
	if present {
		chk, err := x.cfg.MTA.Check(ctx)
		if err != nil {
			return x.notBlocked(ctx, "postconf check", postfixHint(err))
		}
		res = mtablock.Result{Login: login, Written: true, Effective: chk.Effective(), Notes: chk.Notes()}
	} else {
		res, err = x.cfg.MTA.Block(ctx, login, x.cfg.Block)
		if err != nil {
			return x.notBlocked(ctx, cmd, postfixHint(err))
		}
	}
	x.o.MTABlocked = res.Blocked()
	what := "entry already in the map"
	if !present {
		what = "map entry written, postfix reloaded"
	}
	if !res.Blocked() {
		x.o.MTANote = "map not effective in every AUTH service"
		x.printf("  1. NOT blocked at Postfix: %s, but Postfix does not consult %s in every service that offers AUTH.\n", what, x.cfg.MTA.Path())
		x.printf("     Add, then run postfix reload and respond again:\n")
		for _, n := range res.Notes {
			x.printf("       %s\n", n)
		}
		if err := x.record(ctx, action(x.inc, StepBlock, cmd, "written, not effective: "+strings.Join(res.Notes, "; "), 0, 1, nil)); err != nil {
			return err
		}
		if err := x.liftOwnRegistryBlock(ctx); err != nil {
			return err
		}
		return x.hook(StepBlock)
	}
	x.printf("  1. blocked at Postfix (%s %q): %s\n", x.cfg.Block.Action, x.cfg.Block.Text, what)
	if !present || !x.j.done(StepBlock, "blocked") {
		if err := x.record(ctx, action(x.inc, StepBlock, cmd, "blocked: "+what, 1, 0, nil)); err != nil {
			return err
		}
	}
	newly, err := x.cfg.Store.Block(ctx, login, Source, "respond: "+x.cfg.Block.Action.String(), x.inc)
	if err != nil {
		return x.fail(ctx, StepBlock, "registry", err)
	}
	if newly {
		if err := x.record(ctx, action(x.inc, StepBlock, "registry", "recorded as blocked", 1, 0, nil)); err != nil {
			return err
		}
	}
	return x.hook(StepBlock)
}

// notBlocked records that the MTA block failed (the registry is left
// without a block) and stops the run.
func (x *run) notBlocked(ctx context.Context, command string, err error) error {
	x.o.MTANote = err.Error()
	x.printf("  1. NOT blocked at Postfix: %v\n", err)
	if lerr := x.liftOwnRegistryBlock(ctx); lerr != nil {
		return lerr
	}
	_ = x.record(ctx, action(x.inc, StepBlock, command, "not blocked: "+err.Error(), 0, 1, nil))
	return fmt.Errorf("%s: NOT blocked: %w; what was done is recorded in incident %d: fix it and run respond again, or respond --undo %d --yes", StepBlock, err, x.inc, x.inc)
}

// liftOwnRegistryBlock takes out a registry block this incident recorded
// earlier when the MTA no longer blocks the login (blocks of other sources
// stay: policy enforces its own).
func (x *run) liftOwnRegistryBlock(ctx context.Context) error {
	b, ok, err := x.cfg.Store.IsBlocked(ctx, x.t.Login)
	if err != nil || !ok || b.IncidentID != x.inc {
		return err
	}
	if err := x.cfg.Store.Unblock(ctx, x.t.Login); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return x.record(ctx, action(x.inc, StepBlock, "registry", "block lifted: not blocked at the MTA", 1, 0, nil))
}

// Step 1b: end the live sessions.
func (x *run) sessions(ctx context.Context) error {
	if x.cfg.Sessions == nil {
		return nil
	}
	q := postfixblock.SessionQuery{Login: x.t.Login, Hints: x.t.Hints, IPs: x.t.IPs, ByIP: x.cfg.EndByIP}
	kr, err := x.cfg.Sessions.End(ctx, q, x.cfg.Grace)
	if err != nil {
		return x.fail(ctx, StepSessions, "end smtpd sessions", err)
	}
	n := kr.Ended()
	x.o.Sessions = n
	x.printf("     ended %d live smtpd session(s) (%d found; %d log pids, %d client IPs known)\n", n, len(kr.Found), len(x.t.Hints), len(x.t.IPs))
	if note := kr.ThrottleNote(); note != "" {
		x.printf("     note: %s\n", note)
	}
	if n > 0 || len(kr.Found) > 0 {
		var pids []string
		for _, p := range slices.Concat(kr.Reset, kr.Terminated, kr.Killed) {
			pids = append(pids, fmt.Sprint(p))
		}
		res := fmt.Sprintf("ended %s pids %s", kr.Summary(), strings.Join(pids, " "))
		if err := x.record(ctx, action(x.inc, StepSessions, "kill smtpd sessions", res, n, len(kr.Found)-n, nil)); err != nil {
			return err
		}
	}
	return x.hook(StepSessions)
}

// Step 1c: hold the login's queued mail (or all of it).
func (x *run) hold(ctx context.Context) error {
	q := x.cfg.Queue
	if x.cfg.HoldAll {
		if _, ok := x.j.find(StepHold, "held all"); !ok {
			var ids []string
			err := q.List(ctx, func(e queue.Entry) error {
				if e.Queue != "hold" {
					ids = append(ids, e.QueueID)
				}
				return nil
			})
			if err != nil {
				return x.fail(ctx, StepHold, x.cfg.Commands.postqueue("-j"), postfixHint(err))
			}
			res, err := q.Hold(ctx, ids)
			if err != nil {
				return x.fail(ctx, StepHold, x.cfg.Commands.postsuper("-h", "-"), postfixHint(err))
			}
			held := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(res.Missing, id) || slices.Contains(res.Invalid, id) })
			x.printf("     held all %d queued messages (--hold-all)\n", len(held))
			if err := x.record(ctx, action(x.inc, StepHold, x.cfg.Commands.postsuper("-h", "-"), fmt.Sprintf("held all %d", len(held)), len(held), 0, held)); err != nil {
				return err
			}
		}
	}
	rep, err := queue.HoldLogin(ctx, q, x.t.Login, linksFor(x.t, x.j))
	if err != nil {
		return x.fail(ctx, StepHold, x.cfg.Commands.postsuper("-h", "-"), postfixHint(err))
	}
	x.o.Held = len(rep.Held)
	byReason := map[string][]string{}
	for _, m := range rep.Selection.Messages {
		if slices.Contains(rep.Held, m.QueueID) {
			byReason[m.Reason] = append(byReason[m.Reason], m.QueueID)
		}
	}
	x.printf("     held %d queued message(s) of the login (%s); %d reused id(s) released again, %d gone, %d log link(s) not confirmed by the queue files\n",
		len(rep.Held), reasonCounts(rep.Selection.Messages), len(rep.Released), len(rep.Missing), len(rep.Selection.Refused))
	for _, reason := range []string{"sasl_username", "filter-copy", "bounce"} {
		ids := byReason[reason]
		if len(ids) == 0 {
			continue
		}
		if err := x.record(ctx, action(x.inc, StepHold, x.cfg.Commands.postsuper("-h", "-"), fmt.Sprintf("held %s %d", reason, len(ids)), len(ids), 0, ids)); err != nil {
			return err
		}
	}
	if len(rep.Released) > 0 {
		if err := x.record(ctx, action(x.inc, StepHold, x.cfg.Commands.postsuper("-H", "-"), fmt.Sprintf("reused ids released %d", len(rep.Released)), len(rep.Released), 0, rep.Released)); err != nil {
			return err
		}
	}
	return x.hook(StepHold)
}

// Step 2: disable the login at its source. The step is called done only
// when the backend verified it where logins are checked (Dovecot itself, the
// program's check verb); otherwise it says NOT verified, records a failure
// that the next run checks again, and the outcome asks for attention.
func (x *run) disable(ctx context.Context) error {
	if x.cfg.Account == nil {
		x.printf("  2. account: no backend configured, the login still authenticates\n")
		return nil
	}
	if a, ok := x.j.find(StepDisable, "disabled"); ok && a.Failed == 0 {
		x.printf("  2. already disabled in %s (%s)\n", x.cfg.AccountName, a.Result)
		return nil
	}
	st, err := x.cfg.Account.Status(ctx, x.t.Login)
	if err != nil {
		// The backend cannot look the login up (a name its store cannot hold,
		// or the store is unreadable): report it and go on with the queue.
		x.o.AccountNote = err.Error()
		x.printf("  2. NOT disabled: %s: %v\n", x.cfg.AccountName, err)
		return x.record(ctx, action(x.inc, StepDisable, "status "+x.cfg.AccountName, "not disabled: "+err.Error(), 0, 1, nil))
	}
	if !st.Exists {
		x.printf("  2. %s does not know the login: nothing to disable there\n", x.cfg.AccountName)
		return x.record(ctx, action(x.inc, StepDisable, "status "+x.cfg.AccountName, "disabled: no such login in the account store", 0, 0, nil))
	}
	if st.Disabled && !x.cfg.ResetPassword {
		// Disabled by an earlier run that stopped before recording it (or by
		// hand with saslguard's marker): nothing to do twice, but check it.
		v := x.cfg.Account.Verify(ctx, x.t.Login, true)
		x.verified(v, "already disabled", nil)
		return x.record(ctx, action(x.inc, StepDisable, "status "+x.cfg.AccountName, "disabled: found disabled"+verifiedNote(v), 0, failedIf(!v.Verified), nil))
	}
	verb := "disable"
	if x.cfg.ResetPassword {
		verb = "reset"
	}
	if _, ok := x.j.find(StepDisable, "started"); ok {
		x.printf("     note: an earlier run stopped during this step; the account store may have been changed already\n")
	}
	// Recorded before: a crash between the change and its record is then
	// visible on the next run (a reset done twice prints the password that
	// is valid last).
	if err := x.record(ctx, action(x.inc, StepDisable, verb+" in "+x.cfg.AccountName, "started", 0, 0, nil)); err != nil {
		return err
	}
	res, err := x.cfg.Account.Disable(ctx, x.t.Login, account.Options{Reset: x.cfg.ResetPassword})
	if err != nil {
		return x.fail(ctx, StepDisable, "disable in "+x.cfg.AccountName, err)
	}
	how := "disabled (password kept in the disabled marker)"
	if x.cfg.ResetPassword {
		how = "disabled (password reset)"
		x.o.NewPassword = res.NewPassword
	}
	x.o.Disabled = res.Verification.Verified
	x.verified(res.Verification, how, res.Notes)
	if res.NewPassword != "" {
		x.printf("     new password (shown once, not stored): %s\n", res.NewPassword)
	}
	result := how + strings.Join(append([]string{""}, res.Notes...), "; ") + verifiedNote(res.Verification)
	if err := x.record(ctx, action(x.inc, StepDisable, verb+" in "+x.cfg.AccountName, result, 1, failedIf(!res.Verification.Verified), nil)); err != nil {
		return err
	}
	return x.hook(StepDisable)
}

// verified prints step 2's line for a change described by how; an
// unverified one becomes the outcome's account note.
func (x *run) verified(v account.Verification, how string, notes []string) {
	if v.Verified {
		x.printf("  2. %s in %s; verified: %s\n", how, x.cfg.AccountName, v.Method)
	} else {
		x.o.AccountNote = "disable NOT verified: " + v.Method
		x.printf("  2. NOT verified: %s in %s, but the check did not confirm it: %s\n", how, x.cfg.AccountName, v.Method)
		x.printf("     the login may still authenticate; check the account store, then run respond again\n")
	}
	for _, n := range notes {
		x.printf("     note: %s\n", n)
	}
}

// verifiedNote is how a disable was checked, for the journal.
func verifiedNote(v account.Verification) string {
	if v.Verified {
		return "; verified by " + v.Method
	}
	return "; NOT verified: " + v.Method
}

func failedIf(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Step 3: quarantine the held messages of the login and delete them from
// the hold queue.
func (x *run) quarantine(ctx context.Context) error {
	sel, err := queue.SelectLogin(ctx, x.cfg.Queue, x.t.Login, linksFor(x.t, x.j))
	if err != nil {
		return x.fail(ctx, StepQuarantine, "re-check held messages", postfixHint(err))
	}
	var exported, entryIDs []string
	already, failed := 0, 0
	for _, m := range sel.Messages {
		if m.Queue != "hold" {
			continue // only held mail is cleaned; it was held above
		}
		e, existed, err := x.cfg.Quarantine.Export(ctx, m.QueueID, x.t.Login)
		if err != nil {
			failed++
			x.printf("     keeping %s on hold: %v\n", m.QueueID, err)
			continue
		}
		if existed {
			already++
		}
		exported = append(exported, m.QueueID)
		entryIDs = append(entryIDs, e.ID)
	}
	x.o.Exported = len(exported)
	x.o.KeptHeld = failed
	if len(exported)+failed == 0 {
		x.printf("  3. no held message of the login left to clean\n")
		return nil
	}
	x.printf("  3. exported %d held message(s) to quarantine (%d were already there), %d failed\n", len(exported), already, failed)
	if err := x.record(ctx, action(x.inc, StepQuarantine, "export to quarantine", fmt.Sprintf("exported %d (%d already)", len(exported), already), len(exported), failed, entryIDs)); err != nil {
		return err
	}
	if err := x.hook("export"); err != nil {
		return err
	}
	cmd := x.cfg.Commands.postsuper("-d", "-", "hold")
	res, err := x.cfg.Queue.DeleteHeld(ctx, exported)
	if err != nil {
		return x.fail(ctx, StepDelete, cmd, postfixHint(err))
	}
	x.o.Deleted = res.Changed
	x.printf("     deleted %d of them from the hold queue (%s)\n", res.Changed, cmd)
	if err := x.record(ctx, action(x.inc, StepDelete, cmd, fmt.Sprintf("deleted %d", res.Changed), res.Changed, len(res.Missing), exported)); err != nil {
		return err
	}
	if failed > 0 {
		return x.fail(ctx, StepQuarantine, "export to quarantine", fmt.Errorf("%d held message(s) could not be exported and stay on hold", failed))
	}
	return x.hook(StepDelete)
}

// Step 4: release what this incident held that is not the login's, flush,
// and show the queue.
func (x *run) release(ctx context.Context) error {
	q := x.cfg.Queue
	ours := x.j.ids(StepHold, "held")
	var toRelease []string
	var expired []string
	if len(ours) > 0 {
		sel, err := queue.SelectLogin(ctx, q, x.t.Login, linksFor(x.t, x.j))
		if err != nil {
			return x.fail(ctx, StepRelease, "re-check held messages", postfixHint(err))
		}
		spam := map[string]bool{}
		for _, m := range sel.Messages {
			spam[m.QueueID] = true
		}
		err = q.Inspect(ctx, ours, func(m queue.Message) error {
			if m.Queue == "hold" && !spam[m.QueueID] {
				toRelease = append(toRelease, m.QueueID)
				if x.cfg.MaxQueueLifetime > 0 && !m.ArrivalTime.IsZero() && x.cfg.Now().Sub(m.ArrivalTime) > x.cfg.MaxQueueLifetime {
					expired = append(expired, m.QueueID)
				}
			}
			return nil
		})
		if err != nil {
			return x.fail(ctx, StepRelease, "inspect held messages", postfixHint(err))
		}
	}
	flushed := false
	if len(toRelease) > 0 {
		cmd := x.cfg.Commands.postsuper("-H", "-")
		res, err := q.Release(ctx, toRelease)
		if err != nil {
			return x.fail(ctx, StepRelease, cmd, postfixHint(err))
		}
		x.o.Released = res.Changed
		x.o.Expired = len(expired)
		x.printf("  4. released %d held message(s) that are not the login's (%s)\n", res.Changed, cmd)
		if len(expired) > 0 {
			x.printf("     %d of them outlived maximal_queue_lifetime (%s) and bounce at the next delivery attempt: %s\n", len(expired), x.cfg.MaxQueueLifetime, strings.Join(expired, " "))
		}
		if err := x.record(ctx, action(x.inc, StepRelease, cmd, fmt.Sprintf("released %d (%d past maximal_queue_lifetime)", res.Changed, len(expired)), res.Changed, len(res.Missing), toRelease)); err != nil {
			return err
		}
		if err := x.hook(StepRelease); err != nil {
			return err
		}
	} else {
		x.printf("  4. nothing held by this incident to release\n")
	}
	if _, ok := x.j.find(StepFlush, "flushed"); len(toRelease) > 0 || !ok {
		cmd := x.cfg.Commands.postqueue("-f")
		if err := q.Flush(ctx); err != nil {
			return x.fail(ctx, StepFlush, cmd, postfixHint(err))
		}
		flushed = true
		if err := x.record(ctx, action(x.inc, StepFlush, cmd, "flushed", 1, 0, nil)); err != nil {
			return err
		}
	}
	counts := map[string]int{}
	total := 0
	var shown []queue.Entry
	err := q.List(ctx, func(e queue.Entry) error {
		counts[e.Queue]++
		total++
		if len(shown) < maxShown {
			shown = append(shown, e)
		}
		return nil
	})
	if err != nil {
		return x.fail(ctx, StepRelease, x.cfg.Commands.postqueue("-j"), postfixHint(err))
	}
	var parts []string
	for _, name := range []string{"incoming", "active", "deferred", "hold", "maildrop"} {
		if counts[name] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", name, counts[name]))
		}
	}
	if flushed {
		x.printf("     flushed (%s)\n", x.cfg.Commands.postqueue("-f"))
	}
	if len(parts) > 0 {
		x.printf("     queue now: %d message(s): %s\n", total, strings.Join(parts, ", "))
		for _, e := range shown {
			x.printf("       %-16s %-9s from=<%s> %d recipient(s)\n", e.QueueID, e.Queue, printableAddr(e.Sender), len(e.Recipients))
		}
		if total > len(shown) {
			x.printf("       ... %d more (%s)\n", total-len(shown), x.cfg.Commands.postqueue("-j"))
		}
	} else {
		x.printf("     queue now: empty\n")
	}
	return nil
}

// maxShown is how many remaining messages step 4 lists.
const maxShown = 20

// Step 5: how to keep watching and how to undo.
func (x *run) advice() {
	x.printf("  5. keep watching: saslguard scan (or watch) the mail log; %s lists the queue\n", x.cfg.Commands.postqueue("-j"))
	x.printf("     undo: saslguard respond --undo %d [--restore] --yes   (without --yes it shows what it would do; details: saslguard incident show %d)\n", x.inc, x.inc)
}

// postfixHint adds what to do to the errors Postfix's tools give most often.
func postfixHint(err error) error {
	if err == nil {
		return nil
	}
	s := strings.ToLower(err.Error())
	switch {
	case strings.Contains(s, "permission denied") || strings.Contains(s, "operation not permitted") || strings.Contains(s, "not owner"):
		return fmt.Errorf("%w (run saslguard as root: postsuper and the map need it)", err)
	case strings.Contains(s, "mail system is not running") || strings.Contains(s, "mail system is down") || strings.Contains(s, "connection refused"):
		return fmt.Errorf("%w (Postfix is not running: start it with postfix start, then run respond again)", err)
	case strings.Contains(s, "no such file") || errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w (check --postfix-config and that Postfix is installed there; postconf -d config_directory shows the default)", err)
	}
	return err
}
