package watch

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// sender delivers alerts from a queue of bounded length on a goroutine of
// its own, so that a slow receiver (a webhook, a mail relay) never stops the
// log reader; alerts past the queue's length are dropped and counted.
type sender struct {
	what    string
	send    func(context.Context, Alert) error
	queue   chan Alert
	done    chan struct{}
	log     *slog.Logger
	dropped atomic.Int64
	failed  atomic.Int64
}

func startSender(ctx context.Context, what string, log *slog.Logger, send func(context.Context, Alert) error) *sender {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &sender{what: what, send: send, queue: make(chan Alert, 100), done: make(chan struct{}), log: log}
	go func() {
		defer close(s.done)
		for a := range s.queue {
			if err := s.send(ctx, a); err != nil {
				s.failed.Add(1)
				s.log.Error(s.what, "login", a.Login, "err", err)
			}
		}
	}()
	return s
}

// Sink queues an alert.
func (s *sender) Sink(a Alert) {
	select {
	case s.queue <- a:
	default:
		s.dropped.Add(1)
		s.log.Error(s.what+" queue full: alert dropped", "login", a.Login)
	}
}

// Close stops taking alerts and waits until the queued ones are delivered
// (or the context given at the start ends).
func (s *sender) Close() {
	close(s.queue)
	<-s.done
}

// Dropped and Failed count the alerts not delivered.
func (s *sender) Dropped() int64 { return s.dropped.Load() }

// Failed counts the alerts whose delivery failed.
func (s *sender) Failed() int64 { return s.failed.Load() }
