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
	"strings"
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
	FirstEvent    time.Time        `json:"first_event"`
	LastEvent     time.Time        `json:"last_event"`
	Correlation   correlate.Stats  `json:"correlation"`
}

// Result is what a scan found.
type Result struct {
	Accounts   []*correlate.Account // flagged first, then by score and volume
	Correlator *correlate.Correlator
	Stats      Stats
	// YearShift is how many years a report adds to the times it shows. A
	// pipe of classic stamps read with --year has its years counted forward
	// from its first line; only its end says which year its newest line is
	// in.
	YearShift int
}

// pipeYearShift is the Result's YearShift: for a set that is one pipe of
// classic stamps only, read with --year, the years that put its newest line
// in that year (only its end tells which year its first line is in).
func pipeYearShift(set *logsrc.Set, q *groupQueue, opts Options) int {
	files := set.Files()
	last := q.fx.Last()
	if len(files) != 1 || files[0].Seekable() || files[0].Size >= 0 || q.exact || last.IsZero() {
		return 0
	}
	if opts.Year == 0 {
		return 0 // the clock bounded its stamps as they were read
	}
	return opts.Year - last.In(opts.Loc).Year()
}

// batch is the parse result of one chunk.
type batch struct {
	chunk    *logsrc.Chunk
	group    int // index of the chunk's file group (logsrc.Set.Groups)
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
// so that memory stays flat whatever the size of the input, and a short
// read-ahead for compressed files (with the default of 16, scanning a
// rotated set peaked at 100-106 MiB instead of 82, in the same time).
func ReaderOptions() logsrc.Options {
	n := runtime.GOMAXPROCS(0)
	return logsrc.Options{MaxInFlight: 2*n + 2, ChunkSize: 1 << 20, ReadAhead: 4}
}

// Run scans the set. Its groups of files (logsrc.Set.Groups: a rotated
// set, or a log written beside another, such as dovecot.log beside
// mail.log) are read side by side and their events merged by time, so that
// the correlator sees one log in time order.
func Run(ctx context.Context, set *logsrc.Set, opts Options) (*Result, error) {
	began := time.Now()
	if opts.Loc == nil {
		opts.Loc = time.Local
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// years are inferred over the whole set (its order runs through every
	// group); a chunk names its file
	years, note := InferYearsContext(ctx, set, opts.Year, opts.Loc)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	yearOf := map[*logsrc.File]int{}
	fileEnds := make(map[*logsrc.File]time.Time, len(years))
	for i, f := range set.Files() {
		yearOf[f] = years[i].Year
		fileEnds[f] = years[i].End
	}
	groups := set.Groups()
	total := set.TotalSize()
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
		sk := corr.NewSkipper() // before the sequencer uses corr
		go func() {
			defer wg.Done()
			p := logline.New(0, opts.Loc)
			var rep logline.Repeats
			for b := range work {
				p.Env.Year = yearOf[b.chunk.File]
				parseChunk(p, sk, &rep, b)
				done <- b
			}
		}()
	}
	// the readers, one per group
	type groupEnd struct {
		group  int
		chunks int64
		err    error
	}
	ends := make(chan groupEnd, len(groups))
	var readers sync.WaitGroup
	for g, gs := range groups {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var n int64
			err := gs.Read(ctx, func(c *logsrc.Chunk) error {
				b := free.get()
				b.chunk, b.group = c, g
				select {
				case work <- b:
					n++
					return nil
				case <-ctx.Done():
					c.Release()
					free.put(b)
					return ctx.Err()
				}
			})
			if err != nil {
				cancel() // the other groups stop too
			}
			ends <- groupEnd{g, n, err}
		}()
	}
	go func() {
		readers.Wait()
		close(work)
		wg.Wait()
		close(done)
	}()

	// the sequencer: puts each group's batches back in order and feeds
	// the correlator, merging the groups by event time
	m := newMerger(len(groups), corr, st, free, fileEnds)
	m.loc = opts.Loc
	var readErr error
	progress := func() {
		if opts.Progress != nil {
			var read int64
			for _, g := range groups {
				read += g.Stats().InputBytes
			}
			opts.Progress(read, total)
		}
	}
	for done != nil || ends != nil {
		select {
		case b, ok := <-done:
			if !ok {
				done = nil
				continue
			}
			m.add(b)
		case e := <-ends:
			if e.err != nil && readErr == nil {
				readErr = e.err
			}
			m.end(e.group, e.chunks)
			if m.ended == len(groups) {
				ends = nil
			}
		}
		if m.run() {
			progress()
		}
	}
	m.release()
	if readErr != nil {
		return nil, readErr
	}
	corr.Finish()
	res.YearShift = pipeYearShift(set, &m.groups[0], opts)
	ls := logsrc.SumStats(groups...)
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
func parseChunk(p *logline.Parser, sk *correlate.Skipper, rep *logline.Repeats, b *batch) {
	data := b.chunk.Data
	b.events = b.events[:0]
	sk.Reset()
	// the time of the last event the skipper dropped, when no event was
	// kept after it: the statistics' last event and the correlator's
	// clock must not lose the log's last line
	var tailAt time.Time
	var tailGuessed, hasTail bool
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
			keep := false
			switch ev.Kind {
			case event.Ignored, event.Hold, event.Release:
				// nothing the scan uses: keep the sequential stage lean
			case event.Disconnect:
				if ev.AuthTotal == 0 {
					break // only a session that tried AUTH can end a login's session
				}
				fallthrough
			default:
				correlate.Prepare(ev)
				if sk.Skip(ev) {
					tailAt, tailGuessed, hasTail = ev.Time, ev.YearGuessed, true
				} else {
					keep = true
				}
			}
			if keep || timeOnly(ev, rep, p.Env.Loc) {
				hasTail = false
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
	if hasTail {
		// a time-only event (kind None), which the correlator passes over
		b.events = append(b.events, event.Event{Time: tailAt, YearGuessed: tailGuessed, Prepared: true})
	}
	// Slots past the end (and all of them once the batch is consumed) keep
	// pointers into chunk buffers, which logsrc recycles: they hold no
	// memory that would otherwise be freed, and Parse clears a slot before
	// it fills it. Clearing them would cost the sequential stage a pass.
}

// timeOnly turns an event the scan does not keep into a time-only event
// (kind None, which the correlator passes over) when its stamp is in the
// hour that repeats at the end of daylight saving time: which pass such a
// stamp is in depends on the lines before it, so the year fixer must see
// them all, as in watch.
func timeOnly(ev *event.Event, rep *logline.Repeats, loc *time.Location) bool {
	if !ev.YearGuessed || rep.Other(ev.Time, loc) == 0 {
		return false
	}
	*ev = event.Event{Time: ev.Time, YearGuessed: true, Prepared: true}
	return true
}

// maxOtherPrograms caps the keys of the other-programs table.
const maxOtherPrograms = 200

// merger feeds the correlator the events of every group in time order: each
// group's batches in their reading order, and across groups the earliest
// event first (ties to the group read first). With one group it hands over
// whole batches.
type merger struct {
	corr   *correlate.Correlator
	st     *Stats
	free   batches
	groups []groupQueue
	ended  int                        // groups whose reader has finished
	names  map[string]string          // program names of the statistics (see name)
	ends   map[*logsrc.File]time.Time // bounds of the files' stamps (InferYears)
	loc    *time.Location             // the zone of classic stamps
}

type groupQueue struct {
	pending map[int64]*batch // parsed, not yet current
	next    int64            // the sequence number of the next batch
	total   int64            // batches the group's reader delivered; -1 while it reads
	cur     *batch
	pos     int // the next event of cur to feed
	fixed   int // events of cur whose classic-syslog year is fixed
	fx      logline.YearFixer
	exact   bool // a stamp with its year was seen (one group only)
}

// fixHead fixes the year of the group's current event, in the file's own
// order (the fixer follows each file from its start).
func (q *groupQueue) fixHead() {
	if q.fixed == q.pos {
		if ev := &q.cur.events[q.pos]; ev.YearGuessed {
			q.fx.Fix(ev)
		}
		q.fixed++
	}
}

func newMerger(n int, corr *correlate.Correlator, st *Stats, free batches, ends map[*logsrc.File]time.Time) *merger {
	m := &merger{corr: corr, st: st, free: free, groups: make([]groupQueue, n), names: map[string]string{}, ends: ends}
	for i := range m.groups {
		m.groups[i] = groupQueue{pending: map[int64]*batch{}, total: -1}
	}
	return m
}

func (m *merger) add(b *batch) { m.groups[b.group].pending[b.chunk.Seq] = b }

func (m *merger) end(g int, chunks int64) {
	m.groups[g].total = chunks
	m.ended++
}

// head makes sure the group has a current event: it reports whether it has
// one, and whether the group is finished (read to its end and consumed).
func (m *merger) head(q *groupQueue) (ok, finished bool) {
	for q.cur == nil || q.pos == len(q.cur.events) {
		if q.cur != nil {
			m.finishBatch(q.cur)
			q.cur = nil
		}
		b, ready := q.pending[q.next]
		if !ready {
			return false, q.total >= 0 && q.next >= q.total
		}
		delete(q.pending, q.next)
		q.next++
		q.cur, q.pos, q.fixed = b, 0, 0
		q.fx.File(b.chunk.Index, m.ends[b.chunk.File], m.loc)
	}
	return true, false
}

// run feeds the correlator as far as the batches at hand allow. It reports
// whether it consumed anything.
func (m *merger) run() bool {
	moved := false
	if len(m.groups) == 1 {
		q := &m.groups[0]
		for {
			if ok, _ := m.head(q); !ok {
				return moved
			}
			evs := q.cur.events
			for i := q.pos; i < len(evs); i++ {
				ev := &evs[i]
				if ev.YearGuessed {
					q.fx.Fix(ev)
				} else {
					q.exact = true
				}
				m.feed(ev)
			}
			q.pos, q.fixed = len(evs), len(evs)
			moved = true
		}
	}
	for {
		best := -1
		for g := range m.groups {
			q := &m.groups[g]
			ok, finished := m.head(q)
			if finished {
				continue
			}
			if !ok {
				return moved // this group's next batch is still on its way
			}
			q.fixHead()
			if best < 0 || q.cur.events[q.pos].Time.Before(m.groups[best].cur.events[m.groups[best].pos].Time) {
				best = g
			}
		}
		if best < 0 {
			return moved
		}
		q := &m.groups[best]
		m.feed(&q.cur.events[q.pos])
		q.pos++
		moved = true
	}
}

func (m *merger) feed(ev *event.Event) {
	st := m.st
	if st.FirstEvent.IsZero() || ev.Time.Before(st.FirstEvent) {
		st.FirstEvent = ev.Time
	}
	if ev.Time.After(st.LastEvent) {
		st.LastEvent = ev.Time
	}
	m.corr.Add(ev)
}

// finishBatch adds a consumed batch's counts to the statistics and gives
// its chunk and the batch back.
func (m *merger) finishBatch(b *batch) {
	st := m.st
	st.Lines += b.lines
	st.Parsed += b.parsed
	st.NoEnvelope += b.noEnv
	for k, v := range b.unparsed {
		st.Unparsed[m.name(k)] += v
	}
	for k, v := range b.other {
		if _, ok := st.OtherPrograms[k]; ok || len(st.OtherPrograms) < maxOtherPrograms {
			st.OtherPrograms[m.name(k)] += v
		} else {
			st.OtherPrograms["(others)"] += v
		}
	}
	b.chunk.Release()
	b.chunk, b.lines, b.parsed, b.noEnv = nil, 0, 0, 0
	b.unparsed, b.other = nil, nil
	m.free.put(b)
}

// name returns the merger's copy of a program name. The batch's names point
// into its chunk, which is given back after the batch: the statistics'
// keys must not (and m[k] += v with an existing key would store k).
func (m *merger) name(k string) string {
	if s, ok := m.names[k]; ok {
		return s
	}
	s := strings.Clone(k)
	m.names[s] = s
	return s
}

// release gives back what an error left unconsumed.
func (m *merger) release() {
	for g := range m.groups {
		q := &m.groups[g]
		if q.cur != nil {
			q.cur.chunk.Release()
			q.cur = nil
		}
		for _, b := range q.pending {
			b.chunk.Release()
		}
		q.pending = nil
	}
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

// FileYear is what InferYears finds for one file of a set.
type FileYear struct {
	// Year is the year of the file's first classic syslog stamp.
	Year int
	// End bounds the file's last stamp: its last line (the newest file),
	// or the next file's first line and a margin for overlap; the newest
	// file's mtime when it has no stamp at its end, the clock for a pipe;
	// zero when nothing tells.
	End time.Time
}

// InferYears works out the year of classic syslog stamps, for each file of
// the set, group by group (a rotated set, and each log beside it, on its
// own). A group's newest line's year is year, or its newest file's
// modification year (a year less when its month and day are later in the
// year than the modification time). Older files follow backwards: each ends
// where the next one starts, and starts a year earlier when its first stamp
// falls later in the year than that. Stamps that carry their year (RFC 3339,
// the journal) are taken as they are. A pipe has no modification time: its
// stamps are bounded by the clock.
func InferYears(set *logsrc.Set, year int, loc *time.Location) ([]FileYear, string) {
	return InferYearsContext(context.Background(), set, year, loc)
}

// InferYearsContext is InferYears, cut short when ctx is done (finding the
// newest line of a compressed file decompresses it whole); the caller then
// checks ctx.Err, as the years are incomplete.
func InferYearsContext(ctx context.Context, set *logsrc.Set, year int, loc *time.Location) ([]FileYear, string) {
	files := set.Files()
	out := make([]FileYear, len(files))
	index := make(map[*logsrc.File]int, len(files))
	for i, f := range files {
		index[f] = i
	}
	var p logline.Parser
	p.Env.Loc = loc
	p.Env.Year = 2000 // a leap year, so that Feb 29 survives
	note := ""
	for _, g := range set.Groups() {
		gf := g.Files()
		if ctx.Err() != nil {
			break
		}
		ys, n := inferGroup(ctx, set, gf, year, loc, &p)
		if n != "" {
			note = n
		}
		for i, f := range gf {
			out[index[f]] = ys[i]
		}
	}
	return out, note
}

// inferGroup is InferYears for the files of one group, oldest first.
func inferGroup(ctx context.Context, set *logsrc.Set, files []*logsrc.File, year int, loc *time.Location, p *logline.Parser) ([]FileYear, string) {
	out := make([]FileYear, len(files))
	firsts := make([]stamp, len(files))
	for i, f := range files {
		if head, err := set.Head(f, 64<<10); err == nil {
			firsts[i] = firstStamp(p, head)
		}
	}
	n := len(files) - 1
	newest := files[n]
	note := ""
	var last stamp
	if tail, err := set.TailContext(ctx, newest, 64<<10); err == nil {
		last = lastStamp(p, tail)
	}
	pipe := newest.Size < 0 && !newest.Seekable()
	anchor := year
	var mt time.Time // when the group was last written, if that is known
	if anchor == 0 {
		mt = newest.ModTime
		if mt.IsZero() || pipe {
			mt = time.Now() // a pipe: nothing else to go by
			note = "classic syslog stamps without a year on a pipe: the newest line taken to be within the last twelve months by the clock (use --year)"
		}
		mt = mt.In(loc)
		anchor = mt.Year()
		if !last.t.IsZero() && !last.exact && monthDay(last.t, loc) > monthDay(mt, loc)+86400 {
			anchor-- // the newest line is later in the year than the file's mtime
		}
	}
	// end: where the file being looked at ends (zero: unknown)
	var end time.Time
	switch {
	case last.exact:
		end = last.t
	case !last.t.IsZero():
		end = inYear(last.t, anchor, loc)
	default:
		end = mt // no stamp at the end (an empty newest file, a pipe)
	}
	for i := n; i >= 0; i-- {
		// the newest file's bound is its own last line; an older one's is
		// the next file's first line, which its own lines may overlap
		slack := int64(86400)
		if i < n {
			slack = 30 * 86400
		}
		y := anchor
		if !end.IsZero() {
			y = end.In(loc).Year()
		}
		f := firsts[i]
		start := end
		switch {
		case f.t.IsZero():
		case f.exact:
			y, start = f.t.In(loc).Year(), f.t
		default:
			if !end.IsZero() && monthDay(f.t, loc) > monthDay(end, loc)+slack {
				y--
			}
			start = inYear(f.t, y, loc)
		}
		out[i] = FileYear{Year: y, End: end}
		if i < n && !end.IsZero() {
			// room for lines past the next file's start (overlap)
			out[i].End = end.Add(time.Duration(slack-86400) * time.Second)
		}
		if !start.IsZero() {
			end = start
		}
		anchor = y
	}
	return out, note
}

// stamp is the time of a line, and whether the line carried its year.
type stamp struct {
	t     time.Time
	exact bool
}

// monthDay returns the seconds from the start of a (leap) year to t's
// month, day and clock in loc.
func monthDay(t time.Time, loc *time.Location) int64 {
	t = t.In(loc)
	h, m, s := t.Clock()
	return time.Date(2000, t.Month(), t.Day(), h, m, s, 0, time.UTC).Unix() - time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
}

// inYear moves t (a classic stamp, which the parser put in 2000) to year y.
func inYear(t time.Time, y int, loc *time.Location) time.Time {
	t = t.In(loc)
	h, m, s := t.Clock()
	return time.Date(y, t.Month(), t.Day(), h, m, s, t.Nanosecond(), loc)
}

func firstStamp(p *logline.Parser, data []byte) stamp {
	var ev event.Event
	for len(data) > 0 {
		n := bytes.IndexByte(data, '\n')
		line := data
		if n >= 0 {
			line, data = data[:n], data[n+1:]
		} else {
			data = nil
		}
		if r := p.Parse(string(line), &ev); r.Status != logline.NoEnvelope && !ev.Time.IsZero() {
			return stamp{ev.Time, !ev.YearGuessed}
		}
	}
	return stamp{}
}

func lastStamp(p *logline.Parser, data []byte) stamp {
	var ev event.Event
	for len(data) > 0 {
		data = bytes.TrimRight(data, "\n")
		n := bytes.LastIndexByte(data, '\n')
		line := data[n+1:]
		data = data[:max(n, 0)]
		if r := p.Parse(string(line), &ev); r.Status != logline.NoEnvelope && !ev.Time.IsZero() {
			return stamp{ev.Time, !ev.YearGuessed}
		}
		if n < 0 {
			break
		}
	}
	return stamp{}
}

// String describes a stats block briefly, for logs.
func (s Stats) String() string {
	return fmt.Sprintf("%d lines, %d parsed, %d bytes in %.2fs", s.Lines, s.Parsed, s.Bytes, s.Seconds)
}
