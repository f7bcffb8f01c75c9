package follow

import (
	"context"
	"time"
)

// A Waker tells the follower when to poll: each value received from the
// channel Wake returns starts one poll of every file (a stat and a read to
// the end). The follower calls Wake again each time it waits.
//
// If the Waker also has a method Polled(), the follower calls it after each
// poll that a value from Wake started, once the poll is complete (also when
// the poll ended Run with an error). TestWaker uses it.
type Waker interface {
	Wake() <-chan struct{}
}

// tickerWaker wakes at a fixed interval.
type tickerWaker struct {
	c <-chan struct{}
}

// NewTicker returns a Waker that wakes every d (250 ms is a good interval
// for a mail log) until ctx ends. It uses no file-system notifications.
func NewTicker(ctx context.Context, d time.Duration) Waker {
	c := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			select {
			case <-ctx.Done():
				return
			case c <- struct{}{}:
			}
		}
	}()
	return tickerWaker{c: c}
}

func (w tickerWaker) Wake() <-chan struct{} { return w.c }

// TestWaker is a Waker driven by a test: Poll makes the follower poll once
// and returns when that poll is complete, so tests need no sleeps.
type TestWaker struct {
	c    chan struct{}
	done chan struct{}
}

// NewTestWaker returns a TestWaker for one follower.
func NewTestWaker() *TestWaker {
	return &TestWaker{c: make(chan struct{}), done: make(chan struct{}, 1)}
}

// Wake implements Waker.
func (w *TestWaker) Wake() <-chan struct{} { return w.c }

// Polled is called by the follower when the poll started by Poll is done.
func (w *TestWaker) Polled() {
	select {
	case w.done <- struct{}{}:
	default:
	}
}

// Poll makes the follower poll once and waits until that poll is complete
// (every line it found has been delivered). It returns ctx's error if ctx
// ends first, for instance because Run has returned.
func (w *TestWaker) Poll(ctx context.Context) error {
	select {
	case w.c <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
