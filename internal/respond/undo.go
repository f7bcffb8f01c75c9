package respond

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/saslguard/saslguard/internal/account"
	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/quarantine"
	"github.com/saslguard/saslguard/internal/store"
)

// UndoOptions tune Undo.
type UndoOptions struct {
	// Restore puts the incident's quarantined messages back into the queue.
	Restore bool
	// EnableOldPassword re-enables a login that was disabled without a
	// password reset: its old password (the one the attacker knows) works
	// again. Without it Undo refuses.
	EnableOldPassword bool
	// KeepDisabled lifts the MTA block but leaves the account disabled.
	KeepDisabled bool
	// ResetPassword re-enables the login with a new random password
	// (printed once) instead of the old one.
	ResetPassword bool
	// DryRun prints what the undo would do and changes nothing.
	DryRun bool
}

// ErrOldPassword is returned when Undo would re-enable a login whose
// password was not reset.
var ErrOldPassword = errors.New("the login was disabled without a password reset: re-enabling it brings back the password the attacker knows")

// UndoResult reports an Undo.
type UndoResult struct {
	Login     string
	Unblocked bool
	Enabled   bool
	Restored  []quarantine.Entry
	// NewPassword is set by ResetPassword: show it once, never store it.
	NewPassword string
	AlreadyOff  bool // the incident was closed before
}

// Undo takes incident inc's steps back: the MTA block and the registry entry
// are lifted, the account re-enabled (see UndoOptions), and, on request, the
// quarantined messages restored. It can be run again after a failure: every
// part checks what is still to do.
func (r *Responder) Undo(ctx context.Context, inc int64, opts UndoOptions) (UndoResult, error) {
	var res UndoResult
	if !opts.DryRun {
		lock, err := r.cfg.Store.TryLock(LockName)
		if err != nil {
			return res, fmt.Errorf("take the respond lock: %w", err)
		}
		defer lock.Unlock()
	}
	in, acts, err := r.cfg.Store.GetIncident(ctx, inc)
	if err != nil {
		return res, fmt.Errorf("incident %d: %w", inc, err)
	}
	j := journal{actions: acts}
	if _, takenOver := j.find(StepStart, "taken over"); in.Source != Source && !takenOver {
		return res, fmt.Errorf("incident %d was opened by %s, not respond: lift its block with saslguard account enable", inc, in.Source)
	}
	res.Login = in.Login
	x := &run{Responder: r, t: Target{Login: in.Login}, inc: inc, j: j, o: &Outcome{}}
	login := in.Login
	r.printf("undo incident %d (%s)\n", inc, Quote(login))

	// Decide about the account first: refuse before changing anything.
	dis, disabled := j.find(StepDisable, "disabled")
	// Every "disabled" record means the store was changed or found
	// disabled; a failed one was only not verified.
	disabled = disabled && !strings.Contains(dis.Result, "no such login")
	reset := disabled && strings.Contains(dis.Result, "password reset")
	if _, undone := j.find(StepUndo, "account enabled"); undone {
		disabled = false
	}
	if disabled && !reset && !opts.EnableOldPassword && !opts.KeepDisabled && !opts.ResetPassword {
		return res, fmt.Errorf("%w; nothing was changed: pass --reset-password to re-enable it with a new random password, --keep-disabled to leave it disabled, or --enable-old-password", ErrOldPassword)
	}
	if opts.DryRun {
		return res, r.undoPlan(ctx, in, j, disabled, reset, opts)
	}

	// The MTA block and the registry.
	if r.cfg.MTA != nil && mtablock.ValidLogin(login) == "" {
		ur, err := r.cfg.MTA.Unblock(ctx, login)
		if err != nil {
			return res, x.fail(ctx, StepUndo, "remove from "+r.cfg.MTA.Path(), postfixHint(err))
		}
		res.Unblocked = ur.Written
		if ur.Written {
			r.printf("  removed from %s, postfix reloaded\n", r.cfg.MTA.Path())
			if err := x.record(ctx, action(inc, StepUndo, "remove from "+r.cfg.MTA.Path(), "unblocked at the MTA", 1, 0, nil)); err != nil {
				return res, err
			}
		} else {
			r.printf("  not in %s (already lifted)\n", r.cfg.MTA.Path())
		}
	}
	if b, ok, err := r.cfg.Store.IsBlocked(ctx, login); err != nil {
		return res, err
	} else if ok && (b.IncidentID == inc || b.Source == Source) {
		if err := r.cfg.Store.Unblock(ctx, login); err != nil && !errors.Is(err, store.ErrNotFound) {
			return res, err
		}
		r.printf("  block lifted in the registry\n")
		if err := x.record(ctx, action(inc, StepUndo, "registry", "block lifted in the registry", 1, 0, nil)); err != nil {
			return res, err
		}
	} else if ok {
		r.printf("  the registry block is %s's (incident %d): left in place\n", b.Source, b.IncidentID)
	}

	// The account.
	switch {
	case !disabled || r.cfg.Account == nil:
	case reset:
		r.printf("  the account's password was reset: it works with the new password, nothing to re-enable\n")
	case opts.KeepDisabled:
		r.printf("  the account stays disabled (--keep-disabled)\n")
	case opts.ResetPassword:
		er, err := r.cfg.Account.Disable(ctx, login, account.Options{Reset: true})
		if err != nil {
			return res, x.fail(ctx, StepUndo, "reset in "+r.cfg.AccountName, err)
		}
		res.NewPassword = er.NewPassword
		r.printf("  re-enabled in %s with a new password (shown once, not stored): %s\n", r.cfg.AccountName, er.NewPassword)
		for _, n := range er.Notes {
			r.printf("  note: %s\n", n)
		}
		if res.Enabled, err = r.enableChecked(ctx, x, "reset in "+r.cfg.AccountName, "account enabled with a new password", er.Verification); err != nil {
			return res, err
		}
	default:
		st, err := r.cfg.Account.Status(ctx, login)
		if err != nil {
			return res, x.fail(ctx, StepUndo, "status "+r.cfg.AccountName, err)
		}
		var v account.Verification
		if st.Disabled {
			er, err := r.cfg.Account.Enable(ctx, login, account.EnableOptions{})
			if err != nil {
				return res, x.fail(ctx, StepUndo, "enable in "+r.cfg.AccountName, err)
			}
			for _, n := range er.Notes {
				r.printf("  note: %s\n", n)
			}
			v = er.Verification
		} else {
			v = r.cfg.Account.Verify(ctx, login, false)
		}
		r.printf("  re-enabled in %s with its old password (--enable-old-password)\n", r.cfg.AccountName)
		if res.Enabled, err = r.enableChecked(ctx, x, "enable in "+r.cfg.AccountName, "account enabled with the old password", v); err != nil {
			return res, err
		}
	}

	// Quarantined mail.
	entries := j.ids(StepQuarantine, "exported")
	if opts.Restore && len(entries) > 0 {
		all, err := r.cfg.Quarantine.List()
		if err != nil {
			return res, err
		}
		byID := map[string]quarantine.Entry{}
		for _, e := range all {
			byID[e.ID] = e
		}
		var restored []string
		failed := 0
		for _, id := range entries {
			e, ok := byID[id]
			if !ok || e.RestoredAs != "" {
				continue
			}
			ne, err := r.cfg.Quarantine.Restore(ctx, id, quarantine.RestoreOptions{})
			if err != nil {
				failed++
				r.printf("  restore %s: %v\n", id, err)
				continue
			}
			res.Restored = append(res.Restored, ne)
			restored = append(restored, ne.RestoredAs)
		}
		r.printf("  restored %d quarantined message(s) to the queue (%d failed)\n", len(res.Restored), failed)
		if len(restored)+failed > 0 {
			if err := x.record(ctx, action(inc, StepUndo, "restore from quarantine", fmt.Sprintf("restored %d", len(restored)), len(restored), failed, restored)); err != nil {
				return res, err
			}
		}
		if failed > 0 {
			return res, fmt.Errorf("%d message(s) could not be restored; run the undo again", failed)
		}
	} else if len(entries) > 0 {
		r.printf("  %d message(s) stay in quarantine (--restore brings them back; saslguard quarantine restore ID for one)\n", len(entries))
	}
	if undone(j) {
		res.AlreadyOff = true
		return res, nil
	}
	if in.Status != store.StatusClosed {
		if err := r.cfg.Store.SetIncidentStatus(ctx, inc, store.StatusClosed); err != nil {
			return res, err
		}
	}
	if err := x.record(ctx, action(inc, StepUndo, "respond --undo", "undone: incident closed", 1, 0, nil)); err != nil {
		return res, err
	}
	return res, nil
}

// undone reports whether an undo of the incident ran to its end (earlier
// versions recorded "incident closed").
func undone(j journal) bool {
	for _, prefix := range []string{"undone", "incident closed"} {
		if _, ok := j.find(StepUndo, prefix); ok {
			return true
		}
	}
	return false
}

// undoPlan prints what Undo would do, changing nothing.
func (r *Responder) undoPlan(ctx context.Context, in store.Incident, j journal, disabled, reset bool, opts UndoOptions) error {
	login := in.Login
	if r.cfg.MTA != nil && mtablock.ValidLogin(login) == "" {
		es, err := r.cfg.MTA.List(ctx)
		if err != nil {
			return postfixHint(err)
		}
		key := strings.ToLower(login)
		if slices.ContainsFunc(es, func(e mtablock.Entry) bool { return e.Login == key }) {
			r.printf("  would remove %s from %s, then postmap and postfix reload\n", Quote(login), r.cfg.MTA.Path())
		} else {
			r.printf("  not in %s (already lifted)\n", r.cfg.MTA.Path())
		}
	}
	if b, ok, err := r.cfg.Store.IsBlocked(ctx, login); err != nil {
		return err
	} else if ok && (b.IncidentID == in.ID || b.Source == Source) {
		r.printf("  would lift the block in the registry\n")
	} else if ok {
		r.printf("  the registry block is %s's (incident %d): would be left in place\n", b.Source, b.IncidentID)
	}
	switch {
	case !disabled || r.cfg.Account == nil:
	case reset:
		r.printf("  the account's password was reset: it works with the new password, nothing to re-enable\n")
	case opts.KeepDisabled:
		r.printf("  the account would stay disabled (--keep-disabled)\n")
	case opts.ResetPassword:
		r.printf("  would re-enable it in %s with a new random password (printed once)\n", r.cfg.AccountName)
	default:
		r.printf("  would re-enable it in %s with its old password (--enable-old-password)\n", r.cfg.AccountName)
	}
	if entries := j.ids(StepQuarantine, "exported"); len(entries) > 0 {
		if opts.Restore {
			r.printf("  would restore the %d message(s) this incident quarantined that are not restored yet\n", len(entries))
		} else {
			r.printf("  %d message(s) would stay in quarantine (--restore brings them back)\n", len(entries))
		}
	}
	if !undone(j) {
		r.printf("  would record the incident as undone and closed\n")
	}
	r.printf("\ndry run: nothing was changed. Run again with --yes to do it.\n")
	return nil
}

// enableChecked prints and records how a re-enable was verified, and
// reports whether it was. An unverified one is recorded as failed under a
// result that a later undo does not take for done ("account enable NOT
// verified"), so running the undo again checks it again.
func (r *Responder) enableChecked(ctx context.Context, x *run, command, done string, v account.Verification) (bool, error) {
	if v.Verified {
		r.printf("  verified: %s\n", v.Method)
		return true, x.record(ctx, action(x.inc, StepUndo, command, done+"; verified by "+v.Method, 1, 0, nil))
	}
	r.printf("  NOT verified: %s; the login may still be refused: check it, then run the undo again\n", v.Method)
	return false, x.record(ctx, action(x.inc, StepUndo, command, "account enable NOT verified: "+v.Method, 0, 1, nil))
}
