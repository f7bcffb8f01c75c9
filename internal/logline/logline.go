// Package logline reads one mail log line into an event in two steps, as
// postfix_exporter does: the syslog envelope (package envelope), then a
// switch on the program to the parser of that daemon (postfixlog,
// dovecotlog, eximlog). Exim's own log files have no syslog envelope: their
// lines go to eximlog first. It says why a line was not understood, so that
// scan can count such lines per program and explain can show them.
package logline

import (
	"strings"
	"time"

	"github.com/saslguard/saslguard/internal/dovecotlog"
	"github.com/saslguard/saslguard/internal/envelope"
	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/eximlog"
	"github.com/saslguard/saslguard/internal/postfixlog"
)

// Status says what became of a line.
type Status uint8

// Statuses.
const (
	Parsed     Status = iota // an event (possibly event.Ignored) was produced
	NoEnvelope               // not a syslog line at all
	Other                    // another program's line: not ours to read
	Unparsed                 // a Postfix, Dovecot or Exim line no parser understood
)

// Result tells how a line was read.
type Result struct {
	Status  Status
	Program string // the daemon for Postfix lines ("smtpd"), "dovecot", "exim/KIND", or the tag
}

// Parser reads lines. It is not safe for concurrent use.
type Parser struct {
	Env envelope.Parser
	// Last is the envelope of the line parsed last. For a line of Exim's
	// own log it has Format Unknown, Tag "exim" and the time, pid and
	// message Exim wrote.
	Last envelope.Envelope

	exim eximlog.Parser
}

// New returns a parser that reads BSD stamps as year in loc.
func New(year int, loc *time.Location) *Parser {
	return &Parser{Env: envelope.Parser{Year: year, Loc: loc}}
}

// Parse reads line into ev (which it resets first). The line's envelope is
// left in p.Last.
func (p *Parser) Parse(line string, ev *event.Event) Result {
	*ev = event.Event{}
	env := &p.Last
	if eximlog.Stamped(line) {
		// Exim's own log: "2026-03-04 02:04:21 1xWoo6-0000l6-0p <= ..."
		var fr eximlog.Frame
		if prog, st := p.exim.ParseNative(line, p.Env.Loc, ev, &fr); st != eximlog.NotExim {
			*env = envelope.Envelope{Time: fr.Time, YearKnown: true, Tag: "exim", PID: fr.PID, Msg: fr.Msg, Repeat: 1}
			return eximResult(prog, st)
		}
		*ev = event.Event{}
	}
	if err := p.Env.ParseInto(line, env); err != nil {
		var fr eximlog.Frame
		if prog, st := p.exim.Loose(line, p.Env.Loc, ev, &fr); st != eximlog.NotExim {
			*env = envelope.Envelope{Time: fr.Time, YearKnown: !fr.Time.IsZero(), Host: ev.Host, Tag: "exim", PID: fr.PID, Msg: line, Repeat: 1}
			return eximResult(prog, st)
		}
		*ev = event.Event{}
		return Result{Status: NoEnvelope}
	}
	ev.Time, ev.Host, ev.Program, ev.PID, ev.Count = env.Time, env.Host, env.Tag, env.PID, env.Repeat
	ev.YearGuessed = !env.YearKnown
	if eximlog.IsTag(env.Tag) {
		return eximResult(p.exim.ParseWrapped(env.Msg, env.YearKnown, p.Env.Loc, ev))
	}
	if d := postfixlog.Daemon(env.Tag); d != "" {
		if postfixlog.Parse(d, env.Msg, ev) {
			return Result{Status: Parsed, Program: d}
		}
		return Result{Status: Unparsed, Program: d}
	}
	if env.Suppressed > 0 {
		ev.Kind, ev.Source, ev.Count = event.Suppressed, event.Journal, env.Suppressed
		return Result{Status: Parsed, Program: env.Tag}
	}
	if dovecotlog.IsDovecot(env.Tag) {
		if dovecotlog.Parse(env.Tag, env.Msg, ev) {
			return Result{Status: Parsed, Program: "dovecot"}
		}
		return Result{Status: Unparsed, Program: "dovecot"}
	}
	return Result{Status: Other, Program: programName(env.Tag)}
}

// eximResult turns eximlog's answer into a Result.
func eximResult(prog string, st eximlog.Status) Result {
	if st == eximlog.Parsed {
		return Result{Status: Parsed, Program: prog}
	}
	return Result{Status: Unparsed, Program: prog}
}

// programName shortens a foreign tag for the statistics: the last path
// element, at most 32 bytes, so that hostile tags cannot grow the table's
// keys without bound.
func programName(tag string) string {
	if i := strings.LastIndexByte(tag, '/'); i >= 0 {
		tag = tag[i+1:]
	}
	if len(tag) > 32 {
		tag = tag[:32]
	}
	return tag
}
