package correlate

import "github.com/saslguard/saslguard/internal/event"

// Skipper finds, in the parallel parse stage, the events the correlator
// would do nothing with: the later lines of an unauthenticated message
// (inbound mail, most of a server's traffic), which the correlator keeps
// only as a queue id to recognise (see Correlator.client). Dropping them
// before the sequential stage leaves it a third less to read.
//
// A Skipper follows one stretch of a log (a chunk) in order: every prepared
// event of the stretch goes through Skip, and Reset starts the next
// stretch. Across stretches it knows nothing, so it never drops the lines
// of a message whose client line it did not see.
type Skipper struct {
	light map[event.QKey]int64 // unauthenticated messages: queue key to the client line's time (unix seconds)
}

// NewSkipper returns a Skipper.
func NewSkipper() *Skipper { return &Skipper{light: map[event.QKey]int64{}} }

// Reset forgets the stretch before.
func (s *Skipper) Reset() { clear(s.light) }

// skipSpan bounds how long after its client line a message's lines are
// skipped: within it the correlator cannot have expired the message.
const skipSpan = 3600

// Skip reports whether the correlator would ignore ev, a prepared event
// (Prepare), given the stretch's events before it.
func (s *Skipper) Skip(ev *event.Event) bool {
	if ev.QID == "" {
		return false
	}
	switch ev.Kind {
	case event.Client:
		if isLight(ev) {
			s.light[ev.QKey] = ev.Time.Unix()
		} else if len(s.light) > 0 {
			delete(s.light, ev.QKey)
		}
	case event.Pickup, event.Removed:
		if len(s.light) > 0 {
			delete(s.light, ev.QKey)
		}
	case event.From, event.MessageID, event.Expired, event.Notify, event.Hold:
		return s.isLight(ev)
	case event.Delivery:
		return !unauthOutbound(ev) && s.isLight(ev)
	}
	return false
}

func (s *Skipper) isLight(ev *event.Event) bool {
	if len(s.light) == 0 {
		return false
	}
	t, ok := s.light[ev.QKey]
	return ok && ev.Time.Unix()-t < skipSpan
}

// isLight tells whether a client line starts a message the correlator
// keeps no detail of: no login, not a content filter's re-injection.
func isLight(ev *event.Event) bool {
	return ev.Login == "" && ev.OrigQID == "" && !ev.LoopbackClient
}

// unauthOutbound tells whether a delivery of an unauthenticated message
// counts as mail handed to a remote server (UnauthStats.Outbound).
func unauthOutbound(ev *event.Event) bool {
	return ev.Status != "" && ev.Relay != "none" && !ev.LocalRelay
}
