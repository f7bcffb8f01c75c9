package main

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/saslguard/saslguard/internal/config"
	"github.com/saslguard/saslguard/internal/envelope"
	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/eximlog"
	"github.com/saslguard/saslguard/internal/logline"
	"github.com/saslguard/saslguard/internal/postfixlog"
	"github.com/saslguard/saslguard/internal/report"
)

func init() { register(newExplainCmd) }

func newExplainCmd() *cobra.Command {
	var year int
	var tz string
	cmd := &cobra.Command{
		Use:   "explain 'LOG LINE'...|-",
		Short: "Show how saslguard reads a log line",
		Long: `explain shows how each line given is read: the syslog envelope (time, host,
program, pid), the daemon parser that took it, and the event it became, or
why it was not understood. "-" reads the lines from standard input instead.`,
		Example: `  saslguard explain 'Nov 27 05:39:22 mx1 postfix/submission/smtpd[18296]: 8A1A2B830F: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=alice@example.org'
  saslguard explain '2026-03-04 02:04:21 1xWoo6-0000l6-0p <= x@y.example H=(pc) [192.0.2.7]:46071 P=esmtpa A=dovecot_login:alice@example.org S=469'
  grep 'sasl_username=alice@' /var/log/mail.log | saslguard explain -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := config.Default()
			if tz != "" {
				cfg.Scan.Timezone = tz
			}
			loc, err := cfg.Location()
			if err != nil {
				return err
			}
			if year == 0 {
				year = time.Now().Year() // a single line has no file to anchor on
			}
			p := logline.New(year, loc)
			for _, line := range args {
				if line == "-" {
					if err := explainLines(cmd.OutOrStdout(), cmd.InOrStdin(), p, loc); err != nil {
						return err
					}
					continue
				}
				explain(cmd.OutOrStdout(), p, line, loc)
			}
			return nil
		},
	}
	yearFlag(cmd.Flags(), &year, "year for stamps without one (default: this year)")
	cmd.Flags().StringVar(&tz, "tz", "", "zone for stamps without one (default: local)")
	return cmd
}

// maxExplainLine bounds one line read from standard input; a longer line is
// an error rather than an unbounded allocation.
const maxExplainLine = 1 << 20

// explainLines explains each line of r (an "explain -" argument).
func explainLines(w io.Writer, r io.Reader, p *logline.Parser, loc *time.Location) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExplainLine)
	for sc.Scan() {
		explain(w, p, strings.TrimSuffix(sc.Text(), "\r"), loc)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	return nil
}

var statusText = map[logline.Status]string{
	logline.Parsed:     "understood",
	logline.NoEnvelope: "no syslog envelope recognised (not a log line saslguard knows)",
	logline.Other:      "another program's line: not read",
	logline.Unparsed:   "a mail daemon's line that no parser understands (counted as unparsed)",
}

func explain(w io.Writer, p *logline.Parser, line string, loc *time.Location) {
	var ev event.Event
	r := p.Parse(line, &ev)
	fmt.Fprintf(w, "line:     %s\n", report.Safe(line, 2000))
	if r.Status != logline.NoEnvelope {
		e := p.Last
		format := e.Format.String()
		if e.Format == envelope.Unknown && e.Tag == "exim" {
			format = "exim" // Exim's own log file: no syslog envelope
		}
		fmt.Fprintf(w, "envelope: format=%s time=%s host=%s program=%s pid=%d",
			format, e.Time.In(loc).Format(time.RFC3339Nano), report.Safe(e.Host, 100), report.Safe(e.Tag, 100), e.PID)
		if !e.YearKnown {
			fmt.Fprint(w, " (year assumed)")
		}
		if e.Repeat > 1 {
			fmt.Fprintf(w, " repeated=%d", e.Repeat)
		}
		if e.Container != "" {
			fmt.Fprintf(w, " container=%s", e.Container)
		}
		fmt.Fprintf(w, "\nmessage:  %s\n", report.Safe(e.Msg, 2000))
	}
	fmt.Fprintf(w, "result:   %s", statusText[r.Status])
	if r.Status == logline.Parsed || r.Status == logline.Unparsed {
		fmt.Fprintf(w, " (parser: %s)", r.Program)
	}
	fmt.Fprintln(w)
	if r.Status == logline.Parsed {
		if ev.Source == event.Postfix {
			ev.Service = postfixlog.Service(ev.Program)
		}
		if ev.Source == event.Exim && len(ev.QID) == 21 {
			fmt.Fprintf(w, "message:  %s (queue id without its dashes)\n", eximlog.SpoolID(ev.QID))
		}
		fmt.Fprintf(w, "event:    %s\n", ev.Kind)
		v := reflect.ValueOf(ev)
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name := t.Field(i).Name
			switch name {
			case "Time", "Host", "Program", "PID", "Kind", "Source", "Count", "YearGuessed":
				continue
			}
			fv := v.Field(i)
			if fv.IsZero() {
				continue
			}
			fmt.Fprintf(w, "  %-10s %s\n", strings.ToLower(name)+":", report.Safe(fmt.Sprint(fv.Interface()), 500))
		}
	}
	fmt.Fprintln(w)
}
