package queue

import (
	"context"
	"fmt"
	"strings"
)

// LinkKind says why the caller believes a queued message belongs to an
// incident although its queue file does not name the login.
type LinkKind int

const (
	// LinkFilterCopy is the re-queued copy an after-queue content filter
	// made of one of the login's messages (it loses sasl_username).
	LinkFilterCopy LinkKind = iota + 1
	// LinkBounce is a non-delivery notification for one of the login's
	// messages (sender <>, addressed to the forged senders).
	LinkBounce
)

func (k LinkKind) String() string {
	switch k {
	case LinkFilterCopy:
		return "filter-copy"
	case LinkBounce:
		return "bounce"
	}
	return fmt.Sprintf("LinkKind(%d)", int(k))
}

// Link is a queue id the caller tied to a login from log correlation.
type Link struct {
	QueueID string
	Kind    LinkKind
}

// Selected is a message chosen for a login, with the reason.
type Selected struct {
	Message
	Reason string // "sasl_username", "filter-copy" or "bounce"
}

// Refused is a linked id that the queue file facts did not confirm.
type Refused struct {
	QueueID string
	Reason  string
}

// Selection is the outcome of SelectLogin.
type Selection struct {
	Messages []Selected
	Refused  []Refused
	Scanned  int // queue files read
}

// IDs returns the queue ids of the selected messages.
func (s Selection) IDs() []string {
	ids := make([]string, len(s.Messages))
	for i, m := range s.Messages {
		ids[i] = m.QueueID
	}
	return ids
}

// SelectLogin picks the queued messages of login: those whose queue file
// records it as the SASL username (compared case-insensitively, exactly), and
// the linked ids whose queue file agrees with the link: a bounce must have the
// empty sender and no login, a filter copy must carry no other login. A link
// whose message is gone is refused with reason "not in queue".
func SelectLogin(ctx context.Context, m Manager, login string, links []Link) (Selection, error) {
	var sel Selection
	if login == "" {
		return sel, fmt.Errorf("select messages: empty login")
	}
	var ids []string
	seen := make(map[string]bool)
	err := m.List(ctx, func(e Entry) error {
		if !seen[e.QueueID] {
			seen[e.QueueID] = true
			ids = append(ids, e.QueueID)
		}
		return nil
	})
	if err != nil {
		return sel, fmt.Errorf("select messages of %q: %w", login, err)
	}
	linked := make(map[string]LinkKind, len(links))
	for _, l := range links {
		linked[l.QueueID] = l.Kind
		if !seen[l.QueueID] {
			seen[l.QueueID] = true
			ids = append(ids, l.QueueID)
		}
	}
	found := make(map[string]bool)
	err = m.Inspect(ctx, ids, func(msg Message) error {
		sel.Scanned++
		found[msg.QueueID] = true
		kind, isLinked := linked[msg.QueueID]
		reason, refusal := match(msg, login, kind, isLinked)
		switch {
		case reason != "":
			sel.Messages = append(sel.Messages, Selected{Message: msg, Reason: reason})
		case refusal != "":
			sel.Refused = append(sel.Refused, Refused{msg.QueueID, refusal})
		}
		return nil
	})
	if err != nil {
		return sel, fmt.Errorf("select messages of %q: %w", login, err)
	}
	for _, l := range links {
		if !found[l.QueueID] {
			sel.Refused = append(sel.Refused, Refused{l.QueueID, "not in queue"})
			found[l.QueueID] = true
		}
	}
	return sel, nil
}

// match decides whether msg belongs to login: it returns the reason when it
// does, a refusal when it was linked but the queue file disagrees, and
// neither when it is simply someone else's message.
func match(msg Message, login string, kind LinkKind, isLinked bool) (reason, refusal string) {
	switch {
	case msg.SASLUsername != "" && strings.EqualFold(msg.SASLUsername, login):
		return "sasl_username", ""
	case !isLinked:
		return "", ""
	case msg.SASLUsername != "":
		return "", "queue file names another login: " + msg.SASLUsername
	case kind == LinkBounce && msg.Sender != "":
		return "", "linked as bounce but sender is not empty"
	case kind == LinkBounce || kind == LinkFilterCopy:
		return kind.String(), ""
	}
	return "", "unknown link kind " + kind.String()
}

// Recheck reads the queue files of a selection again (after holding them)
// and splits the ids into those that are still the selected messages (same
// sender and arrival time, same reason) and those that are not: a short
// queue id can be reused by a new message between selection and hold, and
// such a message must be released, not deleted. Ids no longer queued are in
// neither list.
func Recheck(ctx context.Context, m Manager, login string, sel Selection) (confirmed, foreign []string, err error) {
	want := make(map[string]Selected, len(sel.Messages))
	ids := make([]string, 0, len(sel.Messages))
	for _, s := range sel.Messages {
		want[s.QueueID] = s
		ids = append(ids, s.QueueID)
	}
	err = m.Inspect(ctx, ids, func(msg Message) error {
		s, ok := want[msg.QueueID]
		if !ok {
			return nil
		}
		kind := LinkKind(0)
		switch s.Reason {
		case "bounce":
			kind = LinkBounce
		case "filter-copy":
			kind = LinkFilterCopy
		}
		reason, _ := match(msg, login, kind, kind != 0)
		if reason == s.Reason && msg.Sender == s.Sender && msg.ArrivalTime.Equal(s.ArrivalTime) {
			confirmed = append(confirmed, msg.QueueID)
		} else {
			foreign = append(foreign, msg.QueueID)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recheck messages of %q: %w", login, err)
	}
	return confirmed, foreign, nil
}
