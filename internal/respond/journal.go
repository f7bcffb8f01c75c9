package respond

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/saslguard/saslguard/internal/store"
)

// Step names. Each action respond records in the incident store has a
// Command of the form "STEP: what was run", so that a later run (or --undo)
// reads back what was done from the store alone.
const (
	StepStart      = "start"
	StepBlock      = "block"
	StepSessions   = "sessions"
	StepHold       = "hold"
	StepDisable    = "disable"
	StepQuarantine = "quarantine"
	StepDelete     = "delete"
	StepRelease    = "release"
	StepFlush      = "flush"
	StepDone       = "done"
	StepUndo       = "undo"
)

// idsMarker separates the readable result from the machine-read ids.
const idsMarker = " ids="

// action builds a store action for step.
func action(inc int64, step, command, result string, ok, failed int, ids []string) store.Action {
	if len(ids) > 0 {
		result += idsMarker + strings.Join(ids, ",")
	}
	return store.Action{IncidentID: inc, Command: step + ": " + command, Result: result, OK: ok, Failed: failed}
}

// stepOf returns the step of a recorded action ("" for actions written by
// other commands).
func stepOf(a store.Action) string {
	step, _, ok := strings.Cut(a.Command, ": ")
	if !ok {
		return ""
	}
	return step
}

// idsOf returns the ids recorded with an action. Only ids of the form the
// recorder wrote (queue ids, quarantine entry ids) are returned.
func idsOf(a store.Action) []string {
	i := strings.LastIndex(a.Result, idsMarker)
	if i < 0 {
		return nil
	}
	var out []string
	for _, id := range strings.Split(a.Result[i+len(idsMarker):], ",") {
		if validRecordedID(id) {
			out = append(out, id)
		}
	}
	return out
}

// validRecordedID accepts queue ids and quarantine entry ids (QUEUEID-HEX).
func validRecordedID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-') {
			return false
		}
	}
	return id[0] != '-'
}

// journal is what the store says an incident has done so far.
type journal struct {
	actions []store.Action
}

func loadJournal(ctx context.Context, st *store.Store, inc int64) (journal, error) {
	_, acts, err := st.GetIncident(ctx, inc)
	if err != nil {
		return journal{}, fmt.Errorf("read incident %d: %w", inc, err)
	}
	return journal{actions: acts}, nil
}

// done reports whether step has a successful record whose result starts
// with prefix.
func (j journal) done(step, prefix string) bool {
	for _, a := range j.actions {
		if stepOf(a) == step && a.Failed == 0 && strings.HasPrefix(a.Result, prefix) {
			return true
		}
	}
	return false
}

// find returns the last action of step whose result starts with prefix.
func (j journal) find(step, prefix string) (store.Action, bool) {
	for i := len(j.actions) - 1; i >= 0; i-- {
		a := j.actions[i]
		if stepOf(a) == step && strings.HasPrefix(a.Result, prefix) {
			return a, true
		}
	}
	return store.Action{}, false
}

// ids returns every id recorded by actions of step whose result starts with
// prefix, in order, without repeats.
func (j journal) ids(step, prefix string) []string {
	var out []string
	for _, a := range j.actions {
		if stepOf(a) == step && strings.HasPrefix(a.Result, prefix) {
			for _, id := range idsOf(a) {
				if !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// Quote returns s as it may be printed: unchanged when it is plain printable
// text without spaces or quotes, else Go-quoted, so that a hostile login
// never garbles a terminal or passes for something else.
func Quote(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' || r == '"' || r == '\'' || r == '\\' || r > unicode.MaxASCII {
			return strconv.Quote(s)
		}
	}
	return s
}

// shellQuote renders an argument for a command line shown to a person (never
// run): single-quoted unless it is plain.
func shellQuote(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		// Not something to paste: show it quoted Go-style.
		return strconv.Quote(s)
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// argvString joins an argument vector for display.
func argvString(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}
