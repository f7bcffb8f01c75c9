package policy

import (
	"fmt"
	"strings"
)

// Action is what the policy service tells Postfix to do. Values are ordered
// by severity: when several rules trip, the most severe action wins.
type Action uint8

// Actions saslguard answers with.
const (
	Dunno Action = iota
	DeferIfPermit
	Hold
	Reject
	numActions
)

var actionNames = [numActions]string{"DUNNO", "DEFER_IF_PERMIT", "HOLD", "REJECT"}

func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// ParseAction reads an action name, case-insensitively.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if strings.EqualFold(s, n) {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("unknown action %q (want DUNNO, DEFER_IF_PERMIT, HOLD or REJECT)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// maxReplyText bounds the text after the action; Postfix limits an SMTP
// reply line to 512 bytes including the code.
const maxReplyText = 200

// SanitizeText makes s safe for a policy reply and an SMTP response: only
// printable ASCII survives (CR, LF and every other control byte become a
// space), and the result is at most 200 bytes.
func SanitizeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxReplyText; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = ' '
		}
		b.WriteByte(c)
	}
	return strings.TrimSpace(b.String())
}

// AppendReply appends a complete reply ("action=..." and the empty line).
// text is sanitized; DUNNO carries no text.
func AppendReply(b []byte, a Action, text string) []byte {
	b = append(b, "action="...)
	b = append(b, a.String()...)
	if a != Dunno {
		if t := SanitizeText(text); t != "" {
			b = append(b, ' ')
			b = append(b, t...)
		}
	}
	return append(b, "\n\n"...)
}
