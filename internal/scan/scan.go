// Package scan runs the scan pipeline: chunks of log lines from logsrc are
// parsed in parallel (logline), put back in log order, their classic-syslog
// years corrected, and fed to the correlator, which runs the detector.
package scan

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/saslguard/saslguard/internal/correlate"
	"github.com/saslguard/saslguard/internal/detect"
	"github.com/saslguard/saslguard/internal/event"
	"github.com/saslguard/saslguard/internal/logline"
	"github.com/saslguard/saslguard/internal/logsrc"
)

// Options configure a scan.
type Options struct {
	// Year is the year of the newest line for classic syslog stamps; 0
	// infers it from the newest file's modification time.
	Year int
	// Loc is the zone of stamps that carry none (default time.Local).
	Loc       *time.Location
	Workers   int // parsing goroutines (default GOMAXPROCS)
	Correlate correlate.Config
	// Progress, when set, is called now and then with the input bytes read
	// and the total (-1 when unknown).
	Progress func(done, total int64)
	// Allow lists logins that are never flagged (lower case).
	Allow map[string]bool
}

// Stats describe the input.
type Stats struct {
	Lines         int64            `json:"lines"`
	Parsed        int64            `json:"parsed"`
	Unparsed      map[string]int64 `json:"unparsed_by_program"`
	OtherPrograms map[string]int64 `json:"other_programs"`
	NoEnvelope    int64            `json:"no_envelope"`
	Bytes         int64            `json:"bytes"`
	InputBytes    int64            `json:"input_bytes"`
	Seconds       float64          `json:"seconds"`
	Files         []string         `json:"files"`
	FileErrors    []string         `json:"file_errors,omitempty"`
	Duplicates    int64            `json:"duplicate_lines"`
	NULBytes      int64            `json:"nul_bytes"`
	OverlongLines int64            `json:"overlong_lines"`
	Suppressed    int              `json:"journal_suppressed"`
	YearNote      string           `json:"year_note,omitempty"`
	// OrderNotes name files that start before the end of what was read
	// before them: logs written side by side (a separate Dovecot log) are
	// read one after the other, not merged by time.
	OrderNotes  []string        `json:"order_notes,omitempty"`
	FirstEvent  time.Time       `json:"first_event"`
	LastEvent   time.Time       `json:"last_event"`
	Correlation correlate.Stats `json:"correlation"`
}

// Result is what a scan found.
type Result struct {
	Accounts   []*correlate.Account // flagged first, then by score and volume
	Correlator *correlate.Correlator
	Stats      Stats
}

// batch is the parse result of one chunk.
type batch struct {
	chunk    *logsrc.Chunk
	events   []event.Event
	lines    int64
	parsed   int64
	noEnv    int64
	unparsed map[string]int64
	other    map[string]int64
}

// batches is a free list of batches for one run. sync.Pool would drop
// them at every garbage collection, and a batch holds megabytes of events:
// reallocating them was a good part of the collector's work.
type batches chan *batch

func (f batches) get() *batch {
	select {
	case b := <-f:
		return b
	default:
		return &batch{events: make([]event.Event, 0, 4096)}
	}
}

func (f batches) put(b *batch) {
	select {
	case f <- b:
	default: // more than the run ever has in flight: let it go
	}
}

// ReaderOptions returns the logsrc options that suit Run: few chunks in
// flight (each parsed chunk holds its events until the sequencer takes it),
// so that memory stays flat whatever the size of the input.
func ReaderOptions() logsrc.Options {
	n := runtime.GOMAXPROCS(0)
	return logsrc.Options{MaxInFlight: 2*n + 2, ChunkSize: 1 << 20}
}

// Run scans the set.
func Run(ctx context.Context, set *logsrc.Set, opts Options) (*Result, error) {
	began := time.Now()
	if opts.Loc == nil {
		opts.Loc = time.Local
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	years, note := InferYears(set, opts.Year, opts.Loc)
	corr := correlate.New(opts.Correlate)
	res := &Result{Correlator: corr}
	st := &res.Stats
	st.Unparsed, st.OtherPrograms = map[string]int64{}, map[string]int64{}
	st.YearNote = note
	for _, f := range set.Files() {
		st.Files = append(st.Files, f.Name)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(batches, 4*workers+32)
	work := make(chan *batch, workers*2)
	done := make(chan *batch, workers*2)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := logline.New(0, opts.Loc)
			for b := range work {
				p.Env.Year = years[b.chunk.Index]
				parseChunk(p, b)
				done <- b
			}
		}()
	}
	// the sequencer: puts batches back in order and feeds the correlator
	seqDone := make(chan struct{})
	go func() {
		defer close(seqDone)
		pending := map[int64]*batch{}
		var next int64
		var fx logline.YearFixer
		var ord orderCheck
		for b := range done {
			pending[b.chunk.Seq] = b
			for {
				nb, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				ord.check(set, st, nb)
				consume(corr, st, &fx, nb, free)
				if opts.Progress != nil {
					opts.Progress(set.Stats().InputBytes, set.TotalSize())
				}
			}
		}
		for _, b := range pending { // only after an error
			b.chunk.Release()
		}
	}()

	readErr := set.Read(ctx, func(c *logsrc.Chunk) error {
		b := free.get()
		b.chunk = c
		select {
		case work <- b:
			return nil
		case <-ctx.Done():
			c.Release()
			return ctx.Err()
		}
	})
	close(work)
	wg.Wait()
	close(done)
	<-seqDone
	if readErr != nil {
		return nil, readErr
	}
	corr.Finish()
	ls := set.Stats()
	st.Bytes, st.InputBytes = ls.Bytes, ls.InputBytes
	st.Duplicates, st.NULBytes, st.OverlongLines = ls.DuplicateLines, ls.NULBytes, ls.OverlongLines
	for _, e := range ls.Errors {
		st.FileErrors = append(st.FileErrors, e.Error())
	}
	st.Correlation = corr.Stats
	st.Suppressed = corr.Stats.Suppressed
	st.Seconds = time.Since(began).Seconds()
	res.Accounts = Rank(corr.Accounts(), opts.Allow)
	return res, nil
}

// parseChunk reads every line of the batch's chunk.
func parseChunk(p *logline.Parser, b *batch) {
	data := b.chunk.Data
	b.events = b.events[:0]
	for len(data) > 0 {
		n := bytes.IndexByte(data, '\n')
		var line []byte
		if n < 0 {
			line, data = data, nil
		} else {
			line, data = data[:n], data[n+1:]
		}
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			continue
		}
		b.lines++
		// parse straight into the batch's next slot (an event is large:
		// copying it would cost more than parsing it); a line that is
		// not kept leaves the slot to the next one
		if len(b.events) == cap(b.events) {
			b.events = append(b.events, event.Event{})[:len(b.events)]
		}
		ev := &b.events[:len(b.events)+1][len(b.events)]
		r := p.Parse(unsafe.String(&line[0], len(line)), ev)
		switch r.Status {
		case logline.Parsed:
			b.parsed++
			switch ev.Kind {
			case event.Ignored, event.Hold, event.Release:
				// nothing the scan uses: keep the sequential stage lean
			case event.Disconnect:
				if ev.AuthTotal > 0 { // only a session that tried AUTH can end a login's session
					correlate.Prepare(ev)
					b.events = b.events[:len(b.events)+1]
				}
			default:
				correlate.Prepare(ev)
				b.events = b.events[:len(b.events)+1]
			}
		case logline.NoEnvelope:
			b.noEnv++
		case logline.Unparsed:
			if b.unparsed == nil {
				b.unparsed = map[string]int64{}
			}
			b.unparsed[r.Program]++
		case logline.Other:
			if b.other == nil {
				b.other = map[string]int64{}
			}
			b.other[r.Program]++
		}
	}
	// Slots past the end (and all of them once the batch is consumed) keep
	// pointers into chunk buffers, which logsrc recycles: they hold no
	// memory that would otherwise be freed, and Parse clears a slot before
	// it fills it. Clearing them would cost the sequential stage a pass.
}

// orderCheck notes files whose first event comes well before the newest
// event read before them.
type orderCheck struct {
	file int
	init bool
}

// orderSlack is how far back a file may start (a rotation's overlap, a
// clock step) before it is reported as written side by side.
const orderSlack = 10 * time.Minute

const maxOrderNotes = 5

// check looks at the batch before consume fixes its years: the first event
// of a new file is compared (year fixed the same way) with the newest event
// so far.
func (o *orderCheck) check(set *logsrc.Set, st *Stats, b *batch) {
	if o.init && b.chunk.Index == o.file {
		return
	}
	if len(b.events) == 0 {
		return // the file's first events come in a later batch
	}
	o.file, o.init = b.chunk.Index, true
	if st.LastEvent.IsZero() || len(st.OrderNotes) >= maxOrderNotes {
		return
	}
	first := b.events[0].Time // the first line's year needs no fixing: the fixer starts from it
	if first.Before(st.LastEvent.Add(-orderSlack)) {
		name := "(input)"
		if files := set.Files(); b.chunk.Index < len(files) {
			name = files[b.chunk.Index].Name
		}
		st.OrderNotes = append(st.OrderNotes, fmt.Sprintf(
			"%s starts at %s, before the end of the files read before it (%s): logs written side by side (a separate Dovecot log, another server's log) are read one after the other, not merged by time, so failed logins and logins are seen out of order; give such logs to separate scans or merge them first",
			name, first.UTC().Format(time.RFC3339), st.LastEvent.UTC().Format(time.RFC3339)))
	}
}

// maxOtherPrograms caps the keys of the other-programs table.
const maxOtherPrograms = 200

func consume(corr *correlate.Correlator, st *Stats, fx *logline.YearFixer, b *batch, free batches) {
	fx.File(b.chunk.Index)
	for i := range b.events {
		ev := &b.events[i]
		if ev.YearGuessed {
			fx.Fix(ev)
		}
		if st.FirstEvent.IsZero() || ev.Time.Before(st.FirstEvent) {
			st.FirstEvent = ev.Time
		}
		if ev.Time.After(st.LastEvent) {
			st.LastEvent = ev.Time
		}
		corr.Add(ev)
	}
	st.Lines += b.lines
	st.Parsed += b.parsed
	st.NoEnvelope += b.noEnv
	for k, v := range b.unparsed {
		st.Unparsed[k] += v
	}
	for k, v := range b.other {
		if _, ok := st.OtherPrograms[k]; ok || len(st.OtherPrograms) < maxOtherPrograms {
			st.OtherPrograms[k] += v
		} else {
			st.OtherPrograms["(others)"] += v
		}
	}
	b.chunk.Release()
	b.chunk, b.lines, b.parsed, b.noEnv = nil, 0, 0, 0
	b.unparsed, b.other = nil, nil
	free.put(b)
}

// Rank sorts accounts: compromised, then suspicious, then the rest; within
// a verdict by score, then messages, then login. Allowlisted logins sort as
// ok.
func Rank(accts []*correlate.Account, allow map[string]bool) []*correlate.Account {
	rank := func(a *correlate.Account) int {
		if allow[a.Login] {
			return 0
		}
		return int(a.Detector().Verdict())
	}
	sort.Slice(accts, func(i, j int) bool {
		a, b := accts[i], accts[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra > rb
		}
		if sa, sb := a.Detector().Score(), b.Detector().Score(); sa != sb {
			return sa > sb
		}
		if a.Messages != b.Messages {
			return a.Messages > b.Messages
		}
		return a.Login < b.Login
	})
	return accts
}

// Verdict returns the verdict of an account, ok for allowlisted logins.
func Verdict(a *correlate.Account, allow map[string]bool) detect.Verdict {
	if allow[a.Login] {
		return detect.OK
	}
	return a.Detector().Verdict()
}

// InferYears returns the year of the first line of each file, for classic
// syslog stamps: the newest line's year is opts' year or the newest file's
// modification year, and the years of older files follow backwards through
// the set (each file's first stamp against the next file's first stamp).
func InferYears(set *logsrc.Set, year int, loc *time.Location) ([]int, string) {
	files := set.Files()
	years := make([]int, len(files))
	if len(files) == 0 {
		return years, ""
	}
	var p logline.Parser
	p.Env.Loc = loc
	p.Env.Year = 2000 // a leap year, so that Feb 29 survives
	firsts := make([]time.Time, len(files))
	for i, f := range files {
		if f.Name == "-" {
			continue
		}
		if head, err := set.Head(f, 64<<10); err == nil {
			firsts[i] = firstStamp(&p, head)
		}
	}
	newest := files[len(files)-1]
	note := ""
	var last time.Time
	if newest.Name != "-" {
		if tail, err := set.Tail(newest, 64<<10); err == nil {
			last = lastStamp(&p, tail)
		}
	}
	anchor := year
	if anchor == 0 {
		mt := newest.ModTime
		if mt.IsZero() {
			mt = time.Now() // standard input from a pipe: nothing else to go by
			note = "classic syslog stamps without a year: assumed the current year (use --year)"
		}
		mt = mt.In(loc)
		anchor = mt.Year()
		if !last.IsZero() && monthDay(last) > monthDay(time.Date(2000, mt.Month(), mt.Day(), mt.Hour(), mt.Minute(), mt.Second(), 0, time.UTC))+86400 {
			anchor-- // the newest line is later in the year than the file's mtime
		}
	}
	// the newest file: its first line is a year earlier if it is later in
	// the year than its last line
	n := len(files) - 1
	years[n] = anchor
	if !firsts[n].IsZero() && !last.IsZero() && monthDay(firsts[n]) > monthDay(last)+86400 {
		years[n] = anchor - 1
	}
	for i := n - 1; i >= 0; i-- {
		years[i] = years[i+1]
		if !firsts[i].IsZero() && !firsts[i+1].IsZero() && monthDay(firsts[i]) > monthDay(firsts[i+1])+30*86400 {
			years[i]--
		}
	}
	return years, note
}

// monthDay returns seconds since the start of the (leap) year 2000 for the
// month, day and clock of t, which the parser stamped in 2000.
func monthDay(t time.Time) int64 {
	return t.Unix() - time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
}

func firstStamp(p *logline.Parser, data []byte) time.Time {
	var ev event.Event
	for len(data) > 0 {
		n := bytes.IndexByte(data, '\n')
		line := data
		if n >= 0 {
			line, data = data[:n], data[n+1:]
		} else {
			data = nil
		}
		if r := p.Parse(string(line), &ev); r.Status != logline.NoEnvelope && ev.YearGuessed {
			return ev.Time
		}
	}
	return time.Time{}
}

func lastStamp(p *logline.Parser, data []byte) time.Time {
	var ev event.Event
	for len(data) > 0 {
		data = bytes.TrimRight(data, "\n")
		n := bytes.LastIndexByte(data, '\n')
		line := data[n+1:]
		data = data[:max(n, 0)]
		if r := p.Parse(string(line), &ev); r.Status != logline.NoEnvelope && ev.YearGuessed {
			return ev.Time
		}
		if n < 0 {
			break
		}
	}
	return time.Time{}
}

// String describes a stats block briefly, for logs.
func (s Stats) String() string {
	return fmt.Sprintf("%d lines, %d parsed, %d bytes in %.2fs", s.Lines, s.Parsed, s.Bytes, s.Seconds)
}
