package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/logsrc"
	"github.com/saslguard/saslguard/internal/report"
	"github.com/saslguard/saslguard/internal/scan"
)

func init() { register(newScanCmd) }

type scanFlags struct {
	config  string
	format  string
	year    int
	tz      string
	domains []string
	verbose bool
	noProg  bool
	cpuProf string
	memProf string
	explain string
}

func newScanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan [FILE|GLOB|-]...",
		Short: "Name the compromised SMTP AUTH logins in mail logs, with the evidence",
		Long: `scan reads mail logs (Postfix, Dovecot and Exim lines) and names the SMTP AUTH logins
that spammers are using, each with the evidence that makes the case: volume
against the login's own baseline, new client IPs, forged sender domains, remote
rejections, failed logins before the success.

Give it files, globs or - for standard input. A rotated set may be given in any
order (mail.log.3.gz mail.log.2.gz mail.log.1 mail.log, or dateext names);
gzip, xz, zstd and bzip2 are recognised by content. Without files it reads the
logs named in the configuration (default /var/log/mail.log).

Classic syslog stamps carry no year: it is inferred backwards from the newest
line, anchored on the newest file's modification time (never the clock), so a
set that crosses New Year reads right; --year names the newest line's year when
the files were copied. A pipe has no modification time: its newest line is
taken to be within the last twelve months unless --year says otherwise. --tz
names their zone.

--explain-login LOGIN prints, instead of the report, that login's timeline:
when each of the detector's rules ('saslguard rules') began or stopped firing,
with its points and figures, and when the verdict rose.

Besides whole logs it reads excerpts: the runbook's 'grep sasl_username
/var/log/maillog', or a paste, holds smtpd's client lines without qmgr's; on a
host whose log shows no qmgr line each such line counts as a message of its
login (client IP and time; sender unknown). Container logs are read behind
docker compose's "service  | " prefix and the RFC 3339 stamp of 'docker logs
-t' or 'kubectl logs --timestamps' (whose time is then taken), also when the
daemon prints no syslog header after the stamp.

Exit status: 0 when no login is compromised, 1 when some are (so cron can act),
2 when it could not judge, with the reason on standard error: an error, an
empty input, an input with no Postfix or Dovecot line it understands (another
MTA's log, a CSV, a web server's log), or a damaged file (truncated or corrupt
gzip, xz, zstd, bzip2: its warning goes to standard error and what could be
read is still reported; a login found compromised there still exits 1).`,
		Example: `  saslguard scan /var/log/mail.log*
  saslguard scan --format json mail.log.1 mail.log | jq '.accounts[] | select(.verdict=="compromised")'
  journalctl -u postfix -o json | saslguard scan -
  grep sasl_username /var/log/maillog | saslguard scan -
  docker compose logs -t mailserver | saslguard scan -
  saslguard scan --year 2025 --tz Europe/Berlin old/mail.log-2025*.gz
  saslguard scan --explain-login alice@corp.example /var/log/mail.log`,
		RunE: func(cmd *cobra.Command, args []string) error { return runScan(cmd, args, f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "configuration file (see 'saslguard config example')")
	fl.StringVarP(&f.format, "format", "o", "text", "output format: text or json")
	yearFlag(fl, &f.year, "year of the newest line, for stamps without a year (default: from the newest file's mtime)")
	fl.StringVar(&f.tz, "tz", "", "zone of stamps without one, e.g. Europe/Berlin (default: the configuration's, else local)")
	fl.StringSliceVar(&f.domains, "domain", nil, "the organisation's mail domain (repeatable; overrides the configuration's own_domains)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "list every login, not only the busiest ok ones")
	fl.BoolVar(&f.noProg, "no-progress", false, "no progress bar even on a terminal")
	fl.StringVar(&f.explain, "explain-login", "", "print when each detector rule fired for this login, instead of the report")
	fl.StringVar(&f.cpuProf, "cpuprofile", "", "write a CPU profile to this file (for developers)")
	_ = fl.MarkHidden("cpuprofile")
	fl.StringVar(&f.memProf, "memprofile", "", "write a heap profile at the end to this file (for developers)")
	_ = fl.MarkHidden("memprofile")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runScan(cmd *cobra.Command, args []string, f scanFlags) error {
	if f.format != "text" && f.format != "json" {
		return fmt.Errorf("--format must be text or json, not %q", f.format)
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return err
	}
	if f.tz != "" {
		cfg.Scan.Timezone = f.tz
	}
	if len(f.domains) > 0 {
		cfg.Scan.OwnDomains = f.domains
		if err := cfg.Validate(); err != nil {
			return err
		}
	}
	loc, err := cfg.Location()
	if err != nil {
		return err
	}
	if len(args) == 0 {
		args = cfg.Scan.Logs
	}
	ropts := scan.ReaderOptions()
	ropts.Stdin = cmd.InOrStdin()
	set, err := logsrc.Open(args, ropts)
	if err != nil {
		return err
	}
	if f.cpuProf != "" {
		pf, err := os.Create(f.cpuProf)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	defer tuneGC()()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	allow := cfg.Allow()
	opts := scan.Options{
		Year: f.year, Loc: loc, Allow: allow,
		Correlate: correlate.Config{OwnDomains: cfg.Scan.OwnDomains, Detect: cfg.DetectConfig()},
	}
	var trace *ruleTrace
	if f.explain != "" {
		trace = newRuleTrace()
		opts.Correlate.Detect.Trace = trace.record
	}
	bar := progressFor(cmd, set, f.noProg)
	if bar != nil {
		opts.Progress = func(done, total int64) { _ = bar.Set64(done) }
	}
	res, err := scan.Run(ctx, set, opts)
	if bar != nil {
		_ = bar.Finish()
		_ = bar.Clear()
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", context.Cause(ctx))
		}
		return err
	}
	if f.memProf != "" {
		if err := writeHeapProfile(f.memProf); err != nil {
			return err
		}
	}
	st := &res.Stats
	warnDamaged(cmd.ErrOrStderr(), st.FileErrors)
	if err := nothingToJudge(st.Lines, st.Parsed, st.NoEnvelope, len(st.FileErrors), st.OtherPrograms, st.Unparsed); err != nil {
		return &exitError{code: 2, err: err}
	}
	out := cmd.OutOrStdout()
	if trace != nil {
		return explainLogin(out, res, trace, &opts.Correlate.Detect, loc, f.explain)
	}
	doc := report.Build(res, allow, loc)
	if f.format == "json" {
		err = report.JSON(out, doc)
	} else {
		err = report.Text(out, doc, report.TextOptions{Loc: loc, Verbose: f.verbose})
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	for _, a := range res.Accounts {
		if scan.Verdict(a, allow) == detect.Compromised {
			return &exitError{code: 1} // what was read is enough to act on
		}
	}
	if len(st.FileErrors) > 0 {
		return &exitError{code: 2, err: damaged(st.FileErrors)}
	}
	return nil
}

// explainLogin prints the timeline of one login's rules.
func explainLogin(out io.Writer, res *scan.Result, trace *ruleTrace, cfg *detect.Config, loc *time.Location, login string) error {
	want := strings.ToLower(login)
	for _, a := range res.Accounts {
		if a.Login == want {
			if err := writeTimeline(out, a, trace.ev[a.Detector()], cfg, loc, res.YearShift); err != nil {
				return fmt.Errorf("write timeline: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("login %s: not in the log", report.Safe(login, 200))
}

// progressFor returns a progress bar on stderr for large input on a
// terminal, or nil.
func progressFor(cmd *cobra.Command, set *logsrc.Set, off bool) *progressbar.ProgressBar {
	if off {
		return nil
	}
	errf, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || !isatty.IsTerminal(errf.Fd()) {
		return nil
	}
	total := set.TotalSize()
	if total >= 0 && total < progressMinSize(set) {
		return nil
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(errf),
		progressbar.OptionSetDescription("scanning"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func writeHeapProfile(path string) error {
	pf, err := os.Create(path)
	if err != nil {
		return err
	}
	defer pf.Close()
	runtime.GC()
	return pprof.WriteHeapProfile(pf)
}
