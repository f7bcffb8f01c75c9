package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/report"
)

func init() { register(newSetupCmd) }

func newSetupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Prepare a mail server for saslguard's blocks (dry run without --yes)",
	}
	cmd.AddCommand(newSetupPostfixCmd())
	return cmd
}

type setupFlags struct {
	postfixConfig, postfixBin, mapPath, policy string
	yes, undo, force                           bool
}

func newSetupPostfixCmd() *cobra.Command {
	var f setupFlags
	cmd := &cobra.Command{
		Use:   "postfix",
		Short: "Make every AUTH service of Postfix consult saslguard's map (dry run without --yes)",
		Long: `setup postfix makes every smtpd service that offers AUTH consult saslguard's
check_sasl_access map before it lets a login through, so that respond and
watch can block a stolen login:

  - it creates the map with saslguard's header (an empty map), before anything
    names it (a map Postfix cannot open makes it refuse every login);
  - it puts "check_sasl_access MAP" (and, with --policy-service, the policy
    service) in front of smtpd_recipient_restrictions where that list is
    defined for each service: the service's -o override in master.cf, the
    main.cf parameter an override names as $name (Debian's master.cf suggests
    $mua_recipient_restrictions; it is defined when main.cf lacks it), or
    main.cf's own list;
  - it keeps a copy of main.cf and master.cf (main.cf.saslguard-TIME), records
    each change in saslguard-setup.json, reloads a running Postfix, and checks
    that the map is now consulted everywhere.

Without --yes it prints the changes and the postconf commands, and changes
nothing. It refuses where a control panel (Plesk, Zimbra, ISPConfig) or a
comment at the top of main.cf says a program writes main.cf: add the lines to
what generates it, or use --force. --undo takes back each recorded change that
is still as setup left it, and leaves alone what an admin changed since.

Exit status: 0 done (or plan printed), 1 done but the map is still not
consulted everywhere (or undo left a changed value alone), 2 error or refused.`,
		Example: `  saslguard setup postfix
  saslguard setup postfix --yes
  saslguard setup postfix --yes --policy-service inet:127.0.0.1:10040
  saslguard setup postfix --undo --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSetupPostfix(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.postfixConfig, "postfix-config", "", "Postfix configuration directory (default: the default instance)")
	fl.StringVar(&f.postfixBin, "postfix-bin", "", "directory of postconf, postmap and postfix (default /usr/sbin)")
	fl.StringVar(&f.mapPath, "map", "", "saslguard's check_sasl_access map (default POSTFIX-CONFIG/saslguard_sasl_access)")
	fl.StringVar(&f.policy, "policy-service", "", "also consult saslguard's policy service: inet:HOST:PORT or unix:private/NAME")
	fl.BoolVar(&f.yes, "yes", false, "do it (default: print the plan only)")
	fl.BoolVar(&f.undo, "undo", false, "take back what setup changed")
	fl.BoolVar(&f.force, "force", false, "change main.cf even though a program seems to write it")
	return cmd
}

func runSetupPostfix(cmd *cobra.Command, f setupFlags) error {
	ctx := cmd.Context()
	w := cmd.OutOrStdout()
	m, err := postfixblock.New(ctx, postfixblock.Config{ConfigDir: f.postfixConfig, BinDir: f.postfixBin, MapPath: f.mapPath})
	if err != nil {
		return err
	}
	if f.undo {
		return runSetupUndo(cmd, m, f.yes)
	}
	opts := postfixblock.SetupOptions{PolicyService: f.policy, Force: f.force}
	plan, err := m.PlanSetup(ctx, opts)
	if err != nil {
		return err
	}
	printSetupPlan(w, m, plan, f.force)
	if plan.Refused != "" && !f.force {
		return &exitError{code: 2, err: errors.New("refused: " + plan.Refused)}
	}
	if !f.yes {
		if !plan.Empty() {
			fmt.Fprintln(w, "dry run: nothing was changed (add --yes to apply)")
		}
		return nil
	}
	run, chk, err := m.ApplySetup(ctx, plan, opts)
	if err != nil {
		return err
	}
	if run.MapCreated != "" {
		fmt.Fprintf(w, "created %s (empty, with saslguard's header)\n", report.Safe(run.MapCreated, 300))
	}
	for _, b := range run.Backups {
		fmt.Fprintf(w, "backup: %s\n", report.Safe(b, 300))
	}
	if len(run.Changes) > 0 {
		fmt.Fprintf(w, "applied %d change(s); undo with: saslguard setup postfix --undo --yes%s\n", len(run.Changes), configArg(f.postfixConfig))
	}
	for _, n := range chk.Notes() {
		fmt.Fprintln(w, "  "+report.Safe(n, 500))
	}
	if !chk.Effective() {
		return &exitError{code: 1, err: errors.New("the map is still not consulted by every service that offers AUTH (see above)")}
	}
	fmt.Fprintf(w, "%s is consulted by every service that offers AUTH\n", report.Safe(m.Ref(), 300))
	return nil
}

func configArg(dir string) string {
	if dir == "" {
		return ""
	}
	return " --postfix-config " + report.ShellQuote(dir)
}

// postconfLine shows a postconf argument vector as a command line to paste.
func postconfLine(configDir string, args []string) string {
	line := "postconf"
	if configDir != "" {
		line += " -c " + report.ShellQuote(configDir)
	}
	for i, a := range args {
		if i == 0 {
			line += " " + a // the option: -e, -P, -X, -PX
			continue
		}
		line += " " + report.ShellQuote(a)
	}
	return line
}

func printSetupPlan(w io.Writer, m *postfixblock.Map, plan postfixblock.SetupPlan, force bool) {
	if plan.MapExists {
		fmt.Fprintf(w, "map %s: exists, left as it is\n", report.Safe(m.Ref(), 300))
	} else {
		fmt.Fprintf(w, "map %s: will be created, empty, with saslguard's header\n", report.Safe(m.Ref(), 300))
	}
	if len(plan.Effective) > 0 {
		fmt.Fprintf(w, "already consulted by: %s\n", report.Safe(strings.Join(plan.Effective, ", "), 500))
	}
	if len(plan.Changes) == 0 && plan.MapExists {
		fmt.Fprintln(w, "nothing to change")
	}
	for _, c := range plan.Changes {
		where, old := "main.cf", "(not set)"
		if c.Master {
			where = "master.cf"
		}
		if c.Existed {
			old = c.Old
		}
		fmt.Fprintf(w, "%s: %s\n  was: %s\n  now: %s\n", where, report.Safe(c.Name, 200), report.Safe(old, 500), report.Safe(c.New, 500))
		if len(c.Services) > 0 {
			fmt.Fprintf(w, "  for: %s\n", report.Safe(strings.Join(c.Services, ", "), 500))
		}
		fmt.Fprintf(w, "  command: %s\n", postconfLine(m.ConfigDir(), c.Command()))
	}
	for _, warn := range plan.Warnings {
		fmt.Fprintln(w, "warning: "+report.Safe(warn, 500))
	}
	switch {
	case plan.Refused != "" && force:
		fmt.Fprintln(w, "warning (--force): "+report.Safe(plan.Refused, 500))
	case plan.Refused != "":
		fmt.Fprintln(w, "REFUSED: "+report.Safe(plan.Refused, 500))
	}
}

func runSetupUndo(cmd *cobra.Command, m *postfixblock.Map, yes bool) error {
	w := cmd.OutOrStdout()
	steps, err := m.PlanUndoSetup(cmd.Context())
	if err != nil {
		return err
	}
	if len(steps) == 0 {
		fmt.Fprintln(w, "setup recorded no change here: nothing to undo")
		return nil
	}
	for _, s := range steps {
		name := report.Safe(s.Change.Name, 200)
		switch s.Action {
		case "restore":
			fmt.Fprintf(w, "restore %s = %s\n  command: %s\n", name, report.Safe(s.Change.Old, 500), postconfLine(m.ConfigDir(), s.Command()))
		case "remove":
			fmt.Fprintf(w, "remove %s (it was not set before setup)\n  command: %s\n", name, postconfLine(m.ConfigDir(), s.Command()))
		case "done":
			fmt.Fprintf(w, "%s is already as before setup\n", name)
		case "conflict":
			fmt.Fprintf(w, "leave %s alone: changed since setup (now %s)\n", name, report.Safe(s.Current, 500))
		}
	}
	if !yes {
		fmt.Fprintln(w, "dry run: nothing was changed (add --yes to undo)")
		return nil
	}
	n, err := m.UndoSetup(cmd.Context(), steps)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "the map %s is left in place (it may hold blocks; nothing names it now)\n", report.Safe(m.Path(), 300))
	if n > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d value(s) changed since setup were left alone", n)}
	}
	return nil
}
