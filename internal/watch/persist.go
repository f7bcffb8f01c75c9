package watch

// Durable state: the engine (its correlator, detector state, per-file year
// state, counters and recent alerts) is saved together with the follower's
// cursors, in one row of the store, so that a restart, even after kill -9,
// resumes after the last line the saved state includes: no line is missed
// or counted twice.
//
// Delivery of alerts is at least once. An alert raised before the saved
// checkpoint is part of the saved state (the login's verdict has risen) and
// is not raised again after a restart; an alert raised after the last
// checkpoint and before a crash is raised again when its lines are read
// again. Sinks (and contain mode, which skips logins it already blocked)
// must tolerate the repeat.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/follow"
	"github.com/saslguard/saslguard/internal/logline"
	"github.com/saslguard/saslguard/internal/store"
)

const (
	engineMagic   = "saslguard watch state\n"
	engineVersion = 1
	maxEngineHead = 64 << 20
)

var engineCRC = crc32.MakeTable(crc32.Castagnoli)

// engineState is the engine's own part of a saved state; the correlator's
// state follows it in the stream.
type engineState struct {
	Files  []fileSnap // sorted by path
	Stats  Stats
	Alerts []Alert
	LastAt time.Time
}

type fileSnap struct {
	Path  string
	Index int
	Year  int
	Fixer fixerSnap
}

type fixerSnap struct {
	Index  int
	Init   bool
	Last   time.Time
	Offset int
	End    time.Time // zero in states saved before it was kept: unbounded
}

// Save writes the engine's whole state to w: what Load needs to continue as
// if the engine had never stopped. It must not run while a line is being
// read (the engine is not safe for concurrent use; see Guarded.Save).
func (e *Engine) Save(w io.Writer) error {
	st := engineState{Stats: e.Stats, Alerts: e.alerts, LastAt: e.lastAt}
	for path, fs := range e.files {
		yf := fs.fix.State()
		st.Files = append(st.Files, fileSnap{Path: path, Index: fs.index, Year: fs.year,
			Fixer: fixerSnap{yf.Index, yf.Init, yf.Last, yf.Offset, yf.End}})
	}
	sort.Slice(st.Files, func(i, j int) bool { return st.Files[i].Path < st.Files[j].Path })
	var head bytes.Buffer
	if err := gob.NewEncoder(&head).Encode(&st); err != nil {
		return fmt.Errorf("encode watch state: %w", err)
	}
	var hdr [len(engineMagic) + 2 + 8 + 4]byte
	n := copy(hdr[:], engineMagic)
	binary.BigEndian.PutUint16(hdr[n:], engineVersion)
	binary.BigEndian.PutUint64(hdr[n+2:], uint64(head.Len()))
	binary.BigEndian.PutUint32(hdr[n+10:], crc32.Checksum(head.Bytes(), engineCRC))
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("write watch state: %w", err)
	}
	if _, err := w.Write(head.Bytes()); err != nil {
		return fmt.Errorf("write watch state: %w", err)
	}
	return e.corr.Snapshot(w)
}

// Load reads a state written by Save and returns an engine that continues
// from it. cfg is the configuration of the new engine (as for New: sinks,
// zone, level, allowlist and thresholds are not saved). A damaged or
// truncated state gives an error.
func Load(r io.Reader, cfg Config) (*Engine, error) {
	var hdr [len(engineMagic) + 2 + 8 + 4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read watch state: %w", err)
	}
	n := len(engineMagic)
	if string(hdr[:n]) != engineMagic {
		return nil, errors.New("read watch state: not a saslguard watch state")
	}
	if v := binary.BigEndian.Uint16(hdr[n:]); v != engineVersion {
		return nil, fmt.Errorf("read watch state: version %d, this saslguard reads %d", v, engineVersion)
	}
	size := binary.BigEndian.Uint64(hdr[n+2:])
	if size > maxEngineHead {
		return nil, fmt.Errorf("read watch state: %d bytes is too large", size)
	}
	var head bytes.Buffer
	if m, err := io.CopyN(&head, r, int64(size)); err != nil {
		return nil, fmt.Errorf("read watch state: %d of %d bytes: %w", m, size, err)
	}
	if crc32.Checksum(head.Bytes(), engineCRC) != binary.BigEndian.Uint32(hdr[n+10:]) {
		return nil, errors.New("read watch state: checksum mismatch (damaged)")
	}
	var st engineState
	if err := decodeGob(&head, &st); err != nil {
		return nil, fmt.Errorf("decode watch state: %w", err)
	}
	e := New(cfg)
	cc := e.cfg.Correlate
	cc.OnVerdict = e.onVerdict
	cc.OnEvidence = e.onEvidence
	corr, err := correlate.Restore(r, cc)
	if err != nil {
		return nil, err
	}
	e.corr = corr
	e.Stats, e.alerts, e.lastAt = st.Stats, st.Alerts, st.LastAt
	for _, f := range st.Files {
		if e.files[f.Path] != nil {
			return nil, fmt.Errorf("read watch state: file %q twice", f.Path)
		}
		fs := &fileState{index: f.Index, year: f.Year}
		fs.fix.SetState(logline.YearFixerState{Index: f.Fixer.Index, Init: f.Fixer.Init, Last: f.Fixer.Last, Offset: f.Fixer.Offset, End: f.Fixer.End})
		e.files[f.Path] = fs
	}
	return e, nil
}

// decodeGob decodes, turning a panic on hostile input into an error.
func decodeGob(r io.Reader, v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed: %v", p)
		}
	}()
	return gob.NewDecoder(r).Decode(v)
}

// Save writes the engine's state (see Engine.Save) while no line is read.
func (g *Guarded) Save(w io.Writer) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.eng.Save(w)
}

// Resume loads the state saved in st (see Checkpointer) and returns the
// engine to continue with and the cursors to give follow.Config.Cursors.
// With nothing saved it returns a new engine and no cursors. A saved state
// that cannot be read is an error: the caller decides whether to start
// afresh (store.ClearWatchState) or to stop.
func Resume(ctx context.Context, st *store.Store, cfg Config) (*Engine, []follow.Cursor, error) {
	ws, err := st.LoadWatchState(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return New(cfg), nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var cursors []follow.Cursor
	if err := json.Unmarshal(ws.Cursors, &cursors); err != nil {
		return nil, nil, fmt.Errorf("load watch state: cursors: %w", err)
	}
	e, err := Load(bytes.NewReader(ws.Snapshot), cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("load watch state saved %s: %w", ws.Saved.Format(time.RFC3339), err)
	}
	return e, cursors, nil
}

// Checkpointer saves the engine's state and the follower's cursors together
// in the store. Its Line is the follower's function: it feeds the engine
// and, before a line when a checkpoint is due, saves one. Run delivers
// lines one at a time and updates a cursor only after the function has
// returned, so at that moment every line the cursors cover has been read
// by the engine and no other has: the pair is consistent. (A checkpoint
// taken from another goroutine could see the engine one line ahead of the
// cursor; that line would be counted twice after a restart.)
//
// The daemon's sequence:
//
//	eng, cursors, err := watch.Resume(ctx, st, cfg) // nil cursors: first start
//	g := watch.NewGuarded(eng)
//	f := follow.New(follow.Config{Paths: paths, Cursors: cursors, FromEnd: fromEnd})
//	cp := watch.NewCheckpointer(st, g, f, watch.CheckpointOptions{Logger: log})
//	err = f.Run(ctx, cp.Line) // returns when ctx ends (SIGTERM)
//	err = cp.Save(context.WithoutCancel(ctx)) // the final checkpoint
type Checkpointer struct {
	store    *store.Store
	guarded  *Guarded
	follower *follow.Follower
	opts     CheckpointOptions

	mu    sync.Mutex // guards what Stats reports
	lines int
	last  time.Time
	stats CheckpointStats
	buf   bytes.Buffer
}

// CheckpointOptions say how often to save.
type CheckpointOptions struct {
	// EveryLines saves before the line that follows this many lines since
	// the last save (default 100,000).
	EveryLines int
	// Every saves before the first line read this long after the last
	// save (default 30 s). A quiet log changes no state; the final save
	// after Run covers the rest.
	Every time.Duration
	// Now is the clock for Every (the wall clock: it schedules saves and
	// plays no part in detection); nil means time.Now.
	Now func() time.Time
	// Logger receives failed saves (which do not stop the daemon).
	Logger *slog.Logger
}

// CheckpointStats count the saves.
type CheckpointStats struct {
	Saves, Failures int64
	LastBytes       int
	LastDuration    time.Duration
	LastError       string
}

// NewCheckpointer returns a Checkpointer for the engine behind g and the
// follower f (created with the cursors Resume returned).
func NewCheckpointer(st *store.Store, g *Guarded, f *follow.Follower, opts CheckpointOptions) *Checkpointer {
	if opts.EveryLines <= 0 {
		opts.EveryLines = 100000
	}
	if opts.Every <= 0 {
		opts.Every = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Checkpointer{store: st, guarded: g, follower: f, opts: opts, last: opts.Now()}
}

// Line is the function to give follower.Run: it saves a checkpoint when
// one is due, then feeds the line to the engine. A failed save is logged
// and counted, and reading goes on.
func (c *Checkpointer) Line(l follow.Line) error {
	if c.lines >= c.opts.EveryLines || c.lines > 0 && c.opts.Now().Sub(c.last) >= c.opts.Every {
		if err := c.Save(context.Background()); err != nil {
			c.opts.Logger.Error("save watch state", "err", err)
		}
	}
	// A fresh copy of each line: the correlator keeps some of the event's
	// strings without copying them (a sender domain in the detector's
	// window, a host in the session map), which must not change under it
	// when the follower reuses its buffer (and must not differ between a
	// run and its restored state).
	c.guarded.Line(l.Path, bytes.Clone(l.Data))
	c.lines++
	return nil
}

// Save saves a checkpoint now. Call it from the follower's function (Line
// does) or after Run has returned, never while Run is delivering lines on
// another goroutine.
func (c *Checkpointer) Save(ctx context.Context) error {
	start := c.opts.Now()
	cursors, err := json.Marshal(c.follower.Checkpoint())
	if err == nil {
		c.buf.Reset()
		err = c.guarded.Save(&c.buf)
	}
	if err == nil {
		err = c.store.SaveWatchState(ctx, cursors, c.buf.Bytes())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines, c.last = 0, c.opts.Now()
	if err != nil {
		c.stats.Failures++
		c.stats.LastError = err.Error()
		return err
	}
	c.stats.Saves++
	c.stats.LastBytes = c.buf.Len()
	c.stats.LastDuration = c.last.Sub(start)
	if c.buf.Cap() > 4*c.buf.Len()+(1<<20) {
		c.buf = bytes.Buffer{} // do not keep a peak's buffer
	}
	return nil
}

// Stats returns the counters (safe from any goroutine).
func (c *Checkpointer) Stats() CheckpointStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
