package correlate

import (
	"math"
	"time"

	"github.com/saslguard/saslguard/internal/event"
)

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
	span  int64                // seconds after its client line that a message's lines may be dropped
	maxT  int64                // the latest time in the stretch so far
}

// NewSkipper returns a Skipper for the correlator's configuration.
func (c *Correlator) NewSkipper() *Skipper {
	// within span of the client line, no sweep can have expired the
	// message: one would need a line at least Expire later
	span := int64(min(time.Hour, c.cfg.Expire) / time.Second)
	return &Skipper{light: map[event.QKey]int64{}, span: span}
}

// Reset forgets the stretch before.
func (s *Skipper) Reset() {
	clear(s.light)
	s.maxT = math.MinInt64
}

// Skip reports whether the correlator would ignore ev, a prepared event
// (Prepare), given the stretch's events before it.
func (s *Skipper) Skip(ev *event.Event) bool {
	t := ev.Time.Unix()
	s.maxT = max(s.maxT, t)
	if ev.QID == "" {
		return false
	}
	switch ev.Kind {
	case event.Client, event.Arrival:
		if isLight(ev) && !localArrival(ev) {
			s.light[ev.QKey] = t
		} else {
			s.forget(ev.QKey)
		}
	case event.Pickup, event.Removed:
		s.forget(ev.QKey)
	case event.From, event.MessageID, event.Expired, event.Hold:
		return s.isLight(ev, t)
	case event.Notify:
		if s.isLight(ev, t) {
			return true // the correlator ignores the bounce of a light message
		}
		// the bounce's id is a message of a login now, whatever it was
		s.forget(event.MakeQKey(ev.HostHash, ev.NewQID))
	case event.Delivery:
		if !unauthOutbound(ev) && s.isLight(ev, t) {
			return true
		}
		if ev.NewQID != "" {
			// a content filter's copy ("queued as") may become a
			// login's message under that id
			s.forget(event.MakeQKey(ev.HostHash, ev.NewQID))
		}
	}
	return false
}

func (s *Skipper) forget(k event.QKey) {
	if len(s.light) > 0 {
		delete(s.light, k)
	}
}

// isLight tells whether ev belongs to a light message of the stretch that
// the correlator cannot have expired: the stretch's clock has not moved
// span past its client line, and ev does not come before that line.
func (s *Skipper) isLight(ev *event.Event, t int64) bool {
	if len(s.light) == 0 {
		return false
	}
	first, ok := s.light[ev.QKey]
	return ok && t >= first && s.maxT-first < s.span
}

// isLight tells whether a client line starts a message the correlator
// keeps no detail of: no login, not a content filter's re-injection.
func isLight(ev *event.Event) bool {
	return ev.Login == "" && ev.OrigQID == "" && !ev.LoopbackClient
}

// localArrival tells whether an Exim arrival is a local submission (no
// client address, no login), which the correlator takes as Postfix's
// pickup: a message kept whole, counted as local mail.
func localArrival(ev *event.Event) bool {
	return ev.Kind == event.Arrival && ev.ClientIP == "" && ev.Login == ""
}

// unauthOutbound tells whether a delivery of an unauthenticated message
// counts as mail handed to a remote server (UnauthStats.Outbound).
func unauthOutbound(ev *event.Event) bool {
	return ev.Status != "" && ev.Relay != "none" && !ev.LocalRelay
}
