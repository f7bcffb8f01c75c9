// Package account disables a stolen login at its source, the account store
// the MTA's AUTH checks (a Dovecot passwd-file, or whatever an admin's program
// manages), so the login no longer authenticates anywhere (SMTP, IMAP, POP),
// while the mailbox keeps receiving mail. Backends live in subpackages:
// passwdfile (Dovecot passwd-file) and command (an admin-given program).
package account

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// Options tune Disable.
type Options struct {
	// Reset sets a new random password (returned once in
	// Result.NewPassword) instead of a disabled marker.
	Reset bool
}

// EnableOptions tune Enable.
type EnableOptions struct {
	// RestoreHash is the password field to put back (Result.OldHash of
	// the Disable call, kept by the caller). Empty means: take it from the
	// disabled marker, when the backend left one.
	RestoreHash string
}

// Result reports one Disable or Enable.
type Result struct {
	Login   string
	Changed bool // the account store was changed
	// OldHash is the password field before the change; the caller keeps
	// it (in the incident store) so Enable can restore it. It is a hash
	// (or whatever the store held), never shown to users.
	OldHash string
	// NewPassword is the generated password of a reset: show it once, do
	// not store or log it. NewHash is its stored form.
	NewPassword string
	NewHash     string
	Output      string   // what an external program printed
	Notes       []string // follow-up steps and their failures
	// Verification says whether the change was confirmed where logins are
	// checked. A change is reported done only when it is verified.
	Verification Verification
}

// Verification is what a backend confirmed, where logins are checked
// (Dovecot's loaded passdb, the admin program's check verb), about the
// state of a login after a change.
type Verification struct {
	// Verified is true when the check showed the wanted state.
	Verified bool
	// Method says what was asked and what it answered, e.g.
	// "doveadm auth lookup: saslguard_disabled=yes after 1.1 s" or
	// "exec check: exit 1 (still enabled) after 5.0 s".
	Method string
}

// DefaultVerifyTimeout bounds how long a backend waits for a change to show
// where logins are checked.
const DefaultVerifyTimeout = 5 * time.Second

// Status is what a backend knows about a login.
type Status struct {
	Login    string
	Exists   bool
	Disabled bool   // disabled by saslguard
	Detail   string // e.g. the password scheme
}

// Backend disables and re-enables logins in one account store. Disable and
// Enable verify their change (Result.Verification) before they return.
type Backend interface {
	Disable(ctx context.Context, login string, opts Options) (Result, error)
	Enable(ctx context.Context, login string, opts EnableOptions) (Result, error)
	Status(ctx context.Context, login string) (Status, error)
	// Verify checks, within the backend's bound, that the login no longer
	// authenticates with its old password (disabled true: disabled or
	// reset) or that it does again (disabled false).
	Verify(ctx context.Context, login string, disabled bool) Verification
}

// MaxLoginLen bounds the logins this package handles.
const MaxLoginLen = 1024

// CheckLogin refuses logins that cannot be handled safely by any backend:
// empty, too long, not UTF-8, or containing control characters.
func CheckLogin(login string) error {
	if login == "" {
		return fmt.Errorf("empty login")
	}
	if len(login) > MaxLoginLen {
		return fmt.Errorf("login is %d bytes long (at most %d)", len(login), MaxLoginLen)
	}
	if !utf8.ValidString(login) {
		return fmt.Errorf("login is not valid UTF-8")
	}
	for _, r := range login {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("login contains control character %U", r)
		}
	}
	return nil
}
