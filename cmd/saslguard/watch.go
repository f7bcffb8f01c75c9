package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/follow"
	"github.com/saslguard/saslguard/internal/logsrc"
	"github.com/saslguard/saslguard/internal/mtablock"
	"github.com/saslguard/saslguard/internal/mtablock/postfixblock"
	"github.com/saslguard/saslguard/internal/queue/postfixq"
	"github.com/saslguard/saslguard/internal/respond"
	"github.com/saslguard/saslguard/internal/store"
	"github.com/saslguard/saslguard/internal/watch"
)

func init() { register(newWatchCmd) }

type watchFlags struct {
	config, format, tz, webhook, level string
	socket, metrics                    string
	year                               int
	once, fromEnd                      bool
	noCheckpoint, resetState           bool
	journal                            bool
	mailTo, mailFrom, mailRelay        string
	journalCmd, journalSince           string
	poll                               time.Duration

	// contain mode
	mode                               string
	postfixConfig, postfixBin, mapPath string
	stateDir, blockAction, blockText   string
	containMax, minEvidence            int
	containWindow, containMaxAge       time.Duration
	cooldown                           time.Duration
	metricsSet                         bool
	endByIP, noEndSessions             bool
}

const defaultSocket = "/run/saslguard/watch.sock"

func newWatchCmd() *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch [FILE...]",
		Short: "Follow the mail log and alert when a login is taken over (observe or contain mode)",
		Long: `watch follows mail logs as they are written, surviving rotation by rename,
copytruncate, deletion and files that do not exist yet, runs the same detector
as scan over a sliding window of event time, and raises one alert per login
when its verdict reaches the alerting level (compromised by default).

Alerts go to standard output (text or one JSON object per line) and, with
--webhook, as a JSON POST to a URL. Failed logins alone never alert.

--once replays the files to their end and exits: it raises the alerts a live
daemon would have raised, with the same compromise start as scan (exit status 1
when a login was found compromised, 2 when it could not judge, as for scan: an
empty input, no Postfix or Dovecot line understood, a damaged file). Logs written side by side (mail.log and
dovecot.log, two servers' logs) are merged by time, as scan merges them.

'saslguard status' shows a running daemon's suspects, recent alerts and how far
behind the log it is; --metrics serves Prometheus metrics on loopback.

--mode observe (the default) only alerts. --mode contain also does respond's
first steps by itself for each login found compromised: block it at Postfix
(saslguard's check_sasl_access map), end its live smtpd sessions, hold its
queued mail, and record an incident (source "watch") in the store of
--state-dir. It acts only when the queue files confirm the log (at least
--contain-min-evidence queued messages whose queue file names the login as
sasl_username, showing sender domains not the login's own or several client
addresses): a local user can write Postfix-like lines into the log, not queue
files. At most --contain-max containments per --contain-window (counted in the
store); refusals are reported. Allowlisted logins are only reported. Deleting
and releasing mail, and disabling the account, stay with 'saslguard respond';
'saslguard account list' shows the block.

The durable cursor across restarts is not built yet.`,
		Example: `  saslguard watch /var/log/mail.log
  saslguard watch --format json --webhook https://alerts.example.org/hook /var/log/mail.log
  saslguard watch --once mail.log.1 mail.log
  saslguard watch --mode contain --state-dir /var/lib/saslguard /var/log/mail.log`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.metricsSet = cmd.Flags().Changed("metrics")
			return runWatch(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "configuration file (see 'saslguard config example')")
	fl.StringVarP(&f.format, "format", "o", "text", "alert format on standard output: text or json")
	fl.StringVar(&f.tz, "tz", "", "zone of stamps without one (default: the configuration's, else local)")
	yearFlag(fl, &f.year, "with --once: year of the newest line for stamps without a year")
	fl.StringVar(&f.webhook, "webhook", "", "also POST each alert as JSON to this http(s) URL")
	fl.StringVar(&f.level, "level", "compromised", "lowest verdict that alerts: compromised or suspicious")
	fl.BoolVar(&f.once, "once", false, "replay the files to their end and exit")
	fl.BoolVar(&f.fromEnd, "from-end", false, "start at the end of the files instead of reading them from the start")
	fl.StringVar(&f.socket, "socket", defaultSocket, "unix socket for 'saslguard status' (empty: none)")
	fl.DurationVar(&f.cooldown, "cooldown", 6*time.Hour, "alert again about a login that still (or again) sends this long after its last alert (event time)")
	fl.StringVar(&f.mailTo, "mail-to", "", "also mail each alert to this address")
	fl.StringVar(&f.mailFrom, "mail-from", "", "sender of alert mail (default saslguard@HOSTNAME)")
	fl.StringVar(&f.mailRelay, "mail-relay", "", "SMTP relay HOST:PORT for alert mail (default: the local sendmail; during an incident the local queue may be held or blocklisted)")
	fl.BoolVar(&f.journal, "journal", false, "read the systemd journal (journalctl -f -o json SYSLOG_FACILITY=2) instead of, or besides, files")
	fl.StringVar(&f.journalSince, "journal-since", "-24h", "with --journal and no saved position: how far back to start (journalctl --since)")
	fl.StringVar(&f.journalCmd, "journal-command", "journalctl", "the journalctl program (for tests)")
	_ = fl.MarkHidden("journal-command")
	fl.BoolVar(&f.noCheckpoint, "no-checkpoint", false, "keep no state in --state-dir: a restart reads the logs again")
	fl.BoolVar(&f.resetState, "reset-state", false, "forget the saved position and detector state, then start")
	fl.StringVar(&f.metrics, "metrics", "127.0.0.1:9155", "serve Prometheus /metrics on this loopback address (empty: none)")
	fl.DurationVar(&f.poll, "poll", follow.DefaultInterval, "how often the files are polled")
	fl.StringVar(&f.mode, "mode", "observe", "observe (alert only) or contain (block, end sessions, hold, record)")
	fl.StringVar(&f.postfixConfig, "postfix-config", "", "contain: Postfix configuration directory (default: the default instance)")
	fl.StringVar(&f.postfixBin, "postfix-bin", "", "contain: directory of the Postfix tools (default /usr/sbin)")
	fl.StringVar(&f.mapPath, "map", "", "contain: saslguard's check_sasl_access map (default POSTFIX-CONFIG/saslguard_sasl_access)")
	fl.StringVar(&f.stateDir, "state-dir", respond.DefaultStateDir, "state directory: the saved log position and detector state, and the incident store")
	fl.StringVar(&f.blockAction, "block-action", "reject", "contain: what Postfix answers the login: reject, tempfail (421) or hold")
	fl.StringVar(&f.blockText, "block-text", "", "contain: text of the SMTP reply to the blocked login")
	fl.IntVar(&f.containMax, "contain-max", 3, "contain: at most this many automatic containments per --contain-window")
	fl.DurationVar(&f.containWindow, "contain-window", time.Hour, "contain: the rate limit's window")
	fl.DurationVar(&f.containMaxAge, "contain-max-age", time.Hour, "contain: only report (never act on) alerts raised by events older than this (history read at the first start)")
	fl.IntVar(&f.minEvidence, "contain-min-evidence", 3, "contain: queued messages of the login its queue files must confirm")
	fl.BoolVar(&f.endByIP, "end-by-ip", false, "contain: also end smtpd sessions found only by a client address of the login")
	fl.BoolVar(&f.noEndSessions, "no-end-sessions", false, "contain: leave live sessions alone")
	return cmd
}

func runWatch(cmd *cobra.Command, args []string, f watchFlags) error {
	cfg, err := config.Load(f.config)
	if err != nil {
		return err
	}
	if f.tz != "" {
		cfg.Scan.Timezone = f.tz
	}
	loc, err := cfg.Location()
	if err != nil {
		return err
	}
	level := detect.Compromised
	switch f.level {
	case "compromised":
	case "suspicious":
		level = detect.Suspicious
	default:
		return fmt.Errorf("--level must be compromised or suspicious, not %q", f.level)
	}
	var sinks []func(watch.Alert)
	switch f.format {
	case "text":
		sinks = append(sinks, watch.TextSink(cmd.OutOrStdout(), loc))
	case "json":
		sinks = append(sinks, watch.JSONSink(cmd.OutOrStdout()))
	default:
		return fmt.Errorf("--format must be text or json, not %q", f.format)
	}
	switch f.mode {
	case "observe", "contain":
	default:
		return fmt.Errorf("--mode must be observe or contain, not %q", f.mode)
	}
	if f.mode == "contain" && f.once {
		return errors.New("--mode contain acts on a live server: it cannot be used with --once")
	}
	if f.poll <= 0 {
		return fmt.Errorf("--poll must be positive")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	var wh *watch.Webhook
	if f.webhook != "" {
		wh, err = watch.NewWebhook(ctx, f.webhook, 10*time.Second, log)
		if err != nil {
			return err
		}
		defer wh.Close()
		sinks = append(sinks, wh.Sink)
	}
	if f.mailTo != "" {
		from := f.mailFrom
		if from == "" {
			host, _ := os.Hostname()
			from = "saslguard@" + host
		}
		ml, err := watch.NewMailer(ctx, watch.MailConfig{From: from, To: f.mailTo, Relay: f.mailRelay, Logger: log})
		if err != nil {
			return err
		}
		defer ml.Close()
		sinks = append(sinks, ml.Sink)
	}
	var cont *watch.Containment
	if f.mode == "contain" {
		var also func(watch.Outcome)
		if wh != nil {
			// what contain mode did (or refused to do) reaches the same
			// people as the alert
			also = func(o watch.Outcome) { wh.Sink(o.Alert()) }
		}
		var closeStore func()
		cont, closeStore, err = newContainment(ctx, f, cmd.OutOrStdout(), log, also)
		if err != nil {
			return err
		}
		defer closeStore()
		defer cont.Close() // before the webhook's Close: outcomes still posted
		sinks = append(sinks, cont.Sink)
	}
	compromised := 0
	wcfg := watch.Config{
		Correlate: correlate.Config{OwnDomains: cfg.Scan.OwnDomains, Detect: cfg.DetectConfig()},
		Loc:       loc, Level: level, Allow: cfg.Allow(), Cooldown: f.cooldown,
		Sink: func(a watch.Alert) {
			if a.Verdict == detect.Compromised.String() && !a.Allowlisted {
				compromised++
			}
			for _, s := range sinks {
				s(a)
			}
		},
	}
	if cont != nil {
		wcfg.RecheckDue, wcfg.Recheck = cont.RecheckDue, cont.Sink
	}
	if f.journal {
		// Postfix lines in the journal count only when its trusted
		// fields show Postfix wrote them.
		if wcfg.Journal, err = watch.PostfixJournalTrust(ctx, f.postfixConfig, f.postfixBin); err != nil {
			log.Warn("journal: Postfix's processes not known: lines tagged postfix/... are read whoever wrote them", "err", err)
		} else {
			wcfg.Journal.OnDrop = func(tag, why string) {
				log.Warn("journal: dropped a line tagged as Postfix's that Postfix did not write", "tag", tag, "why", why)
			}
		}
	}
	// The durable state: the follower's cursors and the detector state they
	// belong to, saved together in the incident store, so that a restart
	// (even after kill -9) reads every line once and reaches the same
	// verdicts. One daemon per state directory.
	var st *store.Store
	var cursors []follow.Cursor
	eng := watch.New(wcfg)
	if !f.once && !f.noCheckpoint {
		st, err = store.OpenDir(f.stateDir)
		if err != nil {
			return fmt.Errorf("watch state: %w", err)
		}
		defer st.Close()
		lock, err := st.TryLock("watch")
		if err != nil {
			return fmt.Errorf("watch state in %s: %w (another watch daemon?)", f.stateDir, err)
		}
		defer lock.Unlock()
		if f.resetState {
			if err := st.ClearWatchState(ctx); err != nil {
				return fmt.Errorf("reset the watch state: %w", err)
			}
		}
		eng, cursors, err = watch.Resume(ctx, st, wcfg)
		if err != nil {
			return fmt.Errorf("watch state in %s: %w (remove it with --reset-state to start afresh)", f.stateDir, err)
		}
		if cursors != nil {
			log.Info("resumed from the saved state", "newest_event", eng.Newest())
		}
	}
	if cont != nil {
		cont.Attach(eng)
	}
	if len(args) == 0 && !f.journal {
		args = cfg.Scan.Logs
	}
	if f.once && f.journal {
		return errors.New("--once reads files; to replay the journal: journalctl -o json ... | saslguard watch --once -")
	}
	if f.once {
		fileErrs, err := replayFiles(ctx, cmd, eng, args, f.year)
		if err != nil {
			return err
		}
		// exit 2 means "could not judge", as for scan
		warnDamaged(cmd.ErrOrStderr(), fileErrs)
		st := eng.Stats
		if err := nothingToJudge(st.Lines, st.Parsed, st.NoEnvelope, len(fileErrs), nil, nil); err != nil {
			return &exitError{code: 2, err: err}
		}
		if compromised > 0 {
			return &exitError{code: 1}
		}
		if len(fileErrs) > 0 {
			return &exitError{code: 2, err: damaged(fileErrs)}
		}
		return nil
	}
	if cursors == nil {
		for _, p := range args {
			year := time.Now().In(loc).Year() // a live log is being written now
			if fi, err := os.Stat(p); err == nil {
				year = fi.ModTime().In(loc).Year()
			}
			eng.SetYear(p, year)
		}
	}
	g := watch.NewGuarded(eng)
	// SIGHUP reloads the configuration: allowlist, own domains, thresholds
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				nc, err := config.Load(f.config)
				if err != nil {
					log.Error("reload: configuration not changed", "err", err)
					continue
				}
				g.Reconfigure(nc.Allow(), nc.Scan.OwnDomains, nc.DetectConfig())
				log.Info("reload: configuration applied", "file", f.config)
			}
		}
	}()
	if f.socket != "" {
		stopStatus, err := g.ServeStatus(ctx, f.socket)
		if err != nil {
			return err
		}
		defer stopStatus()
	}
	if f.metrics != "" {
		if err := serveMetrics(ctx, f.metrics, g.Collector(), log); err != nil {
			if !f.metricsSet {
				// the default address: a busy port costs the metrics, not the daemon
				log.Warn("metrics not served", "err", err)
			} else {
				return err
			}
		}
	}
	var readers []follow.Reader
	if f.journal {
		r, err := startJournal(ctx, f, cursors, log)
		if err != nil {
			return err
		}
		readers = append(readers, r)
	}
	fol := follow.New(follow.Config{Paths: args, Readers: readers, Cursors: cursors, FromEnd: f.fromEnd, Logger: log, Waker: follow.NewTicker(ctx, f.poll)})
	if len(args) > 0 {
		g.SetBacklog(fol.Backlog)
	}
	line := func(l follow.Line) error {
		g.Line(l.Path, l.Data)
		return nil
	}
	var cp *watch.Checkpointer
	if st != nil {
		cp = watch.NewCheckpointer(st, g, fol, watch.CheckpointOptions{Logger: log})
		line = cp.Line
	}
	err = fol.Run(ctx, line)
	if cp != nil {
		// the last checkpoint, at shutdown: the follower has returned, so
		// no line is in flight
		if serr := cp.Save(context.WithoutCancel(ctx)); serr != nil {
			log.Error("final checkpoint", "err", serr)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// newContainment opens the incident store, the Postfix queue and map, and
// starts contain mode's worker; outcomes are printed in the alert format.
func newContainment(ctx context.Context, f watchFlags, out io.Writer, log *slog.Logger, also func(watch.Outcome)) (*watch.Containment, func(), error) {
	act, err := mtablock.ParseAction(f.blockAction)
	if err != nil {
		return nil, nil, err
	}
	q, err := postfixq.New(ctx, postfixq.Config{ConfigDir: f.postfixConfig, BinDir: f.postfixBin, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("postfix queue: %w", err)
	}
	m, err := postfixblock.New(ctx, postfixblock.Config{ConfigDir: f.postfixConfig, BinDir: f.postfixBin, MapPath: f.mapPath, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("postfix map: %w", err)
	}
	// A map that main.cf names but that does not exist makes Postfix answer
	// 451 to every login; check it is effective now, so that a problem shows
	// at start and not at the first takeover.
	if chk, err := m.Check(ctx); err != nil {
		log.Warn("contain: postfix configuration check failed", "err", err)
	} else if !chk.Effective() {
		log.Warn("contain: Postfix does not consult the saslguard map in every service that offers AUTH: logins will NOT be blocked", "map", m.Ref(), "fix", strings.Join(chk.Notes(), "; "))
	}
	st, err := store.OpenDir(f.stateDir)
	if err != nil {
		return nil, nil, fmt.Errorf("incident store: %w", err)
	}
	cfg := watch.ContainConfig{
		Store: st, Queue: q, MTA: m,
		Block:        mtablock.Options{Action: act, Text: f.blockText},
		MaxPerWindow: f.containMax, Window: f.containWindow, MinEvidence: f.minEvidence, MaxAge: f.containMaxAge,
		EndByIP: f.endByIP, Logger: log,
	}
	if !f.noEndSessions {
		cfg.Sessions = m.Sessions()
	}
	var show func(watch.Outcome)
	if f.format == "json" {
		enc := json.NewEncoder(out)
		show = func(o watch.Outcome) { _ = enc.Encode(o) }
	} else {
		show = func(o watch.Outcome) { watch.WriteOutcome(out, o) }
	}
	cfg.Report = func(o watch.Outcome) {
		show(o)
		if also != nil {
			also(o)
		}
	}
	c, err := watch.NewContainment(ctx, cfg)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return c, func() { st.Close() }, nil
}

// replayFiles reads a set of files to its end, as the daemon would have
// seen them written (Engine.Replay: side-by-side logs merged by time).
func replayFiles(ctx context.Context, cmd *cobra.Command, eng *watch.Engine, args []string, year int) (fileErrs []string, err error) {
	set, err := logsrc.Open(args, logsrc.Options{Stdin: cmd.InOrStdin()})
	if err != nil {
		return nil, err
	}
	if err := eng.Replay(ctx, set, year); err != nil {
		return nil, err
	}
	return eng.ReadErrors(), nil
}

// serveMetrics serves /metrics on a loopback address.
func serveMetrics(ctx context.Context, addr string, c prometheus.Collector, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--metrics %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--metrics %q: listen on a loopback address", addr)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics", "err", err)
		}
	}()
	return nil
}

func init() { register(newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var socket, format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show how far a running watch daemon is behind the logs' end, its suspects and recent alerts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := watch.ReadStatus(socket, 5*time.Second)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			watch.WriteStatus(out, st)
			return nil
		},
	}
	cmd.Flags().StringVar(&socket, "socket", defaultSocket, "the watch daemon's status socket")
	cmd.Flags().StringVarP(&format, "format", "o", "text", "text or json")
	return cmd
}

// journalName names the journal stream in cursors and lines.
const journalName = "journal"

// startJournal runs journalctl -f -o json on the mail facility, after the
// saved cursor when there is one, and returns its output as a stream. The
// command ends with ctx.
func startJournal(ctx context.Context, f watchFlags, cursors []follow.Cursor, log *slog.Logger) (follow.Reader, error) {
	args := []string{"-f", "-o", "json", "--no-pager"}
	after := ""
	for _, c := range cursors {
		if c.Path == journalName && c.Journal != "" {
			after = c.Journal
		}
	}
	switch {
	case after != "":
		args = append(args, "--after-cursor", after)
	case f.fromEnd:
		args = append(args, "-n", "0")
	default:
		args = append(args, "--since", f.journalSince)
	}
	args = append(args, "SYSLOG_FACILITY=2")
	cmd := exec.CommandContext(ctx, f.journalCmd, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return follow.Reader{}, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return follow.Reader{}, fmt.Errorf("start %s: %w", f.journalCmd, err)
	}
	go func() {
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			log.Error("journalctl ended", "err", err)
		}
	}()
	return follow.Reader{Name: journalName, R: out, Journal: true}, nil
}
