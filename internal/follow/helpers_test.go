package follow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// harness runs a Follower driven by a TestWaker and records its lines and
// events.
type harness struct {
	t    *testing.T
	dir  string
	w    *TestWaker
	f    *Follower
	ctx  context.Context
	stop context.CancelFunc
	done chan error

	mu     sync.Mutex
	lines  []string
	cursor []Cursor // Line.Cursor of each line
	events []Event
	fail   func(Line) error // optional: an error to return for a line
}

// start runs a follower with cfg (Waker and OnEvent are set here) and
// returns once its first poll is complete.
func start(t *testing.T, dir string, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, dir: dir, w: NewTestWaker(), done: make(chan error, 1)}
	cfg.Waker = h.w
	cfg.OnEvent = func(e Event) {
		h.mu.Lock()
		h.events = append(h.events, e)
		h.mu.Unlock()
	}
	h.f = New(cfg)
	h.ctx, h.stop = context.WithCancel(context.Background())
	go func() {
		h.done <- h.f.Run(h.ctx, func(l Line) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.fail != nil {
				if err := h.fail(l); err != nil {
					return err
				}
			}
			h.lines = append(h.lines, string(l.Data))
			h.cursor = append(h.cursor, l.Cursor)
			return nil
		})
	}()
	t.Cleanup(func() { h.close() })
	h.poll()
	return h
}

// poll makes the follower poll once and waits for the poll to complete.
func (h *harness) poll() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	if err := h.w.Poll(ctx); err != nil {
		h.t.Fatalf("poll: %v", err)
	}
}

// close stops the follower and returns Run's error (nil for a cancel).
func (h *harness) close() error {
	if h.stop == nil {
		return nil
	}
	h.stop()
	h.stop = nil
	err := <-h.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// take returns the lines delivered since the last take.
func (h *harness) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lines
	h.lines = nil
	return l
}

// expect checks the lines delivered since the last take.
func (h *harness) expect(want ...string) {
	h.t.Helper()
	got := h.take()
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		h.t.Fatalf("lines = %q, want %q", got, want)
	}
}

// count returns how many events of kind were reported.
func (h *harness) count(kind EventKind) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range h.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func (h *harness) expectEvents(kind EventKind, n int) {
	h.t.Helper()
	if got := h.count(kind); got != n {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.t.Fatalf("%d %v events, want %d; events: %+v", got, kind, n, h.events)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// appender opens path for appending, like a syslog daemon that keeps its
// file open across a rename.
func appender(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func logPath(t *testing.T) (dir, path string) {
	dir = t.TempDir()
	return dir, filepath.Join(dir, "mail.log")
}
