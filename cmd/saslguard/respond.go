package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/respond"
)

func init() { register(newRespondCmd) }

// mailFlags name the mail server respond and its single-step commands work
// on. They stand in for the configuration file's [respond] section.
type mailFlags struct {
	config        string
	postfixConfig string
	postfixBin    string
	mapPath       string
	passwdFile    string
	doveadmConfig string
	execBackend   string
	stateDir      string
	quarantine    string
}

func addMailFlags(cmd *cobra.Command, f *mailFlags) {
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "configuration file (scan.allow_logins, scan.logs, own domains)")
	fl.StringVar(&f.postfixConfig, "postfix-config", "", "Postfix configuration directory (default: the default instance)")
	fl.StringVar(&f.postfixBin, "postfix-bin", "", "directory of postsuper, postqueue, postcat, postconf, postmap (default /usr/sbin)")
	fl.StringVar(&f.mapPath, "map", "", "saslguard's check_sasl_access map (default POSTFIX-CONFIG/saslguard_sasl_access)")
	fl.StringVar(&f.passwdFile, "passwd-file", "", "Dovecot passwd-file to disable logins in")
	fl.StringVar(&f.doveadmConfig, "doveadm-config", "", "dovecot.conf for doveadm -c (auth cache flush, kick)")
	fl.StringVar(&f.execBackend, "exec-backend", "", "program run as PROGRAM disable|enable|status -- LOGIN (instead of --passwd-file)")
	fl.StringVar(&f.stateDir, "state-dir", respond.DefaultStateDir, "state directory of the incident store")
	fl.StringVar(&f.quarantine, "quarantine", "", "quarantine directory (default STATE-DIR/quarantine)")
}

func (f *mailFlags) settings() (respond.Settings, *config.Config, error) {
	cfg, err := config.Load(f.config)
	if err != nil {
		return respond.Settings{}, nil, err
	}
	return respond.Settings{
		PostfixConfig: f.postfixConfig, PostfixBin: f.postfixBin, MapPath: f.mapPath,
		PasswdFile: f.passwdFile, DoveadmConfig: f.doveadmConfig, ExecBackend: f.execBackend,
		StateDir: f.stateDir, Quarantine: f.quarantine, Allow: cfg.Allow(),
	}, cfg, nil
}

type respondFlags struct {
	mail         mailFlags
	logs         []string
	year         int
	tz           string
	yes          bool
	holdAll      bool
	reset        bool
	action       string
	text         string
	endByIP      bool
	noSessions   bool
	undo         int64
	restore      bool
	enableOldPw  bool
	keepDisabled bool
}

func newRespondCmd() *cobra.Command {
	var f respondFlags
	cmd := &cobra.Command{
		Use:   "respond [LOGIN...]",
		Short: "Contain stolen logins: block, end sessions, hold, disable, quarantine, release",
		Long: `respond contains stolen SMTP AUTH logins on this Postfix, in steps that each
print what they did:

  1. block new mail from the login at Postfix (saslguard's check_sasl_access map,
     REJECT by default), end its live smtpd sessions, hold its queued mail (what
     its queue files name as its own, and the content-filter copies and bounces
     the log ties to it);
  2. disable the login at its source (Dovecot passwd-file, or --exec-backend);
  3. export each held message of the login to quarantine, then delete it from
     the hold queue;
  4. release what it held that is not the login's; flush; show the queue;
  5. print how to keep watching and how to undo.

Logins are named, or taken from a scan of --log (default: the configuration's
scan.logs): every login the detector calls compromised. Logins in
scan.allow_logins are never blocked.

Without --yes respond only prints the plan and creates nothing (not even the
state directory). Every action is recorded in the incident store; run respond
again after an interruption and it finishes the job without doing anything
twice. An incident closes when every step is done for its login, and stays
open, saying why, while the login is not fully contained. A login that
watch --mode contain contained is handled in watch's incident, which respond
takes over. The login is recorded as blocked only once the map entry is
written, rebuilt, reloaded and found consulted in every AUTH service.
--undo INCIDENT lifts the blocks and, with --restore, brings the quarantined
mail back; it too prints what it would do unless given --yes.

Exit status: 0 done (or plan printed), 1 done but some login is not fully
contained (the map is not effective, mail left on hold), 2 error.`,
		Example: `  saslguard respond --log /var/log/mail.log --passwd-file /etc/dovecot/users
  saslguard respond --yes --passwd-file /etc/dovecot/users alice@example.org
  saslguard respond --undo 3 --restore --keep-disabled          # what it would do
  saslguard respond --undo 3 --restore --keep-disabled --yes    # do it`,
		RunE: func(cmd *cobra.Command, args []string) error { return runRespond(cmd, args, f) },
	}
	addMailFlags(cmd, &f.mail)
	fl := cmd.Flags()
	fl.StringSliceVar(&f.logs, "log", nil, "mail log to scan for the logins and their evidence (repeatable; default: scan.logs)")
	yearFlag(fl, &f.year, "year of the log's newest line, for stamps without a year")
	fl.StringVar(&f.tz, "tz", "", "zone of log stamps without one")
	fl.BoolVar(&f.yes, "yes", false, "do it (default: print the plan only; also for --undo)")
	fl.BoolVar(&f.holdAll, "hold-all", false, "hold every queued message until the login's are out, then release the rest")
	fl.BoolVar(&f.reset, "reset-password", false, "set a new random password (printed once) instead of disabling; with --undo: re-enable with one")
	fl.StringVar(&f.action, "block-action", "reject", "what Postfix answers the login: reject, tempfail (421) or hold")
	fl.StringVar(&f.text, "block-text", "", "text of the SMTP reply to the blocked login")
	fl.BoolVar(&f.endByIP, "end-by-ip", false, "also end smtpd sessions found only by a client address of the login (hits other users behind the same NAT)")
	fl.BoolVar(&f.noSessions, "no-end-sessions", false, "leave live sessions alone")
	fl.Int64Var(&f.undo, "undo", 0, "take back incident N: lift the block, re-enable (see below), --restore mail (a dry run without --yes)")
	fl.BoolVar(&f.restore, "restore", false, "with --undo: put the quarantined messages back into the queue")
	fl.BoolVar(&f.enableOldPw, "enable-old-password", false, "with --undo: re-enable a login whose password was not reset")
	fl.BoolVar(&f.keepDisabled, "keep-disabled", false, "with --undo: lift the MTA block but leave the account disabled")
	return cmd
}

func runRespond(cmd *cobra.Command, args []string, f respondFlags) error {
	s, cfg, err := f.mail.settings()
	if err != nil {
		return err
	}
	s.HoldAll, s.Reset, s.Action, s.Text, s.EndByIP, s.NoSessions = f.holdAll, f.reset, f.action, f.text, f.endByIP, f.noSessions
	// the flags alone decide these: before the setup's postconf runs
	if f.undo != 0 && len(args) > 0 {
		return errors.New("--undo takes no logins: it undoes one incident")
	}
	if f.undo == 0 && (f.restore || f.enableOldPw || f.keepDisabled) {
		return errors.New("--restore, --enable-old-password and --keep-disabled go with --undo")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	out := cmd.OutOrStdout()
	// Without --yes nothing is created: the store must exist, except that a
	// first plan on a new host (default state directory, no store yet) is
	// made on an empty one.
	s.ReadOnly = !f.yes
	s.NoStoreOK = !f.yes && f.undo == 0 && !cmd.Flags().Changed("state-dir")
	env, err := respond.Setup(ctx, s, out)
	if err != nil {
		return err
	}
	defer env.Close()
	if env.NoStore {
		fmt.Fprintf(out, "note: no incident store in %s yet (respond --yes creates it): planning without one\n", respond.DefaultStateDir)
	}
	if f.undo != 0 {
		_, err := env.Undo(ctx, f.undo, respond.UndoOptions{Restore: f.restore, EnableOldPassword: f.enableOldPw,
			KeepDisabled: f.keepDisabled, ResetPassword: f.reset, DryRun: !f.yes})
		return err
	}
	logs := f.logs
	if len(logs) == 0 {
		logs = cfg.Scan.Logs
	}
	if f.tz != "" {
		cfg.Scan.Timezone = f.tz
	}
	loc, err := cfg.Location()
	if err != nil {
		return err
	}
	targets, err := respond.ScanTargets(ctx, args, respond.ScanOptions{Logs: logs, Year: f.year, Loc: loc, Allow: cfg.Allow(), Own: cfg.Scan.OwnDomains})
	if err != nil {
		if len(args) == 0 {
			return err
		}
		// Named logins are handled on the queue files' word alone.
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v: filter copies, bounces and session pids are not known\n", err)
		targets = targets[:0]
		for _, a := range args {
			targets = append(targets, respond.Target{Login: a})
		}
	}
	sum, err := env.Run(ctx, targets, f.yes)
	if err != nil {
		return err
	}
	if f.yes && sum.Attention() {
		return &exitError{code: 1}
	}
	return nil
}

// parseIncident parses an incident id argument.
func parseIncident(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("incident id must be a positive number, not %s", respond.Quote(s))
	}
	return n, nil
}
