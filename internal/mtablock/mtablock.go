// Package mtablock defines how saslguard stops a stolen login at the MTA:
// mail from the login is refused (or held) after AUTH, while the login still
// authenticates, and the MTA sessions it already has are ended. Each MTA has
// its implementation in a subpackage (postfixblock for Postfix's
// check_sasl_access map).
//
// A block is only worth its name when the MTA evaluates it: implementations
// report whether their configuration check found the block effective, and a
// caller must never present a written entry as "blocked" when Effective is
// false.
package mtablock

import (
	"context"
	"fmt"
	"strings"
)

// Action is what the MTA answers the blocked login.
type Action int

const (
	// Reject refuses each recipient with a permanent 5xx (the default).
	Reject Action = iota
	// TempFail answers 421 4.7.0 and closes the connection.
	TempFail
	// Hold accepts the mail into the hold queue. The client keeps sending
	// and the disk fills: use only on request.
	Hold
)

func (a Action) String() string {
	switch a {
	case Reject:
		return "reject"
	case TempFail:
		return "tempfail"
	case Hold:
		return "hold"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// ParseAction parses "reject", "tempfail" (or "421") and "hold".
func ParseAction(s string) (Action, error) {
	switch strings.ToLower(s) {
	case "reject", "":
		return Reject, nil
	case "tempfail", "421":
		return TempFail, nil
	case "hold":
		return Hold, nil
	}
	return 0, fmt.Errorf("unknown block action %q (want reject, tempfail or hold)", s)
}

// Options tune one block.
type Options struct {
	Action Action
	// Text is the human part of the SMTP reply; "" means DefaultText. It
	// must be printable ASCII (it ends up in an SMTP reply).
	Text string
}

// DefaultText is the reply text of a block.
const DefaultText = "login suspended, contact your mail administrator"

// Entry is one blocked login as the MTA's configuration holds it.
type Entry struct {
	Login  string
	Action Action
	Text   string
}

// Result reports one Block or Unblock.
type Result struct {
	Login string
	// NotBlockable is why the login cannot be written to the MTA's
	// configuration at all ("" when it can). Such a login must be
	// stopped another way (its password, see package account).
	NotBlockable string
	// Written is true when the MTA configuration now holds the entry (for
	// Unblock: no longer holds it) and the MTA was told to reload.
	Written bool
	// Effective is true when the configuration check found that every
	// service offering AUTH evaluates the block.
	Effective bool
	// Notes explain Effective (the check's findings and fixes).
	Notes []string
}

// Blocked reports whether the login is now actually stopped by the MTA.
func (r Result) Blocked() bool { return r.Written && r.Effective && r.NotBlockable == "" }

// Blocker blocks logins at one MTA.
type Blocker interface {
	Block(ctx context.Context, login string, opts Options) (Result, error)
	Unblock(ctx context.Context, login string) (Result, error)
	List(ctx context.Context) ([]Entry, error)
}

// Session is one live MTA session found for a login.
type Session struct {
	PID        int
	ClientAddr string // remote address of the session's socket, when known
	How        string // how it was found: "log-pid", "client-ip"
}

// KillResult reports an attempt to end a login's sessions.
type KillResult struct {
	Found      []Session
	Reset      []int // connection reset: the session is over, the process lives on
	Terminated []int // ended by SIGTERM
	Killed     []int // needed SIGKILL
	Skipped    []string
}

// Ended returns how many sessions were ended, by any means.
func (r KillResult) Ended() int { return len(r.Reset) + len(r.Terminated) + len(r.Killed) }

// ThrottleNote warns, when a session needed a signal, that Postfix may make
// new clients wait; "" otherwise.
func (r KillResult) ThrottleNote() string {
	if len(r.Terminated)+len(r.Killed) == 0 {
		return ""
	}
	return "an smtpd was signalled (its connection could not be reset): if it was in its first session, Postfix's master refuses new sessions of that service for service_throttle_time (60 s by default); look for \"bad command startup -- throttling\" in the mail log"
}

// Summary says how the sessions were ended: "2 (connection reset 1,
// SIGTERM 1, SIGKILL 0)".
func (r KillResult) Summary() string {
	return fmt.Sprintf("%d (connection reset %d, SIGTERM %d, SIGKILL %d)", r.Ended(), len(r.Reset), len(r.Terminated), len(r.Killed))
}

// Registry records blocks; the incident store satisfies it.
type Registry interface {
	Block(ctx context.Context, login, source, reason string, incidentID int64) (bool, error)
	Unblock(ctx context.Context, login string) error
}

// ValidLogin reports why login cannot be a key of an MTA map file, or "" when
// it can. Accepted: 1 to 255 ASCII letters, digits and ._@+-=%!~^&$?|/:
// (not starting with '-'). Rejected are white space and control characters
// (they would split or add entries), quotes and backslashes, '#' (a comment),
// a leading '-' (an option to a tool), and anything non-ASCII (case folding
// rules differ between the auth backend and the MTA). Dovecot's default
// auth_username_chars (letters, digits and .-_@) is a subset: with it, a login
// this refuses cannot authenticate in the first place (checked on Dovecot
// 2.3.19: "mallory smith@lab.test" gets 535 even with a valid password).
func ValidLogin(login string) string {
	switch {
	case login == "":
		return "empty login"
	case len(login) > 255:
		return fmt.Sprintf("login is %d bytes long (at most 255 fit a map key)", len(login))
	case login[0] == '-':
		return "login starts with '-'"
	}
	for i := 0; i < len(login); i++ {
		c := login[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("._@+-=%!~^&$?|/:", c) >= 0:
		case c == ' ' || c == '\t':
			return "login contains white space"
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("login contains control character 0x%02x", c)
		case c >= 0x80:
			return "login contains non-ASCII characters"
		default:
			return fmt.Sprintf("login contains %q, which map files treat specially", string(c))
		}
	}
	return ""
}

// ValidText reports whether text can stand in an SMTP reply: 1 to 200
// printable ASCII characters, not starting or ending with a space.
func ValidText(text string) error {
	if text == "" || len(text) > 200 {
		return fmt.Errorf("block text must be 1 to 200 characters, got %d", len(text))
	}
	if text[0] == ' ' || text[len(text)-1] == ' ' {
		return fmt.Errorf("block text starts or ends with a space")
	}
	for i := 0; i < len(text); i++ {
		if text[i] < 0x20 || text[i] > 0x7e {
			return fmt.Errorf("block text contains byte 0x%02x (printable ASCII only)", text[i])
		}
	}
	return nil
}
