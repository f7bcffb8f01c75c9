// Package follow follows growing log files (and streams such as the output
// of journalctl -f -o json) line by line for the saslguard watch daemon, and
// keeps a durable cursor so that a restarted daemon neither misses nor
// repeats a line.
//
// The model is mtail's logstream: the follower polls, and each poll reads
// every file to its end, then looks at the path. A different file at the
// path (os.SameFile) is a rotation by rename or a deletion and re-creation:
// the old file, still open, is read to its end before the new one is read
// from its start. A file smaller than the offset read is a copytruncate: it
// is read again from 0. A path that does not exist yet, or cannot be opened
// (permission denied), is tried again at each poll.
//
// # Rotation
//
// A writer may go on appending to the old file for a while after the rename
// (syslog daemons until they are told to reopen). So after a rotation the
// follower keeps reading the old file, and moves to the new one at the first
// poll that finds nothing new in the old one and no incomplete last line
// there, or after Config.RotateGrace polls at the latest. Lines written to
// the old file after the move are not read. A deleted file that nothing
// replaces is read while it is written to, and closed after RotateGrace
// quiet polls, so that its disk space is freed (Linux link count).
//
// # Lines
//
// A line is delivered once its '\n' has been read: an incomplete last line
// is held until it is completed, and never delivered in part. The '\n' is
// removed, anything else (a '\r' before it) is kept. A line longer than
// Config.MaxLine is cut to its first MaxLine bytes (Line.Cut, Stats.CutLines)
// and the rest up to its '\n' is skipped. An incomplete line that can never
// be completed (the file was truncated, or rotated and left behind with no
// final '\n', or a stream ended) is dropped and reported
// (EventPartialDropped). NUL bytes at the start of a file (the hole a writer
// without O_APPEND leaves after a copytruncate) are skipped and counted.
//
// # Cursors
//
// A Cursor names a file by a fingerprint of its content: the SHA-256 of its
// first FingerprintSize bytes (or all of it, when shorter) with the length
// covered, and holds the offset just after the last delivered line. Given a
// saved cursor, New resumes in the file at the path when its fingerprint
// matches and it is long enough; otherwise in the rotated sibling that
// matches (path.1, path.2, ..., path-YYYYMMDD..., uncompressed), which is
// read to its end, followed by the newer siblings and then the path from
// 0; otherwise it reports a gap (EventGap) and starts at 0 (or at the end,
// with Config.FromEnd).
//
// A cursor saved while the file was empty (FingerprintLen 0) matches any
// file, at offset 0: a rotation while the daemon was stopped is then not
// noticed, and the rotated file's lines are not read.
//
// # Streams
//
// A Reader source (a pipe from journalctl -f -o json) is read in its own
// goroutine and cut into lines the same way; its lines are delivered by the
// Run goroutine like the files' lines. For journal sources the cursor keeps
// the __CURSOR field of the last line (see JournalCursor), for journalctl
// --after-cursor.
package follow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Defaults.
const (
	// FingerprintSize is how many leading bytes of a file identify it.
	FingerprintSize = 1024
	// DefaultMaxLine is the longest line delivered whole.
	DefaultMaxLine = 16 << 20
	// DefaultRotateGrace is how many polls the old file of a rotation is
	// read at most while a new file waits at the path.
	DefaultRotateGrace = 8
	// DefaultInterval is the production waker's interval.
	DefaultInterval = 250 * time.Millisecond
	// readSize is the size of the reused read buffer.
	readSize = 64 << 10
)

// Config configures a Follower.
type Config struct {
	// Paths are the files to follow.
	Paths []string
	// Readers are streams to read, such as journalctl's standard output.
	Readers []Reader
	// Cursors are the positions saved from Checkpoint by an earlier run,
	// matched to Paths and Readers by Cursor.Path. A path without one starts
	// at 0, or at the end with FromEnd.
	Cursors []Cursor
	// FromEnd starts files that have no saved cursor (or whose saved file
	// is gone) at their end instead of their start. Files that appear later
	// are always read from their start.
	FromEnd bool
	// Waker drives polling; nil means a ticker every DefaultInterval.
	Waker Waker
	// MaxLine is the longest line delivered whole; 0 means DefaultMaxLine.
	MaxLine int
	// RotateGrace bounds how many polls the old file of a rotation is read
	// while a new file is waiting; 0 means DefaultRotateGrace.
	RotateGrace int
	// Logger receives what happens to the files; nil discards it.
	Logger *slog.Logger
	// OnEvent, if set, is called (on the Run goroutine) for each Event.
	OnEvent func(Event)
	// Open opens a file for reading; nil means os.Open. Tests use it to
	// simulate errors that a root user cannot cause.
	Open func(name string) (*os.File, error)
}

// Reader is a stream source.
type Reader struct {
	// Name identifies the source in Line.Path and Cursor.Path.
	Name string
	// R is read until it returns an error (io.EOF included). Run does not
	// close it: when Run returns, a goroutine may stay blocked in R.Read
	// until the caller closes R (or ends the command writing to it).
	R interface{ Read(p []byte) (int, error) }
	// Journal marks journalctl -o json output: Line.Cursor.Journal then
	// holds each line's __CURSOR field.
	Journal bool
}

// Cursor is a position in a followed file or stream: the point just after
// the last line delivered. It is meant to be saved (as JSON) together with
// the state built from the lines before it.
type Cursor struct {
	// Path is the configured path (or Reader name), even while a rotated
	// file is being finished.
	Path string `json:"path"`
	// Fingerprint is the hex SHA-256 of the first FingerprintLen bytes of
	// the file; empty when no file has been opened yet.
	Fingerprint    string `json:"fingerprint,omitempty"`
	FingerprintLen int64  `json:"fingerprint_len,omitempty"`
	// Offset is the offset of the next unread byte, always at the start
	// of a line. For a stream: the bytes consumed in this run (a stream
	// cannot be resumed by offset: use Journal).
	Offset int64 `json:"offset"`
	// Journal is the __CURSOR of the last line of a journal stream.
	Journal string `json:"journal,omitempty"`
}

// Line is one line delivered to Run's function.
type Line struct {
	// Path is the configured path or Reader name (also while a rotated
	// file is being finished).
	Path string
	// Data is the line without its '\n' ('\r' kept). It is only valid
	// during the call.
	Data []byte
	// Cut tells that the line was longer than MaxLine and has been cut.
	Cut bool
	// Cursor is the position just after this line.
	Cursor Cursor
}

// EventKind says what happened to a file.
type EventKind int

// Event kinds.
const (
	EventOpened         EventKind = iota // a file was opened (first time, or after a rotation or an error)
	EventResumed                         // a saved cursor was found, reading resumes there
	EventGap                             // a saved cursor's file was not found: lines may be missing
	EventRotated                         // a different file is at the path
	EventDeleted                         // the path no longer exists (the open file is still read)
	EventTruncated                       // the file is shorter than what was read: read again from 0
	EventReplaced                        // the file's first bytes changed: read again from 0
	EventOpenError                       // the path exists but cannot be opened or read (retried)
	EventLineCut                         // a line longer than MaxLine was cut
	EventPartialDropped                  // an incomplete line that cannot be completed was dropped
	EventNULSkipped                      // NUL bytes at the start of a file were skipped
	EventStreamEnd                       // a Reader returned an error or io.EOF
)

var eventNames = [...]string{"opened", "resumed", "gap", "rotated", "deleted", "truncated", "replaced", "open error", "line cut", "partial dropped", "nul skipped", "stream end"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports something that happened to a followed file or stream.
type Event struct {
	Kind EventKind
	// Path is the configured path or Reader name.
	Path string
	// File is the file concerned when it is not Path (a rotated sibling).
	File string
	// Bytes is the number of bytes concerned (skipped, dropped, cut), if any.
	Bytes int64
	Err   error
}

// Stats counts what happened since New.
type Stats struct {
	Lines           int64 // lines delivered
	Bytes           int64 // bytes delivered (without '\n')
	Rotations       int64
	Truncations     int64 // truncations and replaced content
	Gaps            int64 // saved cursors whose file was not found
	OpenErrors      int64 // failed opens (each change of error counted once)
	CutLines        int64
	PartialsDropped int64
	NULBytes        int64
}

// Follower follows files and streams. Create it with New and start it with
// Run; Checkpoint and Stats may be called from any goroutine.
type Follower struct {
	cfg   Config
	log   *slog.Logger
	files []*fileSource
	strs  []*streamSource
	buf   []byte

	mu    sync.Mutex // guards stats and the sources' cursors
	stats Stats
	ran   bool
}

// New returns a Follower for cfg.
func New(cfg Config) *Follower {
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	if cfg.RotateGrace <= 0 {
		cfg.RotateGrace = DefaultRotateGrace
	}
	if cfg.Open == nil {
		cfg.Open = os.Open
	}
	f := &Follower{cfg: cfg, log: cfg.Logger}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	saved := map[string]Cursor{}
	for _, c := range cfg.Cursors {
		saved[c.Path] = c
	}
	for _, p := range cfg.Paths {
		s := &fileSource{f: f, path: p, asm: assembler{max: cfg.MaxLine}, cursor: Cursor{Path: p}}
		if c, ok := saved[p]; ok {
			c.Journal = ""
			s.cursor = c
			s.restore = &c
		}
		f.files = append(f.files, s)
	}
	for _, r := range cfg.Readers {
		s := &streamSource{f: f, r: r, asm: assembler{max: cfg.MaxLine}, cursor: Cursor{Path: r.Name}}
		if c, ok := saved[r.Name]; ok {
			s.cursor.Journal = c.Journal
		}
		f.strs = append(f.strs, s)
	}
	return f
}

// Checkpoint returns the position of every file and stream after the last
// line whose function call has returned (within a call, the current line is
// not included: use Line.Cursor for it). Paths come first, in Config order,
// then Readers.
func (f *Follower) Checkpoint() []Cursor {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Cursor, 0, len(f.files)+len(f.strs))
	for _, s := range f.files {
		out = append(out, s.cursor)
	}
	for _, s := range f.strs {
		out = append(out, s.cursor)
	}
	return out
}

// Backlog is how far the reading of one followed path is behind the end of
// the log: what has been written and not yet delivered.
type Backlog struct {
	Path string `json:"path"`
	// Bytes not yet delivered: the rest of the file being read plus, while
	// a rotated file is being finished, the whole new file at Path (files
	// queued between them are not counted).
	Bytes int64 `json:"bytes"`
	// Rotated is set while a rotated (or deleted) file is being finished.
	Rotated bool `json:"rotated,omitempty"`
	// Missing is set when there is no file at Path to read.
	Missing bool `json:"missing,omitempty"`
}

// Backlog returns, for each configured path in Config order, how many bytes
// are written and not yet delivered. It stats the files and may be called
// from any goroutine. Streams have no known end and are not listed.
func (f *Follower) Backlog() []Backlog {
	type snap struct {
		path string
		info fs.FileInfo
		file *os.File
		off  int64
	}
	f.mu.Lock()
	snaps := make([]snap, 0, len(f.files))
	for _, s := range f.files {
		snaps = append(snaps, snap{s.path, s.readingInfo, s.readingFile, s.cursor.Offset})
	}
	f.mu.Unlock()
	out := make([]Backlog, 0, len(snaps))
	for _, s := range snaps {
		b := Backlog{Path: s.path}
		atPath, err := os.Stat(s.path)
		if err != nil {
			b.Missing = true
		}
		switch {
		case s.info == nil:
			// nothing opened yet: the whole file at the path is ahead
			if atPath != nil {
				b.Bytes = atPath.Size()
			}
		case atPath != nil && os.SameFile(atPath, s.info):
			b.Bytes = max(0, atPath.Size()-s.off)
		default:
			// finishing a rotated (or deleted) file: its rest, then the
			// file now at the path
			b.Rotated = true
			if s.file != nil {
				// the open file: a closed one (finished meanwhile) fails
				if st, err := s.file.Stat(); err == nil {
					b.Bytes = max(0, st.Size()-s.off)
				}
			}
			if atPath != nil {
				b.Bytes += atPath.Size()
			}
		}
		out = append(out, b)
	}
	return out
}

// Stats returns the counters.
func (f *Follower) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// ErrRunning is returned by a second call of Run.
var ErrRunning = errors.New("follow: Run called twice")

// Run follows the files and streams until ctx ends (it then returns
// ctx.Err()), fn returns an error (returned as is), or, when there are only
// streams, all of them have ended (nil). fn is called on Run's goroutine,
// one line at a time, in order for each file or stream. The files are
// polled once at the start and then at each wake of the Waker.
func (f *Follower) Run(ctx context.Context, fn func(Line) error) error {
	f.mu.Lock()
	if f.ran {
		f.mu.Unlock()
		return ErrRunning
	}
	f.ran = true
	f.mu.Unlock()
	defer func() {
		for _, s := range f.files {
			if s.file != nil {
				// A held partial line is not lost: the cursor is before it.
				s.file.Close()
				s.file = nil
			}
		}
	}()
	waker := f.cfg.Waker
	if waker == nil {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		waker = NewTicker(wctx, DefaultInterval)
	}
	polled, _ := waker.(interface{ Polled() })
	f.buf = make([]byte, readSize)

	rctx, stop := context.WithCancel(ctx)
	defer stop() // readers blocked on a send give up
	chunks := make(chan chunk)
	for _, s := range f.strs {
		go s.read(rctx, chunks)
	}
	open := len(f.strs)

	if err := f.pollAll(ctx, fn); err != nil {
		return err
	}
	for {
		if len(f.files) == 0 && open == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-waker.Wake():
			err := f.pollAll(ctx, fn)
			if polled != nil {
				polled.Polled()
			}
			if err != nil {
				return err
			}
		case c := <-chunks:
			err := c.src.consume(c, fn)
			c.ack <- struct{}{}
			if c.err != nil {
				open--
			}
			if err != nil {
				return err
			}
		}
	}
}

func (f *Follower) pollAll(ctx context.Context, fn func(Line) error) error {
	for _, s := range f.files {
		if err := s.poll(ctx, fn); err != nil {
			return err
		}
	}
	return nil
}

// event counts, logs and reports e.
func (f *Follower) event(e Event) {
	f.mu.Lock()
	switch e.Kind {
	case EventGap:
		f.stats.Gaps++
	case EventRotated:
		f.stats.Rotations++
	case EventTruncated, EventReplaced:
		f.stats.Truncations++
	case EventOpenError:
		f.stats.OpenErrors++
	case EventLineCut:
		f.stats.CutLines++
	case EventPartialDropped:
		f.stats.PartialsDropped++
	case EventNULSkipped:
		f.stats.NULBytes += e.Bytes
	}
	f.mu.Unlock()
	attrs := []any{slog.String("event", e.Kind.String()), slog.String("path", e.Path)}
	if e.File != "" && e.File != e.Path {
		attrs = append(attrs, slog.String("file", e.File))
	}
	if e.Bytes != 0 {
		attrs = append(attrs, slog.Int64("bytes", e.Bytes))
	}
	level := slog.LevelInfo
	if e.Err != nil {
		attrs = append(attrs, slog.Any("err", e.Err))
	}
	switch e.Kind {
	case EventGap, EventOpenError, EventPartialDropped, EventTruncated, EventReplaced, EventLineCut:
		level = slog.LevelWarn
	}
	f.log.Log(context.Background(), level, "follow", attrs...)
	if f.cfg.OnEvent != nil {
		f.cfg.OnEvent(e)
	}
}
