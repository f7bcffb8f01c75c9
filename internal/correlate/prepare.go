package correlate

import (
	"hash/maphash"

	"github.com/saslguard/saslguard/internal/event"
)

var hostSeed = maphash.MakeSeed()

func hostHash(host string) uint64 { return maphash.String(hostSeed, host) }

var loginSeed = maphash.MakeSeed()

// loginHash is the hash that finds a login's account (Correlator.byHash).
func loginHash(login string) uint64 { return maphash.String(loginSeed, login) }

// Prepare fills the event's derived fields (lower-case login and sender
// domain, host hash, what the relay and reply say). It depends on the event
// alone, so the parallel parse stage runs it and the sequential correlator
// does less; Add calls it for events that were not prepared.
func Prepare(ev *event.Event) {
	if ev.Prepared {
		return
	}
	ev.Prepared = true
	ev.HostHash = hostHash(ev.Host)
	if ev.QID != "" {
		ev.QKey = event.MakeQKey(ev.HostHash, ev.QID)
	}
	if ev.Login != "" {
		ev.Login = lower(ev.Login)
		ev.LoginHash = loginHash(ev.Login)
	}
	switch ev.Kind {
	case event.Client:
		ev.LoopbackClient = isLoopback(ev.ClientIP)
	case event.From:
		if d := domainOf(ev.Sender); d != "" {
			ev.SenderDomain = lower(d)
		}
	case event.Arrival:
		ev.LoopbackClient = isLoopback(ev.ClientIP)
		if d := domainOf(ev.Sender); d != "" {
			ev.SenderDomain = lower(d)
		}
	case event.Delivery:
		ev.LocalRelay = isLocalRelay(ev.Relay)
		ev.LocalDelivery = isLocalDelivery(ev.Relay, ev.Program)
		if ev.Status == "deferred" || ev.Status == "bounced" {
			ev.Spam = spamSignal(ev.DSN, ev.Reply)
		}
	}
}
